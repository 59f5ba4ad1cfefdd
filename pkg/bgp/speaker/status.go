package speaker

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// NodeStatus is what a node's status.bgp says of its speaker: identity
// and one entry per session, as of now.
func NodeStatus(sp peering.Speaker, sessions []Session, now metav1.Time) *v3.NodeBGPStatus {
	st := &v3.NodeBGPStatus{RouterID: sp.RouterID.String(), ASNumber: int64(sp.ASNumber), LastUpdateTime: &now}
	for _, s := range sessions {
		out := v3.NodeBGPSession{
			PeerIP: s.Peer.Address.String(), PeerASNumber: int64(s.Peer.ASNumber), Type: string(s.Peer.Type), State: s.State,
			PrefixesReceived: clampInt32(s.Received), PrefixesAdvertised: clampInt32(s.Advertised),
		}
		if !s.Since.IsZero() {
			since := metav1.NewTime(s.Since)
			out.Since = &since
		}
		st.Sessions = append(st.Sessions, out)
	}
	return st
}

// maxUnrouted is how many uncovered addresses a remote cluster's status
// names.
const maxUnrouted = 10

// RemoteClusters is status.bgp.remoteClusters: for each of the remote
// clusters underlay names (those whose pods the underlay routes), how many
// of its pods' addresses (the ipNetworks of the endpoints mirrored from
// it) a learned route covers: the remote block's prefix or a shorter one
// containing it (a router may aggregate). Sorted by cluster.
func RemoteClusters(underlay []string, endpoints []v3.WorkloadEndpoint, learned map[netip.Prefix]netip.Addr) []v3.NodeBGPRemoteClusterStatus {
	byCluster := map[string][]netip.Prefix{}
	for _, c := range underlay {
		byCluster[c] = nil
	}
	for _, ep := range endpoints {
		cluster, mirrored := ep.Labels[v3.LabelCluster]
		if _, routed := byCluster[cluster]; !mirrored || !routed {
			continue
		}
		for _, n := range ep.Spec.IPNetworks {
			if p, err := netip.ParsePrefix(n); err == nil {
				byCluster[cluster] = append(byCluster[cluster], p.Masked())
			}
		}
	}
	out := make([]v3.NodeBGPRemoteClusterStatus, 0, len(byCluster))
	for cluster, prefixes := range byCluster {
		slices.SortFunc(prefixes, netip.Prefix.Compare)
		prefixes = slices.Compact(prefixes)
		st := v3.NodeBGPRemoteClusterStatus{Cluster: cluster, Endpoints: clampInt32(uint64(len(prefixes)))}
		for _, p := range prefixes {
			if covered(p, learned) {
				st.Routed++
			} else if len(st.Unrouted) < maxUnrouted {
				st.Unrouted = append(st.Unrouted, addressString(p))
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b v3.NodeBGPRemoteClusterStatus) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}

// addressString is p's address when p is one address, else p.
func addressString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// covered tells whether a learned route's prefix is p or contains it.
func covered(p netip.Prefix, learned map[netip.Prefix]netip.Addr) bool {
	for bits := p.Bits(); bits >= 0; bits-- {
		if q, err := p.Addr().Prefix(bits); err == nil {
			if _, ok := learned[q]; ok {
				return true
			}
		}
	}
	return false
}

func clampInt32(n uint64) int32 {
	if n > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(n)
}

// SessionStates are the states meshapi_agent_bgp_sessions always has a
// sample for.
var SessionStates = []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}

// Metrics are the speaker's Prometheus metrics.
type Metrics struct {
	// Sessions is the number of sessions in each state.
	Sessions *prometheus.GaugeVec
	// Routes is the number of routes by direction: learned (programmed
	// into the kernel) and advertised (originated by this node).
	Routes *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshapi_agent_bgp_sessions",
			Help: "BGP sessions of the node's speaker by state (Established when up).",
		}, []string{"state"}),
		Routes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshapi_agent_bgp_routes",
			Help: "BGP routes of the node's speaker by direction: learned (in the kernel) or advertised.",
		}, []string{"direction"}),
	}
	reg.MustRegister(m.Sessions, m.Routes)
	return m
}

// Observe sets the metrics from the sessions, the routes programmed and
// the prefixes advertised.
func (m *Metrics) Observe(sessions []Session, learned, advertised int) {
	counts := map[string]int{}
	for _, s := range sessions {
		counts[s.State]++
	}
	for _, state := range SessionStates {
		m.Sessions.WithLabelValues(state).Set(float64(counts[state]))
	}
	m.Routes.WithLabelValues("learned").Set(float64(learned))
	m.Routes.WithLabelValues("advertised").Set(float64(advertised))
}
