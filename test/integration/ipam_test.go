package integration

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
)

// ipamClientset is a clientset without client-side rate limit: each
// goroutine stands for a CNI plugin process, which has its own.
func ipamClientset(t testing.TB) versioned.Interface {
	t.Helper()
	cfg := rest.CopyConfig(server.Config)
	cfg.QPS, cfg.Burst = -1, 0
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// ipamPool creates an IPPool for an IPAM test and deletes it, and every
// block inside it, at the end of the test.
func ipamPool(ctx context.Context, t *testing.T, cs versioned.Interface, name, cidr string, blockSize int) netip.Prefix {
	t.Helper()
	return createIPAMPool(ctx, t, cs, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr, BlockSize: blockSize}})
}

// createIPAMPool creates p and deletes it, and every block inside it, at
// the end of the test.
func createIPAMPool(ctx context.Context, t testing.TB, cs versioned.Interface, p *v3.IPPool) netip.Prefix {
	t.Helper()
	if _, err := cs.ProjectcalicoV3().IPPools().Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	prefix := netip.MustParsePrefix(p.Spec.CIDR)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = cs.ProjectcalicoV3().IPPools().Delete(ctx, p.Name, metav1.DeleteOptions{})
		for _, b := range poolBlocks(ctx, t, cs, prefix) {
			_ = cs.ProjectcalicoV3().IPAMBlocks().Delete(ctx, b.Name, metav1.DeleteOptions{})
		}
	})
	return prefix
}

// poolBlocks lists the blocks inside pool.
func poolBlocks(ctx context.Context, t testing.TB, cs versioned.Interface, pool netip.Prefix) []v3.IPAMBlock {
	t.Helper()
	list, err := cs.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []v3.IPAMBlock
	for _, b := range list.Items {
		if c, err := netip.ParsePrefix(b.Spec.CIDR); err == nil && pool.Overlaps(c) {
			out = append(out, b)
		}
	}
	return out
}

// allocatedIn counts the allocations recorded in the blocks of pool.
func allocatedIn(ctx context.Context, t *testing.T, cs versioned.Interface, pool netip.Prefix) int {
	t.Helper()
	n := 0
	for _, b := range poolBlocks(ctx, t, cs, pool) {
		n += len(b.Spec.Allocations) - len(b.Spec.Unallocated)
		if len(b.Spec.Attributes) != len(b.Spec.Allocations)-len(b.Spec.Unallocated) {
			t.Errorf("block %s: %d attributes for %d allocations", b.Name, len(b.Spec.Attributes), len(b.Spec.Allocations)-len(b.Spec.Unallocated))
		}
	}
	return n
}

// burst assigns one address to each of n handles from workers
// goroutines over nodes nodes, retrying a handle whose Assign failed
// (as a runtime re-runs ADD) until it succeeds; after each success it
// calls onDone with the number of successes so far. It returns each
// handle's address and how many Assigns failed.
func burst(ctx context.Context, t *testing.T, c *ipam.Client, prefix, pool string, n, workers, nodes int, onDone func(int)) (map[string]netip.Addr, int) {
	t.Helper()
	work := make(chan int)
	var mu sync.Mutex
	got := make(map[string]netip.Addr, n)
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				h, node := fmt.Sprintf("%s.c%04d", prefix, i), fmt.Sprintf("%s-n%d", prefix, i%nodes)
				args := ipam.AssignArgs{Handle: h, Node: node, Pools: []string{pool},
					Attrs: map[string]string{"namespace": "ns", "pod": fmt.Sprintf("pod-%d", i)}}
				addrs, err := c.Assign(ctx, args)
				for retries := 0; err != nil && ctx.Err() == nil; retries++ {
					failed.Add(1)
					if retries%20 == 0 {
						t.Logf("assign %s failed, retrying: %v", h, err)
					}
					time.Sleep(50 * time.Millisecond)
					addrs, err = c.Assign(ctx, args)
				}
				if err != nil {
					t.Errorf("assign %s: %v", h, err)
					continue
				}
				if len(addrs) != 1 {
					t.Errorf("assign %s gave %v, want one address", h, addrs)
					continue
				}
				mu.Lock()
				got[h] = addrs[0]
				mu.Unlock()
				if onDone != nil {
					onDone(int(done.Add(1)))
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return got, int(failed.Load())
}

// checkDistinct checks that every handle got its own address in pool.
func checkDistinct(t *testing.T, got map[string]netip.Addr, n int, pool netip.Prefix) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d handles got an address, want %d", len(got), n)
	}
	seen := make(map[netip.Addr]string, n)
	for h, a := range got {
		if !pool.Contains(a) {
			t.Errorf("handle %s got %s, outside the pool %s", h, a, pool)
		}
		if other, dup := seen[a]; dup {
			t.Errorf("address %s given to both %s and %s", a, other, h)
		}
		seen[a] = h
	}
}

