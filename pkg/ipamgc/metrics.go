package ipamgc

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the IPAM garbage collector's Prometheus metrics.
type Metrics struct {
	released      *prometheus.CounterVec
	blocksDeleted prometheus.Counter
	waiting       prometheus.Gauge
	errors        prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		released: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipam_gc_released_addresses_total",
			Help: "Leaked IPAM addresses the garbage collector released, by reason (PodGone, PodOnOtherNode, NotPodAddress, NodeGone).",
		}, []string{"reason"}),
		blocksDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipam_gc_deleted_blocks_total",
			Help: "Empty IPAM blocks of gone nodes the garbage collector deleted.",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ipam_gc_leaks_in_grace_period",
			Help: "Leaked allocations (by handle) and empty blocks of gone nodes seen by the last pass and still inside the grace period.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipam_gc_errors_total",
			Help: "Garbage collection passes that failed: reading the caches, a release or a block deletion.",
		}),
	}
	reg.MustRegister(m.released, m.blocksDeleted, m.waiting, m.errors)
	return m
}
