package meshguard

import (
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func pool(name, cidr, cluster string) *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr}}
	if cluster != "" {
		p.Labels = map[string]string{v3.LabelCluster: cluster}
	}
	return p
}

func node(name, addr, vtep, mac string) *v3.Node {
	return &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.NodeSpec{
		BGP:                 &v3.NodeBGPSpec{IPv4Address: addr},
		IPv4VXLANTunnelAddr: vtep, VXLANTunnelMACAddr: mac,
	}}
}

// newTestGuard is a local cluster with pool 198.18.4.0/24 and node
// 198.18.0.1/24 (VTEP 198.18.4.0, MAC 66:00:00:00:00:01), remote "east"
// with pool 198.18.5.0/24 and remote "west" with pool 198.18.6.0/24.
func newTestGuard(t *testing.T) *Guard {
	t.Helper()
	g := New([]*v3.IPPool{pool("local", "198.18.4.0/24", ""), pool("east.p", "198.18.5.0/24", "east")},
		[]*v3.Node{node("a1", "198.18.0.1/24", "198.18.4.0", "66:00:00:00:00:01")})
	if r := g.AdmitPools("west", []*v3.IPPool{pool("west-pool", "198.18.6.0/24", "")}); len(r) != 0 {
		t.Fatalf("west's pool refused: %v", r)
	}
	if r := g.AdmitNode(NodeOf("west", "w1", node("w1", "198.18.0.9/24", "198.18.6.0", "66:00:00:00:00:09"))); r != nil {
		t.Fatalf("west's node refused: %v", r)
	}
	return g
}

func TestAdmitPools(t *testing.T) {
	tests := []struct {
		name, cidr string
		reason     string // "" admitted
	}{
		{"own", "198.18.5.0/24", ""},
		{"v6 own", "fd00:5::/48", ""},
		{"half the Internet", "0.0.0.0/1", ReasonTooBroad},
		{"default", "0.0.0.0/0", ReasonTooBroad},
		{"metadata", "169.254.169.254/32", ReasonReserved},
		{"loopback", "127.0.0.0/8", ReasonReserved},
		{"multicast", "239.1.0.0/16", ReasonReserved},
		{"v6 link-local", "fe80::/64", ReasonReserved},
		{"inside the local pool", "198.18.4.64/26", ReasonLocalPool},
		{"around the local pool", "198.18.0.0/16", ReasonLocalPool},
		{"the local nodes' subnet", "198.18.0.128/25", ReasonLocalNode},
		{"another remote's pool", "198.18.6.0/25", ReasonOtherRemote},
		{"not a CIDR", "198.18.5.0/33", ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGuard(t)
			refused := g.AdmitPools("east", []*v3.IPPool{pool("p", tt.cidr, "")})
			got := ""
			if len(refused) > 0 {
				got = refused[0].Reason
				if refused[0].Name != "p" || refused[0].Cluster != "east" || refused[0].Kind != "IPPool" {
					t.Errorf("refusal names %s %q of %q", refused[0].Kind, refused[0].Name, refused[0].Cluster)
				}
			}
			if got != tt.reason {
				t.Fatalf("pool %s: reason %q, want %q (%v)", tt.cidr, got, tt.reason, refused)
			}
		})
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		name, kind, s string
		reason        string
	}{
		{"block in own pool", "IPAMBlock", "198.18.5.64/26", ""},
		{"endpoint in own pool", "WorkloadEndpoint", "198.18.5.7/32", ""},
		{"endpoint without length", "WorkloadEndpoint", "198.18.5.7", ""},
		{"block claiming half the Internet", "IPAMBlock", "0.0.0.0/1", ReasonOutsideOwnPools},
		{"block wider than the pool", "IPAMBlock", "198.18.4.0/23", ReasonOutsideOwnPools},
		{"metadata address", "WorkloadEndpoint", "169.254.169.254/32", ReasonOutsideOwnPools},
		{"local pod", "WorkloadEndpoint", "198.18.4.10/32", ReasonOutsideOwnPools},
		{"local node", "WorkloadEndpoint", "198.18.0.1", ReasonOutsideOwnPools},
		{"garbage", "WorkloadEndpoint", "pod", ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGuard(t)
			if r := g.AdmitPools("east", []*v3.IPPool{pool("east-pool", "198.18.5.0/24", "")}); len(r) != 0 {
				t.Fatalf("east's pool refused: %v", r)
			}
			_, r := g.PrefixString("east", tt.kind, "x", "spec.cidr", tt.s)
			got := ""
			if r != nil {
				got = r.Reason
			}
			if got != tt.reason {
				t.Fatalf("%s %s: reason %q, want %q (%v)", tt.kind, tt.s, got, tt.reason, r)
			}
		})
	}
}

