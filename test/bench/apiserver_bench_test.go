// Package bench measures the meshapi API server: create, list and watch
// throughput for 10,000 IPPools and 10,000 WorkloadEndpoints, and the
// memory they take, against the real server running in-process on its
// embedded etcd (test/integration/framework). The figures and the command
// that produced them are in BENCHMARKS.md; run them with `make bench`.
//
// The benchmarks loop over the objects inside one benchmark iteration, so
// they are meant for -benchtime 1x; the figures are custom metrics
// (creates/s, ms/list, events/s, heap-MB) rather than ns/op. Everything
// shares one process: the server, its etcd and the client. -benchmem's
// allocation figures therefore count all three.
//
// Test binary flags (after -args): -meshapi.objects (default 10000),
// -meshapi.concurrency (client goroutines, default 8) and
// -meshapi.server-flags (extra server flags, e.g. --watch-cache=false).
package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// listsPerOp is how many lists a list benchmark issues per iteration, so
// that one iteration (-benchtime 1x) still averages a few.
const listsPerOp = 10

// pageSize is the limit of the paginated lists.
const pageSize = 500

// cleanupTimeout bounds the deletes that run after a benchmark.
const cleanupTimeout = 10 * time.Minute

// BenchmarkServerMemory loads -meshapi.objects IPPools and as many
// WorkloadEndpoints and reports the process's memory before and after,
// after a GC: the Go heap's spans in use (HeapInuse, heap-MB) and live
// bytes (HeapAlloc, live-heap-MB), the memory obtained from the OS (Sys)
// and the resident set (VmRSS). The server, its embedded etcd and the
// client share the process, so the figures are an upper bound for the
// server. It comes first in the file so that `-bench .` runs it on a fresh
// server.
func BenchmarkServerMemory(b *testing.B) {
	f := startServer(b)
	n, conc := *objectsFlag, *concurrencyFlag
	const set = "mem"
	pending := false
	cleanup(b, f.client, ipPools, set, n, &pending)
	cleanup(b, f.client, workloadEndpoints, set, n, &pending)
	ctx := b.Context()
	var before, after memStats
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var err error
		if before, err = readMem(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		pending = true
		if _, err := createPools(ctx, f.client, set, n, conc); err != nil {
			b.Fatal(err)
		}
		if _, err := createWEPs(ctx, f.client, set, n, conc, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if after, err = readMem(); err != nil {
			b.Fatal(err)
		}
		if err := deleteWEPs(ctx, f.client, set, n, conc); err != nil {
			b.Fatal(err)
		}
		if err := deletePools(ctx, f.client, set, n, conc); err != nil {
			b.Fatal(err)
		}
		pending = false
		b.StartTimer()
	}
	b.StopTimer()
	live := float64(after.heapAlloc) - float64(before.heapAlloc)
	b.ReportMetric(mb(before.heapInuse), "heap-before-MB")
	b.ReportMetric(mb(after.heapInuse), "heap-MB")
	b.ReportMetric(mb(after.heapAlloc), "live-heap-MB")
	b.ReportMetric(live/float64(2*n)/1024, "live-KB/object")
	b.ReportMetric(mb(after.sys), "sys-MB")
	b.ReportMetric(mb(before.rss), "rss-before-MB")
	b.ReportMetric(mb(after.rss), "rss-MB")
	b.Logf("%d IPPools + %d WorkloadEndpoints: HeapInuse %.0f -> %.0f MiB, HeapAlloc %.0f -> %.0f MiB, Sys %.0f -> %.0f MiB, VmRSS %.0f -> %.0f MiB",
		n, n, mb(before.heapInuse), mb(after.heapInuse), mb(before.heapAlloc), mb(after.heapAlloc),
		mb(before.sys), mb(after.sys), mb(before.rss), mb(after.rss))
	logLoad(b)
}

// BenchmarkCreateIPPools creates -meshapi.objects IPPools (disjoint /29s
// of 198.18.0.0/15) from -meshapi.concurrency goroutines and reports
// creates/s, overall and for the first and last tenth: each create lists
// the stored pools to refuse overlaps, so it slows down as pools pile up.
func BenchmarkCreateIPPools(b *testing.B) { benchmarkCreate(b, ipPools) }

// BenchmarkCreateWorkloadEndpoints creates -meshapi.objects
// WorkloadEndpoints over 20 namespaces and 100 nodes from
// -meshapi.concurrency goroutines and reports creates/s.
func BenchmarkCreateWorkloadEndpoints(b *testing.B) { benchmarkCreate(b, workloadEndpoints) }

// benchmarkCreate creates -meshapi.objects objects of kind from
// -meshapi.concurrency goroutines per iteration, deletes them untimed,
// and reports creates/s.
func benchmarkCreate(b *testing.B, kind objectKind) {
	f := startServer(b)
	n, conc := *objectsFlag, *concurrencyFlag
	const set = "create"
	pending := false
	cleanup(b, f.client, kind, set, n, &pending)
	ctx := b.Context()
	var tenths [10]time.Duration
	b.ResetTimer()
	for range b.N {
		pending = true
		p, err := kind.create(ctx, f.client, set, n, conc)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		addTenths(&tenths, p)
		b.Logf("creates/s per tenth of the %d %s: %s", n, kind.name, p.String(n))
		if err := kind.delete(ctx, f.client, set, n, conc); err != nil {
			b.Fatal(err)
		}
		pending = false
		b.StartTimer()
	}
	b.StopTimer()
	reportRates(b, "creates/s", n, tenths)
	logLoad(b)
}

// BenchmarkListIPPools lists -meshapi.objects IPPools: a consistent read
// (resourceVersion ""), from the watch cache (resourceVersion "0"), the
// same without decoding the response, and in pages of 500.
func BenchmarkListIPPools(b *testing.B) {
	f := startServer(b)
	n, conc := *objectsFlag, *concurrencyFlag
	const set = "list"
	pending := true
	cleanup(b, f.client, ipPools, set, n, &pending)
	if _, err := createPools(b.Context(), f.client, set, n, conc); err != nil {
		b.Fatal(err)
	}
	pools := f.client.ProjectcalicoV3().IPPools()
	raw := f.client.ProjectcalicoV3().RESTClient()
	typed := func(opts metav1.ListOptions) listFunc {
		return func(ctx context.Context) (listResult, error) {
			var r listResult
			for {
				l, err := pools.List(ctx, opts)
				if err != nil {
					return r, err
				}
				r.items += len(l.Items)
				r.pages++
				if opts.Continue = l.Continue; opts.Continue == "" {
					return r, nil
				}
			}
		}
	}
	runList(b, "rv=consistent", n, typed(metav1.ListOptions{}))
	runList(b, "rv=0", n, typed(metav1.ListOptions{ResourceVersion: "0"}))
	runList(b, "rv=0/undecoded", n, func(ctx context.Context) (listResult, error) {
		body, err := raw.Get().Resource("ippools").Param("resourceVersion", "0").DoRaw(ctx)
		return listResult{items: n, pages: 1, bytes: len(body)}, err
	})
	runList(b, "rv=consistent/limit=500", n, typed(metav1.ListOptions{Limit: pageSize}))
	logLoad(b)
}

// BenchmarkListWorkloadEndpoints lists -meshapi.objects WorkloadEndpoints
// in all namespaces as BenchmarkListIPPools lists pools, and also those of
// one namespace and of one node (field selector spec.node, as a node agent
// does).
func BenchmarkListWorkloadEndpoints(b *testing.B) {
	f := startServer(b)
	n, conc := *objectsFlag, *concurrencyFlag
	const set = "list"
	pending := true
	cleanup(b, f.client, workloadEndpoints, set, n, &pending)
	if _, err := createWEPs(b.Context(), f.client, set, n, conc, nil); err != nil {
		b.Fatal(err)
	}
	raw := f.client.ProjectcalicoV3().RESTClient()
	typed := func(ns string, opts metav1.ListOptions) listFunc {
		weps := f.client.ProjectcalicoV3().WorkloadEndpoints(ns)
		return func(ctx context.Context) (listResult, error) {
			var r listResult
			for {
				l, err := weps.List(ctx, opts)
				if err != nil {
					return r, err
				}
				r.items += len(l.Items)
				r.pages++
				if opts.Continue = l.Continue; opts.Continue == "" {
					return r, nil
				}
			}
		}
	}
	inNS, onNode := 0, 0
	for i := range n {
		if wepNamespace(i) == wepNamespace(7) {
			inNS++
		}
		if wepNode(i) == wepNode(7) {
			onNode++
		}
	}
	runList(b, "rv=consistent", n, typed("", metav1.ListOptions{}))
	runList(b, "rv=0", n, typed("", metav1.ListOptions{ResourceVersion: "0"}))
	runList(b, "rv=0/undecoded", n, func(ctx context.Context) (listResult, error) {
		body, err := raw.Get().Resource("workloadendpoints").Param("resourceVersion", "0").DoRaw(ctx)
		return listResult{items: n, pages: 1, bytes: len(body)}, err
	})
	runList(b, "rv=consistent/limit=500", n, typed("", metav1.ListOptions{Limit: pageSize}))
	runList(b, "rv=consistent/namespace", inNS, typed(wepNamespace(7), metav1.ListOptions{}))
	runList(b, "rv=consistent/spec.node", onNode, typed("", metav1.ListOptions{FieldSelector: "spec.node=" + wepNode(7)}))
	logLoad(b)
}

// BenchmarkWatchWorkloadEndpoints watches the WorkloadEndpoints of all
// namespaces with 1 and then 10 watchers while -meshapi.objects of them
// have a label changed by -meshapi.concurrency goroutines, and reports the
// events/s each watcher receives (from the first update until it has seen
// every change), the updates/s, and how long after the last update the
// last event arrived. Live events cannot outrun the writes, so it also
// measures a watcher that starts after the updates, from the
// resourceVersion before them ("replay"): how fast the server replays
// -meshapi.objects events from its watch cache.
func BenchmarkWatchWorkloadEndpoints(b *testing.B) {
	f := startServer(b)
	n, conc := *objectsFlag, *concurrencyFlag
	const set = "watch"
	pending := true
	cleanup(b, f.client, workloadEndpoints, set, n, &pending)
	weps := make([]*v3.WorkloadEndpoint, n)
	if _, err := createWEPs(b.Context(), f.client, set, n, conc, weps); err != nil {
		b.Fatal(err)
	}
	gen := 0
	// updateAll sets genLabel=g on every WorkloadEndpoint.
	updateAll := func(ctx context.Context, g string) error {
		_, err := forEachTimed(ctx, n, conc, func(ctx context.Context, i int) error {
			w := weps[i].DeepCopy()
			w.Labels[genLabel] = g
			got, err := f.client.ProjectcalicoV3().WorkloadEndpoints(w.Namespace).Update(ctx, w, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("updating WorkloadEndpoint %s/%s: %w", w.Namespace, w.Name, err)
			}
			weps[i] = got
			return nil
		})
		return err
	}
	// currentRV is the resourceVersion of a fresh list.
	currentRV := func(ctx context.Context) (string, error) {
		l, err := f.client.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}
	for _, watchers := range []int{1, 10} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			ctx := b.Context()
			var updating, delivering time.Duration
			rewatches := 0
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				gen++
				g := strconv.Itoa(gen)
				rv, err := currentRV(ctx)
				if err != nil {
					b.Fatal(err)
				}
				ws := make([]*watcher, watchers)
				for k := range ws {
					ws[k] = startWatcher(ctx, f.client, set, g, rv, n)
				}
				b.StartTimer()
				start := time.Now()
				if err := updateAll(ctx, g); err != nil {
					b.Fatal(err)
				}
				updating += time.Since(start)
				for _, w := range ws {
					if err := w.wait(5 * time.Minute); err != nil {
						b.Fatal(err)
					}
					rewatches += w.rewatches
				}
				delivering += time.Since(start)
				b.StopTimer()
				for _, w := range ws {
					w.stop()
				}
				b.StartTimer()
			}
			b.StopTimer()
			events := float64(n * b.N)
			b.ReportMetric(events/delivering.Seconds(), "events/s")
			b.ReportMetric(events*float64(watchers)/delivering.Seconds(), "total-events/s")
			b.ReportMetric(events/updating.Seconds(), "updates/s")
			b.ReportMetric(float64((delivering-updating).Microseconds())/1000/float64(b.N), "lag-ms")
			b.ReportMetric(float64(rewatches)/float64(b.N), "rewatches")
		})
	}
	b.Run("replay", func(b *testing.B) {
		ctx := b.Context()
		rewatches := 0
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			gen++
			g := strconv.Itoa(gen)
			rv, err := currentRV(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := updateAll(ctx, g); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			w := startWatcher(ctx, f.client, set, g, rv, n)
			if err := w.wait(5 * time.Minute); err != nil {
				b.Fatal(err)
			}
			rewatches += w.rewatches
		}
		b.StopTimer()
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(rewatches)/float64(b.N), "rewatches")
	})
	logLoad(b)
}

