//go:build linux

package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	meshagent "github.com/meshapi/meshapi/pkg/agent"
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/controllermanager"
	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/dataplane/nat"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remotecluster"
	"github.com/meshapi/meshapi/test/bench/benchserver"
)

// Tunables of BenchmarkRemoteEndpointToRoute, as test binary flags:
//
//	go test ... ./test/bench/agent/ -args -agentlat.count=5000
var (
	latCountFlag = flag.Int("agentlat.count", 1000,
		"endpoints BenchmarkRemoteEndpointToRoute creates in B, one at a time (at most 65,280)")
	latIntervalFlag = flag.Duration("agentlat.interval", 5*time.Millisecond,
		"pace of BenchmarkRemoteEndpointToRoute's creates and deletes")
	latDebounceFlag = flag.Duration("agentlat.debounce", meshagent.NewOptions().Debounce,
		"the agent's debounce (default: meshapi-agent's --debounce default)")
	latRemoveFlag = flag.Bool("agentlat.remove", true,
		"also delete the endpoints one at a time and measure until their routes are gone")
	latLogLevelFlag = flag.String("agentlat.log-level", "warn",
		"log level of the in-process agent (its logs go to stderr)")
)

// The two clusters of BenchmarkRemoteEndpointToRoute. Everything is in
// 198.18.0.0/15: A's pool in 198.18.0.0/20, the underlay in
// 198.18.255.0/24, B's pool in 198.19.0.0/16, the endpoints from
// 198.19.1.0 up, outside B's node's block 198.19.0.0/26, so that each
// needs a /32 route of its own.
var (
	latPoolA   = netip.MustParsePrefix("198.18.0.0/20")
	latBlockA  = netip.MustParsePrefix("198.18.0.0/26")
	latNodeIPA = netip.MustParsePrefix("198.18.255.1/24")
	latPoolB   = netip.MustParsePrefix("198.19.0.0/16")
	latBlockB  = netip.MustParsePrefix("198.19.0.0/26")
	latNodeIPB = netip.MustParsePrefix("198.18.255.2/24")
	latVTEPB   = netip.MustParseAddr("198.19.0.0")
	latEPBase  = netip.MustParseAddr("198.19.1.0")
)

const (
	latNodeA = "bench-a1"
	latNodeB = "bench-b1"
	latMACB  = "66:00:00:00:00:01"
	// latRCC names the RemoteClusterConfiguration of B in A.
	latRCC = "cluster-b"
	// latMaxEndpoints is how many addresses 198.19.1.0 to 198.19.255.255
	// hold.
	latMaxEndpoints = 255 * 256
	// latNamespaces is how many namespaces the endpoints spread over.
	latNamespaces = 10
	// latResync is the controller's access re-read period
	// (meshapi-controller's --secret-resync-period default).
	latResync = 30 * time.Second
)

// latEndpointIP is the address of endpoint i.
func latEndpointIP(i int) netip.Prefix {
	a := latEPBase.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(i)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 32)
}

// latEndpoint returns endpoint i of B: on node bench-b1, address
// latEndpointIP(i).
func latEndpoint(i int) *v3.WorkloadEndpoint {
	name, ns := fmt.Sprintf("lat-%06d", i), fmt.Sprintf("agentlat-%02d", i%latNamespaces)
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "agentlat"}},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator: "k8s", Workload: name, Pod: name, Node: latNodeB, Endpoint: "eth0",
			IPNetworks:    []string{latEndpointIP(i).String()},
			InterfaceName: fmt.Sprintf("cali%011x", i),
		},
	}
}

