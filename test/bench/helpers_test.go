package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/bench/parallel"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// Tunables, as test binary flags: go test ... ./test/bench/ -args -meshapi.objects=1000
var (
	objectsFlag = flag.Int("meshapi.objects", 10000,
		"IPPools and WorkloadEndpoints each benchmark loads (at most 16384: pools are /29s of 198.18.0.0/15)")
	concurrencyFlag = flag.Int("meshapi.concurrency", 8,
		"client goroutines issuing creates, updates and deletes (they share one clientset)")
	serverFlagsFlag = flag.String("meshapi.server-flags", "",
		"extra meshapi-apiserver flags, space separated, e.g. --watch-cache=false")
)

const (
	// clientQPS and clientBurst lift client-go's rate limiter (default 5
	// QPS, burst 10) out of the way of the figures.
	clientQPS   = 5000
	clientBurst = 5000
	// benchLabel marks every object the benchmarks create; its value names
	// the benchmark's set.
	benchLabel = "bench.meshapi.io/set"
	// genLabel is the label the watch benchmark rewrites.
	genLabel = "bench.meshapi.io/gen"
	// wepNamespaces is how many namespaces the WorkloadEndpoints spread over.
	wepNamespaces = 20
	// wepNodes is how many nodes the WorkloadEndpoints spread over.
	wepNodes = 100
	// maxPools is how many /29 pools 198.18.0.0/15 holds.
	maxPools = 1 << (29 - 15)
)

// poolBase is the first address of the pools' range, 198.18.0.0/15 (RFC
// 2544, benchmarking).
var poolBase = netip.MustParseAddr("198.18.0.0")

// fixture is the one API server of this test binary, started on first use:
// the generic API server's feature gates are process-wide, so benchmarks
// share one server and keep apart by names and by cleaning up.
type fixture struct {
	once   sync.Once
	err    error
	dir    string
	server *framework.Server
	client *versioned.Clientset
}

// shared is the test binary's fixture; benchmarks reach it through
// startServer.
var shared fixture

func TestMain(m *testing.M) {
	quietKlog()
	code := m.Run()
	if shared.server != nil {
		if err := shared.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping meshapi-apiserver:", err)
			code = 1
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// quietKlog keeps the server's info logs off stderr; warnings and errors
// still show.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for name, value := range map[string]string{
		"legacy_stderr_threshold_behavior": "false",
		"stderrthreshold":                  "WARNING",
	} {
		if err := fs.Set(name, value); err != nil {
			fmt.Fprintf(os.Stderr, "klog -%s=%s: %v\n", name, value, err)
		}
	}
}

// startServer returns the fixture, starting the server the first time.
func startServer(b *testing.B) *fixture {
	b.Helper()
	shared.once.Do(func() {
		if n := *objectsFlag; n < wepNamespaces || n > maxPools {
			shared.err = fmt.Errorf("-meshapi.objects=%d: want %d to %d", n, wepNamespaces, maxPools)
			return
		}
		if *concurrencyFlag < 1 {
			shared.err = fmt.Errorf("-meshapi.concurrency=%d: want at least 1", *concurrencyFlag)
			return
		}
		shared.dir, shared.err = os.MkdirTemp("", "meshapi-bench-")
		if shared.err != nil {
			return
		}
		shared.server, shared.err = framework.StartStandalone(context.Background(), shared.dir, strings.Fields(*serverFlagsFlag)...)
		if shared.err != nil {
			return
		}
		cfg := rest.CopyConfig(shared.server.Config)
		cfg.QPS, cfg.Burst = clientQPS, clientBurst
		shared.client, shared.err = versioned.NewForConfig(cfg)
	})
	if shared.err != nil {
		b.Fatalf("starting meshapi-apiserver: %v", shared.err)
	}
	return &shared
}

// progress is when a parallel run finished each tenth of its work, measured
// from its start.
type progress [10]time.Duration

// rate returns the operations per second of the tenth k (0-9) of n.
func (p progress) rate(k, n int) float64 {
	d := p[k]
	if k > 0 {
		d -= p[k-1]
	}
	lo, hi := k*n/10, (k+1)*n/10
	return float64(hi-lo) / d.Seconds()
}

