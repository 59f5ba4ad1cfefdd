package ipam

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// TestPlanBatch: the ops of one round share their block's write, each
// deciding on the blocks as the ops before it left them.
func TestPlanBatch(t *testing.T) {
	pool := testPool("p", "198.18.0.0/24", 28)
	assign := func(h string) Op { return Op{Assign: &AssignArgs{Handle: h, Node: "n1"}} }
	held := testBlock("n1", "198.18.0.0/28")
	allocate(&held.Spec, 3, "net.old", nil)
	tests := []struct {
		name    string
		blocks  int // which view: 0 none, 1 the block of n1 holding net.old at .3, 2 n1's block full
		ops     []Op
		writes  []string // block names written, in order
		creates []bool
		addrs   []string // per op, "" for none
		done    []bool
		unknown []bool
		exhaust []bool
	}{
		{"three assigns claim one block in one write", 0, []Op{assign("net.a"), assign("net.b"), assign("net.c")},
			[]string{"198-18-0-0-28"}, []bool{true}, []string{"198.18.0.0", "198.18.0.1", "198.18.0.2"}, nil, nil, nil},
		{"assigns and a release in one block: one write", 1, []Op{assign("net.a"), {Release: "net.old"}, assign("net.b")},
			[]string{"198-18-0-0-28"}, []bool{false}, []string{"198.18.0.0", "198.18.0.3", "198.18.0.1"}, nil, nil, nil},
		{"a handle holding its address needs no write", 1, []Op{assign("net.old")},
			nil, nil, []string{"198.18.0.3"}, []bool{true}, nil, nil},
		{"the same handle twice waits for the first's write", 0, []Op{assign("net.a"), assign("net.a")},
			[]string{"198-18-0-0-28"}, []bool{true}, []string{"198.18.0.0", "198.18.0.0"}, nil, nil, nil},
		{"release of a handle no block holds", 1, []Op{{Release: "net.nobody"}},
			nil, nil, []string{""}, []bool{true}, []bool{true}, nil},
		{"a full block: the next op claims a new one", 2, []Op{assign("net.a")},
			[]string{"198-18-0-16-28"}, []bool{true}, []string{"198.18.0.16"}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := snapshot{loaded: true, pools: []*v3.IPPool{pool}}
			switch tt.blocks {
			case 1:
				s.blocks = []*v3.IPAMBlock{held.DeepCopy()}
			case 2:
				s.blocks = []*v3.IPAMBlock{full("n1", "198.18.0.0/28")}
			}
			before := len(s.blocks)
			c := NewClient(nil)
			c.opts.Now = func() time.Time { return testNow }
			reqs := make([]request, len(tt.ops))
			pending := make([]int, len(tt.ops))
			for i, op := range tt.ops {
				pending[i] = i
				if op.Assign != nil {
					reqs[i] = c.request(*op.Assign)
				}
			}
			p := planBatch(s, reqs, tt.ops, pending, Config{}, testNow)
			var names []string
			var creates []bool
			for _, w := range p.writes {
				names = append(names, w.block.Name)
				creates = append(creates, w.create)
			}
			if !slices.Equal(names, tt.writes) || !slices.Equal(creates, tt.creates) {
				t.Errorf("writes %v (create %v), want %v (create %v)", names, creates, tt.writes, tt.creates)
			}
			for i, want := range tt.addrs {
				got := ""
				if len(p.addrs[i]) > 0 {
					got = p.addrs[i][0].String()
				}
				if got != want {
					t.Errorf("op %d: address %q, want %q", i, got, want)
				}
				if d := i < len(tt.done) && tt.done[i]; p.done[i] != d {
					t.Errorf("op %d: done %v, want %v", i, p.done[i], d)
				}
				if u := i < len(tt.unknown) && tt.unknown[i]; p.unknown[i] != u {
					t.Errorf("op %d: unknown %v, want %v", i, p.unknown[i], u)
				}
			}
			for _, w := range p.writes {
				if !records(w.block, netip.MustParsePrefix(w.block.Spec.CIDR)) {
					t.Errorf("write of %s keeps no valid allocation record", w.block.Name)
				}
			}
			if len(s.blocks) != before || (tt.blocks == 1 && handleOf(&s.blocks[0].Spec, 0) != "") {
				t.Errorf("planBatch changed the view it was given")
			}
		})
	}
	t.Run("an exhausted pool fails the op, not the batch", func(t *testing.T) {
		s := snapshot{loaded: true, pools: []*v3.IPPool{testPool("small", "198.18.1.0/30", 30)}}
		c := NewClient(nil)
		ops := []Op{assign("net.a"), assign("net.b"), assign("net.c"), assign("net.d"), assign("net.e")}
		reqs := make([]request, len(ops))
		for i, op := range ops {
			reqs[i] = c.request(*op.Assign)
		}
		p := planBatch(s, reqs, ops, []int{0, 1, 2, 3, 4}, Config{}, testNow)
		var exhausted *PoolsExhaustedError
		if len(p.writes) != 1 || len(p.writes[0].ops) != 4 || !errors.As(p.errs[4], &exhausted) || exhausted.Pools[0] != "small" {
			t.Errorf("5 assigns in a pool of 4: %d writes, errs %v; want one write of 4 ops and op 4 exhausted naming small", len(p.writes), p.errs)
		}
	})
}
