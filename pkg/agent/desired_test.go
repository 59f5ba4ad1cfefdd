package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// Fixtures: cluster A (local, nodes a1 = this node, a2), cluster B
// (remote, nodes b1, b2), mirrored the way the controller does.

func node(name, ip, vtep, mac string) *v3.Node {
	return &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: ip + "/24"}, IPv4VXLANTunnelAddr: vtep, VXLANTunnelMACAddr: mac}}
}

func block(node, cidr string) *v3.IPAMBlock {
	aff := "host:" + node
	return &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: strings.NewReplacer(".", "-", "/", "-").Replace(cidr)},
		Spec: v3.IPAMBlockSpec{CIDR: cidr, Affinity: &aff}}
}

func pool(name, cidr string, vxlan, natOut bool) *v3.IPPool {
	p := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr, NATOutgoing: natOut}}
	if vxlan {
		p.Spec.VXLANMode = v3.EncapModeAlways
	}
	return p
}

func wep(ns, name, node string, ips ...string) *v3.WorkloadEndpoint {
	return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v3.WorkloadEndpointSpec{Node: node, IPNetworks: ips}}
}

func rcc(name string, mode v3.OverlayRoutingMode) *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.RemoteClusterConfigurationSpec{SyncOptions: v3.RemoteClusterSyncOptions{OverlayRoutingMode: mode}}}
}

func baseInputs() Inputs {
	b1, b2 := node("b1", "198.18.0.3", "198.18.65.0", "66:00:00:00:00:b1"), node("b2", "198.18.0.4", "198.18.65.64", "66:00:00:00:00:b2")
	return Inputs{
		NodeName: "a1",
		NodeIP:   netip.MustParseAddr("198.18.0.1"),
		Nodes: []*v3.Node{
			node("a1", "198.18.0.1", "", ""),
			node("a2", "198.18.0.2", "198.18.64.64", "66:00:00:00:00:a2"),
			remotecluster.MirrorNode("cluster-b", b1),
			remotecluster.MirrorNode("cluster-b", b2),
		},
		Blocks: []*v3.IPAMBlock{
			block("a1", "198.18.64.0/26"), block("a2", "198.18.64.64/26"),
			remotecluster.MirrorIPAMBlock("cluster-b", block("b1", "198.18.65.0/26")),
			remotecluster.MirrorIPAMBlock("cluster-b", block("b2", "198.18.65.64/26")),
		},
		Pools: []*v3.IPPool{
			pool("a-pool", "198.18.64.0/24", true, true),
			remotecluster.MirrorIPPool("cluster-b", pool("b-pool", "198.18.65.0/24", true, true)),
		},
		RCCs: []*v3.RemoteClusterConfiguration{rcc("cluster-b", v3.OverlayRoutingModeEnabled)},
		Endpoints: EndpointsOf(
			wep("ns", "a2-pod", "a2", "198.18.64.70/32"),
			remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "b1-pod", "b1", "198.18.65.10/32")),
		),
	}
}

// summary prints a result compactly: VXLAN config, peers with their
// blocks, endpoint routes, clusters, NAT.
func summary(r Result) string {
	var b strings.Builder
	if c := r.Dataplane.VXLAN; c != nil {
		fmt.Fprintf(&b, "vxlan vtep=%s parent=%s vni=%d port=%d mtu=%d\n", c.LocalVTEP, c.ParentIP, c.VNI, c.Port, c.MTU)
	} else {
		b.WriteString("no vxlan\n")
	}
	for _, n := range r.Dataplane.Nodes {
		fmt.Fprintf(&b, "peer %s ip=%s vtep=%s mac=%s blocks=%v\n", n.Name, n.NodeIP, n.VTEP, n.MAC, n.Blocks)
	}
	for _, e := range r.Dataplane.Endpoints {
		fmt.Fprintf(&b, "endpoint %s via %s\n", e.Dst, e.Node)
	}
	for _, c := range r.Clusters {
		fmt.Fprintf(&b, "cluster %s %s nodes=%d routes=%d\n", c.Cluster, c.Mode, c.Nodes, c.Routes)
	}
	fmt.Fprintf(&b, "local routes=%d\n", r.LocalRoutes)
	fmt.Fprintf(&b, "nat sources=%v destinations=%v\n", r.NAT.Sources, r.NAT.Destinations)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem %s\n", p)
	}
	return b.String()
}