// BenchmarkRemoteEndpointToRoute measures the whole path from a remote
// endpoint appearing in cluster B to its route on a node of cluster A:
// B's API server, the remote cluster controller mirroring B into A
// (overlay routing Enabled), A's API server, and an agent of A's node
// bench-a1 programming a network namespace. Endpoints are created in B one
// at a time, each with an address outside B's node's block, and each
// latency runs from the return of B's create call to the arrival of the
// RTM_NEWROUTE of its /32 (route protocol 82) at a netlink subscription in
// the node's namespace (p50-ms ... max-ms). With -agentlat.remove (the
// default) they are then deleted the same way, until RTM_DELROUTE
// (del-p50-ms ... del-max-ms). applies/round is the agent's reconciles
// during a round, apply-ms their mean dataplane Apply time.
//
// Needs root. Builds and starts two meshapi-apiservers; the controller
// and the agent run in this process.
func BenchmarkRemoteEndpointToRoute(b *testing.B) {
	count, interval := *latCountFlag, *latIntervalFlag
	if count < 1 || count > latMaxEndpoints {
		b.Fatalf("-agentlat.count %d: must be from 1 to %d", count, latMaxEndpoints)
	}
	s := twoServers(b)
	ctx := b.Context()
	setupClusters(b, s)
	nsName, ns := nodeNamespace(b)
	rw, err := watchRoutes(ns, dataplane.DefaultRouteProtocol)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rw.Stop)
	stopController := startLatController(b, s)
	b.Cleanup(stopController)
	ag := startLatAgent(b, s.A, nsName)
	b.Cleanup(ag.stop)
	// Ready when B's node's block is routed on A's node: the agent sees
	// the mirror of B's node and block.
	if _, err := rw.Wait([]netip.Prefix{latBlockB}, false, 2*time.Minute); err != nil {
		b.Fatalf("B's block %s was not routed on %s: %v", latBlockB, latNodeA, err)
	}

	var all roundResult
	var applies, applySeconds float64
	b.ResetTimer() // the set-up is not measured; ns/op is a round's creates until the last route
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a0, s0 := ag.applies()
		r := latRound(ctx, b, s, rw, count, interval)
		a1, s1 := ag.applies()
		applies, applySeconds = applies+a1-a0, applySeconds+s1-s0
		all.merge(r)
	}
	all.sort()
	add, del := all.add, all.del
	b.ReportMetric(ms(percentile(add, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(add, 0.90)), "p90-ms")
	b.ReportMetric(ms(percentile(add, 0.99)), "p99-ms")
	b.ReportMetric(ms(add[len(add)-1]), "max-ms")
	if len(del) > 0 {
		b.ReportMetric(ms(percentile(del, 0.50)), "del-p50-ms")
		b.ReportMetric(ms(percentile(del, 0.90)), "del-p90-ms")
		b.ReportMetric(ms(percentile(del, 0.99)), "del-p99-ms")
		b.ReportMetric(ms(del[len(del)-1]), "del-max-ms")
	}
	b.ReportMetric(applies/float64(b.N), "applies/round")
	if applies > 0 {
		b.ReportMetric(applySeconds*1000/applies, "apply-ms")
	}
	b.ReportMetric(float64(all.flaps), "flaps")
	b.Logf("%d endpoints, one every %s, agent debounce %s: create->route p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, min %.1f ms, max %.1f ms (from before the call: min %.1f ms, max %.1f ms); B's create call p50 %.1f ms, p99 %.1f ms, max %.1f ms; %.0f agent reconciles per round, mean dataplane Apply %.2f ms",
		len(add), interval, *latDebounceFlag, ms(percentile(add, 0.5)), ms(percentile(add, 0.9)), ms(percentile(add, 0.99)),
		ms(add[0]), ms(add[len(add)-1]), ms(all.addSend[0]), ms(all.addSend[len(add)-1]),
		ms(percentile(all.createCall, 0.5)), ms(percentile(all.createCall, 0.99)), ms(all.createCall[len(add)-1]),
		applies/float64(b.N), applySeconds*1000/max(applies, 1))
	if len(del) > 0 {
		b.Logf("delete->route gone: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, min %.1f ms, max %.1f ms (from before the call: min %.1f ms, max %.1f ms); B's delete call p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			ms(percentile(del, 0.5)), ms(percentile(del, 0.9)), ms(percentile(del, 0.99)), ms(del[0]), ms(del[len(del)-1]),
			ms(all.delSend[0]), ms(all.delSend[len(del)-1]),
			ms(percentile(all.deleteCall, 0.5)), ms(percentile(all.deleteCall, 0.99)), ms(all.deleteCall[len(all.deleteCall)-1]))
	}
	if all.flaps > 0 {
		b.Logf("%d endpoint routes were removed and re-added while their endpoint existed, e.g. %v", all.flaps, all.flapped)
	}
}