// listFunc lists once, page after page.
type listFunc func(ctx context.Context) (listResult, error)

// listResult is what one full list returned.
type listResult struct {
	items, pages int
	// bytes is the size of the response, when the list was not decoded.
	bytes int
}

// runList runs a sub-benchmark that lists listsPerOp times per iteration,
// checks each list returned want items, and reports ms/list and
// pages/list (and MB/list for undecoded lists).
func runList(b *testing.B, name string, want int, list listFunc) {
	b.Run(name, func(b *testing.B) {
		ctx := b.Context()
		var last listResult
		b.ResetTimer()
		for range b.N {
			for range listsPerOp {
				r, err := list(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if r.items != want {
					b.Fatalf("listed %d objects, want %d", r.items, want)
				}
				last = r
			}
		}
		b.StopTimer()
		lists := float64(b.N * listsPerOp)
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/lists, "ms/list")
		b.ReportMetric(float64(last.pages), "pages/list")
		if last.bytes > 0 {
			b.ReportMetric(float64(last.bytes)/(1<<20), "MB/list")
		}
	})
}

// watcher counts the WorkloadEndpoints of a set that reach one generation
// of genLabel, rewatching from the last event it saw if the server ends
// the watch.
type watcher struct {
	cancel    context.CancelFunc
	done      chan struct{}
	err       error
	rewatches int
}

