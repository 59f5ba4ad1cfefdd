package agent

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// TestComputeRefusesHostileMirrors: a mirrored object of cluster-b that
// claims what cluster-b does not own changes nothing in the desired state
// (routes, peers, NAT exemptions) and is named in Result.Refused.
func TestComputeRefusesHostileMirrors(t *testing.T) {
	mirrorBlock := func(node, cidr string) *v3.IPAMBlock {
		return remotecluster.MirrorIPAMBlock("cluster-b", block(node, cidr))
	}
	mirrorWEP := func(name, ip string) *v3.WorkloadEndpoint {
		return remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", name, "b1", ip))
	}
	tests := []struct {
		name   string
		change func(in *Inputs)
		// refused is a substring of the one refusal expected.
		refused string
	}{
		{"block claiming half the Internet", func(in *Inputs) { in.Blocks = append(in.Blocks, mirrorBlock("b1", "0.0.0.0/1")) }, "OutsideOwnPools"},
		{"block on the metadata address", func(in *Inputs) { in.Blocks = append(in.Blocks, mirrorBlock("b1", "169.254.169.254/32")) }, "OutsideOwnPools"},
		{"block inside the local pool", func(in *Inputs) { in.Blocks = append(in.Blocks, mirrorBlock("b1", "198.18.64.128/26")) }, "OutsideOwnPools"},
		{"endpoint with a local pod's address", func(in *Inputs) {
			in.Endpoints = append(in.Endpoints, EndpointOf(mirrorWEP("evil", "198.18.64.70/32")))
		}, "OutsideOwnPools"},
		{"endpoint with a local node's address", func(in *Inputs) { in.Endpoints = append(in.Endpoints, EndpointOf(mirrorWEP("evil", "198.18.0.2/32"))) }, "OutsideOwnPools"},
		{"pool over the local pool", func(in *Inputs) {
			in.Pools = append(in.Pools, remotecluster.MirrorIPPool("cluster-b", pool("evil-pool", "198.18.64.0/23", true, false)))
		}, "OverlapsLocalPool"},
		{"pool over the metadata range", func(in *Inputs) {
			in.Pools = append(in.Pools, remotecluster.MirrorIPPool("cluster-b", pool("evil-pool", "169.254.0.0/16", true, false)))
		}, "ReservedRange"},
		{"node with a local node's VTEP MAC", func(in *Inputs) {
			in.Nodes = append(in.Nodes, remotecluster.MirrorNode("cluster-b", node("b3", "198.18.0.9", "198.18.65.128", "66:00:00:00:00:a2")))
		}, "NodeCollision"},
		{"node with a local node's address", func(in *Inputs) {
			in.Nodes = append(in.Nodes, remotecluster.MirrorNode("cluster-b", node("b3", "198.18.0.2", "198.18.65.128", "66:00:00:00:00:b3")))
		}, "NodeCollision"},
	}
	want := Compute(baseInputs())
	if len(want.Refused) != 0 {
		t.Fatalf("the base inputs are refused: %v", want.Refused)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInputs()
			tt.change(&in)
			got := Compute(in)
			if len(got.Refused) != 1 || !strings.Contains(got.Refused[0], tt.refused) {
				t.Fatalf("refused %q, want one with %q", got.Refused, tt.refused)
			}
			if !slices.EqualFunc(got.Dataplane.Nodes, want.Dataplane.Nodes, sameNode) {
				t.Errorf("peers changed:\n got %+v\nwant %+v", got.Dataplane.Nodes, want.Dataplane.Nodes)
			}
			if !slices.Equal(got.Dataplane.Endpoints, want.Dataplane.Endpoints) {
				t.Errorf("endpoint routes changed: got %v, want %v", got.Dataplane.Endpoints, want.Dataplane.Endpoints)
			}
			if !slices.Equal(got.NAT.Sources, want.NAT.Sources) || !slices.Equal(got.NAT.Destinations, want.NAT.Destinations) {
				t.Errorf("NAT changed: got %+v, want %+v", got.NAT, want.NAT)
			}
		})
	}
}

func sameNode(a, b dataplane.RemoteNode) bool {
	return a.Name == b.Name && a.NodeIP == b.NodeIP && a.VTEP == b.VTEP && a.MAC.String() == b.MAC.String() && slices.Equal(a.Blocks, b.Blocks)
}

// TestComputeDisabledOverlayEndpoints: with overlay routing Disabled the
// remote's pools are not mirrored; its endpoints stay mesh destinations
// (never masqueraded) unless they claim a local or reserved address.
func TestComputeDisabledOverlayEndpoints(t *testing.T) {
	in := baseInputs()
	in.RCCs = []*v3.RemoteClusterConfiguration{rcc("cluster-b", v3.OverlayRoutingModeDisabled)}
	in.Pools = in.Pools[:1]
	in.Endpoints = append(in.Endpoints, EndpointOf(remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "evil", "b1", "198.18.64.70/32"))))
	got := Compute(in)
	if len(got.Refused) != 1 || !strings.Contains(got.Refused[0], "OverlapsLocalPool") {
		t.Fatalf("refused %q, want the endpoint on a local pod's address", got.Refused)
	}
	if !slices.Contains(got.NAT.Destinations, netip.MustParsePrefix("198.18.65.10/32")) {
		t.Errorf("the admitted remote endpoint is no NAT exemption: %v", got.NAT.Destinations)
	}
}

// TestComputeWireGuardRefusesHostileMirrors: a hostile mirrored block or
// endpoint never becomes a WireGuard AllowedIP (a route in table 1, looked
// up before the main table), nor a hostile node a peer.
func TestComputeWireGuardRefusesHostileMirrors(t *testing.T) {
	on := true
	fc := &v3.FelixConfiguration{}
	fc.Name = "default"
	fc.Spec.WireguardEnabled = &on
	base := baseInputs()
	base.FelixConfiguration = fc
	want := ComputeWireGuard(base, netip.MustParseAddr("198.18.64.0"), netip.Addr{})
	if len(want.Nodes) == 0 {
		t.Fatal("no WireGuard nodes from the base inputs")
	}
	in := baseInputs()
	in.FelixConfiguration = fc
	in.Blocks = append(in.Blocks, remotecluster.MirrorIPAMBlock("cluster-b", block("b1", "0.0.0.0/1")))
	in.Endpoints = append(in.Endpoints, EndpointOf(remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", "evil", "b1", "198.18.64.70/32"))))
	in.Nodes = append(in.Nodes, remotecluster.MirrorNode("cluster-b", node("b3", "198.18.0.2", "198.18.65.128", "66:00:00:00:00:b3")))
	got := ComputeWireGuard(in, netip.MustParseAddr("198.18.64.0"), netip.Addr{})
	if len(got.Nodes) != len(want.Nodes) {
		t.Fatalf("WireGuard nodes: got %d, want %d", len(got.Nodes), len(want.Nodes))
	}
	for i := range want.Nodes {
		if got.Nodes[i].Name != want.Nodes[i].Name || !slices.Equal(got.Nodes[i].AllowedIPs, want.Nodes[i].AllowedIPs) {
			t.Errorf("node %d: got %s %v, want %s %v", i, got.Nodes[i].Name, got.Nodes[i].AllowedIPs, want.Nodes[i].Name, want.Nodes[i].AllowedIPs)
		}
	}
}
