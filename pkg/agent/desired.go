package agent

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/dataplane/nat"
)

// affinityPrefix starts the affinity of a block affine to a node.
const affinityPrefix = "host:"

// Inputs are the objects the desired state is computed from: the agent's
// informer caches of the local API, mirrors of remote clusters included.
type Inputs struct {
	// NodeName is the name of this agent's Node.
	NodeName string
	// NodeIP is this node's underlay address (--node-ip).
	NodeIP netip.Addr
	// VTEP, if valid, is this node's VTEP address (--vxlan-tunnel-address);
	// otherwise it is chosen as described in the package documentation.
	VTEP netip.Addr
	// LocalMAC is the MAC this node's VXLAN device should keep (the one
	// published on its Node); nil lets the kernel pick one.
	LocalMAC net.HardwareAddr

	Nodes              []*v3.Node
	Blocks             []*v3.IPAMBlock
	Pools              []*v3.IPPool
	FelixConfiguration *v3.FelixConfiguration // "default", nil if absent
	RCCs               []*v3.RemoteClusterConfiguration
	Endpoints          []*Endpoint // EndpointOf each WorkloadEndpoint
}

// Result is the desired state of the node.
type Result struct {
	// Dataplane is the VXLAN overlay to program.
	Dataplane dataplane.Desired
	// NAT is the NAT-outgoing state to program.
	NAT nat.Desired
	// VTEP is this node's VTEP address (invalid if there is none).
	VTEP netip.Addr
	// Clusters are the remote clusters of the mesh (one per
	// RemoteClusterConfiguration) and what is programmed towards each.
	Clusters []ClusterResult
	// LocalRoutes counts routes towards this cluster's other nodes.
	LocalRoutes int
	// Problems are objects that could not be used, with the reason: an
	// invalid CIDR, a node without underlay address, ...
	Problems []string
	// Refused are the mirrored objects left out because they claim what
	// their remote cluster does not own (see admitRemote).
	Refused []string
}

// ClusterResult is what the desired state holds towards one remote
// cluster.
type ClusterResult struct {
	// Cluster is the RemoteClusterConfiguration's name.
	Cluster string
	// Mode is its overlay routing mode, Enabled or Disabled.
	Mode v3.OverlayRoutingMode
	// Nodes and Routes count its overlay peers and the routes via them.
	Nodes, Routes int
}

// Routes is the number of routes of the result, all clusters together.
func (r *Result) Routes() int {
	n := len(r.Dataplane.Endpoints)
	for _, node := range r.Dataplane.Nodes {
		n += len(node.Blocks)
	}
	return n
}

// vxlanEnabled says whether this cluster runs the VXLAN overlay: the
// FelixConfiguration's vxlanEnabled when set, else whether any local pool
// uses VXLAN (as calico-node turns Felix's VXLAN on when a pool needs it).
func vxlanEnabled(fc *v3.FelixConfiguration, pools []*v3.IPPool) bool {
	if fc != nil && fc.Spec.VXLANEnabled != nil {
		return *fc.Spec.VXLANEnabled
	}
	for _, p := range pools {
		if !isMirror(p.Labels) && usesVXLAN(p) {
			return true
		}
	}
	return false
}

func usesVXLAN(p *v3.IPPool) bool {
	return p.Spec.VXLANMode == v3.EncapModeAlways || p.Spec.VXLANMode == v3.EncapModeCrossSubnet
}

func isMirror(labels map[string]string) bool {
	_, ok := labels[v3.LabelCluster]
	return ok
}

// nodeRef is how blocks and endpoints refer to a node: its name for a
// local node, "<cluster>/<name in its cluster>" for a mirrored one.
func nodeRef(n *v3.Node) (ref, cluster string) {
	cluster, mirrored := n.Labels[v3.LabelCluster]
	if !mirrored {
		return n.Name, ""
	}
	name := n.Annotations[v3.AnnotationRemoteName]
	if name == "" {
		// A mirror always carries it; fall back on "<cluster>.<name>".
		name = v3.TrimMirrorName(cluster, n.Name)
	}
	return v3.RemoteName(cluster, name), cluster
}

