package meshctl

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestBGPChecks(t *testing.T) {
	bgpNode := func(name, addr string, sessions ...v3.NodeBGPSession) v3.Node {
		n := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: addr}}}
		if sessions != nil {
			n.Status.BGP = &v3.NodeBGPStatus{Sessions: sessions}
		}
		return n
	}
	up := func(ip string) v3.NodeBGPSession { return v3.NodeBGPSession{PeerIP: ip, State: "Established"} }
	mirrored := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.x", Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
		Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: "198.18.9.1/24"}}}
	noMesh := false
	tor := v3.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v3.BGPPeerSpec{PeerIP: "198.18.1.254", ASNumber: 65100}}
	type line struct{ result, detail string }
	for _, tc := range []struct {
		name    string
		nodes   []v3.Node
		configs []v3.BGPConfiguration
		peers   []v3.BGPPeer
		want    []line
	}{
		{
			name:  "no speaker",
			nodes: []v3.Node{bgpNode("a", "198.18.1.1/24"), mirrored},
			want:  []line{{Skip, "no node reports a BGP speaker"}},
		},
		{
			name:  "full mesh up, mirrored nodes not expected",
			nodes: []v3.Node{bgpNode("a", "198.18.1.1/24", up("198.18.1.2")), bgpNode("b", "198.18.1.2/24", up("198.18.1.1")), mirrored},
			want:  []line{{Pass, "node a: all 1 sessions Established"}, {Pass, "node b: all 1 sessions Established"}},
		},
		{
			name: "ToR without mesh: one session down, one missing",
			nodes: []v3.Node{
				bgpNode("a", "198.18.1.1/24", up("198.18.1.254")),
				bgpNode("b", "198.18.1.2/24", v3.NodeBGPSession{PeerIP: "198.18.1.254", State: "Active"}),
				bgpNode("c", "198.18.1.3/24", up("198.18.1.1")),
			},
			configs: []v3.BGPConfiguration{{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.BGPConfigurationSpec{NodeToNodeMeshEnabled: &noMesh}}},
			peers:   []v3.BGPPeer{tor},
			want: []line{
				{Pass, "node a: all 1 sessions Established"},
				{Fail, "node b: 1 of 1 sessions not Established: 198.18.1.254 (GlobalPeer tor) is Active"},
				{Fail, "node c: 1 of 1 sessions not Established: 198.18.1.254 (GlobalPeer tor) has no session"},
			},
		},
		{
			name:  "speaker on a node without an address",
			nodes: []v3.Node{{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: v3.NodeStatus{BGP: &v3.NodeBGPStatus{}}}},
			want:  []line{{Fail, `node a: node "a": spec.bgp.ipv4Address is unset`}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BGPChecks("cluster-a", tc.nodes, tc.configs, tc.peers)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Result != w.result || !strings.Contains(g.Detail, w.detail) || g.Check != CheckBGPSessions || g.Context != "cluster-a" || (g.Result == Fail && g.Fix == "") {
					t.Errorf("line %d: %+v, want %s containing %q", i, g, w.result, w.detail)
				}
			}
		})
	}
}

func TestBGPRouteChecks(t *testing.T) {
	speaking := func(name string, remote ...v3.NodeBGPRemoteClusterStatus) v3.Node {
		return v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v3.NodeStatus{BGP: &v3.NodeBGPStatus{RemoteClusters: remote}}}
	}
	rcc := func(name string, mode v3.OverlayRoutingMode) v3.RemoteClusterConfiguration {
		return v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v3.RemoteClusterConfigurationSpec{SyncOptions: v3.RemoteClusterSyncOptions{OverlayRoutingMode: mode}}}
	}
	mirrored := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.b1", Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
		Status: v3.NodeStatus{BGP: &v3.NodeBGPStatus{}}}
	silent := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "c"}}
	type line struct{ result, remote, detail string }
	for _, tc := range []struct {
		name  string
		nodes []v3.Node
		rccs  []v3.RemoteClusterConfiguration
		want  []line
	}{
		{
			name:  "overlay clusters are not the underlay's",
			nodes: []v3.Node{speaking("a")}, rccs: []v3.RemoteClusterConfiguration{rcc("cluster-b", v3.OverlayRoutingModeEnabled)},
		},
		{
			name: "every node and underlay cluster; mirrored nodes and nodes without a speaker are not checked",
			nodes: []v3.Node{
				speaking("b", v3.NodeBGPRemoteClusterStatus{Cluster: "cluster-b", Endpoints: 3, Routed: 1, Unrouted: []string{"198.18.81.65", "198.18.81.66"}}),
				speaking("a", v3.NodeBGPRemoteClusterStatus{Cluster: "cluster-b", Endpoints: 3, Routed: 3}, v3.NodeBGPRemoteClusterStatus{Cluster: "cluster-c"}),
				mirrored, silent,
			},
			rccs: []v3.RemoteClusterConfiguration{rcc("cluster-c", ""), rcc("cluster-b", v3.OverlayRoutingModeDisabled), rcc("cluster-d", v3.OverlayRoutingModeEnabled)},
			want: []line{
				{Pass, "cluster-b", "node a: all 3 pod addresses of cluster cluster-b are inside learned routes"},
				{Pass, "cluster-c", "node a: no pod of cluster cluster-c is known here yet"},
				{Fail, "cluster-b", "node b: 2 of 3 pod addresses of cluster cluster-b have no learned route: 198.18.81.65, 198.18.81.66"},
				{Fail, "cluster-c", "node b: its agent has not reported routes towards cluster cluster-c"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BGPRouteChecks("cluster-a", tc.nodes, tc.rccs)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Result != w.result || g.Remote != w.remote || !strings.Contains(g.Detail, w.detail) || g.Check != CheckBGPRoutes || g.Context != "cluster-a" || (g.Result == Fail && g.Fix == "") {
					t.Errorf("line %d: %+v, want %s %s containing %q", i, g, w.result, w.remote, w.detail)
				}
			}
		})
	}
}