// roundResult is one round's latencies.
type roundResult struct {
	// add and del are per endpoint, from the return of B's create (delete)
	// call to the route's addition (removal) on A's node; addSend and
	// delSend from just before the call was sent.
	add, del, addSend, delSend []time.Duration
	// createCall and deleteCall are the durations of B's calls.
	createCall, deleteCall []time.Duration
	// flaps counts routes removed, or added more than once, while their
	// endpoint existed; flapped holds a few of them.
	flaps   int
	flapped []netip.Prefix
}

// merge appends r's figures to rr's.
func (rr *roundResult) merge(r roundResult) {
	rr.add, rr.del = append(rr.add, r.add...), append(rr.del, r.del...)
	rr.addSend, rr.delSend = append(rr.addSend, r.addSend...), append(rr.delSend, r.delSend...)
	rr.createCall, rr.deleteCall = append(rr.createCall, r.createCall...), append(rr.deleteCall, r.deleteCall...)
	rr.flaps += r.flaps
	rr.flapped = append(rr.flapped, r.flapped[:min(len(r.flapped), max(0, 5-len(rr.flapped)))]...)
}

// sort sorts every series.
func (rr *roundResult) sort() {
	for _, s := range [][]time.Duration{rr.add, rr.del, rr.addSend, rr.delSend, rr.createCall, rr.deleteCall} {
		slices.Sort(s)
	}
}

// latRound creates count endpoints in B one every interval (timed), waits
// for their routes on A's node, then deletes them the same way and waits
// for the routes to go.
func latRound(ctx context.Context, b *testing.B, s *benchserver.Pair, rw *routeWatch, count int, interval time.Duration) roundResult {
	b.Helper()
	rw.Reset()
	dsts := make([]netip.Prefix, count)
	for i := range count {
		dsts[i] = latEndpointIP(i)
	}
	var r roundResult
	sent, returned := make([]time.Time, count), make([]time.Time, count)
	tick := time.NewTicker(interval)
	b.StartTimer()
	for i := range count {
		<-tick.C
		ep := latEndpoint(i)
		sent[i] = time.Now()
		if _, err := s.B.Client.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			b.Fatalf("creating %s/%s in B: %v", ep.Namespace, ep.Name, err)
		}
		returned[i] = time.Now()
		r.createCall = append(r.createCall, returned[i].Sub(sent[i]))
	}
	tick.Stop()
	if _, err := rw.Wait(dsts, false, 5*time.Minute); err != nil {
		b.Fatalf("waiting for the endpoints' routes on %s: %v", latNodeA, err)
	}
	b.StopTimer()
	for i, dst := range dsts {
		t, _ := rw.When(dst, false)
		r.add = append(r.add, t.Sub(returned[i]))
		r.addSend = append(r.addSend, t.Sub(sent[i]))
	}
	// Nothing may have removed an endpoint's route so far.
	flapped := map[netip.Prefix]bool{}
	for _, dst := range dsts {
		if rw.Changes(dst, true) > 0 || rw.Changes(dst, false) > 1 {
			flapped[dst] = true
		}
	}
	if !*latRemoveFlag {
		deleteLatEndpoints(ctx, b, s, count)
		if _, err := rw.Wait(dsts, true, 5*time.Minute); err != nil {
			b.Fatalf("waiting for the endpoints' routes to go from %s: %v", latNodeA, err)
		}
		r.countFlaps(dsts, flapped)
		return r
	}
	tick = time.NewTicker(interval)
	defer tick.Stop()
	for i := range count {
		<-tick.C
		ep := latEndpoint(i)
		// A removal seen before this delete was sent is a flap, not a
		// latency.
		if _, early := rw.When(dsts[i], true); early {
			flapped[dsts[i]] = true
		}
		sent[i] = time.Now()
		if err := s.B.Client.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Delete(ctx, ep.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatalf("deleting %s/%s in B: %v", ep.Namespace, ep.Name, err)
		}
		returned[i] = time.Now()
		r.deleteCall = append(r.deleteCall, returned[i].Sub(sent[i]))
	}
	if _, err := rw.Wait(dsts, true, 5*time.Minute); err != nil {
		b.Fatalf("waiting for the endpoints' routes to go from %s: %v", latNodeA, err)
	}
	for i, dst := range dsts {
		if flapped[dst] {
			continue
		}
		t, _ := rw.When(dst, true)
		r.del = append(r.del, t.Sub(returned[i]))
		r.delSend = append(r.delSend, t.Sub(sent[i]))
	}
	r.countFlaps(dsts, flapped)
	return r
}

