package meshcheck

import (
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// ClusterView is what the checks need to know about one cluster of the mesh.
type ClusterView struct {
	// Name of the cluster. For a remote cluster it is the name of the
	// RemoteClusterConfiguration that connects it (the prefix of its
	// mirrored objects). It is not used for the local cluster, which
	// messages call "this cluster" (or "local" before an IPPool).
	Name string
	// Pools are the cluster's own IP pools. Callers drop pools mirrored
	// from other clusters (labelled v3.LabelCluster); any left over are
	// ignored, because a remote cluster's mirror of this cluster's pools
	// would otherwise overlap this cluster's pools. Pools whose CIDR does
	// not parse are ignored by the overlap rule (validation reports them).
	Pools []v3.IPPool
	// Felix is the cluster's "default" FelixConfiguration; nil means every
	// setting has its default.
	Felix *v3.FelixConfiguration
	// Nodes are the names of the cluster's own nodes. Callers drop nodes
	// mirrored from other clusters; names containing
	// v3.RemoteNameSeparator ("cluster-c/host-1"), which only mirrored
	// nodes have, and empty names are ignored.
	Nodes []string
}

// UsesVXLAN reports whether the cluster uses the VXLAN overlay: its
// FelixConfiguration sets vxlanEnabled to true, or any of its own pools
// (disabled ones included) has vxlanMode Always or CrossSubnet.
func (c ClusterView) UsesVXLAN() bool {
	return c.overlays()&overlayVXLAN != 0
}

// UsesWireGuard reports whether the cluster uses WireGuard: its
// FelixConfiguration sets wireguardEnabled or wireguardEnabledV6 to true.
func (c ClusterView) UsesWireGuard() bool {
	return c.overlays()&overlayWireGuard != 0
}

// overlays returns the overlays the cluster uses.
func (c ClusterView) overlays() overlays {
	return effectiveSettings(c.Felix, poolsUseVXLAN(c.Pools)).overlays
}

// parsedPool is an own pool of a cluster with a parsed CIDR.
type parsedPool struct {
	name   string
	cidr   string // as written in the spec, for messages
	prefix netip.Prefix
}

// view is a ClusterView prepared for the rules: mirrored objects dropped,
// pools parsed and sorted, nodes sorted and unique, settings resolved.
type view struct {
	name     string
	pools    []parsedPool
	nodes    []string
	settings settings
}

// newView prepares c for the rules.
func newView(c ClusterView) view {
	return view{
		name:     c.Name,
		pools:    ownPools(c.Pools),
		nodes:    ownNodes(c.Nodes),
		settings: effectiveSettings(c.Felix, poolsUseVXLAN(c.Pools)),
	}
}

// sortedViews prepares remotes for the rules, sorted by name (the input
// order is kept between equal names).
func sortedViews(remotes []ClusterView) []view {
	vs := make([]view, 0, len(remotes))
	for _, r := range remotes {
		vs = append(vs, newView(r))
	}
	slices.SortStableFunc(vs, func(a, b view) int { return strings.Compare(a.name, b.name) })
	return vs
}

// isMirrored reports whether an object's labels mark it as mirrored from a
// remote cluster.
func isMirrored(labels map[string]string) bool {
	_, ok := labels[v3.LabelCluster]
	return ok
}

// parsePool returns p as a pool; ok is false when its CIDR does not parse.
func parsePool(p *v3.IPPool) (parsedPool, bool) {
	prefix, err := netip.ParsePrefix(p.Spec.CIDR)
	if err != nil {
		return parsedPool{}, false
	}
	return parsedPool{name: p.Name, cidr: p.Spec.CIDR, prefix: prefix.Masked()}, true
}

// ownPools returns the pools of ps that are not mirrored and whose CIDR
// parses, sorted by name, then CIDR.
func ownPools(ps []v3.IPPool) []parsedPool {
	var out []parsedPool
	for i := range ps {
		if isMirrored(ps[i].Labels) {
			continue
		}
		if p, ok := parsePool(&ps[i]); ok {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b parsedPool) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.cidr, b.cidr)
	})
	return out
}

// poolsUseVXLAN reports whether any own (not mirrored) pool of ps has
// vxlanMode Always or CrossSubnet.
func poolsUseVXLAN(ps []v3.IPPool) bool {
	for i := range ps {
		if isMirrored(ps[i].Labels) {
			continue
		}
		switch ps[i].Spec.VXLANMode {
		case v3.EncapModeAlways, v3.EncapModeCrossSubnet:
			return true
		}
	}
	return false
}
