package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamgc"
	"github.com/meshapi/meshapi/pkg/meshctl"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// Names of TestIPAMGarbageCollection's objects.
const (
	gcPool      = "ipamgc-pool"
	gcPoolCIDR  = "198.18.150.0/24"
	gcNamespace = "ipamgc"
	gcLiveNode  = "ipamgc-n1"
	gcGoneNode  = "ipamgc-n2"
	gcLive      = "k8s-pod-network.ipamgc-live"
	gcGone      = "k8s-pod-network.ipamgc-gone"
	gcDoomed    = "k8s-pod-network.ipamgc-doomed"
	// gcStale is the handle of an earlier sandbox of the pod "reborn",
	// whose DEL never came; gcReborn the handle of its current one.
	gcStale  = "k8s-pod-network.ipamgc-reborn-old"
	gcReborn = "k8s-pod-network.ipamgc-reborn"
)

// The IPAM garbage collector on a real cluster, as meshapi-controller's
// service account: the address of a pod that exists stays; the address of
// a pod that does not, the address an earlier pod of a name held while
// the pod of that name now reports another (its status.podIPs, written
// here as the kubelet would), and the VXLAN tunnel address of a deleted
// node, are released after the grace period, each logged; the deleted node's block,
// empty then, is deleted. With a ten-minute interval, the address of a pod
// deleted later is released by the pass the deletion starts. meshctl ipam
// show and check see the same state before and after.
func TestIPAMGarbageCollection(t *testing.T) {
	ctx := ctxT(t)
	c := clusters[2]
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cs := clientFor(t, c)
	client := ipam.NewClient(cs)
	setUpIPAMGC(t, c, kube, cs, client)

	assign := func(handle, node string, attrs map[string]string) netip.Addr {
		t.Helper()
		addrs, err := client.Assign(ctx, ipam.AssignArgs{Handle: handle, Node: node, Attrs: attrs, Pools: []string{gcPool}})
		if err != nil || len(addrs) != 1 {
			t.Fatalf("assigning %s on %s: %v %v", handle, node, addrs, err)
		}
		return addrs[0]
	}
	live := assign(gcLive, gcLiveNode, map[string]string{ipam.AttrNamespace: gcNamespace, ipam.AttrPod: "live"})
	gone := assign(gcGone, gcLiveNode, map[string]string{ipam.AttrNamespace: gcNamespace, ipam.AttrPod: "gone"})
	doomed := assign(gcDoomed, gcLiveNode, map[string]string{ipam.AttrNamespace: gcNamespace, ipam.AttrPod: "doomed"})
	stale := assign(gcStale, gcLiveNode, map[string]string{ipam.AttrNamespace: gcNamespace, ipam.AttrPod: "reborn"})
	reborn := assign(gcReborn, gcLiveNode, map[string]string{ipam.AttrNamespace: gcNamespace, ipam.AttrPod: "reborn"})
	vtep := assign(ipam.VXLANTunnelHandle(gcGoneNode), gcGoneNode, nil)
	t.Logf("allocated live %s, gone %s, doomed %s, reborn %s (stale %s), VTEP of %s %s", live, gone, doomed, reborn, stale, gcGoneNode, vtep)
	setPodIPs(t, kube, "live", live)
	setPodIPs(t, kube, "reborn", reborn)

	env := newMeshctlEnv(t)
	checkShowBeforeGC(t, env, c)
	if got, want := ipamCheck(t, env, c, true), []string{"leaked " + gcGone + " " + gone.String(), "leaked " + gcStale + " " + stale.String()}; !slices.Equal(got, want) {
		t.Errorf("ipam check before the node's deletion: %q, want %q", got, want)
	}

	if err := kube.CoreV1().Nodes().Delete(ctx, gcGoneNode, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"leaked " + gcGone + " " + gone.String(), "leaked " + gcStale + " " + stale.String(), "leaked " + ipam.VXLANTunnelHandle(gcGoneNode) + " " + vtep.String()}
	if got := ipamCheck(t, env, c, true); !slices.Equal(got, want) {
		t.Errorf("ipam check after the node's deletion: %q, want %q", got, want)
	}

	waitControllerGC(t, c)
	logs, reg := runIPAMGC(t, c)
	waitFor(t, c, 2*time.Minute, "leaked addresses released and the gone node's block deleted", func() (bool, string) {
		held, blocks := gcHoldings(ctx, t, client, cs)
		return slices.Equal(held, []string{gcDoomed + " " + doomed.String(), gcLive + " " + live.String(), gcReborn + " " + reborn.String()}) && slices.Equal(blocks, []string{gcLiveNode}),
			fmt.Sprintf("held %q, blocks of %q", held, blocks)
	})
	if err := kube.CoreV1().Pods(gcNamespace).Delete(ctx, "doomed", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 2*time.Minute, "the deleted pod's address released", func() (bool, string) {
		held, _ := gcHoldings(ctx, t, client, cs)
		return slices.Equal(held, []string{gcLive + " " + live.String(), gcReborn + " " + reborn.String()}), fmt.Sprintf("held %q", held)
	})
	checkLog(t, logs.String(),
		fmt.Sprintf(`"msg"="Released leaked IPAM allocation" "handle"=%q "addresses"=[%q]`, gcGone, gone),
		`"reason"="PodGone"`,
		fmt.Sprintf(`"msg"="Released leaked IPAM allocation" "handle"=%q "addresses"=[%q] "pod"="ipamgc/reborn"`, gcStale, stale),
		`"reason"="NotPodAddress"`,
		fmt.Sprintf(`"msg"="Released leaked IPAM allocation" "handle"=%q "addresses"=[%q] "pod"="ipamgc/doomed"`, gcDoomed, doomed),
		fmt.Sprintf(`"msg"="Released leaked IPAM allocation" "handle"=%q "addresses"=[%q]`, ipam.VXLANTunnelHandle(gcGoneNode), vtep),
		`"reason"="NodeGone"`,
		`"msg"="Deleted empty IPAM block of a gone node" "block"=`)
	for _, m := range []struct {
		name, reason string
		want         float64
	}{{"ipam_gc_released_addresses_total", "PodGone", 2}, {"ipam_gc_released_addresses_total", "NotPodAddress", 1},
		{"ipam_gc_released_addresses_total", "NodeGone", 1}, {"ipam_gc_deleted_blocks_total", "", 1}} {
		if got := gcCounter(t, reg, m.name, m.reason); got != m.want {
			t.Errorf("%s{reason=%q} = %g, want %g", m.name, m.reason, got, m.want)
		}
	}
	if got := ipamCheck(t, env, c, false); len(got) != 0 {
		t.Errorf("ipam check after collection: %q, want nothing about %s", got, gcPool)
	}
	if p := findPool(ipamShow(t, env, c), gcPool); p == nil || p.Blocks != 1 || p.Used != 2 {
		t.Errorf("ipam show after collection: pool %s = %+v, want 1 block, 2 used", gcPool, p)
	}
	out := env.must(t, "--context", c.Name, "ipam", "show")
	if !regexp.MustCompile(regexp.QuoteMeta(gcPool) + ` +` + regexp.QuoteMeta(gcPoolCIDR)).MatchString(out) {
		t.Errorf("ipam show table lacks the pool:\n%s", out)
	}
}

