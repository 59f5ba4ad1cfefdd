package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/test/bench/cputime"
)

// BenchmarkIPAMBlockWrite is the API server's cost of one allocation's
// block write, the write every pod's ADD and DEL makes: a node's
// allocator (ipam.NodeAllocator, as the IPAM service runs it) fills 60
// addresses of a /26, then releases and assigns one handle in turns,
// each a compare-and-swap update of the block. With watchers=8 eight
// watches of IPAMBlocks are open, as every node's agent keeps one (read
// and discarded: the figure is the API server's, not the watchers').
// cpu-ms/write is this process's CPU per write (the API server, its
// etcd and the allocator are all in it). list-p50-ms is a consistent
// list of the blocks made right after a write to another resource, the
// list an allocator makes on start. block-bytes is the size of the
// filled block as JSON (what each write sends, stores and returns):
//
//	go test ./test/integration/ -run '^$' -bench IPAMBlockWrite -benchtime 400x
func BenchmarkIPAMBlockWrite(b *testing.B) {
	for _, watchers := range []int{0, 8} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			ctx := b.Context()
			cs := ipamClientset(b)
			pool := fmt.Sprintf("ipam-blockwrite-%d", watchers)
			createIPAMPool(ctx, b, cs, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool}, Spec: v3.IPPoolSpec{CIDR: fmt.Sprintf("198.18.%d.0/26", 161+watchers/8), BlockSize: 26}})
			alloc := ipam.NewClient(cs).NewNodeAllocator(pool + "-node")
			assign := func(h string) ipam.Op {
				return ipam.Op{Assign: &ipam.AssignArgs{Handle: h, Pools: []string{pool}}}
			}
			var fill []ipam.Op
			for i := range 60 {
				fill = append(fill, assign(fmt.Sprintf("%s.fill%d", pool, i)))
			}
			mustDo(ctx, b, alloc, fill...)
			size := blockBytes(ctx, b, cs, pool)
			stop := watchBlocks(ctx, b, cs, watchers)
			defer stop()
			toggled := pool + ".toggled"
			b.ResetTimer()
			c0 := cputime.MustSelf(b)
			for i := range b.N {
				if i%2 == 0 {
					mustDo(ctx, b, alloc, assign(toggled))
				} else {
					mustDo(ctx, b, alloc, ipam.Op{Release: toggled})
				}
			}
			cpu := cputime.MustSelf(b) - c0
			b.StopTimer()
			b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/write")
			b.ReportMetric(consistentListP50(ctx, b, cs, pool), "list-p50-ms")
			b.ReportMetric(float64(size), "block-bytes")
		})
	}
}

// mustDo carries out ops with alloc and fails b on any error.
func mustDo(ctx context.Context, b *testing.B, alloc *ipam.NodeAllocator, ops ...ipam.Op) {
	b.Helper()
	for i, r := range alloc.Do(ctx, ops) {
		if r.Err != nil {
			b.Fatalf("op %d: %v", i, r.Err)
		}
	}
}

// watchBlocks opens n watches of IPAMBlocks, each read by a goroutine
// that discards what it reads (the API server's cost of a watcher, not a
// client's decoding), and returns what closes them and waits for their
// goroutines.
func watchBlocks(ctx context.Context, b *testing.B, cs versioned.Interface, n int) func() {
	b.Helper()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range n {
		r, err := cs.ProjectcalicoV3().RESTClient().Get().Resource("ipamblocks").Param("watch", "true").Stream(ctx)
		if err != nil {
			cancel()
			b.Fatalf("watching IPAMBlocks: %v", err)
		}
		wg.Go(func() {
			defer r.Close()
			_, _ = io.Copy(io.Discard, r)
		})
	}
	return func() { cancel(); wg.Wait() }
}

// consistentListP50 is the median time of 20 consistent lists of the
// IPAMBlocks, each right after a write to another resource (a Profile).
func consistentListP50(ctx context.Context, b *testing.B, cs versioned.Interface, name string) float64 {
	b.Helper()
	var lat []time.Duration
	for i := range 20 {
		p := &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-list-%d", name, i)}}
		if _, err := cs.ProjectcalicoV3().Profiles().Create(ctx, p, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := cs.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if err := cs.ProjectcalicoV3().Profiles().Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	return float64(lat[len(lat)/2]) / float64(time.Millisecond)
}

// blockBytes is the size, as JSON, of pool's one block.
func blockBytes(ctx context.Context, b *testing.B, cs versioned.Interface, pool string) int {
	b.Helper()
	list, err := cs.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, blk := range list.Items {
		if blk.Spec.Affinity != nil && *blk.Spec.Affinity == "host:"+pool+"-node" {
			raw, err := json.Marshal(&blk)
			if err != nil {
				b.Fatal(err)
			}
			mf, _ := json.Marshal(blk.ManagedFields)
			b.Logf("block %s: %d bytes, managedFields %d", blk.Name, len(raw), len(mf))
			return len(raw)
		}
	}
	b.Fatalf("no block with affinity host:%s-node", pool)
	return 0
}
