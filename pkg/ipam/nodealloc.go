package ipam

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// NodeAllocator allocates and releases the addresses of one node's pods in
// batches, for a node-local IPAM service (pkg/ipamd): the changes of a
// batch that fall in one block are one compare-and-swap write of that
// block, and an op's result is reported only once the write that records
// it succeeded. Between batches it keeps its view of the IPAMBlocks, read
// again only where a write lost a compare-and-swap (or failed): every
// write carries the resourceVersion it was decided on, so a stale view
// costs a retry, never a duplicate. The IPPools, the IPAMConfiguration
// and the node's labels are read again for every batch (the pools from
// the API server's watch cache), so that a disabled or new pool is seen
// at once; with ClientOptions.Cache they come from that cache instead,
// and a pool is seen once its watch event arrived.
//
// A NodeAllocator is not safe for concurrent use: its owner serializes
// the batches (and should serialize with them any other change it makes
// with the Client, calling Forget after one).
type NodeAllocator struct {
	c     *Client
	node  string
	s     snapshot
	pools []*v3.IPPool // the pools last read, kept by Forget
}

// NewNodeAllocator returns the allocator of node's batches.
func (c *Client) NewNodeAllocator(node string) *NodeAllocator {
	return &NodeAllocator{c: c, node: node}
}

// Pools are the IPPools the last batch decided on (read from the API
// server's watch cache), nil before the first.
func (n *NodeAllocator) Pools() []*v3.IPPool {
	return n.pools
}

// Forget drops the view of the blocks; the next batch lists them again.
func (n *NodeAllocator) Forget() {
	n.s = snapshot{}
}

// Do carries out ops and returns their results, in order. Assigns
// allocate on the allocator's node, whatever their Node says. A write
// that loses a compare-and-swap (or a claim that loses to another node)
// has its ops decided again on the block read afresh; a write that fails
// otherwise fails all its ops, and the view is dropped (the write may
// have landed: an op retried with the same handle finds its address).
func (n *NodeAllocator) Do(ctx context.Context, ops []Op) []OpResult {
	res := make([]OpResult, len(ops))
	reqs := make([]request, len(ops))
	var pending []int
	for i, op := range ops {
		switch {
		case op.Assign != nil && op.Release == "" && op.Assign.Handle != "":
			args := *op.Assign
			args.Node = n.node
			reqs[i] = n.c.request(args)
			pending = append(pending, i)
		case op.Assign == nil && op.Release != "":
			pending = append(pending, i)
		default:
			res[i].Err = fmt.Errorf("ipam: batch op %d: set exactly one of Assign (with a handle) and Release", i)
		}
	}
	n.s.freshPools = false // pools from the watch cache, until a decision needs them confirmed
	listed := false
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == n.c.opts.MaxAttempts {
			for _, i := range pending {
				res[i].Err = fmt.Errorf("ipam: node %s: gave up after %d attempts lost to concurrent writers", n.node, attempt)
			}
			break
		}
		if attempt > 0 && !pause(ctx, attempt) {
			for _, i := range pending {
				res[i].Err = fmt.Errorf("ipam: node %s: %w", n.node, ctx.Err())
			}
			break
		}
		fullList, err := n.load(ctx)
		listed = listed || fullList
		if err != nil {
			n.Forget()
			for _, i := range pending {
				res[i].Err = fmt.Errorf("ipam: node %s: %w", n.node, err)
			}
			break
		}
		p := planBatch(n.s, reqs, ops, pending, n.s.cfg, n.c.opts.Now())
		pending = n.settle(p, ops, pending, res, listed)
		pending = append(pending, n.commit(ctx, p, ops, res)...)
		slices.Sort(pending)
		pending = slices.Compact(pending)
	}
	return res
}

// settle records the results of the ops that need no write or failed
// while deciding, and returns those to decide again: a release of a
// handle no block of a cached view holds (the view is listed afresh to
// be sure) and an allocation that found no pool or no free address on
// pools read from the watch cache (read again consistently).
func (n *NodeAllocator) settle(p batchPlan, ops []Op, pending []int, res []OpResult, listed bool) []int {
	var again []int
	for _, i := range pending {
		switch {
		case p.unknown[i] && !listed:
			n.s.blocks, n.s.loaded = nil, false
			again = append(again, i)
		case p.done[i]:
			res[i].Addrs = appendNew(res[i].Addrs, p.addrs[i])
		case p.errs[i] != nil && confirmPools(&n.s, p.errs[i]):
			again = append(again, i)
		case p.errs[i] != nil:
			res[i].Err = fmt.Errorf("ipam: assigning an IPv4 address to handle %q on node %q: %w", ops[i].Assign.Handle, n.node, p.errs[i])
		}
	}
	return again
}