// String renders the per-tenth rates, for the benchmark log.
func (p progress) String(n int) string {
	parts := make([]string, len(p))
	for k := range p {
		parts[k] = strconv.FormatFloat(p.rate(k, n), 'f', 0, 64)
	}
	return strings.Join(parts, " ")
}

// forEachTimed calls fn for 0..n-1 from conc goroutines
// (parallel.ForEach), and returns when each tenth of the calls had
// finished; it stops at the first error.
func forEachTimed(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) (progress, error) {
	var p progress
	var done atomic.Int64
	var mu sync.Mutex
	start := time.Now()
	err := parallel.ForEach(ctx, conc, n, func(ctx context.Context, i int) error {
		if err := fn(ctx, i); err != nil {
			return err
		}
		// Each count is seen by exactly one goroutine.
		d := int(done.Add(1))
		for k := range p {
			if d == (k+1)*n/10 {
				mu.Lock()
				p[k] = time.Since(start)
				mu.Unlock()
			}
		}
		return nil
	})
	return p, err
}

// poolName names IPPool i of a set.
func poolName(set string, i int) string { return fmt.Sprintf("bench-%s-%05d", set, i) }

// wepNamespace is the namespace of WorkloadEndpoint i.
func wepNamespace(i int) string { return fmt.Sprintf("bench-ns-%02d", i%wepNamespaces) }

// wepNode is the node of WorkloadEndpoint i.
func wepNode(i int) string { return fmt.Sprintf("node-%03d", i%wepNodes) }

// wepPod is the pod of WorkloadEndpoint i of a set.
func wepPod(set string, i int) string { return fmt.Sprintf("%s-%05d", set, i) }

// wepName names WorkloadEndpoint i of a set the way Calico names them,
// <node>-k8s-<pod>-<interface> with the dashes of the parts doubled.
func wepName(set string, i int) string {
	esc := func(s string) string { return strings.ReplaceAll(s, "-", "--") }
	return esc(wepNode(i)) + "-k8s-" + esc(wepPod(set, i)) + "-eth0"
}

// newPool returns IPPool i of a set: the i-th /29 of 198.18.0.0/15, one
// block per pool.
func newPool(set string, i int) *v3.IPPool {
	a := poolBase.As4()
	off := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	off += uint32(i) * 8
	addr := netip.AddrFrom4([4]byte{byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off)})
	return &v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: poolName(set, i), Labels: map[string]string{benchLabel: set}},
		Spec: v3.IPPoolSpec{
			CIDR:         netip.PrefixFrom(addr, 29).String(),
			BlockSize:    29,
			VXLANMode:    v3.EncapModeCrossSubnet,
			IPIPMode:     v3.EncapModeNever,
			NATOutgoing:  true,
			NodeSelector: "all()",
		},
	}
}

// newWEP returns WorkloadEndpoint i of a set, shaped like the ones Calico's
// CNI plugin writes for a pod.
func newWEP(set string, i int) *v3.WorkloadEndpoint {
	ns := wepNamespace(i)
	pod := wepPod(set, i)
	ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{
			Name:      wepName(set, i),
			Namespace: ns,
			Labels: map[string]string{
				benchLabel:                         set,
				"app":                              fmt.Sprintf("app-%02d", i%50),
				"projectcalico.org/namespace":      ns,
				"projectcalico.org/orchestrator":   "k8s",
				"projectcalico.org/serviceaccount": "default",
			},
		},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator:       "k8s",
			Workload:           pod,
			Node:               wepNode(i),
			ContainerID:        fmt.Sprintf("%064x", i),
			Pod:                pod,
			Endpoint:           "eth0",
			ServiceAccountName: "default",
			IPNetworks:         []string{netip.PrefixFrom(ip, 32).String()},
			Profiles:           []string{"kns." + ns, "ksa." + ns + ".default"},
			InterfaceName:      fmt.Sprintf("cali%011x", i),
			MAC:                "ee:ee:ee:ee:ee:ee",
		},
	}
}