// countFlaps records the flapped destinations, in order.
func (r *roundResult) countFlaps(dsts []netip.Prefix, flapped map[netip.Prefix]bool) {
	for _, dst := range dsts {
		if flapped[dst] {
			r.flaps++
			if len(r.flapped) < 5 {
				r.flapped = append(r.flapped, dst)
			}
		}
	}
}

// deleteLatEndpoints deletes B's endpoints 0..count-1, untimed.
func deleteLatEndpoints(ctx context.Context, b *testing.B, s *benchserver.Pair, count int) {
	b.Helper()
	for i := range latNamespaces {
		err := s.B.Client.ProjectcalicoV3().WorkloadEndpoints(fmt.Sprintf("agentlat-%02d", i)).DeleteCollection(ctx,
			metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=agentlat"})
		if err != nil {
			b.Fatalf("deleting B's endpoints: %v", err)
		}
	}
}

// createOrKeep creates obj with create, keeping an object of that name
// that exists already (from an earlier benchmark of this process).
func createOrKeep[T any](ctx context.Context, create func(context.Context, T, metav1.CreateOptions) (T, error), obj T) error {
	_, err := create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// setupClusters creates what the mesh needs in both clusters: in each, a
// "default" FelixConfiguration with VXLAN on and a VXLAN pool (not
// overlapping the other's); in A, the block of the agent's node (the agent
// registers the Node itself); in B, a Node with underlay address, VTEP
// and MAC, and its block.
func setupClusters(b *testing.B, s *benchserver.Pair) {
	b.Helper()
	ctx := b.Context()
	on := true
	pool := func(name string, cidr netip.Prefix) *v3.IPPool {
		return &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v3.IPPoolSpec{CIDR: cidr.String(), VXLANMode: v3.EncapModeAlways, BlockSize: 26}}
	}
	block := func(cidr netip.Prefix, node string) *v3.IPAMBlock {
		affinity := "host:" + node
		return &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: strings.NewReplacer(".", "-", "/", "-").Replace(cidr.String())},
			Spec: v3.IPAMBlockSpec{CIDR: cidr.String(), Affinity: &affinity, StrictAffinity: true}}
	}
	for _, c := range []struct {
		cs    versioned.Interface
		pool  *v3.IPPool
		block *v3.IPAMBlock
	}{
		{s.A.Client, pool("agentlat-a", latPoolA), block(latBlockA, latNodeA)},
		{s.B.Client, pool("agentlat-b", latPoolB), block(latBlockB, latNodeB)},
	} {
		pc := c.cs.ProjectcalicoV3()
		felix := &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.FelixConfigurationSpec{VXLANEnabled: &on}}
		if err := createOrKeep(ctx, pc.FelixConfigurations().Create, felix); err != nil {
			b.Fatalf("creating FelixConfiguration default: %v", err)
		}
		if err := createOrKeep(ctx, pc.IPPools().Create, c.pool); err != nil {
			b.Fatalf("creating IPPool %s: %v", c.pool.Name, err)
		}
		if err := createOrKeep(ctx, pc.IPAMBlocks().Create, c.block); err != nil {
			b.Fatalf("creating IPAMBlock %s: %v", c.block.Name, err)
		}
	}
	node := &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: latNodeB}, Spec: v3.NodeSpec{
		BGP:                 &v3.NodeBGPSpec{IPv4Address: latNodeIPB.String()},
		Addresses:           []v3.NodeAddress{{Address: latNodeIPB.String(), Type: v3.CalicoNodeIP}},
		IPv4VXLANTunnelAddr: latVTEPB.String(),
		VXLANTunnelMACAddr:  latMACB,
	}}
	if err := createOrKeep(ctx, s.B.Client.ProjectcalicoV3().Nodes().Create, node); err != nil {
		b.Fatalf("creating Node %s in B: %v", latNodeB, err)
	}
}

