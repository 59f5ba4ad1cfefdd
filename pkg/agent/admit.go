package agent

import (
	"cmp"
	"maps"
	"slices"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshguard"
)

// admitRemote returns in without the mirrored objects that claim what
// their remote cluster does not own, and why each was left out. It is the
// agent's own check, as defence in depth behind the controller's: a mirror
// written past the controller (or before a local pool or node appeared)
// still never becomes a route, a neighbour, an FDB entry or a NAT
// exemption. modes are the remote clusters' overlay routing modes; with
// Enabled, blocks and endpoints must lie inside the cluster's admitted
// mirrored pools.
func admitRemote(in Inputs, modes map[string]v3.OverlayRoutingMode) (Inputs, []*meshguard.Refusal) {
	g := meshguard.New(in.Pools, in.Nodes)
	var refused []*meshguard.Refusal

	pools := map[string][]*v3.IPPool{}
	for _, p := range in.Pools {
		if c, ok := p.Labels[v3.LabelCluster]; ok {
			pools[c] = append(pools[c], p)
		}
	}
	for cluster, mode := range modes {
		if mode == v3.OverlayRoutingModeEnabled && pools[cluster] == nil {
			pools[cluster] = []*v3.IPPool{}
		}
	}
	refusedPool := map[*v3.IPPool]bool{}
	for _, cluster := range slices.Sorted(maps.Keys(pools)) {
		bad := map[string]bool{}
		for _, r := range g.AdmitPools(cluster, pools[cluster]) {
			refused = append(refused, r)
			bad[r.Name] = true
		}
		for _, p := range pools[cluster] {
			refusedPool[p] = bad[v3.NameInOwnCluster(p.Annotations, p.Name)]
		}
	}
	out := in
	out.Pools = slices.DeleteFunc(slices.Clone(in.Pools), func(p *v3.IPPool) bool { return refusedPool[p] })
	out.Nodes, refused = admitNodes(g, in.Nodes, refused)
	out.Blocks = slices.DeleteFunc(slices.Clone(in.Blocks), func(b *v3.IPAMBlock) bool {
		cluster, ok := b.Labels[v3.LabelCluster]
		if !ok {
			return false
		}
		_, r := g.PrefixString(cluster, "IPAMBlock", v3.NameInOwnCluster(b.Annotations, b.Name), "spec.cidr", b.Spec.CIDR)
		if r != nil {
			refused = append(refused, r)
		}
		return r != nil
	})
	out.Endpoints = slices.DeleteFunc(slices.Clone(in.Endpoints), func(ep *Endpoint) bool {
		if !ep.Mirror {
			return false
		}
		for _, n := range ep.Networks {
			if r := admitClaim(g, ep, n); r != nil {
				refused = append(refused, r)
				return true
			}
		}
		return false
	})
	return out, refused
}

// admitNodes drops the mirrored nodes whose address, VTEP or MAC collides
// with a local node's or an already admitted remote node's (in cluster
// and name order), adding the refusals to refused.
func admitNodes(g *meshguard.Guard, nodes []*v3.Node, refused []*meshguard.Refusal) ([]*v3.Node, []*meshguard.Refusal) {
	mirrors := slices.DeleteFunc(slices.Clone(nodes), func(n *v3.Node) bool { return !isMirror(n.Labels) })
	slices.SortFunc(mirrors, func(a, b *v3.Node) int {
		return cmp.Or(cmp.Compare(a.Labels[v3.LabelCluster], b.Labels[v3.LabelCluster]), cmp.Compare(a.Name, b.Name))
	})
	bad := map[*v3.Node]bool{}
	for _, n := range mirrors {
		if r := g.AdmitNode(meshguard.NodeOf(n.Labels[v3.LabelCluster], v3.NameInOwnCluster(n.Annotations, n.Name), n)); r != nil {
			refused = append(refused, r)
			bad[n] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(nodes), func(n *v3.Node) bool { return bad[n] }), refused
}

// admitClaim checks one address of a mirrored endpoint.
func admitClaim(g *meshguard.Guard, ep *Endpoint, n Network) *meshguard.Refusal {
	const kind, field = "WorkloadEndpoint", "spec.ipNetworks"
	if !n.ClaimOK {
		_, r := g.PrefixString(ep.Cluster, kind, ep.NameInCluster, field, n.Value) // the refusal of what does not parse
		return r
	}
	return g.Prefix(ep.Cluster, kind, ep.NameInCluster, field, n.Claim)
}
