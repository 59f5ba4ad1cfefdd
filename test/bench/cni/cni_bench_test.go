//go:build linux

// Package cni benchmarks meshapi-cni as a container runtime drives it
// (libcni, one process per invocation, full ADD with the veth) against
// the reference plugins of containernetworking/plugins (ptp with
// host-local IPAM) on the same machine, in one run:
//
//	go test ./test/bench/cni/ -run '^$' -bench . -benchtime 100x -count 1
//
// meshapi's plugin asks the node's IPAM service (pkg/ipamd, the code
// meshapi-agent runs, here in the benchmark's process) over its Unix
// socket; the service talks to a real standalone meshapi-apiserver. It
// reports ADD and DEL latency (p50, p99, in ms) and ADDs per second at 1
// and 8 concurrent invocations, and (BenchmarkPluginExec) the time from
// exec to exit of each plugin binary answering VERSION. Needs root
// (network namespaces).
package cni

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/cni/cnitest"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/bench/cputime"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// comparePlugin, when set, is another build of meshapi-cni (an earlier
// commit's, say) that BenchmarkPluginExec execs beside the current one.
var comparePlugin = flag.String("cni.compare-plugin", "", "path of another meshapi-cni build for BenchmarkPluginExec to exec beside the current one")

// pluginsVersion is the containernetworking/plugins release compared.
const pluginsVersion = "v1.10.0"

// Address ranges: meshapi's pool and host-local's range, both in
// 198.18.0.0/15, apart from cnitest.NodeAddr.
const (
	meshPool  = "198.18.0.0/16"
	localPool = "198.19.0.0/17"
)

func BenchmarkCNIAdd(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	ctx := b.Context()
	srv, err := framework.StartStandalone(ctx, b.TempDir())
	if err != nil {
		b.Fatalf("starting the API server: %v", err)
	}
	b.Cleanup(func() { _ = srv.Stop() })
	cs, err := versioned.NewForConfig(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	pool := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: v3.IPPoolSpec{CIDR: meshPool, BlockSize: 26}}
	if _, err := cs.ProjectcalicoV3().IPPools().Create(ctx, pool, metav1.CreateOptions{}); err != nil {
		b.Fatalf("creating IPPool %s: %v", meshPool, err)
	}
	pfx := fmt.Sprintf("mcb%d", os.Getpid())
	mesh := cnitest.NewNode(b, cnitest.BuildPlugin(b, b.TempDir()), "bench-node", pfx+"-node", srv.Kubeconfig)
	ref := referenceNode(b, mesh)

	for _, c := range []int{1, 8} {
		for _, p := range []struct {
			name string
			node *cnitest.Node
		}{{"meshapi", mesh}, {"ptp+host-local", ref}} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", p.name, c), func(b *testing.B) {
				runBench(b, p.node, fmt.Sprintf("%s-%d-%d", pfx, c, len(p.name)), c)
			})
		}
	}
}

// BenchmarkPluginExec execs each plugin binary with CNI_COMMAND=VERSION
// and waits for its exit: the process start every invocation pays (for
// meshapi-cni, the Go runtime and package initialisation of what it
// links).
func BenchmarkPluginExec(b *testing.B) {
	dir := b.TempDir()
	bins := map[string]string{"meshapi-cni": cnitest.BuildPlugin(b, dir)}
	for _, p := range []string{"ptp", "host-local"} {
		bins[p] = filepath.Join(installReference(b, dir), p)
	}
	names := []string{"meshapi-cni", "ptp", "host-local"}
	if *comparePlugin != "" {
		bins["compared-meshapi-cni"] = *comparePlugin
		names = append(names, "compared-meshapi-cni")
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(bins[name])
				cmd.Env = []string{"CNI_COMMAND=VERSION"}
				cmd.Stdin = strings.NewReader(`{"cniVersion":"1.0.0"}`)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s VERSION: %v\n%s", name, err, out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/exec")
		})
	}
}

// installReference installs ptp and host-local (go install) into
// dir/bin and returns that directory.
func installReference(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "bin")
	for _, p := range []string{"plugins/main/ptp", "plugins/ipam/host-local"} {
		cmd := exec.Command("go", "install", "github.com/containernetworking/plugins/"+p+"@"+pluginsVersion)
		// Static, as containernetworking/plugins releases them
		// (.github/workflows/release.yaml: CGO_ENABLED=0).
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go install %s@%s: %v\n%s", p, pluginsVersion, err, out)
		}
	}
	return bin
}