// releaseAll releases every handle of got from workers goroutines and
// checks that each released exactly its address.
func releaseAll(ctx context.Context, t *testing.T, c *ipam.Client, got map[string]netip.Addr, workers int) {
	t.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				rel, err := c.ReleaseByHandle(ctx, h)
				if err != nil || len(rel) != 1 || rel[0] != got[h] {
					t.Errorf("release %s = %v, %v, want [%s]", h, rel, err, got[h])
				}
			}
		}()
	}
	for h := range got {
		work <- h
	}
	close(work)
	wg.Wait()
}

// TestIPAMConcurrentAssignRelease: 500 Assigns from 8 goroutines over 5
// nodes give 500 distinct addresses, recorded with their handles; all are
// released by handle, leaving the blocks empty.
func TestIPAMConcurrentAssignRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	pool := ipamPool(ctx, t, cs, "ipam-burst", "198.18.224.0/22", 26)
	c := ipam.NewClient(cs)
	got, failed := burst(ctx, t, c, "burst", "ipam-burst", 500, 8, 5, nil)
	if failed > 0 {
		t.Errorf("%d Assigns failed and were retried, want none", failed)
	}
	checkDistinct(t, got, 500, pool)
	if n := allocatedIn(ctx, t, cs, pool); n != 500 {
		t.Fatalf("%d allocations recorded in the pool's blocks, want 500", n)
	}
	for _, node := range []string{"burst-n0", "burst-n4"} {
		allocs, err := c.Handles(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range allocs {
			if got[a.Handle] != a.Addr || a.Attrs["node"] != node || a.Attrs["namespace"] != "ns" || a.Attrs["type"] != "pod" || a.Attrs["timestamp"] == "" {
				t.Errorf("allocation %+v of node %s does not match what Assign gave (%s)", a, node, got[a.Handle])
			}
		}
		if len(allocs) != 100 {
			t.Errorf("node %s holds %d allocations in its blocks, want 100", node, len(allocs))
		}
	}
	if addrs, err := c.AddressesByHandle(ctx, "burst.c0042"); err != nil || len(addrs) != 1 || addrs[0] != got["burst.c0042"] {
		t.Errorf("AddressesByHandle(burst.c0042) = %v, %v, want [%s]", addrs, err, got["burst.c0042"])
	}
	releaseAll(ctx, t, c, got, 8)
	if n := allocatedIn(ctx, t, cs, pool); n != 0 {
		t.Fatalf("%d allocations left after releasing every handle", n)
	}
	for _, b := range poolBlocks(ctx, t, cs, pool) {
		if !strings.HasPrefix(*b.Spec.Affinity, "host:burst-n") {
			t.Errorf("block %s affine to %q", b.Name, *b.Spec.Affinity)
		}
	}
	if rel, err := c.ReleaseByHandle(ctx, "burst.c0001"); rel != nil || err != nil {
		t.Errorf("releasing a released handle = %v, %v, want nil, nil", rel, err)
	}
}

