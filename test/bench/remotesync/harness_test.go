package remotesync

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/controllermanager"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remotecluster"
	"github.com/meshapi/meshapi/test/bench/benchserver"
	"github.com/meshapi/meshapi/test/bench/parallel"
)

// Tunables, as test binary flags:
//
//	go test ... ./test/bench/remotesync/ -args -remotesync.workers=16
var (
	workersFlag = flag.Int("remotesync.workers", controllermanager.NewOptions().Workers,
		"mirroring workers per remote cluster (workersPerCluster; default: meshapi-controller's --workers default)")
	writesInFlightFlag = flag.Int("remotesync.writes-in-flight", controllermanager.NewOptions().MirrorWritesInFlight,
		"mirror writes of all remote clusters in flight at once (default: meshapi-controller's --mirror-writes-in-flight default)")
	localQPSFlag = flag.Float64("remotesync.local-qps", float64(controllermanager.NewOptions().KubeAPIQPS),
		"QPS of the controller's client of the local cluster A (default: meshapi-controller's --kube-api-qps default)")
	localBurstFlag = flag.Int("remotesync.local-burst", controllermanager.NewOptions().KubeAPIBurst,
		"burst of the controller's client of the local cluster A (default: meshapi-controller's --kube-api-burst default)")
	sizesFlag = flag.String("remotesync.sizes", "10000,50000",
		"comma-separated remote endpoint counts of BenchmarkInitialSync")
	latencyCountFlag = flag.Int("remotesync.latency-count", 1000,
		"endpoints BenchmarkPropagationLatency creates, one at a time")
	latencyIntervalFlag = flag.Duration("remotesync.latency-interval", 5*time.Millisecond,
		"pace of BenchmarkPropagationLatency's creates")
	latencyChurnRateFlag = flag.Float64("remotesync.latency-churn-rate", 1000,
		"updates per second of other endpoints of B in BenchmarkPropagationLatencyChurn")
	latencyChurnObjectsFlag = flag.Int("remotesync.latency-churn-objects", 1000,
		"endpoints of B BenchmarkPropagationLatencyChurn updates")
	latencyChurnWritersFlag = flag.Int("remotesync.latency-churn-writers", 16,
		"goroutines updating endpoints of B in BenchmarkPropagationLatencyChurn (each waits for its update's response: raise it when the rate achieved falls short of the rate asked)")
	churnObjectsFlag = flag.Int("remotesync.churn-objects", 1000,
		"endpoints BenchmarkChurn updates")
	churnDurationFlag = flag.Duration("remotesync.churn-duration", 10*time.Second,
		"how long BenchmarkChurn updates them")
	churnWritersFlag = flag.Int("remotesync.churn-writers", 8,
		"goroutines updating endpoints in BenchmarkChurn")
	syncProfileFlag = flag.String("remotesync.sync-cpuprofile", "",
		"write a CPU profile of this process (the controller and the benchmark's polling) from each RCC's creation until it is in sync in BenchmarkInitialSync to <file>.<size>")
	syncHeapProfileFlag = flag.String("remotesync.sync-heapprofile", "",
		"write a heap profile of this process once in sync, after a garbage collection, in BenchmarkInitialSync and BenchmarkManyRemotes to <file>.<endpoints>")
)

const (
	// namespaces is how many namespaces the endpoints spread over.
	namespaces = 50
	// creators is how many goroutines create endpoints in B.
	creators = 16
	// maxEndpoints is how many /32s 198.18.0.0/15 holds.
	maxEndpoints = 1 << (32 - 15)
	// pollInterval is how often an RCC's status or a mirror is polled.
	pollInterval = 100 * time.Millisecond
	// resyncPeriod is the controller's access re-read period
	// (meshapi-controller's --secret-resync-period default).
	resyncPeriod = 30 * time.Second
	// controllerWorkers is the controller's RCC workers
	// (meshapi-controller passes 2).
	controllerWorkers = 2
)

// endpointBase is the first address of the endpoints' range,
// 198.18.0.0/15 (RFC 2544, benchmarking).
var endpointBase = netip.MustParseAddr("198.18.0.0")

// namespace is the namespace of endpoint i.
func namespace(i int) string { return fmt.Sprintf("remotesync-%02d", i%namespaces) }

// endpointName names endpoint i of a set.
func endpointName(set string, i int) string { return fmt.Sprintf("%s-%06d", set, i) }