// referenceNode is mesh's node namespace with ptp and host-local
// installed (go install) beside meshapi, and their conflist.
func referenceNode(b *testing.B, mesh *cnitest.Node) *cnitest.Node {
	b.Helper()
	dir := b.TempDir()
	bin := installReference(b, dir)
	conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "reference", "plugins": [{"type": "ptp", "mtu": 1450,
		"ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}}]}`, localPool, filepath.Join(dir, "ipam"))
	list, err := libcni.ConfListFromBytes([]byte(conf))
	if err != nil {
		b.Fatal(err)
	}
	return &cnitest.Node{Name: mesh.Name, Netns: mesh.Netns, BinDir: bin, Conflist: list,
		CNI: libcni.NewCNIConfigWithCacheDir([]string{bin}, filepath.Join(dir, "cache"), nil)}
}

// runBench does b.N ADDs, then b.N DELs, with c at a time, each pod in a
// namespace of its own created beforehand.
func runBench(b *testing.B, node *cnitest.Node, pfx string, c int) {
	ctx := b.Context()
	pods := make([]*libcni.RuntimeConf, b.N)
	for i := range pods {
		name := fmt.Sprintf("p%d", i)
		pods[i] = cnitest.Runtime(fmt.Sprintf("%s-%d", pfx, i), cnitest.Netns(b, pfx+"-"+name), "bench", pfx+"-"+name)
	}
	background := backgroundCPU(b)
	b.ResetTimer()
	start := time.Now()
	self0, children0 := cputime.MustSelf(b), cputime.MustChildren(b)
	adds := fanOut(b, pods, c, func(rt *libcni.RuntimeConf) error { _, err := node.Add(ctx, rt); return err })
	addWall := time.Since(start)
	self, children := cputime.MustSelf(b)-self0, cputime.MustChildren(b)-children0
	self -= time.Duration(background * float64(addWall))
	dels := fanOut(b, pods, c, func(rt *libcni.RuntimeConf) error { return node.Del(ctx, rt) })
	b.StopTimer()
	b.ReportMetric(ms(pct(adds, 50)), "add-p50-ms")
	b.ReportMetric(ms(pct(adds, 99)), "add-p99-ms")
	b.ReportMetric(ms(pct(dels, 50)), "del-p50-ms")
	b.ReportMetric(ms(pct(dels, 99)), "del-p99-ms")
	b.ReportMetric(float64(b.N)/addWall.Seconds(), "allocs/s")
	// CPU per ADD, which the machine's load changes far less than the
	// latencies: in the plugin processes (and whatever they exec), and in
	// the benchmark's own process (libcni; for meshapi also the IPAM
	// service and the API server with its etcd), less what that process
	// burns when idle (the API server's and etcd's own loops).
	b.ReportMetric(ms(children)/float64(b.N), "plugin-cpu-ms/add")
	b.ReportMetric(ms(self)/float64(b.N), "node-cpu-ms/add")
	b.ReportMetric(background*100, "idle-node-cpu-%")
}

// backgroundCPU is the benchmark process's CPU use while it does nothing
// but serve (the API server's and etcd's loops, the garbage collector),
// in CPU seconds per second, over two seconds.
func backgroundCPU(b *testing.B) float64 {
	const window = 2 * time.Second
	c0, t0 := cputime.MustSelf(b), time.Now()
	time.Sleep(window)
	return float64(cputime.MustSelf(b)-c0) / float64(time.Since(t0))
}

// fanOut runs call on every pod, c at a time, and returns the latencies.
func fanOut(b *testing.B, pods []*libcni.RuntimeConf, c int, call func(*libcni.RuntimeConf) error) []time.Duration {
	lat := make([]time.Duration, len(pods))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	for range c {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(pods); i = int(next.Add(1) - 1) {
				t0 := time.Now()
				if err := call(pods[i]); err != nil {
					errs <- fmt.Errorf("%s: %w", pods[i].ContainerID, err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return lat
}

// pct is the p-th percentile of d (nearest rank).
func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
