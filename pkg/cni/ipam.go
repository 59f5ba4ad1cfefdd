package cni

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
)

// NewIPAM is meshapi's IPAM (pkg/ipam) on cs, as the plugin's IPAM.
func NewIPAM(cs versioned.Interface) IPAM {
	return meshIPAM{c: ipam.NewClient(cs)}
}

// Annotations parses Calico's pod annotations with pkg/ipam's parsers.
var Annotations = AnnotationParser{Pools: ipam.ParsePoolsAnnotation, Addrs: ipam.ParseAddrsAnnotation}

// meshIPAM adapts *ipam.Client to IPAM.
type meshIPAM struct{ c *ipam.Client }

func (m meshIPAM) Assign(ctx context.Context, req AssignRequest) ([]netip.Addr, error) {
	return m.c.Assign(ctx, ipam.AssignArgs{Handle: req.Handle, Node: req.Node, Attrs: req.Attrs, Pools: req.Pools, Requested: req.Requested})
}

func (m meshIPAM) ReleaseByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	return m.c.ReleaseByHandle(ctx, handle)
}

func (m meshIPAM) AddressesByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	return m.c.AddressesByHandle(ctx, handle)
}

func (m meshIPAM) PodHandles(ctx context.Context, node string) ([]string, error) {
	// Every block: a pod of this node may hold an address borrowed from
	// another node's block, and a pod of another node one of ours.
	allocs, err := m.c.Handles(ctx, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range allocs {
		if a.Attrs[AttrType] != TypePod || a.Attrs[AttrNode] != node || seen[a.Handle] {
			continue
		}
		seen[a.Handle] = true
		out = append(out, a.Handle)
	}
	return out, nil
}

// IPAMError is the CNI error for a failed Assign on node: the
// plugin-specific codes for exhausted pools, no pool and an address in
// use, else what APIError says.
func IPAMError(err error, node string) error {
	var (
		exhausted *ipam.PoolsExhaustedError
		noPool    *ipam.NoPoolError
		inUse     *ipam.AddressInUseError
	)
	switch {
	case errors.As(err, &exhausted):
		return types.NewError(ErrPoolsExhausted, fmt.Sprintf("IPPools %s are exhausted for node %s", strings.Join(exhausted.Pools, ", "), exhausted.Node), err.Error())
	case errors.As(err, &noPool):
		return types.NewError(ErrNoPool, err.Error(), "")
	case errors.As(err, &inUse):
		return types.NewError(ErrAddressInUse, fmt.Sprintf("requested address %s is held by handle %s", inUse.Addr, inUse.Handle), "")
	}
	return APIError(err, fmt.Sprintf("allocating an address for node %s", node))
}