// checkShowBeforeGC checks meshctl ipam show -o json with the six
// allocations in place.
func checkShowBeforeGC(t *testing.T, env *meshctlEnv, c *framework.Cluster) {
	t.Helper()
	show := ipamShow(t, env, c)
	if p := findPool(show, gcPool); p == nil || p.Blocks != 2 || p.Used != 6 || p.Size != 256 || p.Free != 250 {
		t.Errorf("ipam show: pool %s = %+v, want 2 blocks, 6 used of 256", gcPool, p)
	}
	wantNodes := map[string]meshctl.IPAMNodeUsage{gcLiveNode: {Node: gcLiveNode, Blocks: 1, Used: 5}, gcGoneNode: {Node: gcGoneNode, Blocks: 1, Used: 1}}
	for _, n := range show.Nodes {
		if w, ok := wantNodes[n.Node]; ok && n != w {
			t.Errorf("ipam show: node %+v, want %+v", n, w)
		}
	}
}

// waitControllerGC starts meshapi-controller, which runs the collector
// too (five-minute grace), and waits until the collector starts (with
// 50-controller.yaml's RBAC its caches sync) and serves its metrics.
func waitControllerGC(t *testing.T, c *framework.Cluster) {
	t.Helper()
	if err := c.StartController(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, time.Minute, "meshapi-controller's IPAM garbage collector started", func() (bool, string) {
		log := c.ControllerLog()
		return strings.Contains(log, "IPAM garbage collector started"), lastLines(log, 5)
	})
	// The log may hold that line from an earlier run of the controller:
	// wait for this one's metrics too.
	waitFor(t, c, time.Minute, "meshapi-controller's /metrics has ipam_gc_deleted_blocks_total", func() (bool, string) {
		resp, err := http.Get("http://" + c.ControllerMetrics + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, err.Error()
		}
		return metricValue(string(body), "ipam_gc_deleted_blocks_total") != "", lastLines(c.ControllerLog(), 5)
	})
}

