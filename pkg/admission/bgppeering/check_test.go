package bgppeering

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func bgpNode(name, addr string, as int64, labels map[string]string) v3.Node {
	n := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: addr}}}
	if as != 0 {
		n.Spec.BGP.ASNumber = &as
	}
	return n
}

func peer(name, nodeSelector, peerIP string) v3.BGPPeer {
	return v3.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.BGPPeerSpec{NodeSelector: nodeSelector, PeerIP: peerIP, ASNumber: 65001}}
}

// errorsText joins the errors, or is "" for none.
func errorsText(errs field.ErrorList) string {
	if len(errs) == 0 {
		return ""
	}
	return errs.ToAggregate().Error()
}

func TestCheckNode(t *testing.T) {
	existing := []v3.Node{
		bgpNode("a", "198.18.1.1/24", 0, nil),
		bgpNode("b", "198.18.1.2/24", 65002, map[string]string{"rack": "r1"}),
		bgpNode("cluster-b/a", "198.18.1.3/24", 0, map[string]string{v3.LabelCluster: "cluster-b"}),
	}
	global := &v3.BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.BGPConfigurationSpec{ASNumber: ptr(int64(65002))}}
	for _, tc := range []struct {
		name   string
		node   v3.Node
		peers  []v3.BGPPeer
		global *v3.BGPConfiguration
		want   string
	}{
		{name: "distinct address", node: bgpNode("c", "198.18.1.4/24", 0, nil)},
		{name: "update of the node itself", node: bgpNode("a", "198.18.1.1/24", 0, nil)},
		{name: "same address in another AS", node: bgpNode("c", "198.18.1.2/24", 0, nil)},
		{name: "same address as a mirrored node of another cluster", node: bgpNode("c", "198.18.1.3/24", 0, nil)},
		{name: "mirrored node is not checked", node: bgpNode("cluster-b/b", "198.18.1.1/24", 0, map[string]string{v3.LabelCluster: "cluster-b"})},
		{
			name: "same address in the same default AS",
			node: bgpNode("c", "198.18.1.1/32", 0, nil),
			want: `spec.bgp.ipv4Address: Invalid value: "198.18.1.1/32": node "a" has the same router ID 198.18.1.1 in the same AS 64512`,
		},
		{
			name: "same address, same AS through the default configuration",
			node: bgpNode("c", "198.18.1.2/24", 0, nil), global: global,
			want: `spec.bgp.ipv4Address: Invalid value: "198.18.1.2/24": node "b" has the same router ID 198.18.1.2 in the same AS 65002`,
		},
		{
			name:  "a BGPPeer selecting the node peers with its address",
			node:  bgpNode("c", "198.18.1.9/24", 0, map[string]string{"rack": "r1"}),
			peers: []v3.BGPPeer{peer("tor", "rack == 'r1'", "198.18.1.9:179"), peer("other-rack", "rack == 'r2'", "198.18.1.9")},
			want:  `spec.bgp.ipv4Address: Invalid value: "198.18.1.9/24": BGPPeer "tor" selects this node and peers with 198.18.1.9:179, its own address`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorsText(CheckNode(&tc.node, existing, tc.peers, tc.global))
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("CheckNode: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBGPInUse(t *testing.T) {
	speaking := bgpNode("a", "198.18.1.1/24", 0, nil)
	speaking.Status.BGP = &v3.NodeBGPStatus{RouterID: "198.18.1.1"}
	mirroredSpeaking := speaking
	mirroredSpeaking.Labels = map[string]string{v3.LabelCluster: "cluster-b"}
	for _, tc := range []struct {
		name   string
		nodes  []v3.Node
		peers  []v3.BGPPeer
		global *v3.BGPConfiguration
		want   bool
	}{
		{name: "overlay only", nodes: []v3.Node{bgpNode("a", "198.18.1.1/24", 0, nil)}},
		{name: "default configuration", global: &v3.BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, want: true},
		{name: "a peer", peers: []v3.BGPPeer{peer("tor", "", "198.18.1.254")}, want: true},
		{name: "a node reports a speaker", nodes: []v3.Node{speaking}, want: true},
		{name: "only a mirrored node reports one", nodes: []v3.Node{mirroredSpeaking}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BGPInUse(tc.nodes, tc.peers, tc.global); got != tc.want {
				t.Errorf("BGPInUse = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckBGPPeer(t *testing.T) {
	nodes := []v3.Node{
		bgpNode("a", "198.18.1.1/24", 0, map[string]string{"rack": "r1"}),
		bgpNode("b", "198.18.2.1/24", 0, map[string]string{"rack": "r2"}),
		bgpNode("cluster-b/a", "198.18.3.1/24", 0, map[string]string{v3.LabelCluster: "cluster-b"}),
	}
	for _, tc := range []struct {
		name string
		peer v3.BGPPeer
		want string
	}{
		{name: "router outside the cluster", peer: peer("tor", "", "198.18.1.254")},
		{name: "node of another rack", peer: peer("to-b", "rack == 'r1'", "198.18.2.1")},
		{name: "node of a remote cluster (flat network)", peer: peer("to-cluster-b", "", "198.18.3.1")},
		{
			name: "node peers with itself",
			peer: peer("self", "rack == 'r1'", "198.18.1.1"),
			want: `spec.peerIP: Invalid value: "198.18.1.1": is the address of node "a", which the peer selects`,
		},
		{
			name: "every node selected, one of them is the peer",
			peer: peer("all", "", "198.18.2.1:1179"),
			want: `spec.peerIP: Invalid value: "198.18.2.1:1179": is the address of node "b"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorsText(CheckBGPPeer(&tc.peer, nodes))
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("CheckBGPPeer: %q, want %q", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
