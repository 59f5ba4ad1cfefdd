package agent

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the agent's Prometheus metrics.
type Metrics struct {
	// RoutesProgrammed is the number of overlay routes of the last apply.
	RoutesProgrammed prometheus.Gauge
	// ClusterRoutes is the number of routes towards each remote cluster.
	ClusterRoutes *prometheus.GaugeVec
	// ClusterNodes is the number of overlay peers of each remote cluster.
	ClusterNodes *prometheus.GaugeVec
	// ApplyDuration is the time a reconcile takes to program the kernel
	// (dataplane and NAT), by component.
	ApplyDuration *prometheus.HistogramVec
	// Applies counts reconciles.
	Applies prometheus.Counter
	// Errors counts failures by stage: dataplane, nat, policy, node,
	// status, resync, wireguard.
	Errors *prometheus.CounterVec
	// DriftRepairs counts kernel objects repaired by periodic resyncs, by
	// component (dataplane, nat, policy).
	DriftRepairs *prometheus.CounterVec
	// Changes counts kernel objects changed by applies, by component.
	Changes *prometheus.CounterVec
	// PolicySets is the number of nftables sets (two per rule selector:
	// IPv4 and IPv6) in the policy filter's table.
	PolicySets prometheus.Gauge
	// PolicySetElements is the number of elements (intervals) in those
	// sets.
	PolicySetElements prometheus.Gauge
	// WireGuardPeers is the number of the mesh's other nodes by the
	// overlay their traffic takes (via: wireguard, vxlan, none) while
	// WireGuard is enabled; all 0 otherwise.
	WireGuardPeers *prometheus.GaugeVec
	// RemoteObjectsRefused is the number of mirrored objects the last
	// reconcile left out because they claim what their remote cluster
	// does not own.
	RemoteObjectsRefused prometheus.Gauge
	// RouteConflicts is the number of routes the last reconcile skipped
	// because a route of another owner holds the destination.
	RouteConflicts prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RoutesProgrammed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshapi_agent_routes_programmed",
			Help: "Overlay routes (blocks and endpoints, all clusters) the agent last programmed.",
		}),
		ClusterRoutes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshapi_agent_remote_cluster_routes",
			Help: "Overlay routes towards each remote cluster (0 with overlay routing Disabled).",
		}, []string{"remote_cluster_name"}),
		ClusterNodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshapi_agent_remote_cluster_nodes",
			Help: "Overlay peers (neighbour and FDB entries) of each remote cluster.",
		}, []string{"remote_cluster_name"}),
		ApplyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meshapi_agent_apply_duration_seconds",
			Help:    "Time to make the kernel match the desired state, by component (dataplane, nat, policy: one commit of the policy filter).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"component"}),
		Applies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshapi_agent_applies_total",
			Help: "Reconciles of the node's dataplane with the API.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshapi_agent_errors_total",
			Help: "Failures by stage: dataplane, nat, policy, node (registration), status, resync.",
		}, []string{"stage"}),
		DriftRepairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshapi_agent_drift_repairs_total",
			Help: "Kernel objects the periodic resync found changed by someone else and repaired, by component.",
		}, []string{"component"}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshapi_agent_kernel_changes_total",
			Help: "Kernel objects (routes, neighbours, FDB entries, devices, NAT ranges, policy sets, set elements and chains) changed by applies, by component.",
		}, []string{"component"}),
		PolicySets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshapi_agent_policy_sets",
			Help: "nftables sets in the policy filter's table (two per rule selector: IPv4 and IPv6); 0 with policy enforcement off.",
		}),
		PolicySetElements: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshapi_agent_policy_set_elements",
			Help: "Elements (address intervals) in the policy filter's sets.",
		}),
		WireGuardPeers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meshapi_agent_wireguard_peers",
			Help: "The mesh's other nodes by the overlay their traffic takes (wireguard, vxlan: fallback, none) while WireGuard is enabled.",
		}, []string{"via"}),
		RemoteObjectsRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshapi_agent_remote_objects_refused",
			Help: "Mirrored pools, blocks, endpoints and nodes left out of the dataplane because they claim addresses their remote cluster does not own.",
		}),
		RouteConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshapi_agent_route_conflicts",
			Help: "Routes not programmed because a route not owned by meshapi holds the destination (reported, not retried as a failure).",
		}),
	}
	for _, stage := range []string{"dataplane", "nat", "policy", "node", "status", "resync", "wireguard"} {
		m.Errors.WithLabelValues(stage)
	}
	for _, c := range []string{"dataplane", "nat", "policy"} {
		m.DriftRepairs.WithLabelValues(c)
		m.Changes.WithLabelValues(c)
	}
	m.Changes.WithLabelValues("wireguard")
	reg.MustRegister(m.RoutesProgrammed, m.ClusterRoutes, m.ClusterNodes, m.ApplyDuration, m.Applies, m.Errors, m.DriftRepairs, m.Changes,
		m.PolicySets, m.PolicySetElements, m.WireGuardPeers, m.RemoteObjectsRefused, m.RouteConflicts)
	return m
}