// checkLog fails the test for each wanted line missing from the log.
func checkLog(t *testing.T, log string, want ...string) {
	t.Helper()
	t.Logf("the collector's log:\n%s", log)
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("the collector's log lacks %s", w)
		}
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// setUpIPAMGC applies meshapi-controller's RBAC and makes the test's
// Kubernetes Nodes, namespace, live pod and IPPool, removed at the end.
func setUpIPAMGC(t *testing.T, c *framework.Cluster, kube kubernetes.Interface, cs versioned.Interface, client *ipam.Client) {
	t.Helper()
	ctx := ctxT(t)
	kubectl(t, c, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "deploy", "50-controller.yaml"))
	for _, n := range []string{gcLiveNode, gcGoneNode} {
		if _, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	createNamespace(t, c, gcNamespace)
	for _, name := range []string{"live", "doomed", "reborn"} {
		pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  nodeName: %s\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.10\n", name, gcNamespace, gcLiveNode)
		waitFor(t, c, 2*time.Minute, "pod created", func() (bool, string) { // once the default ServiceAccount exists
			_, err := c.Kubectl(ctx, pod, "apply", "-f", "-")
			return err == nil, fmt.Sprint(err)
		})
	}
	if _, err := cs.ProjectcalicoV3().IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: gcPool},
		Spec: v3.IPPoolSpec{CIDR: gcPoolCIDR, BlockSize: 29}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, h := range []string{gcLive, gcGone, gcDoomed, gcStale, gcReborn, ipam.VXLANTunnelHandle(gcGoneNode)} {
			if _, err := client.ReleaseByHandle(ctx, h); err != nil {
				t.Error(err)
			}
		}
		_, blocks := gcBlocks(ctx, t, cs)
		for _, b := range blocks {
			if err := cs.ProjectcalicoV3().IPAMBlocks().Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Error(err)
			}
		}
		_ = cs.ProjectcalicoV3().IPPools().Delete(ctx, gcPool, metav1.DeleteOptions{})
		_, _ = c.Kubectl(ctx, "", "delete", "namespace", gcNamespace, "--wait=false")
		for _, n := range []string{gcLiveNode, gcGoneNode} {
			_ = kube.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{})
		}
	})
}

// setPodIPs writes a pod's status.podIPs as the kubelet does once the
// sandbox has its address.
func setPodIPs(t *testing.T, kube kubernetes.Interface, name string, ip netip.Addr) {
	t.Helper()
	ctx := ctxT(t)
	pod, err := kube.CoreV1().Pods(gcNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.PodIP = ip.String()
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip.String()}}
	if _, err := kube.CoreV1().Pods(gcNamespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting pod %s/%s's status.podIPs to %s: %v", gcNamespace, name, ip, err)
	}
}