// startWatcher watches the WorkloadEndpoints of a set from resourceVersion
// rv until want of them carry genLabel=gen.
func startWatcher(ctx context.Context, cs versioned.Interface, set, gen, rv string, want int) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.err = w.run(ctx, cs, set, gen, rv, want)
	}()
	return w
}

// run is the watcher's loop; it returns nil once want objects were seen.
func (w *watcher) run(ctx context.Context, cs versioned.Interface, set, gen, rv string, want int) error {
	seen := map[string]bool{}
	opts := metav1.ListOptions{LabelSelector: benchLabel + "=" + set}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			w.rewatches++
		}
		opts.ResourceVersion = rv
		wi, err := cs.ProjectcalicoV3().WorkloadEndpoints("").Watch(ctx, opts)
		if err != nil {
			return fmt.Errorf("watching from resourceVersion %s: %w", rv, err)
		}
		for ev := range wi.ResultChan() {
			switch ev.Type {
			case watch.Error:
				wi.Stop()
				return fmt.Errorf("watch error: %w", apierrors.FromObject(ev.Object))
			case watch.Added, watch.Modified, watch.Deleted:
				o, ok := ev.Object.(*v3.WorkloadEndpoint)
				if !ok {
					wi.Stop()
					return fmt.Errorf("watch event %s of a %T", ev.Type, ev.Object)
				}
				rv = o.ResourceVersion
				if ev.Type == watch.Modified && o.Labels[genLabel] == gen {
					seen[o.Namespace+"/"+o.Name] = true
					if len(seen) == want {
						wi.Stop()
						return nil
					}
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("watch ended after %d of %d events: %w", len(seen), want, err)
		}
	}
}

