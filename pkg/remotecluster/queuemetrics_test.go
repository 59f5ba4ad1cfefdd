package remotecluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestMeteredQueue: the work queue metrics count every item through the
// queue's storage and the wrapper, and the wrapper keeps a start time only
// for the items being processed.
func TestMeteredQueue(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	name := syncerQueueName("cluster-b")
	q, _ := newSyncerQueue(name, m.queues)
	defer q.ShutDown()
	const n = 1000
	for i := range n {
		q.Add(queueItem{key: fmt.Sprintf("ns/ep-%d", i)})
	}
	if got := testutil.ToFloat64(m.queues.depth.WithLabelValues(name)); got != n {
		t.Errorf("depth after %d adds = %v", n, got)
	}
	for range n - 1 {
		it, _ := q.Get()
		q.Done(it)
	}
	if got := len(q.started); got != 0 {
		t.Errorf("%d start times kept after every taken item was done", got)
	}
	last, _ := q.Get()
	go q.reportUnfinished(t.Context())
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(m.queues.unfinished.WithLabelValues(name)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if testutil.ToFloat64(m.queues.unfinished.WithLabelValues(name)) == 0 || testutil.ToFloat64(m.queues.longest.WithLabelValues(name)) == 0 {
		t.Error("unfinished work and longest running processor not reported while an item is processed")
	}
	q.Done(last)
	q.AddRateLimited(last)

	if got := testutil.ToFloat64(m.queues.adds.WithLabelValues(name)); got != n {
		t.Errorf("adds = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(m.queues.retries.WithLabelValues(name)); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
	for metric, h := range map[string]*prometheus.HistogramVec{"queue duration": m.queues.latency, "work duration": m.queues.work} {
		if got := sampleCount(t, h, name); got != n {
			t.Errorf("%s observed %d times, want %d", metric, got, n)
		}
	}
	if got := testutil.ToFloat64(m.queues.depth.WithLabelValues(name)); got != 0 {
		t.Errorf("depth after every item was taken = %v", got)
	}
}

// sampleCount is how many observations the series name of h holds.
func sampleCount(t *testing.T, h *prometheus.HistogramVec, name string) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	h.WithLabelValues(name).(prometheus.Histogram).Collect(ch)
	var out dto.Metric
	if err := (<-ch).Write(&out); err != nil {
		t.Fatal(err)
	}
	return int(out.GetHistogram().GetSampleCount())
}
