package remotesync

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/bench/benchserver"
	"github.com/meshapi/meshapi/test/bench/parallel"
)

var (
	remotesFlag = flag.Int("remotesync.remotes", 50,
		"remote clusters (meshapi-apiserver processes, one RCC each) of BenchmarkManyRemotes")
	remoteEndpointsFlag = flag.Int("remotesync.remote-endpoints", 1000,
		"endpoints in each remote cluster of BenchmarkManyRemotes")
	fleetParallelFlag = flag.Int("remotesync.fleet-parallel", 8,
		"remote API servers BenchmarkManyRemotes starts at a time for the setup (the restart starts them all at once)")
)

// remoteSet names the endpoint set of remote r.
func remoteSet(r int) string { return fmt.Sprintf("r%03d", r) }

// newRemoteEndpoint returns endpoint i of remote r, of perRemote: its
// address is the (r*perRemote+i)-th /32 of 198.18.0.0/15, so that no two
// remotes claim one address, and its node is host-<r>-<i%100>, so that no
// two remotes share a node name.
func newRemoteEndpoint(r, perRemote, i int) *v3.WorkloadEndpoint {
	ep := newEndpoint(remoteSet(r), r*perRemote+i)
	ep.Spec.Node = fmt.Sprintf("host-%03d-%d", r, i%100)
	return ep
}

// createRemoteEndpoints creates perRemote endpoints in each remote from
// creators goroutines shared by all of them, logging progress every 10 s.
func createRemoteEndpoints(ctx context.Context, b *testing.B, remotes []*benchserver.Server, perRemote int) error {
	total := len(remotes) * perRemote
	start := time.Now()
	var created atomic.Int64
	stopProgress := every(10*time.Second, func() {
		n := created.Load()
		fmt.Fprintf(os.Stderr, "setup: %d of %d endpoints created in the remotes (%.0f/s)\n", n, total, float64(n)/time.Since(start).Seconds())
	})
	defer stopProgress()
	err := parallel.ForEach(ctx, creators, total, func(ctx context.Context, k int) error {
		r, i := k%len(remotes), k/len(remotes)
		ep := newRemoteEndpoint(r, perRemote, i)
		if _, err := remotes[r].Client.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s/%s in %s: %w", ep.Namespace, ep.Name, remotes[r].Name, err)
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		return err
	}
	b.Logf("setup: created %d endpoints in %d remotes in %s (%.0f/s)", total, len(remotes), time.Since(start).Round(time.Millisecond), float64(total)/time.Since(start).Seconds())
	return nil
}

// every calls fn every period until the returned function is called.
func every(period time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// newProxiedRCC returns an RCC that reaches remote s through the counting
// proxy p, with s's token and CA (its certificate names 127.0.0.1).
func newProxiedRCC(name string, s *benchserver.Server, p *dialCounter) *v3.RemoteClusterConfiguration {
	rcc := newRCC(name, s)
	rcc.Spec.KubeConfig.K8sAPIEndpoint = "https://" + p.Addr()
	return rcc
}

// fleetState is what one poll of every RCC of the fleet found.
type fleetState struct {
	// inSync counts the RCCs whose status reads InSync with want
	// endpoints.
	inSync int
	// states counts the RCCs by status.syncState.
	states map[v3.RemoteClusterSyncState]int
	// lastErrors holds a few RCCs' status.lastError.
	lastErrors []string
}

// pollFleet reads every RCC of names once; left (if not nil) records the
// RCCs seen not InSync.
func pollFleet(ctx context.Context, a versioned.Interface, names map[string]bool, want int32, left map[string]bool) (fleetState, error) {
	st := fleetState{states: map[v3.RemoteClusterSyncState]int{}}
	l, err := a.ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return st, err
	}
	for _, rcc := range l.Items {
		if !names[rcc.Name] {
			continue
		}
		s := rcc.Status
		st.states[s.SyncState]++
		if s.SyncState != v3.SyncStateInSync && left != nil {
			left[rcc.Name] = true
		}
		if s.SyncState == v3.SyncStateInSync && s.MirroredObjects != nil && s.MirroredObjects.WorkloadEndpoints == want {
			st.inSync++
		}
		if s.LastError != "" && len(st.lastErrors) < 3 {
			st.lastErrors = append(st.lastErrors, rcc.Name+": "+s.LastError)
		}
	}
	return st, nil
}

// stableFor is how long every RCC must stay InSync after a restart for
// the resync to count as done: a status the controller has not yet
// updated after the kill must not pass for one.
const stableFor = 3 * time.Second

// waitFleetInSync polls every RCC of names until all read InSync with want
// endpoints each, logging progress every 10 s, and returns how long that
// took from start. With gate, polling starts once gate is closed, RCCs
// seen not InSync are recorded in left, and all must stay InSync for
// stableFor (the time returned is when they first all were).
func waitFleetInSync(ctx context.Context, b *testing.B, a versioned.Interface, names map[string]bool, want int32, gate <-chan struct{}, left map[string]bool, start time.Time, timeout time.Duration) (time.Duration, error) {
	var last fleetState
	var allSince time.Time
	lastLog := time.Now()
	err := waitUntil(ctx, timeout, func() (bool, error) {
		st, err := pollFleet(ctx, a, names, want, left)
		if err != nil {
			return false, err
		}
		last = st
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			fmt.Fprintf(os.Stderr, "%s: %d of %d RCCs in sync; states %v\n", time.Since(start).Round(time.Second), st.inSync, len(names), st.states)
		}
		if gate == nil {
			if st.inSync == len(names) {
				allSince = time.Now()
				return true, nil
			}
			return false, nil
		}
		select {
		case <-gate:
		default:
			return false, nil
		}
		if st.inSync < len(names) {
			allSince = time.Time{}
			return false, nil
		}
		if allSince.IsZero() {
			allSince = time.Now()
		}
		return time.Since(allSince) >= stableFor, nil
	})
	if err != nil {
		return 0, fmt.Errorf("%w; last: %d of %d in sync, states %v, errors %q", err, last.inSync, len(names), last.states, last.lastErrors)
	}
	return allSince.Sub(start), nil
}