// wait waits until the watcher has seen every object, or fails after
// timeout.
func (w *watcher) wait(timeout time.Duration) error {
	select {
	case <-w.done:
		return w.err
	case <-time.After(timeout):
		w.cancel()
		<-w.done
		return fmt.Errorf("watcher not done after %s: %w", timeout, w.err)
	}
}

// stop ends the watcher and waits for it.
func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

// addTenths adds the duration of each tenth of a run to acc.
func addTenths(acc *[10]time.Duration, p progress) {
	for k := range p {
		d := p[k]
		if k > 0 {
			d -= p[k-1]
		}
		acc[k] += d
	}
}

// reportRates reports unit (e.g. creates/s) over b.N runs of n operations
// whose tenths took tenths in total: overall, first tenth and last tenth.
func reportRates(b *testing.B, unit string, n int, tenths [10]time.Duration) {
	var total time.Duration
	for _, d := range tenths {
		total += d
	}
	tenth := func(k int) float64 {
		return float64(b.N*((k+1)*n/10-k*n/10)) / tenths[k].Seconds()
	}
	b.ReportMetric(float64(b.N*n)/total.Seconds(), unit)
	b.ReportMetric(tenth(0), "first10%-"+unit)
	b.ReportMetric(tenth(9), "last10%-"+unit)
}

// cleanup deletes objects 0..n-1 of a set of kind when the benchmark
// ends if *pending is then true (it failed before its own deletes), so
// that the next benchmark starts clean.
func cleanup(b *testing.B, cs versioned.Interface, kind objectKind, set string, n int, pending *bool) {
	b.Cleanup(func() {
		if !*pending {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := kind.delete(ctx, cs, set, n, *concurrencyFlag); err != nil {
			b.Errorf("cleaning up %s of set %q: %v", kind.name, set, err)
		}
	})
}
