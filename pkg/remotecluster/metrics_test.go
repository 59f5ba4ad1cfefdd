package remotecluster

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// metricNames are the names of the metrics NewMetrics registers.
func metricNames() []string {
	return []string{
		"remote_cluster_connection_status",
		"remote_cluster_mirrored_objects",
		"remote_cluster_events_total",
		"remote_cluster_reconnects_total",
		"remote_cluster_errors_total",
		"remote_cluster_noop_reconciles_total",
		"remote_cluster_stale_cache_retries_total",
	}
}

// queueMetricNames are the names of the work queue metrics NewMetrics
// registers, one series per Syncer queue.
func queueMetricNames() []string {
	return []string{
		"workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds", "workqueue_work_duration_seconds",
		"workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds", "workqueue_retries_total",
	}
}

// record sets a value in every metric for cluster.
func record(m *Metrics, cluster string) {
	m.connectionStatus.WithLabelValues(cluster).Set(ConnectionStatus(v3.SyncStateInSync))
	m.mirrored.WithLabelValues(cluster, "WorkloadEndpoint").Set(3)
	m.mirrored.WithLabelValues(cluster, "Profile").Set(2)
	m.events.WithLabelValues(cluster, "WorkloadEndpoint").Add(5)
	m.events.WithLabelValues(cluster, "Profile").Inc()
	m.reconnects.WithLabelValues(cluster).Inc()
	m.errors.WithLabelValues(cluster).Add(2)
	m.noopReconciles.WithLabelValues(cluster).Add(4)
	m.staleRetries.WithLabelValues(cluster).Add(6)
	q, _ := newSyncerQueue(syncerQueueName(cluster), m.queues)
	defer q.ShutDown()
	q.Add(queueItem{key: "ns/a"})
	it, _ := q.Get()
	q.Done(it)
	q.AddRateLimited(it)
}