// NodeAddress returns a node's underlay address: spec.bgp.ipv4Address, else
// its addresses of type CalicoNodeIP, InternalIP, then any, in that order.
func NodeAddress(n *v3.Node) (netip.Addr, error) {
	var candidates []string
	if n.Spec.BGP != nil && n.Spec.BGP.IPv4Address != "" {
		candidates = append(candidates, n.Spec.BGP.IPv4Address)
	}
	for _, typ := range []v3.NodeAddressType{v3.CalicoNodeIP, v3.InternalIP, ""} {
		for _, a := range n.Spec.Addresses {
			if typ == "" || a.Type == typ {
				candidates = append(candidates, a.Address)
			}
		}
	}
	for _, c := range candidates {
		if a, err := parseAddr(c); err == nil && a.Is4() {
			return a, nil
		}
	}
	if len(candidates) == 0 {
		return netip.Addr{}, fmt.Errorf("Node %q has neither spec.bgp.ipv4Address nor spec.addresses", n.Name)
	}
	return netip.Addr{}, fmt.Errorf("Node %q has no IPv4 address in spec.bgp.ipv4Address or spec.addresses (%q)", n.Name, candidates)
}

// parseAddr parses "198.18.0.1" or "198.18.0.1/24".
func parseAddr(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err
}

// blockNode returns the node reference of a block's affinity, "" if the
// block is not affine to a host.
func blockNode(b *v3.IPAMBlock) string {
	if b.Spec.Affinity == nil {
		return ""
	}
	ref, ok := strings.CutPrefix(*b.Spec.Affinity, affinityPrefix)
	if !ok {
		return ""
	}
	return ref
}

// peer is an overlay peer being assembled.
type peer struct {
	node    dataplane.RemoteNode
	cluster string
}

// Compute returns the desired state of the node from the objects of the
// local API. It does no I/O.
func Compute(in Inputs) Result {
	var res Result
	problem := func(format string, args ...any) { res.Problems = append(res.Problems, fmt.Sprintf(format, args...)) }

	// Remote clusters and their modes; an RCC without a mode (never stored
	// so by the API server, which defaults it) counts as Disabled.
	modes := overlayModes(in.RCCs)
	in, refused := admitRemote(in, modes)
	for _, r := range refused {
		res.Refused = append(res.Refused, r.Error())
	}

	pools := classifyPools(in.Pools, problem)
	if len(pools.natSources) > 0 {
		res.NAT = natDesired(pools, in.Endpoints)
	}
	blocks := blocksByNode(in.Blocks, problem)
	res.VTEP = chooseVTEP(in, blocks[in.NodeName])

	clusters := map[string]*ClusterResult{}
	for name, mode := range modes {
		clusters[name] = &ClusterResult{Cluster: name, Mode: mode}
	}
	if !vxlanEnabled(in.FelixConfiguration, in.Pools) {
		res.Clusters = sortedClusters(clusters)
		return res
	}
	res.Dataplane.VXLAN = vxlanConfig(in, res.VTEP)

	overlayTo := func(cluster string) bool {
		return cluster == "" || modes[cluster] == v3.OverlayRoutingModeEnabled
	}
	peers := overlayPeers(in, blocks, pools.localVXLAN, overlayTo, problem)
	// Endpoints outside their node's blocks get a /32 (/128) of their own.
	res.Dataplane.Endpoints = endpointRoutes(in.Endpoints, peers, blocks, pools.localVXLAN, problem)
	res.Dataplane.Nodes = countRoutes(&res, peers, clusters)
	res.Clusters = sortedClusters(clusters)
	return res
}

// poolPrefixes are the IPPools' CIDRs by what they mean to this node.
type poolPrefixes struct {
	// localVXLAN are the local pools that use VXLAN: their blocks go
	// over the overlay.
	localVXLAN []netip.Prefix
	// natSources are the local pools whose traffic leaving the mesh is
	// masqueraded.
	natSources []netip.Prefix
	// meshDests are all pools, mirrors included: destinations inside the
	// mesh, never masqueraded.
	meshDests []netip.Prefix
}

// classifyPools sorts pools' CIDRs into poolPrefixes; a pool whose CIDR
// does not parse is a problem and left out.
func classifyPools(pools []*v3.IPPool, problem func(string, ...any)) poolPrefixes {
	var out poolPrefixes
	for _, p := range pools {
		cidr, err := netip.ParsePrefix(p.Spec.CIDR)
		if err != nil {
			problem("IPPool %q: spec.cidr %q: %v", p.Name, p.Spec.CIDR, err)
			continue
		}
		cidr = cidr.Masked()
		out.meshDests = append(out.meshDests, cidr)
		if isMirror(p.Labels) {
			continue
		}
		if usesVXLAN(p) {
			out.localVXLAN = append(out.localVXLAN, cidr)
		}
		if p.Spec.NATOutgoing {
			out.natSources = append(out.natSources, cidr)
		}
	}
	return out
}

