package remotesync

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/bench/benchserver"
)

// sizes parses -remotesync.sizes.
func sizes(b *testing.B) []int {
	var out []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > maxEndpoints {
			b.Fatalf("-remotesync.sizes: %q is not a count from 1 to %d", s, maxEndpoints)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkInitialSync measures how long a new RemoteClusterConfiguration
// takes to mirror N endpoints that already exist in B (from its creation
// in A until its status reads InSync with N endpoints counted), the memory
// the process holds once it has, and how long removing the mirror takes
// once the RCC is deleted. In the same run, with the controller stopped,
// before the sync and after its teardown, it measures the floor of
// one-object-per-write mirroring: A's rate of plain creates of the same N
// mirrors from 16 writers (floor-creates/s, the mean of the two), and the
// ratio of the sync's rate to it (sync/floor).
func BenchmarkInitialSync(b *testing.B) {
	f := servers(b)
	for _, n := range sizes(b) {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				initialSync(b, f, n, fmt.Sprintf("sync-%d-%d", n, i))
			}
		})
	}
}

func initialSync(b *testing.B, f *benchserver.Pair, n int, rccName string) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(b.Context(), 45*time.Minute)
	defer cancel()
	if err := ensureClean(ctx, f); err != nil {
		b.Fatalf("cleaning up: %v", err)
	}
	took, err := createEndpoints(ctx, f.B.Client, "sync", n)
	if err != nil {
		b.Fatalf("creating %d endpoints in B: %v", n, err)
	}
	b.Logf("created %d endpoints in B in %s (%.0f/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	defer func() {
		if err := deleteEndpoints(ctx, f.B.Client, ""); err != nil {
			b.Errorf("deleting B's endpoints: %v", err)
		}
	}()

	// The floor is measured before the sync and again after its teardown,
	// and the sync compared with the mean of the two rates: the load of
	// this shared machine drifts within one run.
	floorBefore, err := createFloor(ctx, f, rccName, "sync", n)
	if err != nil {
		b.Fatalf("measuring the floor: %v", err)
	}

	before := readMemory()
	c, err := startController(ctx, f)
	if err != nil {
		b.Fatal(err)
	}
	defer c.stop()

	// Every update of the RCC while it syncs is a status write of the
	// controller's.
	rccWatch, err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + rccName})
	if err != nil {
		b.Fatal(err)
	}
	defer rccWatch.Stop()
	var statusWrites atomic.Int64
	go func() {
		for ev := range rccWatch.ResultChan() {
			if ev.Type == watch.Modified {
				statusWrites.Add(1)
			}
		}
	}()

	stopProfile := startProfile(b, n)
	startCost, err := sampleCost(ctx, f.A, f.B)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start := time.Now()
	if _, err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().Create(ctx, newRCC(rccName, f.B), metav1.CreateOptions{}); err != nil {
		b.Fatalf("creating RemoteClusterConfiguration %s: %v", rccName, err)
	}
	t, err := waitInSync(ctx, f.A.Client, rccName, int32(n), start, 30*time.Minute)
	b.StopTimer()
	stopProfile()
	writes := statusWrites.Load()
	if err != nil {
		b.Fatalf("waiting for %s to be in sync: %v", rccName, err)
	}
	syncedCost, err := sampleCost(ctx, f.A, f.B)
	if err != nil {
		b.Fatal(err)
	}
	reportCost(b, "sync", n, syncedCost.since(startCost))
	// Reconciles that wrote nothing (the echoes of the Syncer's own
	// writes are dropped, not reconciled: a handful remain, for events
	// that came while their object was being reconciled). The controller
	// may still be busy when the status reads InSync; objects allocated
	// while the collection runs count as live, so the heap is read once
	// it is idle.
	if err := c.waitIdle(ctx, rccName); err != nil {
		b.Fatalf("waiting for the controller to be idle: %v", err)
	}
	noops := c.counter("remote_cluster_noop_reconciles_total", map[string]string{"remote_cluster_name": rccName})
	after := readMemory()
	writeHeapProfile(b, n)
	logged, _ := c.logs.seen(fmt.Sprintf("Sending in-sync update for RemoteClusterConfiguration(%s)", rccName))
	errs, sample := c.logs.errorSummary()
	mirrored, err := countEndpoints(ctx, f.A.Client, v3.LabelCluster+"="+rccName)
	if err != nil {
		b.Fatal(err)
	}
	if mirrored != n {
		b.Errorf("A holds %d mirrored endpoints, want %d", mirrored, n)
	}

	b.ReportMetric(t.inSync.Seconds(), "sync-s")
	b.ReportMetric(logged.Sub(start).Seconds(), "insync-log-s")
	b.ReportMetric(t.resync.Seconds(), "listed-s")
	b.ReportMetric(float64(n)/t.inSync.Seconds(), "sync-endpoints/s")
	b.ReportMetric(mb(after.heapInuse), "heap-MB")
	b.ReportMetric(mb(after.heapInuse)-mb(before.heapInuse), "heap-delta-MB")
	b.ReportMetric((float64(after.heapInuse)-float64(before.heapInuse))/float64(n)/1024, "heap-KiB/endpoint")
	b.ReportMetric((float64(after.heapAlloc)-float64(before.heapAlloc))/float64(n)/1024, "live-KiB/endpoint")
	b.ReportMetric(mb(after.rss), "rss-MB")
	b.ReportMetric(float64(errs), "errors")
	b.ReportMetric(float64(writes), "status-writes")
	b.ReportMetric(noops, "noop-reconciles")
	b.Logf("%s: ResyncInProgress after %s, InSync logged after %s, status InSync with %d endpoints after %s (%d status writes); heap in use %.1f MiB (%.1f before the controller), VmRSS %.1f MiB (%.1f before); %d errors logged %q",
		rccName, t.resync.Round(time.Millisecond), logged.Sub(start).Round(time.Millisecond), n, t.inSync.Round(time.Millisecond), writes,
		mb(after.heapInuse), mb(before.heapInuse), mb(after.rss), mb(before.rss), errs, sample)

	beforeTeardown, err := sampleCost(ctx, f.A, f.B)
	if err != nil {
		b.Fatal(err)
	}
	took, err = teardown(ctx, f, rccName, 15*time.Minute)
	if err != nil {
		b.Errorf("removing the mirror: %v", err)
		return
	}
	tornDown, err := sampleCost(ctx, f.A, f.B)
	if err != nil {
		b.Fatal(err)
	}
	reportCost(b, "teardown", n, tornDown.since(beforeTeardown))
	b.ReportMetric(took.Seconds(), "teardown-s")
	b.Logf("%s: the controller removed the mirror of %d endpoints %s after the RCC was deleted", rccName, n, took.Round(time.Millisecond))

	c.stop()
	floorAfter, err := createFloor(ctx, f, rccName, "sync", n)
	if err != nil {
		b.Fatalf("measuring the floor: %v", err)
	}
	reportFloor(b, n, t.inSync, took, floorBefore, floorAfter)
}