// TestIPAMPoolExhausted fills a one-block pool from two nodes (the second
// borrows) and then gets *PoolsExhaustedError naming the pool; with strict
// affinity the second node does not borrow.
func TestIPAMPoolExhausted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	ipamPool(ctx, t, cs, "ipam-full", "198.18.232.0/28", 28)
	c := ipam.NewClient(cs)
	assign := func(c *ipam.Client, h, node string) ([]netip.Addr, error) {
		return c.Assign(ctx, ipam.AssignArgs{Handle: h, Node: node, Pools: []string{"ipam-full"}})
	}
	for i := range 16 {
		node := "full-a"
		if i >= 10 {
			node = "full-b"
		}
		if _, err := assign(c, fmt.Sprintf("full.c%d", i), node); err != nil {
			t.Fatalf("assign %d on %s: %v", i, node, err)
		}
	}
	borrowed, err := c.Handles(ctx, "full-a")
	if err != nil || len(borrowed) != 16 || borrowed[15].Attrs["node"] != "full-b" {
		t.Fatalf("the block of full-a records %d allocations (%v), want 16, the last of full-b", len(borrowed), err)
	}
	_, err = assign(c, "full.c16", "full-b")
	var exhausted *ipam.PoolsExhaustedError
	if !errors.As(err, &exhausted) || len(exhausted.Pools) != 1 || exhausted.Pools[0] != "ipam-full" || exhausted.Node != "full-b" {
		t.Fatalf("assign in a full pool: %v, want *PoolsExhaustedError naming ipam-full and full-b", err)
	}
	if !strings.Contains(err.Error(), "no free address in IPPools ipam-full for node full-b") {
		t.Errorf("error %q", err)
	}

	ipamPool(ctx, t, cs, "ipam-strict", "198.18.232.16/28", 28)
	strict := ipam.NewClientWithOptions(cs, ipam.ClientOptions{Config: ipam.Config{StrictAffinity: true}})
	if _, err := strict.Assign(ctx, ipam.AssignArgs{Handle: "strict.a", Node: "strict-a", Pools: []string{"ipam-strict"}}); err != nil {
		t.Fatal(err)
	}
	_, err = strict.Assign(ctx, ipam.AssignArgs{Handle: "strict.b", Node: "strict-b", Pools: []string{"ipam-strict"}})
	if !errors.As(err, &exhausted) || exhausted.Pools[0] != "ipam-strict" {
		t.Fatalf("strict affinity, pool's only block held by another node: %v, want *PoolsExhaustedError", err)
	}
}

// TestIPAMRestartDuringBurst restarts the API server (same etcd data)
// while 8 goroutines assign 300 addresses; Assigns that fail are retried
// with the same handle, as a runtime re-runs ADD. Every handle ends with
// exactly one address, none is shared, none leaked.
func TestIPAMRestartDuringBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	pool := ipamPool(ctx, t, cs, "ipam-restart", "198.18.228.0/22", 26)
	c := ipam.NewClient(cs)
	// The 60th success restarts the server in its worker; the other
	// seven keep assigning while it is down.
	got, failed := burst(ctx, t, c, "restart", "ipam-restart", 300, 8, 5, func(done int) {
		if done == 60 {
			if err := server.Restart(ctx); err != nil {
				t.Errorf("restarting the API server: %v", err)
			}
		}
	})
	t.Logf("%d Assigns failed during the restart and were retried", failed)
	if failed == 0 {
		t.Fatal("no Assign was in flight while the server was down")
	}
	checkDistinct(t, got, 300, pool)
	if n := allocatedIn(ctx, t, cs, pool); n != 300 {
		t.Fatalf("%d allocations recorded after the restart, want 300 (one per handle)", n)
	}
	for h, a := range got {
		if addrs, err := c.AddressesByHandle(ctx, h); err != nil || len(addrs) != 1 || addrs[0] != a {
			t.Fatalf("handle %s holds %v (%v), want [%s]", h, addrs, err, a)
		}
	}
	releaseAll(ctx, t, c, got, 8)
	if n := allocatedIn(ctx, t, cs, pool); n != 0 {
		t.Fatalf("%d allocations left after releasing every handle", n)
	}
}