// commit performs the plan's writes, records the results of the ops
// whose writes all succeeded, fails those with a failed write, and
// returns those with a write lost to a concurrent writer.
func (n *NodeAllocator) commit(ctx context.Context, p batchPlan, ops []Op, res []OpResult) []int {
	failed := map[int]error{}
	lost := map[int]bool{}
	freed := map[int][]netip.Addr{} // by the writes that succeeded
	for _, w := range p.writes {
		stored, err := n.c.writeBlock(ctx, w.block, w.create)
		switch {
		case err != nil:
			n.Forget()
			for _, i := range w.ops {
				failed[i] = err
			}
		case stored == nil:
			n.s.refetch = append(n.s.refetch, w.block.Name)
			for _, i := range w.ops {
				lost[i] = true
			}
		default:
			n.keep(stored)
			for i, a := range w.freed {
				freed[i] = append(freed[i], a...)
			}
		}
	}
	var again []int
	seen := map[int]bool{}
	for _, w := range p.writes {
		for _, i := range w.ops {
			if seen[i] {
				continue
			}
			seen[i] = true
			if ops[i].Release != "" {
				res[i].Addrs = appendNew(res[i].Addrs, freed[i])
			}
			switch {
			case failed[i] != nil:
				res[i].Err = fmt.Errorf("ipam: node %s: %w", n.node, failed[i])
			case lost[i]:
				again = append(again, i)
			case ops[i].Assign != nil:
				res[i].Addrs = p.addrs[i]
			}
		}
	}
	// A release spanning a lost and a written block: what was written
	// stays released (and is reported); the rest is decided again.
	return again
}

// keep puts a block the API server stored into the view.
func (n *NodeAllocator) keep(b *v3.IPAMBlock) {
	if k := slices.IndexFunc(n.s.blocks, func(x *v3.IPAMBlock) bool { return x.Name == b.Name }); k >= 0 {
		n.s.blocks[k] = b
		return
	}
	n.s.blocks = append(n.s.blocks, b)
}

// load reads what a round decides on: the pools, the configuration and
// the node's labels each time; the blocks when the view has none (then
// listed reports true), else only those a concurrent writer changed.
func (n *NodeAllocator) load(ctx context.Context) (listed bool, err error) {
	if !n.s.loaded || n.s.blocks == nil {
		if n.s.blocks, err = n.c.listBlocks(ctx); err != nil {
			return false, err
		}
		n.s.refetch, listed = nil, true
	}
	for len(n.s.refetch) > 0 {
		if err := n.c.refetch(ctx, &n.s); err != nil {
			return listed, err
		}
	}
	if err := n.c.loadPools(ctx, n.node, &n.s); err != nil {
		return listed, err
	}
	n.pools = n.s.pools
	return listed, nil
}

// writeBlock creates or updates b and returns what the API server
// stored; nil, nil when a concurrent writer won (Conflict,
// AlreadyExists).
func (c *Client) writeBlock(ctx context.Context, b *v3.IPAMBlock, create bool) (*v3.IPAMBlock, error) {
	if create {
		got, err := c.cs.ProjectcalicoV3().IPAMBlocks().Create(ctx, untracked(b), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("claiming IPAMBlock %s: %w", b.Name, err)
		}
		return got, nil
	}
	got, err := c.cs.ProjectcalicoV3().IPAMBlocks().Update(ctx, untracked(b), metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("updating IPAMBlock %s (resourceVersion %s): %w", b.Name, b.ResourceVersion, err)
	}
	return got, nil
}

// pause waits a jittered, growing while before attempt; false when ctx
// ended first.
func pause(ctx context.Context, attempt int) bool {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(attempt, 20))))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// appendNew appends to to the addresses of add it does not hold yet.
func appendNew(to, add []netip.Addr) []netip.Addr {
	for _, a := range add {
		if !slices.Contains(to, a) {
			to = append(to, a)
		}
	}
	return to
}
