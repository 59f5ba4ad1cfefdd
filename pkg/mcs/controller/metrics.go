package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

// Metrics are the Multi-Cluster Services controller's Prometheus metrics.
type Metrics struct {
	reg   prometheus.Registerer
	syncs *prometheus.CounterVec
	// gauges read the caches of the last controller watched.
	gauges []prometheus.Collector
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{reg: reg, syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshapi_mcs_syncs_total",
		Help: "ServiceImport reconciliations by result (success, error).",
	}, []string{"result"})}
	reg.MustRegister(m.syncs)
	return m
}

// watch registers the gauges read from c's caches at each scrape, in
// place of those of a controller watched before.
func (m *Metrics) watch(c *Controller) {
	for _, g := range m.gauges {
		m.reg.Unregister(g)
	}
	m.gauges = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meshapi_mcs_service_imports",
			Help: "ServiceImports in the local cluster.",
		}, func() float64 {
			imps, _ := c.imports.List(labels.Everything())
			return float64(len(imps))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meshapi_mcs_service_export_conflicts",
			Help: "Local ServiceExports whose Conflict condition is True.",
		}, func() float64 {
			exps, _ := c.exports.List(labels.Everything())
			n := 0
			for _, e := range exps {
				if meta.IsStatusConditionTrue(e.Status.Conditions, string(mcsv1alpha1.ServiceExportConditionConflict)) {
					n++
				}
			}
			return float64(n)
		}),
	}
	m.reg.MustRegister(m.gauges...)
}