// TestIPAMRequestedAddress: a requested address is given, then refused to
// another handle; one outside every pool is refused; the VXLAN tunnel
// handle keeps its address.
func TestIPAMRequestedAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	ipamPool(ctx, t, cs, "ipam-requested", "198.18.233.0/24", 26)
	c := ipam.NewClient(cs)
	want := netip.MustParseAddr("198.18.233.77")
	for _, tc := range []struct {
		handle string
		addr   netip.Addr
		check  func([]netip.Addr, error) error
	}{
		{"req.a", want, func(got []netip.Addr, err error) error {
			if err != nil || len(got) != 1 || got[0] != want {
				return fmt.Errorf("got %v, %v, want [%s]", got, err, want)
			}
			return nil
		}},
		{"req.a", want, func(got []netip.Addr, err error) error { // again: idempotent
			if err != nil || len(got) != 1 || got[0] != want {
				return fmt.Errorf("got %v, %v, want [%s]", got, err, want)
			}
			return nil
		}},
		{"req.b", want, func(_ []netip.Addr, err error) error {
			var inUse *ipam.AddressInUseError
			if !errors.As(err, &inUse) || inUse.Handle != "req.a" || inUse.Addr != want {
				return fmt.Errorf("got %v, want *AddressInUseError naming req.a", err)
			}
			return nil
		}},
		{"req.c", netip.MustParseAddr("198.18.239.1"), func(_ []netip.Addr, err error) error {
			var noPool *ipam.NoPoolError
			if !errors.As(err, &noPool) {
				return fmt.Errorf("got %v, want *NoPoolError", err)
			}
			return nil
		}},
	} {
		got, err := c.Assign(ctx, ipam.AssignArgs{Handle: tc.handle, Node: "req-n", Requested: []netip.Addr{tc.addr}})
		if cerr := tc.check(got, err); cerr != nil {
			t.Errorf("assign %s to %s: %v", tc.addr, tc.handle, cerr)
		}
	}
	if addrs, _ := c.AddressesByHandle(ctx, "req.b"); len(addrs) != 0 {
		t.Errorf("refused handle req.b holds %v", addrs)
	}
	vtep := ipam.VXLANTunnelHandle("req-n")
	args := ipam.AssignArgs{Handle: vtep, Node: "req-n", Pools: []string{"ipam-requested"}}
	first, err := c.Assign(ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Assign(ctx, args)
	if err != nil || len(again) != 1 || again[0] != first[0] {
		t.Fatalf("second Assign of %s = %v, %v, want %v", vtep, again, err, first)
	}
	allocs, err := c.Handles(ctx, "req-n")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range allocs {
		if a.Handle == vtep && a.Attrs["type"] != "vxlanTunnelAddress" {
			t.Errorf("tunnel allocation has attributes %v", a.Attrs)
		}
	}
}

