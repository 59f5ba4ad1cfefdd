package peering

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func node(name, addr string, labels map[string]string, mut ...func(*v3.NodeBGPSpec)) v3.Node {
	n := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: v3.NodeSpec{BGP: &v3.NodeBGPSpec{IPv4Address: addr}}}
	for _, m := range mut {
		m(n.Spec.BGP)
	}
	return n
}

func block(cidr, host string) v3.IPAMBlock {
	aff := "host:" + host
	return v3.IPAMBlock{Spec: v3.IPAMBlockSpec{CIDR: cidr, Affinity: &aff}}
}

func globalConfig(mut func(*v3.BGPConfigurationSpec)) v3.BGPConfiguration {
	c := v3.BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	mut(&c.Spec)
	return c
}

func mesh(addr string, as uint32, from string) Peer {
	return Peer{Address: netip.MustParseAddr(addr), Port: 179, ASNumber: as, Type: NodeMesh, Source: from, BindLocal: true, MaxRestartTime: DefaultMaxRestartTime}
}

func TestCompute(t *testing.T) {
	as := func(n int64) func(*v3.NodeBGPSpec) { return func(b *v3.NodeBGPSpec) { b.ASNumber = &n } }
	rr := func(b *v3.NodeBGPSpec) { b.RouteReflectorClusterID = "224.0.0.1" }
	f := false
	threeNodes := []v3.Node{
		node("a", "198.18.1.1/24", map[string]string{"rack": "r1"}),
		node("b", "198.18.1.2/24", map[string]string{"rack": "r1"}),
		node("c", "198.18.2.3/24", map[string]string{"rack": "r2", "rr": ""}, rr, as(65010)),
		node("cluster-b/x", "198.18.9.9/24", map[string]string{v3.LabelCluster: "cluster-b"}),
	}
	cases := []struct {
		name    string
		in      Input
		want    Speaker
		wantErr string
	}{
		{
			name: "defaults: full mesh with the other local nodes, mirrored nodes ignored, own blocks advertised",
			in: Input{NodeName: "a", Nodes: threeNodes, Blocks: []v3.IPAMBlock{
				block("198.19.0.64/26", "a"), block("198.19.0.0/26", "a"), block("198.19.1.0/26", "b"), {Spec: v3.IPAMBlockSpec{CIDR: "198.19.2.0/26"}},
			}},
			want: Speaker{ASNumber: 64512, RouterID: netip.MustParseAddr("198.18.1.1"), ListenPort: 179,
				Peers:    []Peer{mesh("198.18.1.2", 64512, "b"), mesh("198.18.2.3", 65010, "c")},
				Prefixes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/26"), netip.MustParsePrefix("198.19.0.64/26")}},
		},
		{
			name: "mesh off, ToR peer for rack r1 with port and password, service cluster and external IP CIDRs advertised",
			in: Input{NodeName: "b", Nodes: threeNodes,
				Configs: []v3.BGPConfiguration{globalConfig(func(s *v3.BGPConfigurationSpec) {
					s.NodeToNodeMeshEnabled, s.ASNumber = &f, ptr(int64(65001))
					s.ServiceClusterIPs = []v3.ServiceClusterIPBlock{{CIDR: "10.96.0.0/12"}}
					s.ServiceExternalIPs = []v3.ServiceExternalIPBlock{{CIDR: "198.19.11.0/24"}}
				})},
				Peers: []v3.BGPPeer{
					{ObjectMeta: metav1.ObjectMeta{Name: "tor-r1"}, Spec: v3.BGPPeerSpec{NodeSelector: "rack == 'r1'", PeerIP: "198.18.1.254:1179", ASNumber: 65100,
						KeepOriginalNextHop: true, MaxRestartTime: &metav1.Duration{Duration: 15 * time.Second},
						Password: &v3.BGPPassword{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}},
					{ObjectMeta: metav1.ObjectMeta{Name: "tor-r2"}, Spec: v3.BGPPeerSpec{NodeSelector: "rack == 'r2'", PeerIP: "198.18.2.254", ASNumber: 65100}},
				}},
			want: Speaker{ASNumber: 65001, RouterID: netip.MustParseAddr("198.18.1.2"), ListenPort: 179,
				Peers: []Peer{{Address: netip.MustParseAddr("198.18.1.254"), Port: 1179, ASNumber: 65100, Type: GlobalPeer, Source: "tor-r1",
					KeepOriginalNextHop: true, BindLocal: true, MaxRestartTime: 15 * time.Second,
					Password: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
				Prefixes: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("198.19.11.0/24")}},
		},
		{
			name: "route reflector peers with the nodes its peerSelector selects as clients",
			in: Input{NodeName: "c", Nodes: threeNodes,
				Configs: []v3.BGPConfiguration{globalConfig(func(s *v3.BGPConfigurationSpec) { s.NodeToNodeMeshEnabled, s.ListenPort = &f, 1179 })},
				Peers: []v3.BGPPeer{{ObjectMeta: metav1.ObjectMeta{Name: "to-rr"}, Spec: v3.BGPPeerSpec{PeerSelector: "has(rr)"}},
					{ObjectMeta: metav1.ObjectMeta{Name: "rr-to-all"}, Spec: v3.BGPPeerSpec{NodeSelector: "has(rr)", PeerSelector: "!has(rr)", SourceAddress: v3.SourceAddressNone}}}},
			want: Speaker{ASNumber: 65010, RouterID: netip.MustParseAddr("198.18.2.3"), ListenPort: 1179, RouteReflectorClusterID: "224.0.0.1",
				Peers: []Peer{
					{Address: netip.MustParseAddr("198.18.1.1"), Port: 1179, ASNumber: 64512, Type: NodePeer, Source: "rr-to-all", RouteReflectorClient: true, MaxRestartTime: DefaultMaxRestartTime},
					{Address: netip.MustParseAddr("198.18.1.2"), Port: 1179, ASNumber: 64512, Type: NodePeer, Source: "rr-to-all", RouteReflectorClient: true, MaxRestartTime: DefaultMaxRestartTime},
				}},
		},
		{
			name: "client of the route reflector",
			in: Input{NodeName: "a", Nodes: threeNodes,
				Configs: []v3.BGPConfiguration{globalConfig(func(s *v3.BGPConfigurationSpec) { s.NodeToNodeMeshEnabled = &f })},
				Peers:   []v3.BGPPeer{{ObjectMeta: metav1.ObjectMeta{Name: "to-rr"}, Spec: v3.BGPPeerSpec{PeerSelector: "has(rr)", SourceAddress: v3.SourceAddressUseNodeIP}}}},
			want: Speaker{ASNumber: 64512, RouterID: netip.MustParseAddr("198.18.1.1"), ListenPort: 179,
				Peers: []Peer{{Address: netip.MustParseAddr("198.18.2.3"), Port: 179, ASNumber: 65010, Type: NodePeer, Source: "to-rr", BindLocal: true, MaxRestartTime: DefaultMaxRestartTime}}},
		},
		{
			name: "a BGPPeer for one node overrides the mesh session to the same address; a peer at the node's own address is skipped",
			in: Input{NodeName: "a", Nodes: threeNodes[:2], Peers: []v3.BGPPeer{
				{ObjectMeta: metav1.ObjectMeta{Name: "b-direct"}, Spec: v3.BGPPeerSpec{Node: "a", PeerIP: "198.18.1.2", ASNumber: 64512}},
				{ObjectMeta: metav1.ObjectMeta{Name: "self"}, Spec: v3.BGPPeerSpec{PeerIP: "198.18.1.1", ASNumber: 64512}},
				{ObjectMeta: metav1.ObjectMeta{Name: "other-node"}, Spec: v3.BGPPeerSpec{Node: "b", PeerIP: "198.18.7.7", ASNumber: 64512}},
			}},
			want: Speaker{ASNumber: 64512, RouterID: netip.MustParseAddr("198.18.1.1"), ListenPort: 179,
				Peers: []Peer{{Address: netip.MustParseAddr("198.18.1.2"), Port: 179, ASNumber: 64512, Type: GlobalPeer, Source: "b-direct", BindLocal: true, MaxRestartTime: DefaultMaxRestartTime}}},
		},
		{
			name:    "unknown node",
			in:      Input{NodeName: "z", Nodes: threeNodes},
			wantErr: `node "z": no such Node`,
		},
		{
			name:    "node without IPv4 address",
			in:      Input{NodeName: "a", Nodes: []v3.Node{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}},
			wantErr: `node "a": spec.bgp.ipv4Address is unset or invalid ("")`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compute(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Compute: %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Compute:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