// nodeNamespace creates the network namespace of A's node bench-a1, with
// a veth as its underlay link holding latNodeIPA, and deletes it when the
// benchmark ends.
func nodeNamespace(b *testing.B) (string, netns.NsHandle) {
	b.Helper()
	r := make([]byte, 3)
	_, _ = rand.Read(r)
	name := "magentlat-" + hex.EncodeToString(r)
	run(b, "ip", "netns", "add", name)
	b.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			b.Errorf("deleting network namespace %s: %v\n%s", name, err, out)
		}
	})
	run(b, "ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	run(b, "ip", "-n", name, "addr", "add", latNodeIPA.String(), "dev", "eth0")
	run(b, "ip", "-n", name, "link", "set", "eth0", "up")
	run(b, "ip", "-n", name, "link", "set", "eth1", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	return name, ns
}

// startLatController runs a remote cluster controller against A in this
// process, with meshapi-controller's defaults (workers per cluster, local
// QPS and burst, 2 RCC workers), creates the RemoteClusterConfiguration
// of B with overlay routing Enabled, and waits until it is in sync with
// B's node mirrored. The returned function deletes the RCC, waits for
// its mirror to go and stops the controller.
func startLatController(b *testing.B, s *benchserver.Pair) func() {
	b.Helper()
	opts := controllermanager.NewOptions()
	cfg := rest.CopyConfig(s.A.Config)
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst
	cfg.UserAgent = "meshapi-controller/agentlat-bench"
	local, err := versioned.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	logs := &errorLog{}
	rc := remotecluster.NewController(local, nil, remotecluster.NewMetrics(prometheus.NewRegistry()),
		remotecluster.Concurrency{WorkersPerCluster: opts.Workers, WritesInFlight: opts.MirrorWritesInFlight}, latResync)
	cctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logr.New(logs)))
	done := make(chan error, 1)
	go func() { done <- rc.Run(cctx, 2) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("the controller: %v", err)
		}
		if n, samples := logs.summary(); n > 0 {
			b.Logf("the controller logged %d errors; the first: %q", n, samples)
		}
	}

	ctx := b.Context()
	rcc := &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: latRCC},
		Spec: v3.RemoteClusterConfigurationSpec{
			DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig:    v3.KubeConfig{K8sAPIEndpoint: s.B.URL, K8sAPIToken: s.B.Token, K8sCAFile: s.B.CAFile},
			SyncOptions:   v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled},
		},
	}
	rccs := s.A.Client.ProjectcalicoV3().RemoteClusterConfigurations()
	if err := createOrKeep(ctx, rccs.Create, rcc); err != nil {
		stop()
		b.Fatalf("creating RemoteClusterConfiguration %s: %v", latRCC, err)
	}
	var last *v3.RemoteClusterConfiguration
	err = pollUntil(ctx, 2*time.Minute, func() (bool, error) {
		var err error
		if last, err = rccs.Get(ctx, latRCC, metav1.GetOptions{}); err != nil {
			return false, err
		}
		st := last.Status
		return st.SyncState == v3.SyncStateInSync && st.MirroredObjects != nil && st.MirroredObjects.Nodes >= 1, nil
	})
	if err != nil {
		stop()
		if last != nil {
			err = fmt.Errorf("%w; last status: %+v", err, last.Status)
		}
		b.Fatalf("waiting for %s to be in sync: %v", latRCC, err)
	}
	if last.Status.LastError != "" {
		b.Logf("%s is in sync with lastError %q", latRCC, last.Status.LastError)
	}
	return func() {
		// Remove the mirror before the controller stops, so that a later
		// benchmark of this process starts from an empty mirror.
		ctx := context.Background()
		if err := rccs.Delete(ctx, latRCC, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			b.Errorf("deleting RemoteClusterConfiguration %s: %v", latRCC, err)
		}
		err := pollUntil(ctx, 2*time.Minute, func() (bool, error) {
			return noMirrors(ctx, s.A.Client)
		})
		if err != nil {
			b.Errorf("waiting for the mirror of %s to go: %v", latRCC, err)
		}
		stop()
	}
}