func TestCompute(t *testing.T) {
	const enabled = `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
peer cluster-b/b1 ip=198.18.0.3 vtep=198.18.65.0 mac=66:00:00:00:00:b1 blocks=[198.18.65.0/26]
peer cluster-b/b2 ip=198.18.0.4 vtep=198.18.65.64 mac=66:00:00:00:00:b2 blocks=[198.18.65.64/26]
cluster cluster-b Enabled nodes=2 routes=2
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`
	for _, tc := range []struct {
		name   string
		change func(in *Inputs)
		want   string
	}{
		{"overlay enabled", func(*Inputs) {}, enabled},
		{"remote node added", func(in *Inputs) {
			in.Nodes = append(in.Nodes, remotecluster.MirrorNode("cluster-b", node("b3", "198.18.0.5", "198.18.65.128", "66:00:00:00:00:b3")))
			in.Blocks = append(in.Blocks, remotecluster.MirrorIPAMBlock("cluster-b", block("b3", "198.18.65.128/26")))
		}, strings.Replace(enabled, "cluster cluster-b Enabled nodes=2 routes=2",
			"peer cluster-b/b3 ip=198.18.0.5 vtep=198.18.65.128 mac=66:00:00:00:00:b3 blocks=[198.18.65.128/26]\ncluster cluster-b Enabled nodes=3 routes=3", 1)},
		{"remote node removed", func(in *Inputs) {
			in.Nodes = slices.DeleteFunc(in.Nodes, func(n *v3.Node) bool { return n.Name == "cluster-b.b2" })
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
peer cluster-b/b1 ip=198.18.0.3 vtep=198.18.65.0 mac=66:00:00:00:00:b1 blocks=[198.18.65.0/26]
cluster cluster-b Enabled nodes=1 routes=1
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`},
		{"block moved to another remote node", func(in *Inputs) {
			in.Blocks[3] = remotecluster.MirrorIPAMBlock("cluster-b", block("b1", "198.18.65.64/26"))
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
peer cluster-b/b1 ip=198.18.0.3 vtep=198.18.65.0 mac=66:00:00:00:00:b1 blocks=[198.18.65.0/26 198.18.65.64/26]
peer cluster-b/b2 ip=198.18.0.4 vtep=198.18.65.64 mac=66:00:00:00:00:b2 blocks=[]
cluster cluster-b Enabled nodes=2 routes=2
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`},
		{"mode switched to Disabled", func(in *Inputs) {
			in.RCCs[0] = rcc("cluster-b", v3.OverlayRoutingModeDisabled)
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
cluster cluster-b Disabled nodes=0 routes=0
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`},
		{"Disabled and the overlay mirror gone: remote endpoints stay mesh destinations", func(in *Inputs) {
			in.RCCs[0] = rcc("cluster-b", v3.OverlayRoutingModeDisabled)
			in.Nodes, in.Blocks, in.Pools = in.Nodes[:2], in.Blocks[:2], in.Pools[:1]
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
cluster cluster-b Disabled nodes=0 routes=0
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.10/32]
`},
		{"RCC deleted, mirrors not yet", func(in *Inputs) {
			in.RCCs = nil
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`},
		{"endpoint outside its node's blocks gets a /32", func(in *Inputs) {
			in.Endpoints = append(in.Endpoints, EndpointsOf(
				remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "b2-borrowed", "b2", "198.18.65.200/32")),
				wep("ns", "a2-borrowed", "a2", "198.18.64.130"),
				wep("ns", "a2-underlay", "a2", "198.18.99.1/32"), // in no VXLAN pool: the underlay's
				wep("ns", "mine", "a1", "198.18.64.140/32"),      // this node's own
			)...)
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
peer cluster-b/b1 ip=198.18.0.3 vtep=198.18.65.0 mac=66:00:00:00:00:b1 blocks=[198.18.65.0/26]
peer cluster-b/b2 ip=198.18.0.4 vtep=198.18.65.64 mac=66:00:00:00:00:b2 blocks=[198.18.65.64/26]
endpoint 198.18.64.130/32 via a2
endpoint 198.18.65.200/32 via cluster-b/b2
cluster cluster-b Enabled nodes=2 routes=3
local routes=2
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32 198.18.65.200/32]
`},
		{"remote node without VTEP is no peer", func(in *Inputs) {
			in.Nodes[3] = remotecluster.MirrorNode("cluster-b", node("b2", "198.18.0.4", "", ""))
		}, `vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0
peer a2 ip=198.18.0.2 vtep=198.18.64.64 mac=66:00:00:00:00:a2 blocks=[198.18.64.64/26]
peer cluster-b/b1 ip=198.18.0.3 vtep=198.18.65.0 mac=66:00:00:00:00:b1 blocks=[198.18.65.0/26]
cluster cluster-b Enabled nodes=1 routes=1
local routes=1
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`},
		{"FelixConfiguration sets VNI, port, MTU; flag sets the VTEP", func(in *Inputs) {
			vni, port, mtu := 5000, 4799, 1400
			in.FelixConfiguration = &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
				Spec: v3.FelixConfigurationSpec{VXLANVNI: &vni, VXLANPort: &port, VXLANMTU: &mtu}}
			in.VTEP = netip.MustParseAddr("198.18.64.1")
		}, strings.Replace(enabled, "vxlan vtep=198.18.64.0 parent=198.18.0.1 vni=0 port=0 mtu=0", "vxlan vtep=198.18.64.1 parent=198.18.0.1 vni=5000 port=4799 mtu=1400", 1)},
		{"published VTEP in an own block is kept", func(in *Inputs) {
			in.Nodes[0] = node("a1", "198.18.0.1", "198.18.64.5", "66:00:00:00:00:a1")
		}, strings.Replace(enabled, "vtep=198.18.64.0 parent", "vtep=198.18.64.5 parent", 1)},
		{"VXLAN off in FelixConfiguration", func(in *Inputs) {
			off := false
			in.FelixConfiguration = &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.FelixConfigurationSpec{VXLANEnabled: &off}}
		}, `no vxlan
cluster cluster-b Enabled nodes=0 routes=0
local routes=0
nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]
`},
		{"no natOutgoing pool, no NAT; bad CIDRs reported", func(in *Inputs) {
			in.Pools[0] = pool("a-pool", "198.18.64.0/24", true, false)
			in.Pools = append(in.Pools, pool("broken", "198.18.300.0/24", false, true))
			in.Blocks = append(in.Blocks, block("a2", "nonsense"))
		}, strings.Replace(enabled, "nat sources=[198.18.64.0/24] destinations=[198.18.64.0/24 198.18.65.0/24 198.18.65.10/32]\n",
			"nat sources=[] destinations=[]\nproblem IPPool \"broken\": spec.cidr \"198.18.300.0/24\": netip.ParsePrefix(\"198.18.300.0/24\"): ParseAddr(\"198.18.300.0\"): IPv4 field has value >255\nproblem IPAMBlock \"nonsense\": spec.cidr \"nonsense\": netip.ParsePrefix(\"nonsense\"): no '/'\n", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInputs()
			tc.change(&in)
			if got := summary(Compute(in)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestNodeAddress(t *testing.T) {
	for _, tc := range []struct {
		spec v3.NodeSpec
		want string
	}{
		{v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: "198.18.0.1/24"}}, "198.18.0.1"},
		{v3.NodeSpec{Addresses: []v3.NodeAddress{{Address: "198.18.9.9", Type: v3.ExternalIP}, {Address: "198.18.0.2", Type: v3.InternalIP}}}, "198.18.0.2"},
		{v3.NodeSpec{Addresses: []v3.NodeAddress{{Address: "fd00::1"}, {Address: "198.18.0.3/16"}}}, "198.18.0.3"},
		{v3.NodeSpec{}, `Node "n" has neither spec.bgp.ipv4Address nor spec.addresses`},
		{v3.NodeSpec{Addresses: []v3.NodeAddress{{Address: "fd00::1"}}}, `Node "n" has no IPv4 address in spec.bgp.ipv4Address or spec.addresses (["fd00::1"])`},
	} {
		a, err := NodeAddress(&v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: tc.spec})
		got := a.String()
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.spec, got, tc.want)
		}
	}
}
