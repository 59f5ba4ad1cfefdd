package framework

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIRequests runs a request against a cluster's API every period until
// stopped and counts how many failed: what a user's kubectl or a
// controller sees of a fault of the API servers.
type APIRequests struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu           sync.Mutex
	ok, failed   int64
	lastErr      string
	failedStarts []time.Time
}

// APIRequestStats are the requests' counts.
type APIRequestStats struct {
	OK, Failed int64
	// LastError is the last failure's message.
	LastError string
	// FailedStarts are when the failed requests started, in order: a
	// request in flight when a server died started before the fault.
	FailedStarts []time.Time
}

// FailedStartedAfter counts the failed requests that started after t.
func (s APIRequestStats) FailedStartedAfter(t time.Time) int64 {
	var n int64
	for _, start := range s.FailedStarts {
		if start.After(t) {
			n++
		}
	}
	return n
}

// StartAPIRequests calls request every period, each with timeout, until
// Stop.
func StartAPIRequests(request func(ctx context.Context) error, period, timeout time.Duration) *APIRequests {
	ctx, cancel := context.WithCancel(context.Background())
	r := &APIRequests{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			rctx, rcancel := context.WithTimeout(ctx, timeout)
			start := time.Now()
			err := request(rctx)
			rcancel()
			if ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			if err != nil {
				r.failed++
				r.lastErr = err.Error()
				r.failedStarts = append(r.failedStarts, start)
			} else {
				r.ok++
			}
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// Stats returns the counts so far.
func (r *APIRequests) Stats() APIRequestStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return APIRequestStats{OK: r.ok, Failed: r.failed, LastError: r.lastErr, FailedStarts: slices.Clone(r.failedStarts)}
}

// Sub returns s minus an earlier reading.
func (s APIRequestStats) Sub(earlier APIRequestStats) APIRequestStats {
	return APIRequestStats{OK: s.OK - earlier.OK, Failed: s.Failed - earlier.Failed, LastError: s.LastError,
		FailedStarts: slices.Clone(s.FailedStarts[min(len(earlier.FailedStarts), len(s.FailedStarts)):])}
}

// Stop stops the requests and waits for the last one.
func (r *APIRequests) Stop() {
	r.cancel()
	<-r.done
}

// MetricsAddrs are the /metrics addresses of both replicas.
func (s *Controllers) MetricsAddrs() []string {
	out := []string{s.c.ControllerMetrics}
	for _, a := range s.second.args {
		if v, ok := strings.CutPrefix(a, "--metrics-bind-address="); ok {
			out = append(out, v)
		}
	}
	return out
}

// CounterValue reads the Prometheus text metrics at addr (host:port) and
// returns the value of the sample named exactly series (name and labels
// as the text format writes them, e.g.
// `remote_cluster_errors_total{remote_cluster_name="cluster-b"}`), 0 if
// there is no such sample.
func CounterValue(ctx context.Context, addr, series string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the metrics at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading the metrics at %s: %s", addr, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("the metrics at %s: %s: %w", addr, series, err)
			}
			return f, nil
		}
	}
	return 0, sc.Err()
}
