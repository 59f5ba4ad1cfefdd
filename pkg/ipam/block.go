package ipam

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// affinityPrefix starts a block's affinity to a node.
const affinityPrefix = "host:"

// newBlock is an empty block of cidr affine to node.
func newBlock(cidr netip.Prefix, node string, strict bool, now time.Time) *v3.IPAMBlock {
	n := blockCount(cidr)
	aff := affinityPrefix + node
	claim := metav1.NewTime(now)
	b := &v3.IPAMBlock{
		ObjectMeta: metav1.ObjectMeta{Name: BlockName(cidr)},
		Spec: v3.IPAMBlockSpec{
			CIDR: cidr.Masked().String(), Affinity: &aff, AffinityClaimTime: &claim, StrictAffinity: strict,
			Allocations: make(v3.Allocations, n), Unallocated: make([]int, n),
		},
	}
	for i := range n {
		b.Spec.Unallocated[i] = i
	}
	return b
}

// blockNode is the node a block is affine to, or "".
func blockNode(b *v3.IPAMBlock) string {
	if b.Spec.Affinity == nil {
		return ""
	}
	n, _ := strings.CutPrefix(*b.Spec.Affinity, affinityPrefix)
	return n
}

// records tells whether b keeps an allocation record IPAM may change: a
// local block with one allocation entry per address.
func records(b *v3.IPAMBlock, cidr netip.Prefix) bool {
	if _, mirrored := b.Labels[v3.LabelCluster]; mirrored || b.Spec.Deleted {
		return false
	}
	n := blockCount(cidr)
	return n > 0 && len(b.Spec.Allocations) == n
}

// handleOf is the handle holding ordinal o of b, or "".
func handleOf(spec *v3.IPAMBlockSpec, o int) string {
	if o >= len(spec.Allocations) || spec.Allocations[o] == nil {
		return ""
	}
	i := *spec.Allocations[o]
	if i < 0 || i >= len(spec.Attributes) || spec.Attributes[i].HandleID == nil {
		return ""
	}
	return *spec.Attributes[i].HandleID
}

// heldBy lists the ordinals of spec that handle holds.
func heldBy(spec *v3.IPAMBlockSpec, handle string) []int {
	var out []int
	for o := range spec.Allocations {
		if handleOf(spec, o) == handle {
			out = append(out, o)
		}
	}
	return out
}

// isFree tells whether ordinal o of spec is free.
func isFree(spec *v3.IPAMBlockSpec, o int) bool {
	return o >= 0 && o < len(spec.Allocations) && spec.Allocations[o] == nil
}

// allocate records ordinal o, which must be free, for handle with attrs,
// in one change of the block.
func allocate(spec *v3.IPAMBlockSpec, o int, handle string, attrs map[string]string) {
	h := handle
	spec.Attributes = append(spec.Attributes, v3.AllocationAttribute{HandleID: &h, Secondary: maps.Clone(attrs)})
	idx := len(spec.Attributes) - 1
	spec.Allocations[o] = &idx
	spec.Unallocated = slices.DeleteFunc(spec.Unallocated, func(u int) bool { return u == o })
	spec.SequenceNumber++
}

// release frees every ordinal handle holds in spec, appending them to the
// unallocated list (reused last), drops the attributes no allocation
// refers to any more, and returns the freed ordinals.
func release(spec *v3.IPAMBlockSpec, handle string) []int {
	freed := heldBy(spec, handle)
	if len(freed) == 0 {
		return nil
	}
	for _, o := range freed {
		spec.Allocations[o] = nil
		spec.Unallocated = append(spec.Unallocated, o)
	}
	compactAttributes(spec)
	spec.SequenceNumber++
	return freed
}

// compactAttributes drops unreferenced attributes and renumbers the
// allocations' references.
func compactAttributes(spec *v3.IPAMBlockSpec) {
	remap := make(map[int]int)
	var kept []v3.AllocationAttribute
	for o, a := range spec.Allocations {
		if a == nil {
			continue
		}
		n, ok := remap[*a]
		if !ok {
			n = len(kept)
			remap[*a] = n
			kept = append(kept, spec.Attributes[*a])
		}
		spec.Allocations[o] = &n
	}
	spec.Attributes = kept
}

// untracked asks the API server to keep no managed fields for the write
// of b: a managedFields list of one empty entry clears them, and an
// update of an object with none tracks none (server-side apply's
// bookkeeping starts with the first apply). The allocators own a block's
// content whole and never apply it, and tracking the fields of a block
// of 64 allocations is a typed walk of it on every write (~8 % of a
// write's CPU in the API server, BenchmarkIPAMBlockWrite). A create
// still records them; the block's first update clears them.
func untracked(b *v3.IPAMBlock) *v3.IPAMBlock {
	b.ManagedFields = []metav1.ManagedFieldsEntry{{}}
	return b
}
