package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Config tunes the allocator as the fields of Calico's IPAMConfiguration
// do (see ConfigFrom). The zero Config is Calico's default.
type Config struct {
	// StrictAffinity forbids borrowing from another node's block, and
	// marks the blocks this client claims as strict.
	StrictAffinity bool
	// DisableAutoAllocateBlocks stops nodes from claiming new blocks
	// (Calico's autoAllocateBlocks: false).
	DisableAutoAllocateBlocks bool
	// MaxBlocksPerHost caps the blocks one node claims; 0 is no limit.
	MaxBlocksPerHost int
}

// snapshot is what one allocation decision reads.
type snapshot struct {
	loaded bool // cfg, labels and pools are read
	// freshPools: the pools were read with a consistent list, not from the
	// API server's watch cache (which may not show a pool created a moment
	// ago).
	freshPools bool
	refetch    []string // the blocks a concurrent writer changed: read them again, not every block
	cfg        Config
	labels     map[string]string
	pools      []*v3.IPPool
	blocks     []*v3.IPAMBlock
}

// request is one address wanted by a handle.
type request struct {
	handle string
	node   string
	attrs  map[string]string
	pools  []string
	use    use
	family int
}

// change is one write that allocates addr: the Create of a claimed block
// or the Update of a read one.
type change struct {
	block  *v3.IPAMBlock
	create bool
	addr   netip.Addr
}

// parsedBlock is a block with its CIDR parsed.
type parsedBlock struct {
	b    *v3.IPAMBlock
	cidr netip.Prefix
}

// parseBlocks parses the blocks' CIDRs, sorted by address; blocks with a
// bad CIDR are left out (the API server refuses them).
func parseBlocks(blocks []*v3.IPAMBlock) []parsedBlock {
	out := make([]parsedBlock, 0, len(blocks))
	for _, b := range blocks {
		if c, err := netip.ParsePrefix(b.Spec.CIDR); err == nil {
			out = append(out, parsedBlock{b: b, cidr: c.Masked()})
		}
	}
	slices.SortFunc(out, func(x, y parsedBlock) int { return x.cidr.Addr().Compare(y.cidr.Addr()) })
	return out
}

// take allocates the first free ordinal of pb for r.
func take(pb parsedBlock, r request) change {
	b := pb.b.DeepCopy()
	o := b.Spec.Unallocated[0]
	allocate(&b.Spec, o, r.handle, r.attrs)
	return change{block: b, addr: addrAt(pb.cidr, o)}
}

// adoptable tells whether pb is a local block without an allocation
// record (made by hand, or before IPAM recorded allocations), which its
// node may start recording in.
func adoptable(pb parsedBlock) bool {
	_, mirrored := pb.b.Labels[v3.LabelCluster]
	return !mirrored && !pb.b.Spec.Deleted && len(pb.b.Spec.Allocations) == 0 && blockCount(pb.cidr) > 0
}

// adopt is a copy of pb's block with an empty allocation record; the
// write that allocates from it is a compare-and-swap like any other.
func adopt(pb parsedBlock) *v3.IPAMBlock {
	b := pb.b.DeepCopy()
	fresh := newBlock(pb.cidr, "", false, time.Time{})
	b.Spec.Allocations, b.Spec.Unallocated, b.Spec.Attributes = fresh.Spec.Allocations, fresh.Spec.Unallocated, nil
	return b
}

// planAuto decides where r's address comes from: the node's own blocks
// first, then a newly claimed block, then (without strict affinity) a
// block of another node.
func planAuto(s snapshot, r request, cfg Config, now time.Time) (change, error) {
	pools, err := eligiblePools(s.pools, r.node, s.labels, r.pools, r.use, r.family)
	if err != nil {
		return change{}, err
	}
	blocks := parseBlocks(s.blocks)
	owned := 0
	for _, pb := range blocks {
		if blockNode(pb.b) != r.node {
			continue
		}
		owned++
		if !inPools(pb.cidr, pools) {
			continue
		}
		if adoptable(pb) {
			pb.b = adopt(pb)
		}
		if records(pb.b, pb.cidr) && len(pb.b.Spec.Unallocated) > 0 {
			return take(pb, r), nil
		}
	}
	if !cfg.DisableAutoAllocateBlocks && (cfg.MaxBlocksPerHost <= 0 || owned < cfg.MaxBlocksPerHost) {
		taken := make([]netip.Prefix, len(blocks))
		for i, pb := range blocks {
			taken[i] = pb.cidr
		}
		for _, p := range pools {
			if c, ok := nextFreeCIDR(p.cidr, p.blockBits, taken); ok && blockCount(c) > 0 {
				nb := newBlock(c, r.node, cfg.StrictAffinity, now)
				ch := take(parsedBlock{b: nb, cidr: c}, r)
				ch.create = true
				return ch, nil
			}
		}
	}
	if !cfg.StrictAffinity {
		for _, pb := range blocks {
			if blockNode(pb.b) != r.node && !pb.b.Spec.StrictAffinity && records(pb.b, pb.cidr) &&
				inPools(pb.cidr, pools) && len(pb.b.Spec.Unallocated) > 0 {
				return take(pb, r), nil
			}
		}
	}
	return change{}, &PoolsExhaustedError{Node: r.node, Pools: poolNames(pools)}
}

// planAddr decides how r gets exactly address a: from the block that
// holds it, whoever it is affine to, or from a block claimed for r's node.
// held is true when r's handle already holds a.
func planAddr(s snapshot, r request, a netip.Addr, cfg Config, now time.Time) (ch change, held bool, err error) {
	p, ok := poolOf(s.pools, a)
	if !ok {
		return change{}, false, &NoPoolError{Node: r.node, Requested: []string{a.String()}}
	}
	blocks := parseBlocks(s.blocks)
	for _, pb := range blocks {
		if !pb.cidr.Contains(a) {
			continue
		}
		if !records(pb.b, pb.cidr) {
			return change{}, false, fmt.Errorf("address %s: IPAMBlock %s (spec.cidr %s) keeps no allocation record IPAM may change", a, pb.b.Name, pb.cidr)
		}
		o, _ := ordinalOf(pb.cidr, a)
		switch h := handleOf(&pb.b.Spec, o); {
		case h == r.handle:
			return change{}, true, nil
		case !isFree(&pb.b.Spec, o):
			return change{}, false, &AddressInUseError{Addr: a, Handle: h}
		}
		b := pb.b.DeepCopy()
		allocate(&b.Spec, o, r.handle, r.attrs)
		return change{block: b, addr: a}, false, nil
	}
	cidr := netip.PrefixFrom(a, p.blockBits).Masked()
	for _, pb := range blocks {
		if pb.cidr.Overlaps(cidr) {
			return change{}, false, fmt.Errorf("address %s: its block %s of IPPool %s overlaps IPAMBlock %s (spec.cidr %s)", a, cidr, p.name, pb.b.Name, pb.cidr)
		}
	}
	if blockCount(cidr) == 0 {
		return change{}, false, fmt.Errorf("address %s: IPPool %s spec.blockSize %d is too large to record allocations", a, p.name, p.blockBits)
	}
	b := newBlock(cidr, r.node, cfg.StrictAffinity, now)
	o, _ := ordinalOf(cidr, a)
	allocate(&b.Spec, o, r.handle, r.attrs)
	return change{block: b, create: true, addr: a}, false, nil
}