// TestIPAMBlockClaimRace: two nodes claim their first block at the same
// time, round after round; each ends with one block of its own, holding
// its address.
func TestIPAMBlockClaimRace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	pool := ipamPool(ctx, t, cs, "ipam-race", "198.18.234.0/23", 28)
	c := ipam.NewClient(cs)
	for round := range 10 {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, err := c.Assign(ctx, ipam.AssignArgs{Handle: fmt.Sprintf("race.r%d-%d", round, i), Node: fmt.Sprintf("race-r%d-%d", round, i), Pools: []string{"ipam-race"}})
				if err != nil || len(got) != 1 {
					t.Errorf("round %d node %d: %v, %v", round, i, got, err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	owners := map[string]int{}
	for _, b := range poolBlocks(ctx, t, cs, pool) {
		owners[*b.Spec.Affinity]++
		if used := len(b.Spec.Allocations) - len(b.Spec.Unallocated); used != 1 {
			t.Errorf("block %s of %s records %d allocations, want 1 (its owner's)", b.Name, *b.Spec.Affinity, used)
		}
		node := strings.TrimPrefix(*b.Spec.Affinity, "host:")
		if want := "race." + strings.TrimPrefix(node, "race-"); *b.Spec.Attributes[0].HandleID != want {
			t.Errorf("block %s of %s holds handle %s, want %s", b.Name, node, *b.Spec.Attributes[0].HandleID, want)
		}
	}
	if len(owners) != 20 {
		t.Errorf("%d nodes own blocks, want 20", len(owners))
	}
	for o, n := range owners {
		if n != 1 {
			t.Errorf("%s owns %d blocks, want 1", o, n)
		}
	}
}

// TestIPAMConfiguration: the IPAMConfiguration "default" applies with
// kubectl, defaults autoAllocateBlocks to true, shows its columns, refuses
// another name, and rules the allocator: strict affinity stops borrowing,
// maxBlocksPerHost stops claiming.
func TestIPAMConfiguration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	configs := cs.ProjectcalicoV3().IPAMConfigurations()
	kubectl(t, "apiVersion: projectcalico.org/v3\nkind: IPAMConfiguration\nmetadata:\n  name: default\nspec:\n  maxBlocksPerHost: 1\n", "apply", "-f", "-")
	t.Cleanup(func() { _ = configs.Delete(context.Background(), "default", metav1.DeleteOptions{}) })
	got, err := configs.Get(ctx, "default", metav1.GetOptions{})
	if err != nil || got.Spec.AutoAllocateBlocks == nil || !*got.Spec.AutoAllocateBlocks || got.Spec.MaxBlocksPerHost != 1 {
		t.Fatalf("stored IPAMConfiguration %+v, %v; want autoAllocateBlocks defaulted to true, maxBlocksPerHost 1", got, err)
	}
	out := kubectl(t, "", "get", "ipamconfigurations")
	if h := header(out); h != "NAME STRICT AFFINITY AUTO ALLOCATE BLOCKS MAX BLOCKS PER HOST AGE" || !strings.Contains(out, "false") {
		t.Errorf("kubectl get ipamconfigurations:\n%s", out)
	}
	bad := &v3.IPAMConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "other"}}
	if _, err := configs.Create(ctx, bad, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("IPAMConfiguration named other: %v, want refused naming metadata.name", err)
	}

	ipamPool(ctx, t, cs, "ipam-config", "198.18.236.0/27", 28)
	c := ipam.NewClient(cs)
	assign := func(h, node string) ([]netip.Addr, error) {
		return c.Assign(ctx, ipam.AssignArgs{Handle: h, Node: node, Pools: []string{"ipam-config"}})
	}
	// One block per host: cfg-a fills its block, then borrows from cfg-b's.
	if _, err := assign("cfg.b0", "cfg-b"); err != nil {
		t.Fatal(err)
	}
	for i := range 17 {
		if _, err := assign(fmt.Sprintf("cfg.a%d", i), "cfg-a"); err != nil {
			t.Fatalf("assign %d on cfg-a: %v", i, err)
		}
	}
	owners := map[string]int{}
	for _, b := range poolBlocks(ctx, t, cs, netip.MustParsePrefix("198.18.236.0/27")) {
		owners[*b.Spec.Affinity]++
	}
	if owners["host:cfg-a"] != 1 || owners["host:cfg-b"] != 1 {
		t.Fatalf("block owners %v, want one block each (maxBlocksPerHost 1)", owners)
	}
	// Strict affinity: no more borrowing.
	got.Spec.StrictAffinity = true
	if _, err := configs.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var exhausted *ipam.PoolsExhaustedError
	if _, err := assign("cfg.a17", "cfg-a"); !errors.As(err, &exhausted) {
		t.Fatalf("strict affinity, own block full, one block per host: %v, want *PoolsExhaustedError", err)
	}
}