// TestPrefixPoolsUnknown: with the remote's pools unknown (overlay routing
// off: pools are not mirrored), the exclusions still apply.
func TestPrefixPoolsUnknown(t *testing.T) {
	tests := []struct {
		s, reason string
	}{
		{"198.18.5.7/32", ""},
		{"198.18.4.10/32", ReasonLocalPool},
		{"198.18.0.1/32", ReasonLocalNode},
		{"198.18.6.1/32", ReasonOtherRemote},
		{"169.254.169.254/32", ReasonReserved},
		{"224.0.0.1/32", ReasonReserved},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			g := newTestGuard(t)
			r := g.Prefix("east", "WorkloadEndpoint", "x", "spec.ipNetworks", netip.MustParsePrefix(tt.s))
			got := ""
			if r != nil {
				got = r.Reason
			}
			if got != tt.reason {
				t.Fatalf("%s: reason %q, want %q (%v)", tt.s, got, tt.reason, r)
			}
		})
	}
}

func TestAdmitNode(t *testing.T) {
	tests := []struct {
		name            string
		addr, vtep, mac string
		reason          string
		detail          string
	}{
		{"distinct", "198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:02", "", ""},
		{"no VTEP yet", "198.18.0.2/24", "", "", "", ""},
		{"local node's address", "198.18.0.1/24", "198.18.5.0", "66:00:00:00:00:02", ReasonNodeCollision, "local node"},
		{"local node's VTEP", "198.18.0.2/24", "198.18.4.0", "66:00:00:00:00:02", ReasonLocalPool, "local IPPool"},
		{"local node's MAC", "198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:01", ReasonNodeCollision, "VTEP MAC"},
		{"MAC in other case", "198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:0A", "", ""},
		{"other remote's MAC", "198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:09", ReasonNodeCollision, `remote cluster "west"`},
		{"other remote's VTEP", "198.18.0.2/24", "198.18.6.0", "66:00:00:00:00:02", ReasonNodeCollision, "address 198.18.6.0"},
		{"loopback address", "127.0.0.1/8", "198.18.5.0", "66:00:00:00:00:02", ReasonReserved, ""},
		{"link-local VTEP", "198.18.0.2/24", "169.254.0.1", "66:00:00:00:00:02", ReasonReserved, ""},
	}
	wg := []struct {
		name, addr, reason string
	}{
		{"WireGuard address of its own", "198.18.5.1", ""},
		{"WireGuard address on a local pod", "198.18.4.10", ReasonLocalPool},
		{"WireGuard address on the metadata service", "169.254.169.254", ReasonReserved},
		{"WireGuard address of a local node", "198.18.0.1", ReasonNodeCollision},
	}
	for _, tt := range wg {
		t.Run(tt.name, func(t *testing.T) {
			n := node("east.e1", "198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:02")
			n.Spec.Wireguard = &v3.NodeWireguardSpec{InterfaceIPv4Address: tt.addr}
			r := newTestGuard(t).AdmitNode(NodeOf("east", "e1", n))
			got := ""
			if r != nil {
				got = r.Reason
			}
			if got != tt.reason {
				t.Fatalf("reason %q, want %q (%v)", got, tt.reason, r)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newTestGuard(t)
			r := g.AdmitNode(NodeOf("east", "e1", node("east.e1", tt.addr, tt.vtep, tt.mac)))
			got := ""
			if r != nil {
				got = r.Reason
			}
			if got != tt.reason || (r != nil && !strings.Contains(r.Error(), tt.detail)) {
				t.Fatalf("reason %q, want %q with %q (%v)", got, tt.reason, tt.detail, r)
			}
		})
	}
}

// TestAdmitNodeRemembers: an admitted node is an owner later nodes of
// other clusters may not collide with.
func TestAdmitNodeRemembers(t *testing.T) {
	g := newTestGuard(t)
	if r := g.AdmitNode(NodeOf("east", "e1", node("e1", "198.18.0.2/24", "198.18.5.0", "66:00:00:00:00:02"))); r != nil {
		t.Fatal(r)
	}
	r := g.AdmitNode(NodeOf("north", "n1", node("n1", "198.18.0.2/24", "198.18.7.0", "66:00:00:00:00:03")))
	if r == nil || r.Reason != ReasonNodeCollision {
		t.Fatalf("a node with east's address: %v", r)
	}
}

func TestSummary(t *testing.T) {
	rs := []*Refusal{
		{Kind: "IPAMBlock", Name: "a", Reason: ReasonTooBroad, Detail: "x"},
		{Kind: "Node", Name: "b", Reason: ReasonNodeCollision, Detail: "y"},
		{Kind: "Node", Name: "c", Reason: ReasonNodeCollision, Detail: "z"},
	}
	tests := []struct {
		max  int
		want string
	}{
		{5, `IPAMBlock "a": TooBroad (x); Node "b": NodeCollision (y); Node "c": NodeCollision (z)`},
		{1, `IPAMBlock "a": TooBroad (x); and 2 more`},
	}
	for _, tt := range tests {
		if got := Summary(rs, tt.max); got != tt.want {
			t.Errorf("Summary(max %d) = %q, want %q", tt.max, got, tt.want)
		}
	}
}