// natDesired is the masquerading of pools' NAT sources to everything
// outside the mesh. Remote endpoints are mesh destinations too: with
// overlay routing Disabled their pools are not mirrored, but their
// addresses are.
func natDesired(pools poolPrefixes, endpoints []*Endpoint) nat.Desired {
	dests := slices.Grow(slices.Clone(pools.meshDests), len(endpoints))
	for _, ep := range endpoints {
		if !ep.Mirror {
			continue
		}
		for _, n := range ep.Networks {
			if n.AddrErr == nil {
				dests = append(dests, n.Addr)
			}
		}
	}
	return nat.Desired{Sources: sortPrefixes(pools.natSources), Destinations: sortPrefixes(dests)}
}

// blocksByNode returns the CIDRs of the live, affine blocks by node
// reference, sorted.
func blocksByNode(blocks []*v3.IPAMBlock, problem func(string, ...any)) map[string][]netip.Prefix {
	out := map[string][]netip.Prefix{}
	for _, b := range blocks {
		if b.Spec.Deleted {
			continue
		}
		ref := blockNode(b)
		if ref == "" {
			continue
		}
		cidr, err := netip.ParsePrefix(b.Spec.CIDR)
		if err != nil {
			problem("IPAMBlock %q: spec.cidr %q: %v", b.Name, b.Spec.CIDR, err)
			continue
		}
		out[ref] = append(out[ref], cidr.Masked())
	}
	for ref := range out {
		out[ref] = sortPrefixes(out[ref])
	}
	return out
}

// vxlanConfig is this node's VXLAN device: its VTEP, its underlay address
// and MAC, and the default FelixConfiguration's VNI, port and MTU where
// it sets them.
func vxlanConfig(in Inputs, vtep netip.Addr) *dataplane.VXLANConfig {
	cfg := &dataplane.VXLANConfig{LocalVTEP: vtep, ParentIP: in.NodeIP, LocalMAC: in.LocalMAC}
	if fc := in.FelixConfiguration; fc != nil {
		if fc.Spec.VXLANVNI != nil {
			cfg.VNI = *fc.Spec.VXLANVNI
		}
		if fc.Spec.VXLANPort != nil {
			cfg.Port = *fc.Spec.VXLANPort
		}
		if fc.Spec.VXLANMTU != nil {
			cfg.MTU = *fc.Spec.VXLANMTU
		}
	}
	return cfg
}

// overlayPeers returns, by node reference, every other node with a VTEP:
// local ones always, remote ones while overlayTo their cluster (a mirror
// whose RCC is gone is on its way out and no longer a peer), each with the
// blocks the overlay routes to it.
func overlayPeers(in Inputs, blocks map[string][]netip.Prefix, localVXLAN []netip.Prefix, overlayTo func(string) bool, problem func(string, ...any)) map[string]*peer {
	peers := map[string]*peer{}
	for _, n := range in.Nodes {
		ref, cluster := nodeRef(n)
		if ref == in.NodeName || !overlayTo(cluster) {
			continue
		}
		if n.Spec.IPv4VXLANTunnelAddr == "" || n.Spec.VXLANTunnelMACAddr == "" {
			continue // not (yet) part of the overlay
		}
		vtep, err := netip.ParseAddr(n.Spec.IPv4VXLANTunnelAddr)
		if err != nil {
			problem("Node %q: spec.ipv4VXLANTunnelAddr %q: %v", n.Name, n.Spec.IPv4VXLANTunnelAddr, err)
			continue
		}
		mac, err := net.ParseMAC(n.Spec.VXLANTunnelMACAddr)
		if err != nil {
			problem("Node %q: spec.vxlanTunnelMACAddr %q: %v", n.Name, n.Spec.VXLANTunnelMACAddr, err)
			continue
		}
		ip, err := NodeAddress(n)
		if err != nil {
			problem("%v", err)
			continue
		}
		var routed []netip.Prefix
		for _, b := range blocks[ref] {
			// A remote cluster's blocks all go over the overlay; a local
			// block only if its pool uses VXLAN (else the underlay routes it).
			if cluster != "" || containedIn(b, localVXLAN) {
				routed = append(routed, b)
			}
		}
		peers[ref] = &peer{node: dataplane.RemoteNode{Name: ref, NodeIP: ip, VTEP: vtep.Unmap(), MAC: mac, Blocks: routed}, cluster: cluster}
	}
	return peers
}