// BenchmarkIPAMAssign measures Assign against the real API server, from
// 1 and 8 goroutines over 5 nodes, with latency percentiles and
// allocations per second; the addresses are released (untimed) after
// each run. Run with a fixed count so that the block count, which every
// Assign lists, is the same from run to run:
//
//	go test ./test/integration/ -run '^$' -bench BenchmarkIPAMAssign -benchtime 400x
func BenchmarkIPAMAssign(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", workers), func(b *testing.B) {
			ctx := context.Background()
			cs := ipamClientset(b)
			pool := fmt.Sprintf("ipam-bench-%d", workers)
			if _, err := cs.ProjectcalicoV3().IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool},
				Spec: v3.IPPoolSpec{CIDR: "198.18.240.0/20", BlockSize: 26}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = cs.ProjectcalicoV3().IPPools().Delete(ctx, pool, metav1.DeleteOptions{}) }()
			c := ipam.NewClient(cs)
			lat := make([]time.Duration, b.N)
			work := make(chan int)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						t0 := time.Now()
						if _, err := c.Assign(ctx, ipam.AssignArgs{Handle: fmt.Sprintf("bench%d.c%d", workers, i), Node: fmt.Sprintf("bench-n%d", i%5), Pools: []string{pool}}); err != nil {
							b.Error(err)
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			for i := range b.N {
				work <- i
			}
			close(work)
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "allocs/s")
			for i := range b.N {
				if _, err := c.ReleaseByHandle(ctx, fmt.Sprintf("bench%d.c%d", workers, i)); err != nil {
					b.Error(err)
				}
			}
			list, err := cs.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			for _, blk := range list.Items {
				if c, err := netip.ParsePrefix(blk.Spec.CIDR); err == nil && netip.MustParsePrefix("198.18.240.0/20").Overlaps(c) {
					_ = cs.ProjectcalicoV3().IPAMBlocks().Delete(ctx, blk.Name, metav1.DeleteOptions{})
				}
			}
		})
	}
}

// TestIPAMDualStack: with IPv6 a handle gets one address of each family,
// the same again on a second Assign, and both go on release.
func TestIPAMDualStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	ipamPool(ctx, t, cs, "ipam-dual-v4", "198.18.237.0/24", 26)
	v6 := ipamPool(ctx, t, cs, "ipam-dual-v6", "fd00:198:18::/120", 122)
	c := ipam.NewClient(cs)
	args := ipam.AssignArgs{Handle: "dual.c1", Node: "dual-n", Pools: []string{"ipam-dual-v4"}, IPv6: true, IPv6Pools: []string{"ipam-dual-v6"}}
	got, err := c.Assign(ctx, args)
	if err != nil || len(got) != 2 || !got[0].Is4() || !v6.Contains(got[1]) {
		t.Fatalf("dual-stack Assign = %v, %v, want an IPv4 and an address of %s", got, err, v6)
	}
	again, err := c.Assign(ctx, args)
	if err != nil || !slices.Equal(again, got) {
		t.Fatalf("second Assign = %v, %v, want %v", again, err, got)
	}
	rel, err := c.ReleaseByHandle(ctx, "dual.c1")
	if err != nil || len(rel) != 2 {
		t.Fatalf("release = %v, %v, want both addresses", rel, err)
	}
}

// The allocators' block writes keep no managed fields (they own a
// block's content whole and never apply it): a block claimed by the
// node allocator has none once it is updated, and the client's path
// keeps it so.
func TestIPAMBlocksKeepNoManagedFields(t *testing.T) {
	ctx := t.Context()
	cs := ipamClientset(t)
	pool := ipamPool(ctx, t, cs, "ipam-unmanaged", "198.18.160.0/26", 26)
	c := ipam.NewClient(cs)
	alloc := c.NewNodeAllocator("unmanaged-n")
	for _, h := range []string{"unmanaged.a", "unmanaged.b"} {
		if r := alloc.Do(ctx, []ipam.Op{{Assign: &ipam.AssignArgs{Handle: h, Pools: []string{"ipam-unmanaged"}}}}); r[0].Err != nil {
			t.Fatalf("assigning %s: %v", h, r[0].Err)
		}
	}
	check := func(after string) {
		t.Helper()
		blocks := poolBlocks(ctx, t, cs, pool)
		if len(blocks) != 1 {
			t.Fatalf("after %s: %d blocks in %s, want 1", after, len(blocks), pool)
		}
		if mf := blocks[0].ManagedFields; len(mf) != 0 {
			t.Errorf("after %s: block %s has managed fields %+v, want none", after, blocks[0].Name, mf)
		}
	}
	check("the node allocator's claim and update")
	if _, err := c.Assign(ctx, ipam.AssignArgs{Handle: "unmanaged.c", Node: "unmanaged-n", Pools: []string{"ipam-unmanaged"}}); err != nil {
		t.Fatal(err)
	}
	check("the client's update")
}
