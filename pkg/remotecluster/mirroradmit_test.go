package remotecluster

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshguard"
)

// TestAdmissionAdmit: what the syncer refuses to mirror from cluster
// "east" (pool 198.18.5.0/24, and a refused pool "wide") while the local
// cluster has pool 198.18.4.0/24 and node a1 at 198.18.0.1/24.
func TestAdmissionAdmit(t *testing.T) {
	g := meshguard.New([]*v3.IPPool{{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Spec: v3.IPPoolSpec{CIDR: "198.18.4.0/24"}}},
		[]*v3.Node{{ObjectMeta: metav1.ObjectMeta{Name: "a1"}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: "198.18.0.1/24"},
			IPv4VXLANTunnelAddr: "198.18.4.0", VXLANTunnelMACAddr: "66:00:00:00:00:01"}}})
	adm := &admission{guard: g, refusedPools: map[string]*meshguard.Refusal{}}
	for _, r := range g.AdmitPools("east", []*v3.IPPool{
		{ObjectMeta: metav1.ObjectMeta{Name: "own"}, Spec: v3.IPPoolSpec{CIDR: "198.18.5.0/24"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "wide"}, Spec: v3.IPPoolSpec{CIDR: "0.0.0.0/1"}},
	}) {
		adm.refusedPools[r.Name] = r
	}
	block := func(cidr string) *v3.IPAMBlock {
		return &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v3.IPAMBlockSpec{CIDR: cidr}}
	}
	wep := func(ips ...string) *v3.WorkloadEndpoint {
		return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "w"}, Spec: v3.WorkloadEndpointSpec{IPNetworks: ips}}
	}
	node := func(addr, vtep, mac string) *v3.Node {
		return &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "e1"}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: addr},
			IPv4VXLANTunnelAddr: vtep, VXLANTunnelMACAddr: mac}}
	}
	tests := []struct {
		name   string
		obj    runtime.Object
		reason string // "" admitted
	}{
		{"own pool", &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "own"}}, ""},
		{"refused pool", &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "wide"}}, meshguard.ReasonTooBroad},
		{"block in own pool", block("198.18.5.0/26"), ""},
		{"block of half the Internet", block("0.0.0.0/1"), meshguard.ReasonOutsideOwnPools},
		{"block in the local pool", block("198.18.4.64/26"), meshguard.ReasonOutsideOwnPools},
		{"endpoint in own pool", wep("198.18.5.9/32"), ""},
		{"endpoint with one bad address", wep("198.18.5.9/32", "198.18.0.1/32"), meshguard.ReasonOutsideOwnPools},
		{"node", node("198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:02"), ""},
		{"node with the local MAC", node("198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:01"), meshguard.ReasonNodeCollision},
		{"profile", &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the syncer reads it: what its cache keeps of the object,
			// read back through the kind.
			k := kindOfObject(t, tt.obj)
			cached, err := k.RemoteTransform()(tt.obj.DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			obj, ok := k.RemoteObject(cached)
			if !ok {
				t.Fatalf("%s: RemoteObject does not take the %T its cache keeps", k.Name(), cached)
			}
			r := adm.admit("east", obj)
			got := ""
			if r != nil {
				got = r.Reason
				if r.Cluster != "east" || !strings.Contains(r.Error(), "east") {
					t.Errorf("refusal %v does not name the cluster", r)
				}
			}
			if got != tt.reason {
				t.Fatalf("reason %q, want %q (%v)", got, tt.reason, r)
			}
		})
	}
}

// kindOfObject returns the mirrored kind of obj.
func kindOfObject(t *testing.T, obj runtime.Object) mirrorKind {
	t.Helper()
	for _, k := range mirrorKinds() {
		if reflect.TypeOf(k.Example()) == reflect.TypeOf(obj) {
			return k
		}
	}
	t.Fatalf("no mirrored kind is a %T", obj)
	return nil
}