// noMirrors reports whether cs holds no mirrored Node, IPPool, IPAMBlock
// or WorkloadEndpoint.
func noMirrors(ctx context.Context, cs versioned.Interface) (bool, error) {
	pc, opts := cs.ProjectcalicoV3(), metav1.ListOptions{LabelSelector: v3.LabelCluster, Limit: 1}
	nodes, err := pc.Nodes().List(ctx, opts)
	if err != nil || len(nodes.Items) > 0 {
		return false, err
	}
	pools, err := pc.IPPools().List(ctx, opts)
	if err != nil || len(pools.Items) > 0 {
		return false, err
	}
	blocks, err := pc.IPAMBlocks().List(ctx, opts)
	if err != nil || len(blocks.Items) > 0 {
		return false, err
	}
	weps, err := pc.WorkloadEndpoints("").List(ctx, opts)
	return err == nil && len(weps.Items) == 0, err
}

// pollUntil calls cond every 100 ms until it is true, fails, or timeout
// passes. It is for set-up and teardown only; the measurement never polls.
func pollUntil(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %s: %w", timeout, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// latAgent is meshapi-agent for A's node bench-a1 running in this
// process, wired as meshapi-agent's Options.Run wires it (its client of A
// built from A's kubeconfig with client-go's default QPS, a netlink handle
// and an nftables connection bound to the node's namespace) but without
// the metrics server, so that its metrics can be read directly.
type latAgent struct {
	cancel  context.CancelFunc
	done    chan error
	reg     *prometheus.Registry
	metrics *meshagent.Metrics
}

// startLatAgent starts the agent of bench-a1 against A, programming the
// namespace nsName, with the debounce of -agentlat.debounce and
// meshapi-agent's other defaults.
func startLatAgent(b *testing.B, a *benchserver.Server, nsName string) *latAgent {
	b.Helper()
	opts := meshagent.NewOptions()
	var level slog.Level
	if err := level.UnmarshalText([]byte(*latLogLevelFlag)); err != nil {
		b.Fatalf("-agentlat.log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", latNodeA)
	cfg, err := clientcmd.BuildConfigFromFlags("", a.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nl.Close)
	nft, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		b.Fatal(err)
	}
	la := &latAgent{done: make(chan error, 1), reg: prometheus.NewRegistry()}
	la.metrics = meshagent.NewMetrics(la.reg)
	ag, err := meshagent.New(meshagent.Config{
		NodeName: latNodeA, NodeIP: latNodeIPA, Client: client,
		Dataplane: dataplane.New(nl, dataplane.Options{Logger: log.With("component", "dataplane"), OnResync: meshagent.OnDataplaneResync(la.metrics)}),
		NAT:       nat.New(nft, nat.Options{Logger: log.With("component", "nat")}),
		Metrics:   la.metrics, ResyncPeriod: opts.ResyncPeriod, Debounce: *latDebounceFlag, StatusInterval: opts.StatusInterval,
		Logger: log,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	la.cancel = cancel
	go func() { la.done <- ag.Run(ctx) }()
	return la
}

// stop stops the agent and waits for it.
func (la *latAgent) stop() {
	la.cancel()
	if err := <-la.done; err != nil {
		fmt.Fprintln(os.Stderr, "the agent:", err)
	}
	la.done <- nil
}

// applies returns the agent's reconciles so far and the total time their
// dataplane Applies took, in seconds.
func (la *latAgent) applies() (n, seconds float64) {
	families, err := la.reg.Gather()
	if err != nil {
		return 0, 0
	}
	for _, f := range families {
		switch f.GetName() {
		case "meshapi_agent_applies_total":
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		case "meshapi_agent_apply_duration_seconds":
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "component" && l.GetValue() == "dataplane" {
						seconds += m.GetHistogram().GetSampleSum()
					}
				}
			}
		}
	}
	return n, seconds
}

// errorLog is a logr.LogSink that counts the controller's errors and
// keeps the first few; its other logs are dropped.
type errorLog struct {
	mu      sync.Mutex
	n       int
	samples []string
}

// summary returns the number of errors logged and the first few.
func (l *errorLog) summary() (int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, slices.Clone(l.samples)
}

func (l *errorLog) Init(logr.RuntimeInfo)          {}
func (l *errorLog) Enabled(int) bool               { return false }
func (l *errorLog) Info(int, string, ...any)       {}
func (l *errorLog) WithValues(...any) logr.LogSink { return l }
func (l *errorLog) WithName(string) logr.LogSink   { return l }
func (l *errorLog) Error(err error, msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if len(l.samples) < 5 {
		l.samples = append(l.samples, fmt.Sprintf("%s %v: %v", msg, kv, err))
	}
}