// BenchmarkManyRemotes measures one controller mirroring many remote
// clusters (-remotesync.remotes, each a meshapi-apiserver process with
// -remotesync.remote-endpoints endpoints): the time from creating all
// their RCCs at once until every RCC reads InSync with its count and A
// holds every mirror (sync-s), the controller's memory, and then, after
// every remote is killed with SIGKILL at once and restarted on the same
// port with the same data, the time until all are InSync again (from the
// kill, resync-s, and from the last remote's readiness, resync-ready-s)
// and the spread of the controller's reconnects: each RCC reaches its
// remote through a TCP proxy in this process that counts the connections
// the controller opens (reconnect attempts, whether the remote was up or
// not), per second after the kill.
func BenchmarkManyRemotes(b *testing.B) {
	f := servers(b)
	for i := 0; i < b.N; i++ {
		manyRemotes(b, f, *remotesFlag, *remoteEndpointsFlag, fmt.Sprintf("many-%d", i))
	}
}

// fleetRun is one BenchmarkManyRemotes run's servers, proxies and RCCs.
type fleetRun struct {
	fleet   *benchserver.Fleet
	proxies []*dialCounter
	names   map[string]bool
	rccs    []string
}

func manyRemotes(b *testing.B, f *benchserver.Pair, n, perRemote int, prefix string) {
	b.StopTimer()
	if n*perRemote > maxEndpoints {
		b.Fatalf("%d remotes of %d endpoints: at most %d addresses fit in 198.18.0.0/15", n, perRemote, maxEndpoints)
	}
	ctx, cancel := context.WithTimeout(b.Context(), 35*time.Minute)
	defer cancel()
	if err := ensureClean(ctx, f); err != nil {
		b.Fatalf("cleaning up: %v", err)
	}
	run := setupFleet(ctx, b, n, perRemote, prefix)
	defer run.stop(b)
	remoteRSS := fleetRSS(run.fleet)
	b.Logf("setup: %d remotes hold %d endpoints each; remote VmRSS mean %.0f MiB, total %.0f MiB", n, perRemote, mb(remoteRSS/uint64(n)), mb(remoteRSS))

	reportIdleFleet(ctx, b, f.A, run.fleet.Servers)

	before := readMemory()
	c, err := startController(ctx, f)
	if err != nil {
		b.Fatal(err)
	}
	defer c.stop()
	defer func() {
		if err := removeFleetMirrors(ctx, f, run.rccs); err != nil {
			b.Errorf("removing the mirrors: %v", err)
		}
	}()

	startCost, err := sampleCost(ctx, f.A, run.fleet.Servers...)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	start := time.Now()
	createRCCs(ctx, b, f.A.Client, run)
	syncTook, err := waitFleetInSync(ctx, b, f.A.Client, run.names, int32(perRemote), nil, nil, start, 20*time.Minute)
	if err != nil {
		b.Fatalf("waiting for the RCCs to be in sync: %v", err)
	}
	b.StopTimer()
	syncedCost, err := sampleCost(ctx, f.A, run.fleet.Servers...)
	if err != nil {
		b.Fatal(err)
	}
	reportCost(b, "sync", n*perRemote, syncedCost.since(startCost))
	mirrored, err := countEndpoints(ctx, f.A.Client, v3.LabelCluster)
	if err != nil {
		b.Fatal(err)
	}
	if mirrored != n*perRemote {
		b.Errorf("A holds %d mirrors, want %d", mirrored, n*perRemote)
	}
	if err := waitFleetIdle(ctx, c); err != nil {
		b.Logf("the controller did not go idle: %v", err)
	}
	after := readMemory()
	writeHeapProfile(b, n*perRemote)
	errs, sample := c.logs.errorSummary()
	b.ReportMetric(syncTook.Seconds(), "sync-s")
	b.ReportMetric(float64(n*perRemote)/syncTook.Seconds(), "sync-endpoints/s")
	b.ReportMetric(mb(after.heapInuse), "heap-MB")
	b.ReportMetric((float64(after.heapInuse)-float64(before.heapInuse))/float64(n*perRemote)/1024, "heap-KiB/endpoint")
	b.ReportMetric((float64(after.heapAlloc)-float64(before.heapAlloc))/float64(n*perRemote)/1024, "live-KiB/endpoint")
	b.ReportMetric(mb(after.rss), "rss-MB")
	b.ReportMetric(mb(remoteRSS/uint64(n)), "remote-rss-MB")
	b.Logf("%d RCCs of %d endpoints in sync %s after their creation (%.0f endpoints/s); A holds %d mirrors; heap in use %.1f MiB (%.1f before the controller), VmRSS %.1f MiB; %d errors logged %q",
		n, perRemote, syncTook.Round(time.Millisecond), float64(n*perRemote)/syncTook.Seconds(), mirrored,
		mb(after.heapInuse), mb(before.heapInuse), mb(after.rss), errs, sample)

	restartFleet(ctx, b, f, c, run, int32(perRemote))
	errs, sample = c.logs.errorSummary()
	b.ReportMetric(float64(errs), "errors")
	b.Logf("%d errors logged in all %q", errs, sample)
}