// objectKind creates and deletes the numbered objects of one kind that the
// benchmarks use.
type objectKind struct {
	// name is the kind's plural, for messages.
	name string
	// create creates objects 0..n-1 of a set from conc goroutines.
	create func(ctx context.Context, cs versioned.Interface, set string, n, conc int) (progress, error)
	// delete deletes objects 0..n-1 of a set; missing ones are fine.
	delete func(ctx context.Context, cs versioned.Interface, set string, n, conc int) error
}

// ipPools and workloadEndpoints are the benchmarks' two kinds.
var (
	ipPools           = objectKind{name: "IPPools", create: createPools, delete: deletePools}
	workloadEndpoints = objectKind{name: "WorkloadEndpoints", delete: deleteWEPs,
		create: func(ctx context.Context, cs versioned.Interface, set string, n, conc int) (progress, error) {
			return createWEPs(ctx, cs, set, n, conc, nil)
		}}
)

// createPools creates pools 0..n-1 of a set.
func createPools(ctx context.Context, cs versioned.Interface, set string, n, conc int) (progress, error) {
	pools := cs.ProjectcalicoV3().IPPools()
	return forEachTimed(ctx, n, conc, func(ctx context.Context, i int) error {
		if _, err := pools.Create(ctx, newPool(set, i), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating IPPool %s: %w", poolName(set, i), err)
		}
		return nil
	})
}

// deletePools deletes pools 0..n-1 of a set; missing ones are fine.
func deletePools(ctx context.Context, cs versioned.Interface, set string, n, conc int) error {
	pools := cs.ProjectcalicoV3().IPPools()
	_, err := forEachTimed(ctx, n, conc, func(ctx context.Context, i int) error {
		if err := pools.Delete(ctx, poolName(set, i), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting IPPool %s: %w", poolName(set, i), err)
		}
		return nil
	})
	return err
}

// createWEPs creates WorkloadEndpoints 0..n-1 of a set; keep, if not nil,
// receives each stored object at its index.
func createWEPs(ctx context.Context, cs versioned.Interface, set string, n, conc int, keep []*v3.WorkloadEndpoint) (progress, error) {
	return forEachTimed(ctx, n, conc, func(ctx context.Context, i int) error {
		w := newWEP(set, i)
		got, err := cs.ProjectcalicoV3().WorkloadEndpoints(w.Namespace).Create(ctx, w, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating WorkloadEndpoint %s/%s: %w", w.Namespace, w.Name, err)
		}
		if keep != nil {
			keep[i] = got
		}
		return nil
	})
}

// deleteWEPs deletes WorkloadEndpoints 0..n-1 of a set; missing ones are
// fine.
func deleteWEPs(ctx context.Context, cs versioned.Interface, set string, n, conc int) error {
	_, err := forEachTimed(ctx, n, conc, func(ctx context.Context, i int) error {
		ns, name := wepNamespace(i), wepName(set, i)
		if err := cs.ProjectcalicoV3().WorkloadEndpoints(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting WorkloadEndpoint %s/%s: %w", ns, name, err)
		}
		return nil
	})
	return err
}

// memStats is the process's memory at one moment, after a full GC.
type memStats struct {
	heapInuse, heapAlloc, sys, rss uint64
}

// readMem collects garbage and reads the Go heap and the resident set.
func readMem() (memStats, error) {
	// Twice: objects with finalizers are freed by the second cycle.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := vmRSS()
	return memStats{heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, sys: ms.Sys, rss: rss}, err
}

// vmRSS returns VmRSS of /proc/self/status, in bytes.
func vmRSS() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		return kb * 1024, err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

// logLoad logs the machine's load averages, a hint of how much other work
// shared the CPUs with the benchmark.
func logLoad(b *testing.B) {
	b.Helper()
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average (1, 5, 15 min) at the end: %s", strings.Join(strings.Fields(string(l))[:3], " "))
	}
}

// mb converts bytes to MiB.
func mb(n uint64) float64 { return float64(n) / (1 << 20) }
