package ipam

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// read takes the snapshot one decision needs: the IPAMConfiguration, the
// IPPools, every IPAMBlock and, when a pool has a nodeSelector, the
// labels of node's projectcalico.org/v3 Node (a missing Node has no
// labels).
func (c *Client) read(ctx context.Context, node string) (snapshot, error) {
	var s snapshot
	var err error
	if s.cfg, err = c.config(ctx); err != nil {
		return s, err
	}
	pools, err := c.cs.ProjectcalicoV3().IPPools().List(ctx, metav1.ListOptions{})
	if err != nil {
		return s, fmt.Errorf("listing IPPools: %w", err)
	}
	for i := range pools.Items {
		s.pools = append(s.pools, &pools.Items[i])
	}
	if s.blocks, err = c.listBlocks(ctx); err != nil {
		return s, err
	}
	if !slices.ContainsFunc(s.pools, hasNodeSelector) {
		return s, nil
	}
	n, err := c.cs.ProjectcalicoV3().Nodes().Get(ctx, node, metav1.GetOptions{})
	switch {
	case err == nil:
		s.labels = n.Labels
	case !apierrors.IsNotFound(err):
		return s, fmt.Errorf("reading Node %s for the IPPools' nodeSelector: %w", node, err)
	}
	return s, nil
}

// config is the IPAMConfiguration "default" as a Config, or the Client's
// own Config when there is none.
func (c *Client) config(ctx context.Context) (Config, error) {
	ic, err := c.cs.ProjectcalicoV3().IPAMConfigurations().Get(ctx, v3.IPAMConfigurationName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return c.opts.Config, nil
	case err != nil:
		return Config{}, fmt.Errorf("reading IPAMConfiguration %s: %w", v3.IPAMConfigurationName, err)
	}
	return ConfigFrom(&ic.Spec), nil
}

// ConfigFrom is the Config an IPAMConfiguration's spec sets.
func ConfigFrom(spec *v3.IPAMConfigurationSpec) Config {
	return Config{
		StrictAffinity:            spec.StrictAffinity,
		DisableAutoAllocateBlocks: spec.AutoAllocateBlocks != nil && !*spec.AutoAllocateBlocks,
		MaxBlocksPerHost:          int(spec.MaxBlocksPerHost),
	}
}

func hasNodeSelector(p *v3.IPPool) bool {
	return p.Spec.NodeSelector != "" && p.Spec.NodeSelector != "all()"
}

// listBlocks lists every IPAMBlock.
func (c *Client) listBlocks(ctx context.Context) ([]*v3.IPAMBlock, error) {
	list, err := c.cs.ProjectcalicoV3().IPAMBlocks().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing IPAMBlocks: %w", err)
	}
	out := make([]*v3.IPAMBlock, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// allocations lists the allocations recorded in blocks, those of handle
// only when handle is not empty.
func allocations(blocks []*v3.IPAMBlock, handle string) []Allocation {
	var out []Allocation
	for _, pb := range parseBlocks(blocks) {
		if !records(pb.b, pb.cidr) {
			continue
		}
		spec := &pb.b.Spec
		for o, a := range spec.Allocations {
			if a == nil {
				continue
			}
			h := handleOf(spec, o)
			if handle != "" && h != handle {
				continue
			}
			var attrs map[string]string
			if *a >= 0 && *a < len(spec.Attributes) {
				attrs = spec.Attributes[*a].Secondary
			}
			out = append(out, Allocation{Handle: h, Addr: addrAt(pb.cidr, o), Block: pb.b.Name, Attrs: attrs})
		}
	}
	return out
}

// holdings lists the allocations of handle.
func holdings(blocks []*v3.IPAMBlock, handle string) []Allocation {
	return allocations(blocks, handle)
}

func addrsOf(as []Allocation) []netip.Addr {
	if len(as) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(as))
	for i, a := range as {
		out[i] = a.Addr
	}
	return out
}

// AddressesByHandle lists the addresses the handle holds (CHECK). It
// lists every IPAMBlock.
func (c *Client) AddressesByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	blocks, err := c.listBlocks(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipam: addresses of handle %q: %w", handle, err)
	}
	return addrsOf(holdings(blocks, handle)), nil
}

// Handles lists the allocations recorded in blocks affine to node (node
// == "": in every block), with their attributes. It lists every
// IPAMBlock.
func (c *Client) Handles(ctx context.Context, node string) ([]Allocation, error) {
	blocks, err := c.listBlocks(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipam: allocations of node %q: %w", node, err)
	}
	if node != "" {
		blocks = slices.DeleteFunc(blocks, func(b *v3.IPAMBlock) bool { return blockNode(b) != node })
	}
	return allocations(blocks, ""), nil
}

// HandleAddrs lists the addresses handle holds in blocks (read from an
// informer, say), without asking the API.
func HandleAddrs(blocks []*v3.IPAMBlock, handle string) []netip.Addr {
	return addrsOf(holdings(blocks, handle))
}