// idleWindow is how long reportIdleFleet watches the idle servers.
const idleWindow = 5 * time.Second

// reportIdleFleet reports the share of a core that A and the remotes use
// while nothing is asked of them, over idleWindow: on two cores, what an
// idle fleet of API servers takes is not there for the sync.
func reportIdleFleet(ctx context.Context, b *testing.B, a *benchserver.Server, remotes []*benchserver.Server) {
	first, err := sampleCost(ctx, a, remotes...)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(idleWindow)
	last, err := sampleCost(ctx, a, remotes...)
	if err != nil {
		b.Fatal(err)
	}
	d := last.since(first)
	pct := func(s float64) float64 { return 100 * s / idleWindow.Seconds() }
	b.ReportMetric(pct(d.bCPU), "idle-remotes-cpu-%")
	b.ReportMetric(pct(d.aCPU), "idle-a-cpu-%")
	b.Logf("idle for %s before the controller started: the %d remotes used %.0f%% of a core together, A %.1f%%, this process %.1f%% (reading their metrics)",
		idleWindow, len(remotes), pct(d.bCPU), pct(d.aCPU), pct(d.selfCPU))
}

// setupFleet starts n remotes, fills them, and starts a counting proxy in
// front of each.
func setupFleet(ctx context.Context, b *testing.B, n, perRemote int, prefix string) *fleetRun {
	start := time.Now()
	fleet, err := benchserver.StartFleet(ctx, "meshapi-"+prefix+"-", "remotesync-bench", n, *fleetParallelFlag, func(started int) {
		if started%10 == 0 || started == n {
			fmt.Fprintf(os.Stderr, "setup: %d of %d remotes started (%s)\n", started, n, time.Since(start).Round(time.Second))
		}
	})
	if err != nil {
		b.Fatalf("starting %d remotes: %v", n, err)
	}
	run := &fleetRun{fleet: fleet, names: map[string]bool{}}
	if err := createRemoteEndpoints(ctx, b, fleet.Servers, perRemote); err != nil {
		_ = fleet.Stop()
		b.Fatal(err)
	}
	for r, s := range fleet.Servers {
		p, err := newDialCounter(ctx, fmt.Sprintf("127.0.0.1:%d", s.Port()))
		if err != nil {
			run.stop(b)
			b.Fatal(err)
		}
		run.proxies = append(run.proxies, p)
		name := fmt.Sprintf("%s-%03d", prefix, r)
		run.rccs = append(run.rccs, name)
		run.names[name] = true
	}
	return run
}