// countRoutes counts res's endpoint routes and the peers' block routes
// for their clusters (res.LocalRoutes for local ones) and returns the
// peers' nodes, sorted by reference.
func countRoutes(res *Result, peers map[string]*peer, clusters map[string]*ClusterResult) []dataplane.RemoteNode {
	for _, r := range res.Dataplane.Endpoints {
		if c := clusters[peers[r.Node].cluster]; c != nil {
			c.Routes++
		} else {
			res.LocalRoutes++
		}
	}
	var nodes []dataplane.RemoteNode
	for _, ref := range slices.Sorted(maps.Keys(peers)) {
		p := peers[ref]
		nodes = append(nodes, p.node)
		if c := clusters[p.cluster]; c != nil {
			c.Nodes++
			c.Routes += len(p.node.Blocks)
		} else {
			res.LocalRoutes += len(p.node.Blocks)
		}
	}
	return nodes
}

// endpointRoutes returns the routes of the IPv4 endpoint addresses that
// are outside their node's blocks, sorted by destination: one per
// address, to the node of the first endpoint (in eps' order) that has it.
// A local node's address is routed only if it is in a local VXLAN pool
// (else the underlay routes it).
func endpointRoutes(eps []*Endpoint, peers map[string]*peer, blocks map[string][]netip.Prefix, localVXLANPools []netip.Prefix, problem func(string, ...any)) []dataplane.EndpointRoute {
	routes := make([]dataplane.EndpointRoute, 0, len(eps))
	for _, ep := range eps {
		p := peers[ep.Node]
		if p == nil {
			continue
		}
		for _, n := range ep.Networks {
			if n.AddrErr != nil {
				problem("WorkloadEndpoint %s/%s: spec.ipNetworks %q: %v", ep.Namespace, ep.Name, n.Value, n.AddrErr)
				continue
			}
			dst := n.Addr
			if !dst.Addr().Is4() || containedIn(dst, blocks[ep.Node]) {
				continue
			}
			if p.cluster == "" && !containedIn(dst, localVXLANPools) {
				continue
			}
			routes = append(routes, dataplane.EndpointRoute{Dst: dst, Node: ep.Node})
		}
	}
	// Sorted, the stable sort keeps the first endpoint of an address first.
	slices.SortStableFunc(routes, func(a, b dataplane.EndpointRoute) int { return comparePrefix(a.Dst, b.Dst) })
	return slices.CompactFunc(routes, func(a, b dataplane.EndpointRoute) bool { return a.Dst == b.Dst })
}

// overlayModes returns the overlay routing mode of every remote cluster
// (RemoteClusterConfiguration.EffectiveOverlayRoutingMode).
func overlayModes(rccs []*v3.RemoteClusterConfiguration) map[string]v3.OverlayRoutingMode {
	modes := map[string]v3.OverlayRoutingMode{}
	for _, rcc := range rccs {
		modes[rcc.Name] = rcc.EffectiveOverlayRoutingMode()
	}
	return modes
}

// chooseVTEP picks this node's VTEP address: in.VTEP, the configured one
// or the one IPAM allocated to VXLANTunnelHandle(node) (see
// Agent.tunnelAddress); only when neither is known (IPAM failed) the one
// its Node already publishes if it is in one of its blocks, else the
// first address of its first block, which IPAM does not know is taken.
func chooseVTEP(in Inputs, own []netip.Prefix) netip.Addr {
	if in.VTEP.IsValid() {
		return in.VTEP.Unmap()
	}
	for _, n := range in.Nodes {
		if n.Name != in.NodeName || isMirror(n.Labels) {
			continue
		}
		if a, err := netip.ParseAddr(n.Spec.IPv4VXLANTunnelAddr); err == nil && containedIn(netip.PrefixFrom(a, a.BitLen()), own) {
			return a.Unmap()
		}
	}
	for _, b := range own {
		if b.Addr().Is4() {
			return b.Addr()
		}
	}
	return netip.Addr{}
}

// endpointPrefix parses an endpoint's address, "198.18.0.5/32" or
// "198.18.0.5", as a single-address prefix.
func endpointPrefix(s string) (netip.Prefix, error) {
	a, err := parseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func containedIn(p netip.Prefix, in []netip.Prefix) bool {
	for _, q := range in {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, comparePrefix)
	return slices.Compact(ps)
}

func sortedClusters(m map[string]*ClusterResult) []ClusterResult {
	out := make([]ClusterResult, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b ClusterResult) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}
