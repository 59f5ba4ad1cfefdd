package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// refresh reads s for an attempt: every IPAMBlock each time (after a
// lost compare-and-swap only the contested block, see refetch); the
// IPAMConfiguration, the IPPools and, when a pool has a nodeSelector, the
// labels of node's projectcalico.org/v3 Node (a missing Node has no
// labels) only the first time. Those change rarely, and a decision taken
// on them while they change is no less safe: every block write is a
// compare-and-swap.
func (c *Client) refresh(ctx context.Context, node string, s *snapshot) error {
	if s.loaded && len(s.refetch) > 0 {
		for len(s.refetch) > 0 {
			if err := c.refetch(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if s.blocks, err = c.listBlocks(ctx); err != nil {
		return err
	}
	s.refetch = nil
	if s.loaded {
		return nil
	}
	return c.loadPools(ctx, node, s)
}

// loadPools reads the IPAMConfiguration, the IPPools and, when a pool
// has a nodeSelector, the labels of node's projectcalico.org/v3 Node (a
// missing Node has no labels) into s.
func (c *Client) loadPools(ctx context.Context, node string, s *snapshot) error {
	if c.opts.Cache != nil && !s.freshPools {
		return c.loadCached(node, s)
	}
	// The configuration is read while the pools are listed.
	type cfgResult struct {
		cfg Config
		err error
	}
	cfgCh := make(chan cfgResult, 1)
	go func() {
		cfg, err := c.config(ctx)
		cfgCh <- cfgResult{cfg, err}
	}()
	// From the watch cache (resourceVersion "0"): a consistent list waits
	// for the cache to catch up with writes to other resources, up to
	// ~100ms, and a pool list a moment old decides no less safely. Only a
	// decision that found no pool, or no free address, is taken again on
	// a consistent list (see confirmPools).
	rv := "0"
	if s.freshPools {
		rv = ""
	}
	pools, err := c.cs.ProjectcalicoV3().IPPools().List(ctx, metav1.ListOptions{ResourceVersion: rv})
	cr := <-cfgCh
	if err != nil {
		return fmt.Errorf("listing IPPools: %w", err)
	}
	if cr.err != nil {
		return cr.err
	}
	s.cfg = cr.cfg
	s.pools = make([]*v3.IPPool, len(pools.Items))
	for i := range pools.Items {
		s.pools[i] = &pools.Items[i]
	}
	if slices.ContainsFunc(s.pools, hasNodeSelector) {
		n, err := c.cs.ProjectcalicoV3().Nodes().Get(ctx, node, metav1.GetOptions{})
		switch {
		case err == nil:
			s.labels = n.Labels
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading Node %s for the IPPools' nodeSelector: %w", node, err)
		}
	}
	s.loaded = true
	return nil
}

// loadCached reads the IPAMConfiguration, the IPPools and, when a pool
// has a nodeSelector, node's labels into s from the Client's Cache.
func (c *Client) loadCached(node string, s *snapshot) error {
	ic, err := c.opts.Cache.IPAMConfiguration()
	if err != nil {
		return fmt.Errorf("reading IPAMConfiguration %s from the cache: %w", v3.IPAMConfigurationName, err)
	}
	s.cfg = c.opts.Config
	if ic != nil {
		s.cfg = ConfigFrom(&ic.Spec)
	}
	if s.pools, err = c.opts.Cache.IPPools(); err != nil {
		return fmt.Errorf("listing IPPools from the cache: %w", err)
	}
	if slices.ContainsFunc(s.pools, hasNodeSelector) {
		n, err := c.opts.Cache.Node(node)
		if err != nil {
			return fmt.Errorf("reading Node %s from the cache for the IPPools' nodeSelector: %w", node, err)
		}
		s.labels = nil
		if n != nil {
			s.labels = n.Labels
		}
	}
	s.loaded = true
	return nil
}

// refetch reads again, with a consistent GET, the first of the blocks a
// concurrent writer changed (a lost compare-and-swap) or claimed
// (AlreadyExists), instead of listing every block.
func (c *Client) refetch(ctx context.Context, s *snapshot) error {
	name := s.refetch[0]
	s.refetch = s.refetch[1:]
	b, err := c.cs.ProjectcalicoV3().IPAMBlocks().Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading IPAMBlock %s again: %w", name, err)
	}
	i := slices.IndexFunc(s.blocks, func(x *v3.IPAMBlock) bool { return x.Name == name })
	switch {
	case err != nil && i >= 0:
		s.blocks = slices.Delete(s.blocks, i, i+1)
	case err == nil && i >= 0:
		s.blocks[i] = b
	case err == nil:
		s.blocks = append(s.blocks, b)
	}
	return nil
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

// listBlocks lists every IPAMBlock with a consistent read, so that a
// handle's allocation just written is seen; the API server serves it from
// its watch cache once that has caught up, which after writes to other
// resources can take up to ~100ms.
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

// confirmPools reports whether err (from a decision on pools read from the
// watch cache) should be confirmed on a consistent list of the pools: no
// pool admitted the node, or every pool was full, and the cache may not
// show a pool created a moment ago. It marks s to read the pools again.
func confirmPools(s *snapshot, err error) bool {
	var noPool *NoPoolError
	var exhausted *PoolsExhaustedError
	if s.freshPools || !(errors.As(err, &noPool) || errors.As(err, &exhausted)) {
		return false
	}
	s.freshPools, s.loaded = true, false
	return true
}
