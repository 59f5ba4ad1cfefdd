package ipam

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// ReleaseByHandle releases every address the handle holds and returns
// them; releasing an unknown handle returns nil, nil.
//
// Cost: a handle does not say which node it is on (except
// VXLANTunnelHandle), and meshapi keeps no handle index, so every round
// lists all IPAMBlocks (one List, O(blocks) to scan) and then writes each
// block that holds the handle (the node's own blocks first when the
// handle names its node), re-listing after a Conflict.
func (c *Client) ReleaseByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	if handle == "" {
		return nil, fmt.Errorf("ipam: release: the handle is empty")
	}
	var released []netip.Addr
	err := c.retry(ctx, func() (bool, error) {
		blocks, err := c.listBlocks(ctx)
		if err != nil {
			return false, err
		}
		holding := blocksHolding(blocks, handle)
		for _, pb := range holding {
			b := pb.b.DeepCopy()
			freed := release(&b.Spec, handle)
			done, err := c.write(ctx, change{block: b})
			if err != nil || !done {
				return false, err
			}
			for _, o := range freed {
				released = append(released, addrAt(pb.cidr, o))
			}
		}
		return true, nil
	})
	if err != nil {
		return released, fmt.Errorf("ipam: releasing handle %q: %w", handle, err)
	}
	return released, nil
}

// blocksHolding are the blocks in which handle holds an address, those
// affine to the node a VXLAN tunnel handle names first.
func blocksHolding(blocks []*v3.IPAMBlock, handle string) []parsedBlock {
	var out []parsedBlock
	for _, pb := range parseBlocks(blocks) {
		if records(pb.b, pb.cidr) && len(heldBy(&pb.b.Spec, handle)) > 0 {
			out = append(out, pb)
		}
	}
	if node, ok := strings.CutPrefix(handle, VXLANTunnelHandle("")); ok {
		slices.SortStableFunc(out, func(x, y parsedBlock) int { return ownFirst(x.b, node) - ownFirst(y.b, node) })
	}
	return out
}

func ownFirst(b *v3.IPAMBlock, node string) int {
	if blockNode(b) == node {
		return 0
	}
	return 1
}
