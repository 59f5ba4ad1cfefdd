package ipamgc

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkNewPlan plans one pass over 1,000 nodes with a full /26 block
// each (64,000 allocations, one pod in 64 gone): what a pass of the
// controller costs besides the API calls of its releases.
func BenchmarkNewPlan(b *testing.B) {
	const nodes, perBlock = 1000, 64
	s := &State{Pods: map[string]Pod{}, Nodes: map[string]bool{}}
	base := netip.MustParseAddr("198.18.0.0").As4()
	for n := range nodes {
		node := fmt.Sprintf("node-%d", n)
		s.Nodes[node] = true
		var allocs []alloc
		for o := range perBlock {
			pod := fmt.Sprintf("p-%d-%d", n, o)
			if o != 5 {
				s.Pods["ns/"+pod] = Pod{Node: node}
			}
			allocs = append(allocs, podAlloc(o, "ns", pod, node, t0.Add(-time.Hour)))
		}
		a := base
		a[2], a[3] = byte(n>>2), byte(n&3)*perBlock
		cidr := netip.PrefixFrom(netip.AddrFrom4(a), 26).String()
		s.Blocks = append(s.Blocks, block(cidr, cidr, node, true, allocs...))
	}
	seen := map[string]time.Time{}
	b.ReportAllocs()
	for b.Loop() {
		p, err := NewPlan(s, seen, t0, time.Minute)
		if err != nil || p.Waiting != nodes {
			b.Fatalf("plan: %v, %d waiting", err, p.Waiting)
		}
	}
}
