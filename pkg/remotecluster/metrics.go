package remotecluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the remote sync's Prometheus metrics.
type Metrics struct {
	connectionStatus *prometheus.GaugeVec
	mirrored         *prometheus.GaugeVec
	events           *prometheus.CounterVec
	reconnects       *prometheus.CounterVec
	errors           *prometheus.CounterVec
	noopReconciles   *prometheus.CounterVec
	staleRetries     *prometheus.CounterVec
	// queues are the Syncers' work queue metrics.
	queues *queueMetrics
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	label := []string{"remote_cluster_name"}
	m := &Metrics{
		connectionStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "remote_cluster_connection_status",
			Help: "State of the connection to each remote cluster: 0 failed, 1 connecting, 2 in sync, 3 resyncing, 5 configuration incomplete.",
		}, label),
		mirrored: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "remote_cluster_mirrored_objects",
			Help: "Objects mirrored from each remote cluster, by kind.",
		}, []string{"remote_cluster_name", "kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remote_cluster_events_total",
			Help: "Add, update and delete events received from each remote cluster, by kind.",
		}, []string{"remote_cluster_name", "kind"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remote_cluster_reconnects_total",
			Help: "Times the connection to each remote cluster failed and was retried.",
		}, label),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remote_cluster_errors_total",
			Help: "Errors reading a remote cluster or writing its mirror.",
		}, label),
		noopReconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remote_cluster_noop_reconciles_total",
			Help: "Reconciles of a mirrored object that found its mirror as it should be and wrote nothing.",
		}, label),
		staleRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remote_cluster_stale_cache_retries_total",
			Help: "Mirror writes the local API server refused (Conflict or NotFound) because the controller's cache of the mirror was behind, retried without counting as errors.",
		}, label),
		queues: newQueueMetrics(),
	}
	reg.MustRegister(m.connectionStatus, m.mirrored, m.events, m.reconnects, m.errors, m.noopReconciles, m.staleRetries)
	reg.MustRegister(m.queues.collectors()...)
	return m
}

// forget drops the series of a remote cluster that is gone.
func (m *Metrics) forget(cluster string) {
	m.connectionStatus.DeleteLabelValues(cluster)
	m.reconnects.DeleteLabelValues(cluster)
	m.errors.DeleteLabelValues(cluster)
	m.noopReconciles.DeleteLabelValues(cluster)
	m.staleRetries.DeleteLabelValues(cluster)
	m.queues.forget(syncerQueueName(cluster))
	m.mirrored.DeletePartialMatch(prometheus.Labels{"remote_cluster_name": cluster})
	m.events.DeletePartialMatch(prometheus.Labels{"remote_cluster_name": cluster})
}