// stop stops the proxies and the remotes.
func (run *fleetRun) stop(b *testing.B) {
	for _, p := range run.proxies {
		p.Close()
	}
	if err := run.fleet.Stop(); err != nil {
		b.Errorf("stopping the remotes: %v", err)
	}
}

// createRCCs creates every RCC of run at once, one goroutine each.
func createRCCs(ctx context.Context, b *testing.B, a versioned.Interface, run *fleetRun) {
	var wg sync.WaitGroup
	errs := make([]error, len(run.rccs))
	for r, name := range run.rccs {
		wg.Go(func() {
			_, errs[r] = a.ProjectcalicoV3().RemoteClusterConfigurations().Create(ctx, newProxiedRCC(name, run.fleet.Servers[r], run.proxies[r]), metav1.CreateOptions{})
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			b.Fatalf("creating RemoteClusterConfiguration %s: %v", run.rccs[r], err)
		}
	}
}

// restartFleet kills every remote at once, restarts them all at once,
// and measures the resync and the reconnects.
func restartFleet(ctx context.Context, b *testing.B, f *benchserver.Pair, c *controller, run *fleetRun, want int32) {
	reconnectsBefore := c.counter("remote_cluster_reconnects_total", nil)
	killed := time.Now()
	if err := run.fleet.Kill(); err != nil {
		b.Fatalf("killing the remotes: %v", err)
	}
	b.Logf("killed %d remotes in %s", len(run.rccs), time.Since(killed).Round(time.Millisecond))
	// The RCCs seen not InSync after the kill; the resync is counted
	// once every remote is ready again.
	left := map[string]bool{}
	var restarted time.Duration
	ready := make(chan struct{})
	restartErr := make(chan error, 1)
	go func() {
		err := run.fleet.Restart(ctx, len(run.rccs), nil)
		restarted = time.Since(killed)
		close(ready)
		restartErr <- err
	}()
	b.StartTimer()
	resync, err := waitFleetInSync(ctx, b, f.A.Client, run.names, want, ready, left, killed, 15*time.Minute)
	b.StopTimer()
	if rerr := <-restartErr; rerr != nil {
		b.Fatalf("restarting the remotes: %v", rerr)
	}
	if err != nil {
		b.Fatalf("waiting for the RCCs to be in sync again: %v", err)
	}
	b.ReportMetric(float64(len(left)), "rccs-left-insync")
	mirrored, err := countEndpoints(ctx, f.A.Client, v3.LabelCluster)
	if err != nil {
		b.Fatal(err)
	}
	if mirrored != len(run.rccs)*int(want) {
		b.Errorf("A holds %d mirrors after the restart, want %d", mirrored, len(run.rccs)*int(want))
	}
	reportReconnects(b, run.proxies, killed, resync)
	reportRemoteRequests(ctx, b, run.fleet)
	b.ReportMetric(resync.Seconds(), "resync-s")
	b.ReportMetric(restarted.Seconds(), "restart-s")
	b.ReportMetric((resync - restarted).Seconds(), "resync-ready-s")
	b.ReportMetric(c.counter("remote_cluster_reconnects_total", nil)-reconnectsBefore, "failures-seen")
	b.Logf("%d of %d RCCs were seen leaving InSync after the kill", len(left), len(run.rccs))
	b.Logf("all %d remotes ready again %s after the kill; all RCCs InSync with %d endpoints again %s after the kill (%s after the last remote was ready); A holds %d mirrors",
		len(run.rccs), restarted.Round(time.Millisecond), want, resync.Round(time.Millisecond), (resync - restarted).Round(time.Millisecond), mirrored)
}

// reportReconnects reports the connections the controller opened to the
// remotes from the kill until resync after it: in total, the most in one
// second, and the span from the first to the last, per proxy and in all.
func reportReconnects(b *testing.B, proxies []*dialCounter, since time.Time, window time.Duration) {
	var all []time.Duration
	var okAll int
	okPerSecond := map[int]int{}
	var firsts, lasts []time.Duration
	for _, p := range proxies {
		dials := p.dialsSince(since)
		var mine []time.Duration
		for _, d := range dials {
			if d.at > window {
				continue
			}
			mine = append(mine, d.at)
			if d.upstream {
				okAll++
				okPerSecond[int(d.at/time.Second)]++
			}
		}
		if len(mine) > 0 {
			firsts, lasts = append(firsts, mine[0]), append(lasts, mine[len(mine)-1])
		}
		all = append(all, mine...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		b.Logf("no connection reached the proxies after the kill")
		return
	}
	perSecond := map[int]int{}
	maxPerSecond, lastSecond := 0, 0
	for _, d := range all {
		s := int(d / time.Second)
		perSecond[s]++
		maxPerSecond = max(maxPerSecond, perSecond[s])
		lastSecond = s
	}
	var hist strings.Builder
	for s := 0; s <= lastSecond; s++ {
		fmt.Fprintf(&hist, " %d(%d)", perSecond[s], okPerSecond[s])
	}
	slices.Sort(firsts)
	slices.Sort(lasts)
	b.ReportMetric(float64(len(all)), "reconnect-attempts")
	b.ReportMetric(float64(okAll), "reconnects-upstream")
	b.ReportMetric(float64(maxPerSecond), "max-attempts/s")
	b.ReportMetric(all[0].Seconds(), "first-attempt-s")
	b.ReportMetric(all[len(all)-1].Seconds(), "last-attempt-s")
	b.Logf("reconnects: %d connections to %d proxies within %s of the kill (%d reached a live remote), first %s last %s after it, at most %d in one second; each proxy's first connection from %s to %s, its last from %s to %s; per second from the kill, all (reaching a live remote):%s",
		len(all), len(proxies), window.Round(time.Millisecond), okAll, all[0].Round(time.Millisecond), all[len(all)-1].Round(time.Millisecond), maxPerSecond,
		firsts[0].Round(time.Millisecond), firsts[len(firsts)-1].Round(time.Millisecond), lasts[0].Round(time.Millisecond), lasts[len(lasts)-1].Round(time.Millisecond), hist.String())
}

// fleetRSS sums the VmRSS of every remote.
func fleetRSS(fl *benchserver.Fleet) uint64 {
	var sum uint64
	for _, s := range fl.Servers {
		sum += s.RSS()
	}
	return sum
}

// removeFleetMirrors deletes the RCCs and, without waiting for the
// controller, every mirror in A.
func removeFleetMirrors(ctx context.Context, f *benchserver.Pair, rccs []string) error {
	for _, name := range rccs {
		if err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("deleting RemoteClusterConfiguration %s: %w", name, err)
		}
	}
	return deleteEndpoints(ctx, f.A.Client, v3.LabelCluster)
}

// waitFleetIdle waits until the controller's count of no-op reconciles
// over every RCC has not moved for a second, at most two minutes.
func waitFleetIdle(ctx context.Context, c *controller) error {
	last, since := -1.0, time.Now()
	return waitUntil(ctx, 2*time.Minute, func() (bool, error) {
		n := c.counter("remote_cluster_noop_reconciles_total", nil)
		if n != last {
			last, since = n, time.Now()
			return false, nil
		}
		return time.Since(since) >= time.Second, nil
	})
}

// reportRemoteRequests reports the resource requests (list, watch, get:
// the controller's; the benchmark sends none to a remote after its
// restart) each remote has served since its restart, from its
// apiserver_request_total: the TCP proxies see only new connections, and
// the controller's requests to a remote that is up share one HTTP/2
// connection.
func reportRemoteRequests(ctx context.Context, b *testing.B, fl *benchserver.Fleet) {
	var perRemote []float64
	byVerb := map[string]float64{}
	for _, s := range fl.Servers {
		body, err := s.Client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		if err != nil {
			b.Errorf("reading the metrics of %s: %v", s.Name, err)
			return
		}
		total := 0.0
		for verb, n := range resourceRequests(string(body)) {
			byVerb[verb] += n
			total += n
		}
		perRemote = append(perRemote, total)
	}
	slices.Sort(perRemote)
	sum := 0.0
	for _, n := range perRemote {
		sum += n
	}
	b.ReportMetric(sum/float64(len(perRemote)), "remote-requests-mean")
	b.ReportMetric(perRemote[len(perRemote)-1], "remote-requests-max")
	b.Logf("resource requests served by each remote since its restart: min %.0f, mean %.1f, max %.0f; by verb over all %v",
		perRemote[0], sum/float64(len(perRemote)), perRemote[len(perRemote)-1], byVerb)
}

// resourceRequests sums apiserver_request_total of a Prometheus text
// exposition by verb, over the series with a non-empty resource label.
func resourceRequests(exposition string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.SplitSeq(exposition, "\n") {
		rest, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok || labelValue(labels, "resource") == "" {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		out[labelValue(labels, "verb")] += n
	}
	return out
}

// labelValue returns the value of label name in a Prometheus label set
// `a="x",b="y"`, "" if it is absent.
func labelValue(labels, name string) string {
	_, after, ok := strings.Cut(","+labels, ","+name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, `"`)
	return v
}

func TestResourceRequests(t *testing.T) {
	exposition := `# HELP apiserver_request_total x
apiserver_request_total{code="200",component="apiserver",dry_run="",group="projectcalico.org",resource="workloadendpoints",scope="cluster",subresource="",verb="LIST",version="v3"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="projectcalico.org",resource="workloadendpoints",scope="cluster",subresource="",verb="WATCH",version="v3"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="projectcalico.org",resource="ippools",scope="cluster",subresource="",verb="LIST",version="v3"} 1
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/readyz",verb="GET",version=""} 40
apiserver_request_duration_seconds_count{resource="workloadendpoints",verb="LIST"} 9
`
	tests := []struct {
		name, in string
		want     map[string]float64
	}{
		{"resource requests by verb, non-resource requests left out", exposition, map[string]float64{"LIST": 4, "WATCH": 2}},
		{"nothing", "", map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resourceRequests(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