// newEndpoint returns endpoint i of a set: node host-<i%100>, the i-th /32
// of 198.18.0.0/15, label app=<i%10>.
func newEndpoint(set string, i int) *v3.WorkloadEndpoint {
	a := endpointBase.As4()
	off := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(i)
	ip := netip.AddrFrom4([4]byte{byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off)})
	name, ns := endpointName(set, i), namespace(i)
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": strconv.Itoa(i % 10)}},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator:  "k8s",
			Workload:      name,
			Pod:           name,
			Node:          fmt.Sprintf("host-%d", i%100),
			Endpoint:      "eth0",
			IPNetworks:    []string{netip.PrefixFrom(ip, 32).String()},
			InterfaceName: fmt.Sprintf("cali%011x", i),
			Profiles:      []string{"kns." + ns},
		},
	}
}

// createEndpoints creates endpoints 0..n-1 of a set in cs from creators
// goroutines, and returns how long that took.
func createEndpoints(ctx context.Context, cs versioned.Interface, set string, n int) (time.Duration, error) {
	if n > maxEndpoints {
		return 0, fmt.Errorf("%d endpoints: at most %d fit in 198.18.0.0/15", n, maxEndpoints)
	}
	start := time.Now()
	err := parallel.ForEach(ctx, creators, n, func(ctx context.Context, i int) error {
		ep := newEndpoint(set, i)
		if _, err := cs.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s/%s: %w", ep.Namespace, ep.Name, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// floorResult is what createFloor measured.
type floorResult struct {
	// create is how long the creates took, delete how long the
	// deletecollections until no object was left.
	create, delete time.Duration
	// createCost and deleteCost are what they cost.
	createCost, deleteCost costSample
}

// createFloor measures the floor of the mirroring: it creates in A, from
// creators goroutines with the controller's local client settings
// (-remotesync.local-qps and -remotesync.local-burst), the mirrors the
// controller writes for endpoints 0..n-1 of set in cluster (the objects of
// remotecluster.MirrorWorkloadEndpoint, with its field manager), one
// object per request; then it deletes them with one deletecollection per
// namespace, as the controller removes a mirror, and waits until none is
// left. Nothing else writes to A meanwhile: the controller is stopped.
func createFloor(ctx context.Context, f *benchserver.Pair, cluster, set string, n int) (floorResult, error) {
	cfg := rest.CopyConfig(f.A.Config)
	cfg.QPS, cfg.Burst = float32(*localQPSFlag), *localBurstFlag
	cfg.UserAgent = "meshapi-controller/remotesync-floor"
	a, err := versioned.NewForConfig(cfg)
	if err != nil {
		return floorResult{}, err
	}
	start, startCost, err := now(ctx, f)
	if err != nil {
		return floorResult{}, err
	}
	err = parallel.ForEach(ctx, creators, n, func(ctx context.Context, i int) error {
		m := remotecluster.MirrorWorkloadEndpoint(cluster, newEndpoint(set, i))
		if _, err := a.ProjectcalicoV3().WorkloadEndpoints(m.Namespace).Create(ctx, m, metav1.CreateOptions{FieldManager: remotecluster.FieldManager}); err != nil {
			return fmt.Errorf("creating %s/%s in A: %w", m.Namespace, m.Name, err)
		}
		return nil
	})
	if err != nil {
		return floorResult{}, err
	}
	created, createdCost, err := now(ctx, f)
	if err != nil {
		return floorResult{}, err
	}
	r := floorResult{create: created.Sub(start), createCost: createdCost.since(startCost)}
	if err := deleteEndpoints(ctx, a, v3.LabelCluster+"="+cluster); err != nil {
		return r, err
	}
	deleted, deletedCost, err := now(ctx, f)
	if err != nil {
		return floorResult{}, err
	}
	r.delete, r.deleteCost = deleted.Sub(created), deletedCost.since(createdCost)
	return r, nil
}

// now returns the time and the cost spent so far by f's servers and this
// process.
func now(ctx context.Context, f *benchserver.Pair) (time.Time, costSample, error) {
	c, err := sampleCost(ctx, f.A, f.B)
	return time.Now(), c, err
}

// countEndpoints counts the endpoints of cs matching selector, in every
// namespace, paging through them.
func countEndpoints(ctx context.Context, cs versioned.Interface, selector string) (int, error) {
	n := 0
	opts := metav1.ListOptions{LabelSelector: selector, Limit: 5000}
	for {
		l, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, opts)
		if err != nil {
			return 0, err
		}
		n += len(l.Items)
		if l.Continue == "" {
			return n, nil
		}
		opts.Continue = l.Continue
	}
}

// anyEndpoint reports whether cs has an endpoint matching selector.
func anyEndpoint(ctx context.Context, cs versioned.Interface, selector string) (bool, error) {
	l, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
	if err != nil {
		return false, err
	}
	return len(l.Items) > 0, nil
}

// deleteEndpoints deletes the endpoints of cs matching selector in the
// benchmark's namespaces, remotecluster.DeleteCollectionsInFlight namespaces
// at once as the controller's teardown does, and waits until none is left.
func deleteEndpoints(ctx context.Context, cs versioned.Interface, selector string) error {
	err := parallel.ForEach(ctx, remotecluster.DeleteCollectionsInFlight, namespaces, func(ctx context.Context, i int) error {
		err := cs.ProjectcalicoV3().WorkloadEndpoints(namespace(i)).DeleteCollection(ctx, metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("deleting the endpoints of %s: %w", namespace(i), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return waitUntil(ctx, 5*time.Minute, func() (bool, error) {
		left, err := anyEndpoint(ctx, cs, selector)
		return !left, err
	})
}

// waitUntil polls cond every pollInterval until it is true, fails, or
// timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met within %s: %w", timeout, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// controller is a remote cluster controller running in this process.
type controller struct {
	cancel context.CancelFunc
	done   chan error
	logs   *logCapture
	reg    *prometheus.Registry
}

// startController runs a new remote cluster controller against A, with a
// local client of -remotesync.local-qps and -remotesync.local-burst and
// -remotesync.workers workers per remote cluster, and waits until its
// local caches have synced.
func startController(ctx context.Context, f *benchserver.Pair) (*controller, error) {
	cfg := rest.CopyConfig(f.A.Config)
	cfg.QPS, cfg.Burst = float32(*localQPSFlag), *localBurstFlag
	cfg.UserAgent = "meshapi-controller/remotesync-bench"
	local, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &controller{done: make(chan error, 1), logs: newLogCapture(), reg: prometheus.NewRegistry()}
	rc := remotecluster.NewController(local, nil, remotecluster.NewMetrics(c.reg),
		remotecluster.Concurrency{WorkersPerCluster: *workersFlag, WritesInFlight: *writesInFlightFlag}, resyncPeriod)
	cctx, cancel := context.WithCancel(klog.NewContext(ctx, logr.New(captureSink{c.logs})))
	c.cancel = cancel
	go func() { c.done <- rc.Run(cctx, controllerWorkers) }()
	select {
	case <-c.logs.wait("Remote cluster controller started"):
		return c, nil
	case err := <-c.done:
		cancel()
		return nil, fmt.Errorf("the controller stopped while starting: %v", err)
	case <-time.After(time.Minute):
		c.stop()
		return nil, errors.New("the controller's local caches did not sync within a minute")
	}
}

// stop stops the controller and waits for it.
func (c *controller) stop() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
	c.done <- nil // for a second stop
}

// counter returns the sum of the controller's counter metric name over
// the series whose labels include want.
func (c *controller) counter(name string, want map[string]string) float64 {
	families, err := c.reg.Gather()
	if err != nil {
		return math.NaN()
	}
	sum := 0.0
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	series:
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// waitIdle waits until the controller's count of no-op reconciles of the
// RCC rccName (reconciles that found the mirror already right: a remote
// event with nothing to change, or a mirror event that was not the echo of
// the Syncer's own write) has not moved for a second, at most two minutes.
func (c *controller) waitIdle(ctx context.Context, rccName string) error {
	last, since := math.NaN(), time.Now()
	return waitUntil(ctx, 2*time.Minute, func() (bool, error) {
		n := c.counter("remote_cluster_noop_reconciles_total", map[string]string{"remote_cluster_name": rccName})
		if n != last {
			last, since = n, time.Now()
			return false, nil
		}
		return time.Since(since) >= time.Second, nil
	})
}

// newRCC returns a RemoteClusterConfiguration that reaches B inline and
// mirrors its endpoints only.
func newRCC(name string, b *benchserver.Server) *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.RemoteClusterConfigurationSpec{
			DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig:    v3.KubeConfig{K8sAPIEndpoint: b.URL, K8sAPIToken: b.Token, K8sCAFile: b.CAFile},
			SyncOptions:   v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeDisabled},
		},
	}
}

// syncTimes is when an RCC's status first showed each stage, from the
// moment it was created.
type syncTimes struct {
	// resync is when status.syncState first read ResyncInProgress: the
	// remote cluster was listed.
	resync time.Duration
	// inSync is when it read InSync with every endpoint counted.
	inSync time.Duration
}

// waitInSync polls the RCC name in A every pollInterval until its status
// is InSync and counts want WorkloadEndpoints, or timeout passes.
func waitInSync(ctx context.Context, a versioned.Interface, name string, want int32, start time.Time, timeout time.Duration) (syncTimes, error) {
	var t syncTimes
	var last *v3.RemoteClusterConfiguration
	err := waitUntil(ctx, timeout, func() (bool, error) {
		rcc, err := a.ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		now := time.Since(start)
		last = rcc
		st := rcc.Status
		if t.resync == 0 && (st.SyncState == v3.SyncStateResyncInProgress || st.SyncState == v3.SyncStateInSync) {
			t.resync = now
		}
		if st.SyncState == v3.SyncStateInSync && st.MirroredObjects != nil && st.MirroredObjects.WorkloadEndpoints == want {
			t.inSync = now
			return true, nil
		}
		return false, nil
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w; last status: state %q, mirrored %+v, lastError %q", err, last.Status.SyncState, last.Status.MirroredObjects, last.Status.LastError)
	}
	return t, err
}

// teardown deletes the RCC name from A and waits until the controller has
// removed its mirror, returning how long that took. If that does not
// happen within timeout, the mirror is deleted directly.
func teardown(ctx context.Context, f *benchserver.Pair, name string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return 0, fmt.Errorf("deleting RemoteClusterConfiguration %s: %w", name, err)
	}
	selector := v3.LabelCluster + "=" + name
	err := waitUntil(ctx, timeout, func() (bool, error) {
		left, err := anyEndpoint(ctx, f.A.Client, selector)
		return !left, err
	})
	if err != nil {
		if derr := deleteEndpoints(ctx, f.A.Client, selector); derr != nil {
			return 0, errors.Join(err, derr)
		}
		return 0, fmt.Errorf("the controller did not remove the mirror of %s (deleted it directly): %w", name, err)
	}
	return time.Since(start), nil
}

// ensureClean deletes whatever a failed earlier run left behind: RCCs in
// A, mirrors in A, endpoints in B.
func ensureClean(ctx context.Context, f *benchserver.Pair) error {
	rccs, err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, r := range rccs.Items {
		if err := f.A.Client.ProjectcalicoV3().RemoteClusterConfigurations().Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil {
			return err
		}
	}
	if left, err := anyEndpoint(ctx, f.A.Client, ""); err != nil || left {
		if err := deleteEndpoints(ctx, f.A.Client, ""); err != nil {
			return err
		}
	}
	if left, err := anyEndpoint(ctx, f.B.Client, ""); err != nil || left {
		if err := deleteEndpoints(ctx, f.B.Client, ""); err != nil {
			return err
		}
	}
	return nil
}

// memory is the process's memory after a garbage collection.
type memory struct {
	heapInuse uint64 // bytes in spans holding at least one object
	heapAlloc uint64 // bytes of live objects: heapInuse less the free slots of those spans
	rss       uint64
}

// readMemory collects garbage and reads the heap in use, the live heap and
// the resident set size (VmRSS) of this process.
func readMemory() memory {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, rss: vmRSS()}
}

// vmRSS returns VmRSS of /proc/self/status in bytes, 0 if unknown.
func vmRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// mb converts bytes to MiB.
func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// percentile returns the q-quantile (0..1) of sorted by the nearest-rank
// method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// logCapture records when the controller first logged each message, and
// its errors; the controller's logs go nowhere else.
type logCapture struct {
	mu      sync.Mutex
	first   map[string]time.Time
	waiters map[string][]chan struct{}
	errors  int
	// sample holds the first few errors, for the benchmark log.
	sample []string
}

func newLogCapture() *logCapture {
	return &logCapture{first: map[string]time.Time{}, waiters: map[string][]chan struct{}{}}
}

// seen returns when msg was first logged.
func (c *logCapture) seen(msg string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.first[msg]
	return t, ok
}

// wait returns a channel closed once msg has been logged.
func (c *logCapture) wait(msg string) <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.first[msg]; ok {
		close(ch)
		return ch
	}
	c.waiters[msg] = append(c.waiters[msg], ch)
	return ch
}

func (c *logCapture) info(msg string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.first[msg]; ok {
		return
	}
	c.first[msg] = now
	for _, ch := range c.waiters[msg] {
		close(ch)
	}
	delete(c.waiters, msg)
}

func (c *logCapture) error(err error, msg string, kv []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors++
	if len(c.sample) < 5 {
		c.sample = append(c.sample, fmt.Sprintf("%s %v: %v", msg, kv, err))
	}
}

// errorSummary returns the number of errors logged and a few of them.
func (c *logCapture) errorSummary() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errors, slices.Clone(c.sample)
}

// captureSink is a logr.LogSink feeding a logCapture; verbose messages
// are dropped.
type captureSink struct{ c *logCapture }

func (s captureSink) Init(logr.RuntimeInfo)                  {}
func (s captureSink) Enabled(level int) bool                 { return level == 0 }
func (s captureSink) Info(_ int, msg string, _ ...any)       { s.c.info(msg) }
func (s captureSink) Error(err error, msg string, kv ...any) { s.c.error(err, msg, kv) }
func (s captureSink) WithValues(...any) logr.LogSink         { return s }
func (s captureSink) WithName(string) logr.LogSink           { return s }