func TestNewMetricsRegisters(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)

	// Vectors without series are not gathered.
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("GatherAndCount before any value = %d, %v; want 0", n, err)
	}
	record(m, "cluster-b")

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
		if f.GetHelp() == "" {
			t.Errorf("metric %s has no help", f.GetName())
		}
	}
	for _, name := range metricNames() {
		if !got[name] {
			t.Errorf("metric %s not gathered; got %v", name, got)
		}
	}
	for _, name := range queueMetricNames() {
		if !got[name] {
			t.Errorf("work queue metric %s not gathered; got %v", name, got)
		}
	}
	if want := len(metricNames()) + len(queueMetricNames()); len(got) != want {
		t.Errorf("gathered %d metrics %v, want %d", len(got), got, want)
	}

	want := `
# HELP remote_cluster_connection_status State of the connection to each remote cluster: 0 failed, 1 connecting, 2 in sync, 3 resyncing, 5 configuration incomplete.
# TYPE remote_cluster_connection_status gauge
remote_cluster_connection_status{remote_cluster_name="cluster-b"} 2
# HELP remote_cluster_mirrored_objects Objects mirrored from each remote cluster, by kind.
# TYPE remote_cluster_mirrored_objects gauge
remote_cluster_mirrored_objects{kind="Profile",remote_cluster_name="cluster-b"} 2
remote_cluster_mirrored_objects{kind="WorkloadEndpoint",remote_cluster_name="cluster-b"} 3
# HELP remote_cluster_events_total Add, update and delete events received from each remote cluster, by kind.
# TYPE remote_cluster_events_total counter
remote_cluster_events_total{kind="Profile",remote_cluster_name="cluster-b"} 1
remote_cluster_events_total{kind="WorkloadEndpoint",remote_cluster_name="cluster-b"} 5
# HELP remote_cluster_reconnects_total Times the connection to each remote cluster failed and was retried.
# TYPE remote_cluster_reconnects_total counter
remote_cluster_reconnects_total{remote_cluster_name="cluster-b"} 1
# HELP remote_cluster_errors_total Errors reading a remote cluster or writing its mirror.
# TYPE remote_cluster_errors_total counter
remote_cluster_errors_total{remote_cluster_name="cluster-b"} 2
# HELP remote_cluster_noop_reconciles_total Reconciles of a mirrored object that found its mirror as it should be and wrote nothing.
# TYPE remote_cluster_noop_reconciles_total counter
remote_cluster_noop_reconciles_total{remote_cluster_name="cluster-b"} 4
# HELP remote_cluster_stale_cache_retries_total Mirror writes the local API server refused (Conflict or NotFound) because the controller's cache of the mirror was behind, retried without counting as errors.
# TYPE remote_cluster_stale_cache_retries_total counter
remote_cluster_stale_cache_retries_total{remote_cluster_name="cluster-b"} 6
# HELP workqueue_adds_total Total number of adds handled by workqueue
# TYPE workqueue_adds_total counter
workqueue_adds_total{name="remote-cluster-b"} 1
# HELP workqueue_retries_total Total number of retries handled by workqueue
# TYPE workqueue_retries_total counter
workqueue_retries_total{name="remote-cluster-b"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), append(metricNames(), "workqueue_adds_total", "workqueue_retries_total")...); err != nil {
		t.Error(err)
	}
}

func TestNewMetricsSeparateRegistries(t *testing.T) {
	// Each registry gets its own metrics: nothing is global.
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, b := NewMetrics(regA), NewMetrics(regB)
	a.reconnects.WithLabelValues("cluster-b").Inc()
	if got := testutil.ToFloat64(a.reconnects.WithLabelValues("cluster-b")); got != 1 {
		t.Errorf("reconnects in A = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(b.reconnects); n != 0 {
		t.Errorf("B has %d reconnect series, want 0", n)
	}
	if n, err := testutil.GatherAndCount(regB); err != nil || n != 0 {
		t.Errorf("registry B gathers %d series (%v), want 0", n, err)
	}
}

func TestNewMetricsTwiceOnOneRegistryPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	defer func() {
		if recover() == nil {
			t.Error("registering the metrics twice on one registry did not panic")
		}
	}()
	NewMetrics(reg)
}

func TestMetricsForget(t *testing.T) {
	cases := []struct {
		name    string
		record  []string
		forget  string
		wantPer map[string]int // series per metric name after forgetting
	}{
		{
			name: "one of two clusters", record: []string{"cluster-b", "cluster-c"}, forget: "cluster-b",
			wantPer: map[string]int{
				"remote_cluster_connection_status": 1, "remote_cluster_mirrored_objects": 2, "remote_cluster_events_total": 2,
				"remote_cluster_reconnects_total": 1, "remote_cluster_errors_total": 1, "remote_cluster_noop_reconciles_total": 1,
				"remote_cluster_stale_cache_retries_total": 1, "workqueue_depth": 1, "workqueue_adds_total": 1,
				"workqueue_queue_duration_seconds": 1, "workqueue_work_duration_seconds": 1, "workqueue_unfinished_work_seconds": 1,
				"workqueue_longest_running_processor_seconds": 1, "workqueue_retries_total": 1,
			},
		},
		{
			name: "the only cluster", record: []string{"cluster-b"}, forget: "cluster-b",
			wantPer: map[string]int{},
		},
		{
			name: "an unknown cluster", record: []string{"cluster-b"}, forget: "cluster-x",
			wantPer: map[string]int{
				"remote_cluster_connection_status": 1, "remote_cluster_mirrored_objects": 2, "remote_cluster_events_total": 2,
				"remote_cluster_reconnects_total": 1, "remote_cluster_errors_total": 1, "remote_cluster_noop_reconciles_total": 1,
				"remote_cluster_stale_cache_retries_total": 1, "workqueue_depth": 1, "workqueue_adds_total": 1,
				"workqueue_queue_duration_seconds": 1, "workqueue_work_duration_seconds": 1, "workqueue_unfinished_work_seconds": 1,
				"workqueue_longest_running_processor_seconds": 1, "workqueue_retries_total": 1,
			},
		},
		{
			// A prefix of another cluster's name is a different cluster.
			name: "a cluster whose name prefixes another", record: []string{"cluster", "cluster-b"}, forget: "cluster",
			wantPer: map[string]int{
				"remote_cluster_connection_status": 1, "remote_cluster_mirrored_objects": 2, "remote_cluster_events_total": 2,
				"remote_cluster_reconnects_total": 1, "remote_cluster_errors_total": 1, "remote_cluster_noop_reconciles_total": 1,
				"remote_cluster_stale_cache_retries_total": 1, "workqueue_depth": 1, "workqueue_adds_total": 1,
				"workqueue_queue_duration_seconds": 1, "workqueue_work_duration_seconds": 1, "workqueue_unfinished_work_seconds": 1,
				"workqueue_longest_running_processor_seconds": 1, "workqueue_retries_total": 1,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			for _, c := range tc.record {
				record(m, c)
			}
			m.forget(tc.forget)

			families, err := reg.Gather()
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			got := map[string]int{}
			for _, f := range families {
				for _, s := range f.GetMetric() {
					got[f.GetName()]++
					for _, l := range s.GetLabel() {
						if (l.GetName() == "remote_cluster_name" && l.GetValue() == tc.forget) ||
							(l.GetName() == "name" && l.GetValue() == syncerQueueName(tc.forget)) {
							t.Errorf("%s still has a series of %s: %v", f.GetName(), tc.forget, s)
						}
					}
				}
			}
			for _, name := range append(metricNames(), queueMetricNames()...) {
				if got[name] != tc.wantPer[name] {
					t.Errorf("%s has %d series, want %d", name, got[name], tc.wantPer[name])
				}
			}
		})
	}
}

func TestMetricsForgetThenRecordStartsAfresh(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	record(m, "cluster-b")
	m.forget("cluster-b")
	m.reconnects.WithLabelValues("cluster-b").Inc()
	if got := testutil.ToFloat64(m.reconnects.WithLabelValues("cluster-b")); got != 1 {
		t.Errorf("reconnects after forget and one retry = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("cluster-b")); got != 0 {
		t.Errorf("errors after forget = %v, want 0", got)
	}
}
