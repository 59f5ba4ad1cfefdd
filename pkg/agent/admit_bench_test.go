package agent

import (
	"fmt"
	"net/netip"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// benchInputs is a mesh of 500 local and 500 remote nodes, a /26 block
// each, and 20,000 remote endpoints.
func benchInputs() Inputs {
	in := Inputs{NodeName: "a0", NodeIP: netip.MustParseAddr("198.18.0.1"),
		Pools: []*v3.IPPool{pool("a-pool", "10.0.0.0/16", true, true),
			remotecluster.MirrorIPPool("cluster-b", pool("b-pool", "10.200.0.0/16", true, true))},
		RCCs: []*v3.RemoteClusterConfiguration{rcc("cluster-b", v3.OverlayRoutingModeEnabled)}}
	for i := range 500 {
		ip, blk := fmt.Sprintf("198.18.%d.%d", i/250, 1+i%250), netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i / 4), byte(64 * (i % 4))}), 26)
		in.Nodes = append(in.Nodes, node(fmt.Sprint("a", i), ip, blk.Addr().String(), fmt.Sprintf("66:00:00:00:%02x:%02x", i/256, i%256)))
		in.Blocks = append(in.Blocks, block(fmt.Sprint("a", i), blk.String()))
		rip, rblk := fmt.Sprintf("198.18.%d.%d", 4+i/250, 1+i%250), netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i / 4), byte(64 * (i % 4))}), 26)
		in.Nodes = append(in.Nodes, remotecluster.MirrorNode("cluster-b", node(fmt.Sprint("b", i), rip, rblk.Addr().String(), fmt.Sprintf("66:00:00:01:%02x:%02x", i/256, i%256))))
		in.Blocks = append(in.Blocks, remotecluster.MirrorIPAMBlock("cluster-b", block(fmt.Sprint("b", i), rblk.String())))
	}
	for i := range 20000 {
		ip := netip.AddrFrom4([4]byte{10, 200, byte(i / 250 % 125), byte(1 + i%250)})
		in.Endpoints = append(in.Endpoints, EndpointOf(remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", fmt.Sprint("p", i), fmt.Sprint("b", i%500), ip.String()+"/32"))))
	}
	return in
}

// BenchmarkAdmitRemote is the agent's program-time admission alone;
// BenchmarkCompute the whole desired state, admission included.
func BenchmarkAdmitRemote(b *testing.B) {
	in := benchInputs()
	modes := overlayModes(in.RCCs)
	b.ResetTimer()
	for range b.N {
		if _, refused := admitRemote(in, modes); len(refused) != 0 {
			b.Fatal(refused[0])
		}
	}
}

func BenchmarkCompute(b *testing.B) {
	in := benchInputs()
	b.ResetTimer()
	for range b.N {
		if res := Compute(in); len(res.Refused) != 0 {
			b.Fatal(res.Refused[0])
		}
	}
}

// BenchmarkReconcileCompute is what a reconcile of the agent computes
// once its informers hold the objects: the Endpoints of the listed
// WorkloadEndpoints (parsed once per object, then remembered) and the
// desired state from them.
func BenchmarkReconcileCompute(b *testing.B) {
	in := benchInputs()
	objs := make([]*v3.WorkloadEndpoint, len(in.Endpoints))
	for i, e := range in.Endpoints {
		objs[i] = remotecluster.MirrorWorkloadEndpoint("cluster-b", wep("ns", e.NameInCluster[len("ns/"):], e.Node[len("cluster-b/"):], e.Networks[0].Value))
	}
	var memo endpointMemo
	memo.endpoints(objs)
	b.ResetTimer()
	for range b.N {
		in.Endpoints = memo.endpoints(objs)
		if res := Compute(in); len(res.Refused) != 0 {
			b.Fatal(res.Refused[0])
		}
	}
}
