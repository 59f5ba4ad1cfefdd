package ipam

import (
	"net/netip"
	"slices"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Op is one change of a batch (NodeAllocator.Do): exactly one of Assign
// and Release is set.
type Op struct {
	// Assign allocates one IPv4 address (or returns the one the handle
	// holds). Requested addresses and IPv6 are not batched: Client.Assign
	// does them.
	Assign *AssignArgs
	// Release frees every address the handle holds.
	Release string
}

// OpResult is the outcome of one Op: the addresses assigned or
// released, or why it failed.
type OpResult struct {
	// Addrs are the address assigned, or those released.
	Addrs []netip.Addr
	// Err is why the Op failed; nil when it succeeded.
	Err error
}

// blockWrite is one write of a batch: a block changed by one or more ops.
type blockWrite struct {
	block  *v3.IPAMBlock
	create bool  // the block is claimed by this write
	ops    []int // the ops whose change the write records
	// freed are the addresses each releasing op frees in this block.
	freed map[int][]netip.Addr
}

// batchPlan is what one round of a batch decided: the writes, and for
// each op what it is waiting for.
type batchPlan struct {
	// writes by block name, in the order first planned.
	writes []*blockWrite
	// addrs[i] are the addresses op i assigns or releases in this round.
	addrs [][]netip.Addr
	// done[i]: op i needs no write (its handle holds its address already,
	// or a released handle holds nothing).
	done []bool
	// errs[i]: op i failed while deciding (no pool, pools exhausted).
	errs []error
	// unknown[i]: op i releases a handle no block of the view holds.
	unknown []bool
}

// planBatch decides, on the view s, the writes that carry out ops[i] for
// every i in pending: the ops' changes of one block go into one write,
// each op deciding on the blocks as the ops before it left them. It does
// no I/O and does not change s.
func planBatch(s snapshot, r []request, ops []Op, pending []int, cfg Config, now time.Time) batchPlan {
	p := batchPlan{addrs: make([][]netip.Addr, len(ops)), done: make([]bool, len(ops)), errs: make([]error, len(ops)), unknown: make([]bool, len(ops))}
	working := slices.Clone(s.blocks)
	byName := map[string]*blockWrite{}
	record := func(i int, b *v3.IPAMBlock, create bool) {
		if k := slices.IndexFunc(working, func(x *v3.IPAMBlock) bool { return x.Name == b.Name }); k >= 0 {
			working[k] = b
		} else {
			working = append(working, b)
		}
		w, ok := byName[b.Name]
		if !ok {
			w = &blockWrite{}
			byName[b.Name] = w
			p.writes = append(p.writes, w)
		}
		w.block, w.create = b, w.create || create
		if !slices.Contains(w.ops, i) {
			w.ops = append(w.ops, i)
		}
	}
	for _, i := range pending {
		if ops[i].Release != "" {
			holding := blocksHolding(working, ops[i].Release)
			if len(holding) == 0 {
				p.done[i], p.unknown[i] = true, true
			}
			for _, pb := range holding {
				b := pb.b.DeepCopy()
				var freed []netip.Addr
				for _, o := range release(&b.Spec, ops[i].Release) {
					freed = append(freed, addrAt(pb.cidr, o))
				}
				p.addrs[i] = append(p.addrs[i], freed...)
				w := byName[b.Name]
				record(i, b, w != nil && w.create)
				w = byName[b.Name]
				if w.freed == nil {
					w.freed = map[int][]netip.Addr{}
				}
				w.freed[i] = append(w.freed[i], freed...)
			}
			continue
		}
		if held := holdingsOf(working, r[i].handle, 4); len(held) > 0 {
			p.addrs[i] = []netip.Addr{held[0].Addr}
			if w := byName[held[0].Block]; w != nil {
				w.ops = append(w.ops, i) // held by a write of this round: wait for it
			} else {
				p.done[i] = true
			}
			continue
		}
		view := s
		view.blocks = working
		ch, err := planAuto(view, r[i], cfg, now)
		if err != nil {
			p.errs[i] = err
			continue
		}
		p.addrs[i] = []netip.Addr{ch.addr}
		w := byName[ch.block.Name]
		record(i, ch.block, ch.create || (w != nil && w.create))
	}
	return p
}

// holdingsOf lists handle's allocations of family in blocks.
func holdingsOf(blocks []*v3.IPAMBlock, handle string, family int) []Allocation {
	return slices.DeleteFunc(holdings(blocks, handle), func(a Allocation) bool { return familyOf(a.Addr) != family })
}
