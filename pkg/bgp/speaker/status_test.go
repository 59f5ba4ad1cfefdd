package speaker

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

func TestNodeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC))
	up := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	sp := peering.Speaker{ASNumber: 64512, RouterID: netip.MustParseAddr("198.18.1.1")}
	for _, tc := range []struct {
		name     string
		sessions []Session
		want     *v3.NodeBGPStatus
	}{
		{name: "no session", want: &v3.NodeBGPStatus{RouterID: "198.18.1.1", ASNumber: 64512, LastUpdateTime: &now}},
		{
			name: "established and connecting",
			sessions: []Session{
				{Peer: peering.Peer{Address: netip.MustParseAddr("198.18.1.2"), ASNumber: 64512, Type: peering.NodeMesh}, State: "Established", Since: up, Received: 3, Advertised: 2},
				{Peer: peering.Peer{Address: netip.MustParseAddr("198.18.1.254"), ASNumber: 65100, Type: peering.GlobalPeer}, State: "Active", Received: 1 << 40},
			},
			want: &v3.NodeBGPStatus{RouterID: "198.18.1.1", ASNumber: 64512, LastUpdateTime: &now, Sessions: []v3.NodeBGPSession{
				{PeerIP: "198.18.1.2", PeerASNumber: 64512, Type: "NodeMesh", State: "Established", Since: &metav1.Time{Time: up}, PrefixesReceived: 3, PrefixesAdvertised: 2},
				{PeerIP: "198.18.1.254", PeerASNumber: 65100, Type: "GlobalPeer", State: "Active", PrefixesReceived: 1<<31 - 1},
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NodeStatus(sp, tc.sessions, now); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("NodeStatus:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMetricsObserve(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Observe([]Session{{State: "Established"}, {State: "Established"}, {State: "Active"}}, 120, 2)
	want := `
# HELP meshapi_agent_bgp_routes BGP routes of the node's speaker by direction: learned (in the kernel) or advertised.
# TYPE meshapi_agent_bgp_routes gauge
meshapi_agent_bgp_routes{direction="advertised"} 2
meshapi_agent_bgp_routes{direction="learned"} 120
# HELP meshapi_agent_bgp_sessions BGP sessions of the node's speaker by state (Established when up).
# TYPE meshapi_agent_bgp_sessions gauge
meshapi_agent_bgp_sessions{state="Active"} 1
meshapi_agent_bgp_sessions{state="Connect"} 0
meshapi_agent_bgp_sessions{state="Established"} 2
meshapi_agent_bgp_sessions{state="Idle"} 0
meshapi_agent_bgp_sessions{state="OpenConfirm"} 0
meshapi_agent_bgp_sessions{state="OpenSent"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestRemoteClusters(t *testing.T) {
	endpoint := func(cluster string, ips ...string) v3.WorkloadEndpoint {
		ep := v3.WorkloadEndpoint{Spec: v3.WorkloadEndpointSpec{IPNetworks: ips}}
		if cluster != "" {
			ep.Labels = map[string]string{v3.LabelCluster: cluster}
		}
		return ep
	}
	learned := func(prefixes ...string) map[netip.Prefix]netip.Addr {
		out := map[netip.Prefix]netip.Addr{}
		for _, p := range prefixes {
			out[netip.MustParsePrefix(p)] = netip.MustParseAddr("198.18.1.254")
		}
		return out
	}
	var many []v3.WorkloadEndpoint
	for i := 0; i < 12; i++ {
		many = append(many, endpoint("cluster-c", fmt.Sprintf("198.18.90.%d/32", 11-i)))
	}
	for _, tc := range []struct {
		name      string
		underlay  []string
		endpoints []v3.WorkloadEndpoint
		learned   map[netip.Prefix]netip.Addr
		want      []v3.NodeBGPRemoteClusterStatus
	}{
		{name: "no underlay cluster", endpoints: []v3.WorkloadEndpoint{endpoint("cluster-b", "198.18.81.1/32")}, learned: learned("198.18.81.0/26"),
			want: []v3.NodeBGPRemoteClusterStatus{}},
		{
			name:     "block and aggregated routes; local and overlay clusters' endpoints ignored",
			underlay: []string{"cluster-b", "cluster-d"},
			endpoints: []v3.WorkloadEndpoint{
				endpoint("cluster-b", "198.18.81.1/32"), endpoint("cluster-b", "198.18.81.65/32"), endpoint("cluster-b", "198.18.82.7/32", "198.18.82.7/32"),
				endpoint("cluster-c", "198.18.83.1/32"), endpoint("", "198.18.80.1/32"), endpoint("cluster-d", "198.18.84.1/32", "not-an-ip"),
			},
			learned: learned("198.18.81.0/26", "198.18.82.0/24", "198.18.83.0/26"),
			want: []v3.NodeBGPRemoteClusterStatus{
				{Cluster: "cluster-b", Endpoints: 3, Routed: 2, Unrouted: []string{"198.18.81.65"}},
				{Cluster: "cluster-d", Endpoints: 1, Unrouted: []string{"198.18.84.1"}},
			},
		},
		{
			name:     "a default route covers everything",
			underlay: []string{"cluster-b"}, endpoints: []v3.WorkloadEndpoint{endpoint("cluster-b", "198.18.81.1/32")}, learned: learned("0.0.0.0/0"),
			want: []v3.NodeBGPRemoteClusterStatus{{Cluster: "cluster-b", Endpoints: 1, Routed: 1}},
		},
		{
			name:     "a cluster without endpoints yet",
			underlay: []string{"cluster-b"},
			want:     []v3.NodeBGPRemoteClusterStatus{{Cluster: "cluster-b"}},
		},
		{
			name:     "at most ten unrouted, smallest first",
			underlay: []string{"cluster-c"}, endpoints: many,
			want: []v3.NodeBGPRemoteClusterStatus{{Cluster: "cluster-c", Endpoints: 12, Unrouted: []string{
				"198.18.90.0", "198.18.90.1", "198.18.90.2", "198.18.90.3", "198.18.90.4",
				"198.18.90.5", "198.18.90.6", "198.18.90.7", "198.18.90.8", "198.18.90.9",
			}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RemoteClusters(tc.underlay, tc.endpoints, tc.learned); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RemoteClusters:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