// reportFloor reports the floor measured before and after a sync of n
// endpoints that took sync and whose teardown took teardown, and the
// sync's and the teardown's ratios to it (the floor's rate is the mean of
// the two measurements' rates, its delete time their mean).
func reportFloor(b *testing.B, n int, sync, teardown time.Duration, before, after floorResult) {
	syncRate := float64(n) / sync.Seconds()
	rateBefore, rateAfter := float64(n)/before.create.Seconds(), float64(n)/after.create.Seconds()
	floorRate := (rateBefore + rateAfter) / 2
	floorDelete := (before.delete + after.delete) / 2
	b.ReportMetric(floorRate, "floor-creates/s")
	b.ReportMetric(rateBefore, "floor-before-creates/s")
	b.ReportMetric(rateAfter, "floor-after-creates/s")
	b.ReportMetric(syncRate/floorRate, "sync/floor")
	b.ReportMetric(floorDelete.Seconds(), "floor-delete-s")
	b.ReportMetric(teardown.Seconds()/floorDelete.Seconds(), "teardown/floor")
	// The floor's costs per object over both measurements.
	reportCost(b, "floor-create", 2*n, before.createCost.plus(after.createCost))
	reportCost(b, "floor-delete", 2*n, before.deleteCost.plus(after.deleteCost))
	b.Logf("floor: %d writers created the %d mirrors in A at %.0f/s before the sync and %.0f/s after it; the sync ran at %.0f/s, %.2fx their mean; deletecollection per namespace removed them in %s and %s, the teardown took %.2fx their mean",
		creators, n, rateBefore, rateAfter, syncRate, syncRate/floorRate,
		before.delete.Round(time.Millisecond), after.delete.Round(time.Millisecond), teardown.Seconds()/floorDelete.Seconds())
}

