package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// The metrics read from meshapi-controller's and meshapi-agent's /metrics
// (client_golang's Go and process collectors, and the remote cluster
// controller's errors).
const (
	metricRSS          = "process_resident_memory_bytes"
	metricHeap         = "go_memstats_heap_alloc_bytes"
	metricRemoteErrors = "remote_cluster_errors_total"
	metricStaleRetries = "remote_cluster_stale_cache_retries_total"
	metricQueueDepth   = "workqueue_depth"
	metricQueueWait    = "workqueue_queue_duration_seconds"
	metricQueueWork    = "workqueue_work_duration_seconds"
)

// queueSample is the remote cluster controller's work queues at one
// moment, summed over its remote clusters: the stale cache retries so
// far, the items queued, and the sums and counts of the histograms of
// how long items waited for a worker and how long a worker took.
type queueSample struct {
	staleRetries, depth float64
	waitSum, waitCount  float64
	workSum, workCount  float64
}

// queueSampleOf picks the queue metrics out of a scrape.
func queueSampleOf(m map[string]float64) queueSample {
	return queueSample{
		staleRetries: m[metricStaleRetries], depth: m[metricQueueDepth],
		waitSum: m[metricQueueWait+"_sum"], waitCount: m[metricQueueWait+"_count"],
		workSum: m[metricQueueWork+"_sum"], workCount: m[metricQueueWork+"_count"],
	}
}

// add returns the sum of q and o.
func (q queueSample) add(o queueSample) queueSample {
	return queueSample{
		staleRetries: q.staleRetries + o.staleRetries, depth: q.depth + o.depth,
		waitSum: q.waitSum + o.waitSum, waitCount: q.waitCount + o.waitCount,
		workSum: q.workSum + o.workSum, workCount: q.workCount + o.workCount,
	}
}

// parseMetrics reads the Prometheus text format and returns, for each
// metric name, the sum of its samples over every label set.
func parseMetrics(text string) (map[string]float64, error) {
	out := map[string]float64{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("line %d %q: unterminated labels", n+1, line)
			}
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d %q: no value", n+1, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: value: %w", n+1, line, err)
		}
		out[name] += v
	}
	return out, nil
}

// scrape reads the metrics served at addr (host:port).
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", addr, resp.Status)
	}
	m, err := parseMetrics(string(body))
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", addr, err)
	}
	return m, nil
}

// procMem is a process's memory at one moment, in bytes.
type procMem struct {
	rss, heap float64
}

// clusterSample is what one cluster's processes reported at one moment.
type clusterSample struct {
	controller, agent procMem
	// remoteErrors is the controller's remote_cluster_errors_total,
	// summed over its remote clusters.
	remoteErrors float64
	// queue is the controller's work queues.
	queue queueSample
	// err is the first scrape that failed, if any.
	err error
}

// sample is the state of the mesh at one moment of the run.
type sample struct {
	// at is the time since the churn started (negative: before it).
	at       time.Duration
	clusters []clusterSample
	// written and writeErrors are the churn's events so far.
	written, writeErrors int64
	// load is /proc/loadavg's first three fields.
	load string
	// pending is how many events written were not yet seen in every
	// other cluster.
	pending int
}

// takeSample scrapes every cluster's controller and agent.
func takeSample(ctx context.Context, members []*member, churners []*churner, at time.Duration) sample {
	s := sample{at: at, load: loadAverage()}
	for _, mb := range members {
		var cs clusterSample
		if m, err := scrape(ctx, mb.cluster.ControllerMetrics); err != nil {
			cs.err = fmt.Errorf("meshapi-controller of %s: %w", mb.name(), err)
		} else {
			cs.controller = procMem{rss: m[metricRSS], heap: m[metricHeap]}
			cs.remoteErrors = m[metricRemoteErrors]
			cs.queue = queueSampleOf(m)
		}
		if m, err := scrape(ctx, mb.agent.Metrics); err != nil {
			if cs.err == nil {
				cs.err = fmt.Errorf("meshapi-agent of %s: %w", mb.name(), err)
			}
		} else {
			cs.agent = procMem{rss: m[metricRSS], heap: m[metricHeap]}
		}
		s.clusters = append(s.clusters, cs)
	}
	for _, c := range churners {
		s.written += c.written.Load()
		s.writeErrors += c.writeErrors.Load()
	}
	return s
}

// loadAverage returns the machine's 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