// runIPAMGC runs the collector until the test ends, as meshapi-controller
// runs it but with a grace of two seconds and an interval of ten minutes
// (passes come from the start, graces ending and deletions), as
// calico-system/calico-typha
// (so with 50-controller.yaml's RBAC), logging into the returned buffer.
func runIPAMGC(t *testing.T, c *framework.Cluster) (*syncBuffer, *prometheus.Registry) {
	t.Helper()
	cfg, err := c.ServiceAccountConfig(ctxT(t), "calico-system", "calico-typha")
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	local, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := funcr.New(func(prefix, args string) { fmt.Fprintln(logs, prefix, args) }, funcr.Options{})
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	done := make(chan error, 1)
	reg := prometheus.NewRegistry()
	gc := ipamgc.NewController(kube, local, ipam.NewClient(local),
		ipamgc.Config{Grace: 2 * time.Second, Interval: 10 * time.Minute, Debounce: 100 * time.Millisecond}, ipamgc.NewMetrics(reg))
	go func() { done <- gc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the IPAM garbage collector: %v", err)
		}
	})
	return logs, reg
}

// gcCounter returns the value of the counter name (with label reason,
// if not empty) in reg, 0 if absent.
func gcCounter(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if reason == "" || slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "reason" && l.GetValue() == reason }) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// gcBlocks lists the blocks of the test's pool and their nodes.
func gcBlocks(ctx context.Context, t *testing.T, cs versioned.Interface) ([]string, []v3.IPAMBlock) {
	t.Helper()
	list, err := cs.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := netip.MustParsePrefix(gcPoolCIDR)
	var nodes []string
	var blocks []v3.IPAMBlock
	for _, b := range list.Items {
		if p, err := netip.ParsePrefix(b.Spec.CIDR); err == nil && pool.Contains(p.Addr()) {
			nodes = append(nodes, ipamgc.BlockNode(&b))
			blocks = append(blocks, b)
		}
	}
	slices.Sort(nodes)
	return nodes, blocks
}

// gcHoldings lists "<handle> <address>" of the test's pool, and the nodes
// of its blocks.
func gcHoldings(ctx context.Context, t *testing.T, client *ipam.Client, cs versioned.Interface) ([]string, []string) {
	t.Helper()
	all, err := client.Handles(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	pool := netip.MustParsePrefix(gcPoolCIDR)
	var held []string
	for _, a := range all {
		if pool.Contains(a.Addr) {
			held = append(held, a.Handle+" "+a.Addr.String())
		}
	}
	slices.Sort(held)
	nodes, _ := gcBlocks(ctx, t, cs)
	return held, nodes
}

// ipamShow runs meshctl ipam show -o json on c.
func ipamShow(t *testing.T, env *meshctlEnv, c *framework.Cluster) meshctl.IPAMShow {
	t.Helper()
	var show meshctl.IPAMShow
	if err := json.Unmarshal([]byte(env.must(t, "--context", c.Name, "ipam", "show", "-o", "json")), &show); err != nil {
		t.Fatal(err)
	}
	return show
}

func findPool(s meshctl.IPAMShow, name string) *meshctl.IPAMPoolUsage {
	for i := range s.Pools {
		if s.Pools[i].Name == name {
			return &s.Pools[i]
		}
	}
	return nil
}

// ipamCheck runs meshctl ipam check -o json on c and returns "<check>
// <handle> <address>" of the problems in the test's pool; it fails the
// test unless the command fails exactly when problems are expected (other
// tests' blocks may add problems, never remove them).
func ipamCheck(t *testing.T, env *meshctlEnv, c *framework.Cluster, problems bool) []string {
	t.Helper()
	out, errOut, err := env.run(t, "--context", c.Name, "ipam", "check", "-o", "json")
	var all []meshctl.IPAMProblem
	if jerr := json.Unmarshal([]byte(out), &all); jerr != nil {
		t.Fatalf("meshctl ipam check -o json: %v\n%s\n%s", jerr, out, errOut)
	}
	if (err != nil) != (len(all) > 0) || (problems && err == nil) {
		t.Errorf("meshctl ipam check exited with %v for %d problems (expected some: %v)\n%s", err, len(all), problems, errOut)
	}
	pool := netip.MustParsePrefix(gcPoolCIDR)
	var got []string
	for _, p := range all {
		if a, err := netip.ParseAddr(p.Address); err == nil && pool.Contains(a) {
			got = append(got, p.Check+" "+p.Handle+" "+p.Address)
			if p.Fix == "" {
				t.Errorf("problem without a fix: %+v", p)
			}
		}
	}
	slices.Sort(got)
	return got
}
