package ipam

import (
	"fmt"
	"net/netip"
	"slices"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// pool is an IPPool IPAM may allocate from.
type pool struct {
	name      string
	cidr      netip.Prefix
	blockBits int
}

// use is what an address is for, matched against a pool's allowedUses.
type use = v3.IPPoolAllowedUse

// local tells whether p is a pool of this cluster that is enabled: mirrored
// and disabled pools are never allocated from.
func local(p *v3.IPPool) bool {
	_, mirrored := p.Labels[v3.LabelCluster]
	return !mirrored && !p.Spec.Disabled
}

// allows tells whether p's addresses may serve u (default: Workload and
// Tunnel).
func allows(p *v3.IPPool, u use) bool {
	if len(p.Spec.AllowedUses) == 0 {
		return u == v3.IPPoolAllowedUseWorkload || u == v3.IPPoolAllowedUseTunnel
	}
	return slices.Contains(p.Spec.AllowedUses, u)
}

// admits tells whether p's nodeSelector selects a node with labels.
func admits(p *v3.IPPool, labels map[string]string) (bool, error) {
	s := p.Spec.NodeSelector
	if s == "" || s == "all()" {
		return true, nil
	}
	sel, err := selector.Parse(s)
	if err != nil {
		return false, fmt.Errorf("IPPool %s: spec.nodeSelector %q: %w", p.Name, s, err)
	}
	return sel.Evaluate(labels), nil
}

// parsePool reads p's CIDR and block size (defaulted as the API does).
func parsePool(p *v3.IPPool) (pool, error) {
	cidr, err := netip.ParsePrefix(p.Spec.CIDR)
	if err != nil {
		return pool{}, fmt.Errorf("IPPool %s: spec.cidr %q: %w", p.Name, p.Spec.CIDR, err)
	}
	bits := p.Spec.BlockSize
	if bits == 0 {
		bits = 26
		if cidr.Addr().Is6() {
			bits = 122
		}
	}
	return pool{name: p.Name, cidr: cidr.Masked(), blockBits: bits}, nil
}

// requested tells whether p is named by one of want (names or CIDRs).
func requested(p pool, want []string) bool {
	for _, w := range want {
		if w == p.name {
			return true
		}
		if c, err := netip.ParsePrefix(w); err == nil && c.Masked() == p.cidr {
			return true
		}
	}
	return false
}

// eligiblePools are the pools of family (4 or 6) that may serve node
// (with labels) for u, restricted to want when it is not empty, in the
// order of pools. None is a *NoPoolError.
func eligiblePools(pools []*v3.IPPool, node string, labels map[string]string, want []string, u use, family int) ([]pool, error) {
	var out []pool
	for _, p := range pools {
		if !local(p) || !allows(p, u) {
			continue
		}
		pp, err := parsePool(p)
		if err != nil || familyOf(pp.cidr.Addr()) != family {
			continue
		}
		if len(want) > 0 && !requested(pp, want) {
			continue
		}
		ok, err := admits(p, labels)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, pp)
		}
	}
	if len(out) == 0 {
		return nil, &NoPoolError{Node: node, Requested: slices.Clone(want)}
	}
	return out, nil
}

// poolOf is the enabled local pool that contains a, for a requested
// address.
func poolOf(pools []*v3.IPPool, a netip.Addr) (pool, bool) {
	for _, p := range pools {
		if !local(p) {
			continue
		}
		if pp, err := parsePool(p); err == nil && pp.cidr.Contains(a) {
			return pp, true
		}
	}
	return pool{}, false
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

func poolNames(pools []pool) []string {
	out := make([]string, len(pools))
	for i, p := range pools {
		out[i] = p.name
	}
	return out
}

func inPools(cidr netip.Prefix, pools []pool) bool {
	for _, p := range pools {
		if p.cidr.Bits() <= cidr.Bits() && p.cidr.Contains(cidr.Addr()) {
			return true
		}
	}
	return false
}