// startProfile starts the CPU profile of -remotesync.sync-cpuprofile, if
// set, and returns the function that stops it.
func startProfile(b *testing.B, n int) func() {
	if *syncProfileFlag == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", *syncProfileFlag, n))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// writeHeapProfile writes the heap profile of -remotesync.sync-heapprofile,
// if set.
func writeHeapProfile(b *testing.B, n int) {
	if *syncHeapProfileFlag == "" {
		return
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", *syncHeapProfileFlag, n))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Error(err)
	}
}

// BenchmarkPropagationLatency creates endpoints in B one at a time, with
// the RCC in sync, and measures when each one's mirror's ADDED event
// reaches a watch on A, from the moment its create call returned in B
// (p50-ms ... max-ms) and from just before it was sent (p50-send-ms,
// p99-send-ms), B's own create call (create-p50-ms, create-p99-ms), and
// the ratio of the two p99s (p99-send/create-p99: a mirror's one more
// write and one watch hop, against B's create alone).
func BenchmarkPropagationLatency(b *testing.B) {
	benchmarkPropagation(b, 0)
}

// BenchmarkPropagationLatencyChurn is BenchmarkPropagationLatency while
// other endpoints of B (-remotesync.latency-churn-objects, mirrored in A)
// are updated at -remotesync.latency-churn-rate updates per second from
// -remotesync.latency-churn-writers writers (16), from before the first
// create until the last mirror has arrived; churn-updates/s is the rate
// achieved, and churn-update-p50-ms,
// -p99-ms and -max-ms how long after an update returned in B its mirror
// in A showed it (or a later one), churn-updates-missing those never seen.
func BenchmarkPropagationLatencyChurn(b *testing.B) {
	benchmarkPropagation(b, *latencyChurnRateFlag)
}

// benchmarkPropagation runs BenchmarkPropagationLatency, with churnRate
// updates per second of other endpoints of B if it is not 0.
func benchmarkPropagation(b *testing.B, churnRate float64) {
	f := servers(b)
	count, interval := *latencyCountFlag, *latencyIntervalFlag
	var all propagationResult
	for i := 0; i < b.N; i++ {
		r := propagation(b, f, count, interval, fmt.Sprintf("lat-%d", i), churnRate)
		all.fromReturn = append(all.fromReturn, r.fromReturn...)
		all.fromSend = append(all.fromSend, r.fromSend...)
		all.createCall = append(all.createCall, r.createCall...)
		all.churnUpdates += r.churnUpdates
		all.churnFor += r.churnFor
		all.churnLags = append(all.churnLags, r.churnLags...)
		all.churnMissing += r.churnMissing
		all.staleRetries += r.staleRetries
	}
	fromReturn, fromSend, createCall := all.fromReturn, all.fromSend, all.createCall
	slices.Sort(fromReturn)
	slices.Sort(fromSend)
	slices.Sort(createCall)
	b.ReportMetric(ms(percentile(fromReturn, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(fromReturn, 0.90)), "p90-ms")
	b.ReportMetric(ms(percentile(fromReturn, 0.99)), "p99-ms")
	b.ReportMetric(ms(fromReturn[len(fromReturn)-1]), "max-ms")
	b.ReportMetric(ms(percentile(fromSend, 0.50)), "p50-send-ms")
	b.ReportMetric(ms(percentile(fromSend, 0.99)), "p99-send-ms")
	b.ReportMetric(ms(percentile(createCall, 0.50)), "create-p50-ms")
	b.ReportMetric(ms(percentile(createCall, 0.99)), "create-p99-ms")
	ratio := ms(percentile(fromSend, 0.99)) / ms(percentile(createCall, 0.99))
	b.ReportMetric(ratio, "p99-send/create-p99")
	b.ReportMetric(all.staleRetries, "stale-retries")
	churnNote := ""
	if churnRate > 0 {
		achieved := float64(all.churnUpdates) / all.churnFor.Seconds()
		b.ReportMetric(achieved, "churn-updates/s")
		lags := all.churnLags
		slices.Sort(lags)
		if len(lags) > 0 {
			b.ReportMetric(ms(percentile(lags, 0.50)), "churn-update-p50-ms")
			b.ReportMetric(ms(percentile(lags, 0.99)), "churn-update-p99-ms")
			b.ReportMetric(ms(lags[len(lags)-1]), "churn-update-max-ms")
		}
		b.ReportMetric(float64(all.churnMissing), "churn-updates-missing")
		churnNote = fmt.Sprintf("; churn of %d other endpoints: %d updates in %s, %.0f/s (asked %.0f/s from %d writers); update in B to the mirror at that generation or later in A: p50 %.1f ms, p99 %.1f ms, %d never seen",
			*latencyChurnObjectsFlag, all.churnUpdates, all.churnFor.Round(time.Millisecond), achieved, churnRate, *latencyChurnWritersFlag,
			ms(percentile(lags, 0.50)), ms(percentile(lags, 0.99)), all.churnMissing)
	}
	b.Logf("%d endpoints, one every %s: from create return p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, min %.1f ms, max %.1f ms; from before send p50 %.1f ms, p99 %.1f ms; B's create call p50 %.1f ms, p99 %.1f ms; p99 from send / create p99 %.2f; mirror writes retried after a Conflict or NotFound from a stale mirror cache: %.0f%s",
		len(fromReturn), interval, ms(percentile(fromReturn, 0.5)), ms(percentile(fromReturn, 0.9)), ms(percentile(fromReturn, 0.99)),
		ms(fromReturn[0]), ms(fromReturn[len(fromReturn)-1]), ms(percentile(fromSend, 0.5)), ms(percentile(fromSend, 0.99)),
		ms(percentile(createCall, 0.5)), ms(percentile(createCall, 0.99)), ratio, all.staleRetries, churnNote)
}

// propagationResult is what one round of BenchmarkPropagationLatency
// measured: each endpoint's latency from its create call's return, from
// just before the call, and the call's own duration; the churn's updates
// and how long it ran; and the controller's mirror writes retried because
// its mirror cache was behind (remote_cluster_stale_cache_retries_total).
type propagationResult struct {
	fromReturn, fromSend, createCall []time.Duration
	churnUpdates                     int64
	churnFor                         time.Duration
	// churnLags are the churn's updates' latencies, from B's return to
	// the mirror's MODIFIED event in A; churnMissing those never seen.
	churnLags    []time.Duration
	churnMissing int
	staleRetries float64
}

// churnLags waits (up to 2 minutes) until A's watcher has seen every
// churned mirror at its last generation, then returns each update's
// latency (unsorted: benchmarkPropagation sorts them all) and how many
// never arrived.
func churnLags(ctx context.Context, b *testing.B, gens *genArrivals, updates []churnUpdate, rccName string, watchErr <-chan error) ([]time.Duration, int) {
	mirrorName := func(name string) string { return v3.MirrorName(rccName, name) }
	last := lastGens(updates, mirrorName)
	deadline := time.Now().Add(2 * time.Minute)
	for !gens.caughtUp(last) && time.Now().Before(deadline) {
		select {
		case err := <-watchErr:
			b.Fatal(err)
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return gens.updateLags(updates, mirrorName)
}

// propagation runs one round of BenchmarkPropagationLatency, with
// churnRate updates per second of other endpoints if it is not 0.
func propagation(b *testing.B, f *benchserver.Pair, count int, interval time.Duration, rccName string, churnRate float64) propagationResult {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(b.Context(), 15*time.Minute)
	defer cancel()
	if err := ensureClean(ctx, f); err != nil {
		b.Fatalf("cleaning up: %v", err)
	}
	background := 0
	if churnRate > 0 {
		background = *latencyChurnObjectsFlag
		if err := createChurnEndpoints(ctx, f.B.Client, background); err != nil {
			b.Fatalf("creating %d endpoints to churn in B: %v", background, err)
		}
	}
	c := syncedController(ctx, b, f, rccName, background)
	defer c.stop()
	defer func() {
		if _, err := teardown(ctx, f, rccName, 5*time.Minute); err != nil {
			b.Errorf("removing the mirror: %v", err)
		}
		if err := deleteEndpoints(ctx, f.B.Client, ""); err != nil {
			b.Errorf("deleting B's endpoints: %v", err)
		}
	}()

	// Watch A's mirror of B from now on.
	selector := v3.LabelCluster + "=" + rccName
	wepsA := f.A.Client.ProjectcalicoV3().WorkloadEndpoints("")
	list, err := wepsA.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		b.Fatal(err)
	}
	// A retrying watch, as a client of A would keep: under churn on a
	// busy machine the API server ends a watcher that falls behind, and
	// the events resume from the last resourceVersion seen.
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return wepsA.Watch(ctx, opts)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	gens := newGenArrivals()
	added := make(map[string]time.Time, count)
	all := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		for ev := range w.ResultChan() {
			now := time.Now()
			switch ev.Type {
			case watch.Added:
				wep := ev.Object.(*v3.WorkloadEndpoint)
				mu.Lock()
				if _, dup := added[wep.Name]; !dup {
					added[wep.Name] = now
					if len(added) == count {
						close(all)
					}
				}
				mu.Unlock()
			case watch.Modified:
				wep := ev.Object.(*v3.WorkloadEndpoint)
				gens.record(wep.Name, wep.Labels, now)
			case watch.Error:
				watchErr <- fmt.Errorf("watch error: %v", ev.Object)
				return
			}
		}
		watchErr <- fmt.Errorf("the watch on A ended early")
	}()

	var ch *churner
	if churnRate > 0 {
		var err error
		if ch, err = startChurner(ctx, f.B.Client, churnRate, *latencyChurnWritersFlag); err != nil {
			b.Fatal(err)
		}
		defer ch.stop()
	}
	sent := make([]time.Time, count)
	returned := make([]time.Time, count)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	b.StartTimer()
	for i := range count {
		<-tick.C
		ep := newEndpoint("lat", i)
		sent[i] = time.Now()
		if _, err := f.B.Client.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			b.Fatalf("creating %s/%s in B: %v", ep.Namespace, ep.Name, err)
		}
		returned[i] = time.Now()
	}
	select {
	case <-all:
	case err := <-watchErr:
		b.Fatal(err)
	case <-time.After(2 * time.Minute):
		mu.Lock()
		n := len(added)
		mu.Unlock()
		b.Fatalf("only %d of %d mirrors were added in A within 2 minutes of the last create", n, count)
	}
	b.StopTimer()
	var r propagationResult
	if ch != nil {
		updates, took, err := ch.stop()
		if err != nil {
			b.Fatal(err)
		}
		r.churnUpdates, r.churnFor = updates, took
		r.churnLags, r.churnMissing = churnLags(ctx, b, gens, ch.made(), rccName, watchErr)
	}
	r.staleRetries = c.counter("remote_cluster_stale_cache_retries_total", nil)
	mu.Lock()
	defer mu.Unlock()
	for i := range count {
		at := added[v3.MirrorName(rccName, endpointName("lat", i))]
		r.fromReturn = append(r.fromReturn, at.Sub(returned[i]))
		r.fromSend = append(r.fromSend, at.Sub(sent[i]))
		r.createCall = append(r.createCall, returned[i].Sub(sent[i]))
	}
	return r
}

// syncedController starts a controller, creates the RCC rccName and waits
// until it is in sync with n endpoints.
func syncedController(ctx context.Context, b *testing.B, f *benchserver.Pair, rccName string, n int) *controller {
	b.Helper()
	c, err := startController(ctx, f)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().Create(ctx, newRCC(rccName, f.B), metav1.CreateOptions{}); err != nil {
		c.stop()
		b.Fatalf("creating RemoteClusterConfiguration %s: %v", rccName, err)
	}
	if _, err := waitInSync(ctx, f.A.Client, rccName, int32(n), start, 10*time.Minute); err != nil {
		c.stop()
		b.Fatalf("waiting for %s to be in sync: %v", rccName, err)
	}
	return c
}

// BenchmarkChurn updates the labels of endpoints mirrored from B as fast
// as several goroutines can, and counts the MODIFIED events of their
// mirrors that reach a watch on A, per second from the first update until
// A's mirror shows every endpoint's last label (events/s); lag-ms is the
// time from the last update's return in B until then.
func BenchmarkChurn(b *testing.B) {
	f := servers(b)
	for i := 0; i < b.N; i++ {
		churn(b, f, *churnObjectsFlag, *churnWritersFlag, *churnDurationFlag, fmt.Sprintf("churn-%d", i))
	}
}

// genLabel is the label the churn rewrites.
const genLabel = "remotesync.meshapi.io/gen"

func churn(b *testing.B, f *benchserver.Pair, n, writers int, duration time.Duration, rccName string) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
	defer cancel()
	if err := ensureClean(ctx, f); err != nil {
		b.Fatalf("cleaning up: %v", err)
	}
	if _, err := createEndpoints(ctx, f.B.Client, "churn", n); err != nil {
		b.Fatalf("creating %d endpoints in B: %v", n, err)
	}
	c := syncedController(ctx, b, f, rccName, n)
	defer c.stop()
	defer func() {
		if _, err := teardown(ctx, f, rccName, 5*time.Minute); err != nil {
			b.Errorf("removing the mirror: %v", err)
		}
		if err := deleteEndpoints(ctx, f.B.Client, ""); err != nil {
			b.Errorf("deleting B's endpoints: %v", err)
		}
	}()

	// The endpoints as B has them, to update from.
	list, err := f.B.Client.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if len(list.Items) != n {
		b.Fatalf("B holds %d endpoints, want %d", len(list.Items), n)
	}
	weps := make([]*v3.WorkloadEndpoint, n)
	for i := range list.Items {
		weps[i] = &list.Items[i]
	}

	// Watch A's mirror: the last generation label seen per mirror, and
	// when.
	selector := v3.LabelCluster + "=" + rccName
	wepsA := f.A.Client.ProjectcalicoV3().WorkloadEndpoints("")
	mirrors, err := wepsA.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		b.Fatal(err)
	}
	w, err := wepsA.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: mirrors.ResourceVersion})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	type seen struct {
		gen string
		at  time.Time
	}
	var mu sync.Mutex
	last := make(map[string]seen, n)
	var modified atomic.Int64
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for ev := range w.ResultChan() {
			now := time.Now()
			if ev.Type != watch.Modified {
				continue
			}
			modified.Add(1)
			wep := ev.Object.(*v3.WorkloadEndpoint)
			mu.Lock()
			last[wep.Name] = seen{wep.Labels[genLabel], now}
			mu.Unlock()
		}
	}()

	// Churn: each writer owns every writers-th endpoint and rewrites their
	// generation label round robin until the deadline.
	eventsBefore := c.counter("remote_cluster_events_total", map[string]string{"remote_cluster_name": rccName})
	errorsBefore := c.counter("remote_cluster_errors_total", map[string]string{"remote_cluster_name": rccName})
	final := make([]int, n) // the last generation written, per endpoint
	var updates atomic.Int64
	var failOnce sync.Once
	var failed error
	b.StartTimer()
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for wr := range writers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				for i := wr; i < n && time.Now().Before(deadline); i += writers {
					wep := weps[i].DeepCopy()
					if wep.Labels == nil {
						wep.Labels = map[string]string{}
					}
					wep.Labels[genLabel] = strconv.Itoa(final[i] + 1)
					updated, err := f.B.Client.ProjectcalicoV3().WorkloadEndpoints(wep.Namespace).Update(ctx, wep, metav1.UpdateOptions{})
					if err != nil {
						failOnce.Do(func() { failed = fmt.Errorf("updating %s/%s in B: %w", wep.Namespace, wep.Name, err) })
						return
					}
					weps[i] = updated
					final[i]++
					updates.Add(1)
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()
	if failed != nil {
		b.Fatal(failed)
	}

	// Wait until every mirror shows its endpoint's last generation.
	var converged time.Time
	stale := 0
	waitErr := waitUntil(ctx, 5*time.Minute, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		stale, converged = 0, time.Time{}
		for i, wep := range weps {
			want := ""
			if final[i] > 0 {
				want = strconv.Itoa(final[i])
			}
			s := last[v3.MirrorName(rccName, wep.Name)]
			if s.gen != want {
				stale++
				continue
			}
			if s.at.After(converged) {
				converged = s.at
			}
		}
		return stale == 0, nil
	})
	b.StopTimer()
	events := modified.Load()
	remoteEvents := c.counter("remote_cluster_events_total", map[string]string{"remote_cluster_name": rccName}) - eventsBefore
	errs := c.counter("remote_cluster_errors_total", map[string]string{"remote_cluster_name": rccName}) - errorsBefore
	_, sample := c.logs.errorSummary()
	if waitErr != nil {
		b.Fatalf("%d of %d mirrors in A still lack their endpoint's last label 5 minutes after the churn (%d updates in B, %d MODIFIED events in A, %.0f controller errors %q): %v",
			stale, n, updates.Load(), events, errs, sample, waitErr)
	}
	if converged.Before(end) {
		converged = end // every last update was mirrored before the last one returned
	}
	span := converged.Sub(start)
	lag := converged.Sub(end)
	b.ReportMetric(float64(updates.Load())/end.Sub(start).Seconds(), "b-updates/s")
	b.ReportMetric(float64(events)/span.Seconds(), "events/s")
	b.ReportMetric(remoteEvents/span.Seconds(), "remote-events/s")
	b.ReportMetric(ms(lag), "lag-ms")
	b.ReportMetric(errs, "errors")
	b.Logf("%d writers updated %d endpoints %d times in %s (%.0f/s); the controller received %.0f events from B; A's watch got %d MODIFIED events in %s (%.0f/s); A matched B %s after the last update; %.0f controller errors %q",
		writers, n, updates.Load(), end.Sub(start).Round(time.Millisecond), float64(updates.Load())/end.Sub(start).Seconds(),
		remoteEvents, events, span.Round(time.Millisecond), float64(events)/span.Seconds(), lag.Round(time.Millisecond), errs, sample)
	w.Stop()
	<-watchDone
}
