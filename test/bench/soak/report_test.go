package soak

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// percentile returns the q-quantile (0..1) of sorted by the nearest-rank
// method, 0 for none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mib converts bytes to MiB.
func mib(b float64) float64 { return b / (1 << 20) }

// windowLine describes window i: the events sent in it, their
// propagation, the errors and the memory at its end.
func windowLine(res *result, i int) string {
	prev, cur := res.samples[i], res.samples[i+1]
	w := res.rec.stats(i)
	var b strings.Builder
	fmt.Fprintf(&b, "window %2d (to %5.0fs): %5d events %3d write errors, remote errors +%g; propagation n=%d p50 %.0f ms p99 %.0f ms (from send p99 %.0f ms); not yet seen %d; load %s; MiB",
		i, cur.at.Seconds(), cur.written-prev.written, cur.writeErrors-prev.writeErrors, remoteErrors(cur)-remoteErrors(prev),
		len(w.fromReturn), ms(percentile(w.fromReturn, 0.5)), ms(percentile(w.fromReturn, 0.99)), ms(percentile(w.fromSend, 0.99)), cur.pending, cur.load)
	q, pq := queues(cur), queues(prev)
	fmt.Fprintf(&b, "; controllers' queues: stale-cache retries +%g, depth %g, mean wait %.0f ms, mean work %.1f ms over %g items",
		q.staleRetries-pq.staleRetries, q.depth, meanMs(q.waitSum-pq.waitSum, q.waitCount-pq.waitCount),
		meanMs(q.workSum-pq.workSum, q.workCount-pq.workCount), q.workCount-pq.workCount)
	for ci, cs := range cur.clusters {
		fmt.Fprintf(&b, " | %s ctrl rss %.0f heap %.0f, agent rss %.0f heap %.0f", clusterNames[ci],
			mib(cs.controller.rss), mib(cs.controller.heap), mib(cs.agent.rss), mib(cs.agent.heap))
		if cs.err != nil {
			fmt.Fprintf(&b, " (%v)", cs.err)
		}
	}
	return b.String()
}

// queues sums the controllers' work queue metrics.
func queues(s sample) queueSample {
	var q queueSample
	for _, c := range s.clusters {
		q = q.add(c.queue)
	}
	return q
}

// meanMs is sum seconds over n, in milliseconds; 0 for none.
func meanMs(sum, n float64) float64 {
	if n <= 0 {
		return 0
	}
	return 1000 * sum / n
}

// remoteErrors sums the controllers' remote_cluster_errors_total.
func remoteErrors(s sample) float64 {
	n := 0.0
	for _, c := range s.clusters {
		n += c.remoteErrors
	}
	return n
}

// component picks one process's memory out of a cluster sample.
type component struct {
	name string
	mem  func(clusterSample) procMem
}

var components = []component{
	{"meshapi-controller", func(c clusterSample) procMem { return c.controller }},
	{"meshapi-agent", func(c clusterSample) procMem { return c.agent }},
}

// memoryRow is one process's memory over the run, in bytes.
type memoryRow struct {
	idle, start, end, max, after procMem
}

// memoryRows returns the memory of component of cluster ci: before the
// load, at the churn's start and end, the most during the churn, and once
// the mirrors converged.
func memoryRows(res *result, ci int, comp component) memoryRow {
	at := func(s sample) procMem {
		if ci >= len(s.clusters) { // not taken: the run failed before
			return procMem{}
		}
		return comp.mem(s.clusters[ci])
	}
	r := memoryRow{idle: at(res.idle), start: at(res.samples[0]), end: at(res.samples[len(res.samples)-1]), after: at(res.after)}
	for _, s := range res.samples {
		m := comp.mem(s.clusters[ci])
		r.max.rss, r.max.heap = max(r.max.rss, m.rss), max(r.max.heap, m.heap)
	}
	return r
}

