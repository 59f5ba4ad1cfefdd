package agent

import (
	"net/netip"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

func TestEndpointOf(t *testing.T) {
	cases := []struct {
		name string
		ep   *v3.WorkloadEndpoint
		want Endpoint
	}{
		{"local", wep("ns", "a2-pod", "a2", "198.18.64.70/32", "198.18.64.71"),
			Endpoint{Namespace: "ns", Name: "a2-pod", Node: "a2", Networks: []Network{
				{Value: "198.18.64.70/32", Addr: pfx("198.18.64.70/32"), Claim: pfx("198.18.64.70/32"), ClaimOK: true},
				{Value: "198.18.64.71", Addr: pfx("198.18.64.71/32"), Claim: pfx("198.18.64.71/32"), ClaimOK: true},
			}}},
		{"mirror: cluster, name in its cluster, node reference", remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "b1-pod", "b1", "198.18.65.10/24")),
			Endpoint{Namespace: "ns", Name: "cluster-b.b1-pod", Mirror: true, Cluster: "cluster-b", NameInCluster: "ns/b1-pod", Node: "cluster-b/b1", Networks: []Network{
				// routed as the address, claimed as the subnet it names
				{Value: "198.18.65.10/24", Addr: pfx("198.18.65.10/32"), Claim: pfx("198.18.65.0/24"), ClaimOK: true},
			}}},
		{"no addresses", wep("ns", "pending", "a2"), Endpoint{Namespace: "ns", Name: "pending", Node: "a2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := *EndpointOf(tc.ep)
			if got.Namespace != tc.want.Namespace || got.Name != tc.want.Name || got.Mirror != tc.want.Mirror || got.Cluster != tc.want.Cluster ||
				got.NameInCluster != tc.want.NameInCluster || got.Node != tc.want.Node || len(got.Networks) != len(tc.want.Networks) {
				t.Fatalf("EndpointOf = %+v, want %+v", got, tc.want)
			}
			for i, n := range got.Networks {
				if w := tc.want.Networks[i]; n != w {
					t.Errorf("network %d = %+v, want %+v", i, n, w)
				}
			}
		})
	}
	bad := EndpointOf(wep("ns", "bad", "a2", "not-an-address"))
	if n := bad.Networks[0]; n.AddrErr == nil || n.ClaimOK {
		t.Errorf("an address that does not parse: %+v, want an AddrErr and no claim", n)
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestEndpointMemo: an object seen before keeps its Endpoint, a replaced
// one (the informer's update) is parsed again, and a gone one is
// forgotten.
func TestEndpointMemo(t *testing.T) {
	a, b := wep("ns", "a", "a2", "198.18.64.70/32"), wep("ns", "b", "a2", "198.18.64.71/32")
	var m endpointMemo
	first := m.endpoints([]*v3.WorkloadEndpoint{a, b})
	if first[0].Name != "a" || first[1].Name != "b" {
		t.Fatalf("first pass: %+v %+v", first[0], first[1])
	}
	b2 := b.DeepCopy()
	b2.Spec.IPNetworks = []string{"198.18.64.99/32"}
	second := m.endpoints([]*v3.WorkloadEndpoint{a, b2})
	if second[0] != first[0] {
		t.Error("an unchanged object was parsed again")
	}
	if second[1] == first[1] || second[1].Networks[0].Value != "198.18.64.99/32" {
		t.Errorf("the updated object kept its old Endpoint: %+v", second[1])
	}
	if len(m.parsed) != 2 {
		t.Errorf("the memo holds %d objects, want 2 (the replaced one forgotten)", len(m.parsed))
	}
	m.endpoints([]*v3.WorkloadEndpoint{a})
	if _, ok := m.parsed[b2]; ok || len(m.parsed) != 1 {
		t.Errorf("a deleted object is still held (%d objects)", len(m.parsed))
	}
}

// TestEndpointRoutesOneRoutePerAddress: two endpoints with one address
// get one route, to the node of the first; the result is sorted.
func TestEndpointRoutesOneRoutePerAddress(t *testing.T) {
	peers := map[string]*peer{"a2": {}, "cluster-b/b1": {cluster: "cluster-b"}}
	blocks := map[string][]netip.Prefix{"cluster-b/b1": {pfx("198.18.65.0/26")}}
	vxlan := []netip.Prefix{pfx("198.18.64.0/24")}
	eps := EndpointsOf(
		wep("ns", "second-address", "a2", "198.18.64.90/32"),
		wep("ns", "first", "a2", "198.18.64.80/32"),
		remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "same", "b1", "198.18.64.80/32")),
		remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "in-block", "b1", "198.18.65.5/32")),
		wep("ns", "underlay", "a2", "198.18.99.1/32"),
		wep("ns", "v6", "a2", "fd00::1/128"),
		wep("ns", "unknown-node", "a9", "198.18.64.77/32"),
		&v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bad"}, Spec: v3.WorkloadEndpointSpec{Node: "a2", IPNetworks: []string{"bad"}}},
	)
	var problems []string
	got := endpointRoutes(eps, peers, blocks, vxlan, func(f string, args ...any) { problems = append(problems, f) })
	want := []dataplane.EndpointRoute{{Dst: pfx("198.18.64.80/32"), Node: "a2"}, {Dst: pfx("198.18.64.90/32"), Node: "a2"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("endpointRoutes = %v, want %v", got, want)
	}
	if len(problems) != 1 {
		t.Errorf("problems = %q, want the one address that does not parse", problems)
	}
}

func TestGatherTime(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name           string
		debounce, last time.Duration
		share          float64
		want           time.Duration
	}{
		{"a quick reconcile leaves the debounce", 50 * ms, 5 * ms, 0.25, 50 * ms},
		{"a long one: three times its time at a quarter", 50 * ms, 40 * ms, 0.25, 120 * ms},
		{"at half, as long as it took", 50 * ms, 200 * ms, 0.5, 200 * ms},
		{"share 1 is the debounce alone", 50 * ms, time.Second, 1, 50 * ms},
		{"before the first reconcile", 50 * ms, 0, 0.25, 50 * ms},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := gatherTime(tc.debounce, tc.last, tc.share); got != tc.want {
				t.Errorf("gatherTime(%s, %s, %g) = %s, want %s", tc.debounce, tc.last, tc.share, got, tc.want)
			}
		})
	}
}