// report prints the run's tables to stderr and reports its key figures.
func report(b *testing.B, res *result) {
	var t strings.Builder
	fmt.Fprintf(&t, "initial load: %d endpoints created in %s, every RCC InSync with every endpoint %s after the last create\n",
		res.cfg.endpoints, res.load.Round(time.Second), res.sync.Round(time.Second))
	if len(res.samples) < 2 {
		// To stderr: the testing package keeps only ten lines of a
		// benchmark's log.
		fmt.Fprint(os.Stderr, t.String())
		return
	}
	fmt.Fprintf(&t, "\n| cluster | process | RSS idle / start / end / max / after, MiB | heap idle / start / end / max / after, MiB |\n|---|---|---|---|\n")
	var ctrlRSSStart, ctrlRSSEnd, agentRSSStart, agentRSSEnd, ctrlHeapStart, ctrlHeapEnd, agentHeapStart, agentHeapEnd float64
	for ci := range res.samples[0].clusters {
		for _, comp := range components {
			r := memoryRows(res, ci, comp)
			fmt.Fprintf(&t, "| %s | %s | %.0f / %.0f / %.0f / %.0f / %.0f | %.0f / %.0f / %.0f / %.0f / %.0f |\n", clusterNames[ci], comp.name,
				mib(r.idle.rss), mib(r.start.rss), mib(r.end.rss), mib(r.max.rss), mib(r.after.rss),
				mib(r.idle.heap), mib(r.start.heap), mib(r.end.heap), mib(r.max.heap), mib(r.after.heap))
			if comp.name == "meshapi-controller" {
				ctrlRSSStart, ctrlRSSEnd = max(ctrlRSSStart, r.start.rss), max(ctrlRSSEnd, r.end.rss)
				ctrlHeapStart, ctrlHeapEnd = max(ctrlHeapStart, r.start.heap), max(ctrlHeapEnd, r.end.heap)
			} else {
				agentRSSStart, agentRSSEnd = max(agentRSSStart, r.start.rss), max(agentRSSEnd, r.end.rss)
				agentHeapStart, agentHeapEnd = max(agentHeapStart, r.start.heap), max(agentHeapEnd, r.end.heap)
			}
		}
	}
	first, lastIdx := res.rec.stats(0), len(res.samples)-2
	last := res.rec.stats(lastIdx)
	end := res.samples[len(res.samples)-1]
	writeErrors, written := end.writeErrors, end.written
	remote := remoteErrors(end) - remoteErrors(res.samples[0])
	fmt.Fprintf(&t, "\npropagation (write return to mirror event, each other cluster): first window p50 %.0f ms p99 %.0f ms (n=%d), last window p50 %.0f ms p99 %.0f ms (n=%d)\n",
		ms(percentile(first.fromReturn, 0.5)), ms(percentile(first.fromReturn, 0.99)), len(first.fromReturn),
		ms(percentile(last.fromReturn, 0.5)), ms(percentile(last.fromReturn, 0.99)), len(last.fromReturn))
	fmt.Fprintf(&t, "events: %d written (%.1f/s), %d write errors; remote_cluster_errors_total +%g during the churn (%g in all); events no cluster showed: %d; watch restarts %d; mirrors equal %s after the churn\n",
		written, float64(written)/end.at.Seconds(), writeErrors, remote, remoteErrors(res.after), res.unseen, res.watchRestarts, res.converge.Round(time.Second))
	fmt.Fprintf(&t, "load average: before the load %s, churn start %s, churn end %s\n", res.idle.load, res.samples[0].load, end.load)
	for _, c := range res.churners {
		for _, e := range c.errorSample {
			fmt.Fprintf(&t, "write error: %s\n", e)
		}
	}
	for _, p := range res.problems {
		fmt.Fprintf(&t, "%s: %d problem lines in its log\n", p.process, p.count)
		for _, l := range p.first {
			fmt.Fprintf(&t, "    %s\n", l)
		}
	}
	fmt.Fprintf(&t, "\nper window:\n")
	for i := range len(res.samples) - 1 {
		fmt.Fprintf(&t, "%s\n", windowLine(res, i))
	}
	// To stderr: the testing package keeps only ten lines of a
	// benchmark's log.
	fmt.Fprint(os.Stderr, t.String())

	b.ReportMetric(res.sync.Seconds(), "initial-sync-s")
	b.ReportMetric(ms(percentile(first.fromReturn, 0.99)), "p99-first-ms")
	b.ReportMetric(ms(percentile(last.fromReturn, 0.99)), "p99-last-ms")
	b.ReportMetric(ms(percentile(first.fromReturn, 0.5)), "p50-first-ms")
	b.ReportMetric(ms(percentile(last.fromReturn, 0.5)), "p50-last-ms")
	b.ReportMetric(mib(ctrlRSSStart), "ctrl-rss-start-MiB")
	b.ReportMetric(mib(ctrlRSSEnd), "ctrl-rss-end-MiB")
	b.ReportMetric(mib(ctrlHeapStart), "ctrl-heap-start-MiB")
	b.ReportMetric(mib(ctrlHeapEnd), "ctrl-heap-end-MiB")
	b.ReportMetric(mib(agentRSSStart), "agent-rss-start-MiB")
	b.ReportMetric(mib(agentRSSEnd), "agent-rss-end-MiB")
	b.ReportMetric(mib(agentHeapStart), "agent-heap-start-MiB")
	b.ReportMetric(mib(agentHeapEnd), "agent-heap-end-MiB")
	b.ReportMetric(float64(written)/end.at.Seconds(), "events/s")
	b.ReportMetric(float64(writeErrors), "write-errors")
	b.ReportMetric(remote, "remote-errors")
}
