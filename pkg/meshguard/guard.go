package meshguard

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Reasons of a Refusal.
const (
	// ReasonInvalid: the address or CIDR does not parse.
	ReasonInvalid = "Invalid"
	// ReasonReserved: it overlaps link-local, loopback, multicast or the
	// unspecified range.
	ReasonReserved = "ReservedRange"
	// ReasonTooBroad: a pool broader than /8 (IPv4) or /16 (IPv6).
	ReasonTooBroad = "TooBroad"
	// ReasonOutsideOwnPools: a block or address outside the remote's own
	// admitted pools.
	ReasonOutsideOwnPools = "OutsideOwnPools"
	// ReasonLocalPool: it overlaps a local pool.
	ReasonLocalPool = "OverlapsLocalPool"
	// ReasonLocalNode: it overlaps a local node's address or subnet.
	ReasonLocalNode = "OverlapsLocalNode"
	// ReasonOtherRemote: it overlaps another remote cluster's pool.
	ReasonOtherRemote = "OverlapsOtherRemotePool"
	// ReasonNodeCollision: a remote node's address, VTEP or MAC equals
	// another node's.
	ReasonNodeCollision = "NodeCollision"
)

// minPoolBits is the shortest prefix a remote pool may have, per family:
// a remote claiming a /1 claims half the Internet.
var minPoolBits = map[bool]int{true: 8, false: 16} // keyed by Is4

// reserved are ranges no remote object may claim.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// Refusal says why an object of a remote cluster is not admitted.
type Refusal struct {
	// Cluster is the remote cluster the object comes from.
	Cluster string
	// Kind and Name name the object in its own cluster, e.g. "IPAMBlock"
	// and "198-18-5-0-26".
	Kind, Name string
	// Reason is one of the Reason constants.
	Reason string
	// Detail says what it collides with.
	Detail string
}

// Error implements error.
func (r *Refusal) Error() string {
	return fmt.Sprintf("refused %s %q of remote cluster %q: %s: %s", r.Kind, r.Name, r.Cluster, r.Reason, r.Detail)
}

// NodeID is what identifies a node on the overlay and the underlay.
type NodeID struct {
	// Cluster is "" for a local node.
	Cluster string
	// Name is the node's name in its own cluster.
	Name string
	// Addrs are its underlay addresses, with their subnet where known.
	Addrs []netip.Prefix
	// VTEP is its VTEP address (invalid if none).
	VTEP netip.Addr
	// MAC is its VTEP MAC, lower case ("" if none).
	MAC string
	// WireGuard is its WireGuard interface address (invalid if none),
	// which becomes an AllowedIP (a route) towards it.
	WireGuard netip.Addr
}

// Guard holds what the local cluster and the admitted remote clusters own.
// Build it with New, then admit each remote's pools with AdmitPools.
type Guard struct {
	localPools []netip.Prefix
	// localNets are the local nodes' addresses and subnets, by node name.
	localNets prefixSet
	// addrOwners and macOwners index the known nodes (local and admitted
	// remote ones) by address (underlay, VTEP, WireGuard) and VTEP MAC.
	addrOwners map[netip.Addr][]NodeID
	macOwners  map[string][]NodeID
	// remotePools holds the admitted pools per remote cluster; a cluster
	// is present once its pools are known (possibly none).
	remotePools map[string][]netip.Prefix
}

// New returns a Guard for the local pools and nodes among pools and nodes
// (objects without the cluster label); mirrors are ignored here and added
// with AdmitPools and AdmitNode.
func New(pools []*v3.IPPool, nodes []*v3.Node) *Guard {
	g := &Guard{remotePools: map[string][]netip.Prefix{}, addrOwners: map[netip.Addr][]NodeID{}, macOwners: map[string][]NodeID{}}
	for _, p := range pools {
		if isMirror(p.Labels) {
			continue
		}
		if cidr, err := netip.ParsePrefix(p.Spec.CIDR); err == nil {
			g.localPools = append(g.localPools, cidr.Masked())
		}
	}
	for _, n := range nodes {
		if !isMirror(n.Labels) {
			id := NodeOf("", n.Name, n)
			for _, a := range id.Addrs {
				g.localNets.add(a, n.Name)
			}
			g.remember(id)
		}
	}
	return g
}

// remember indexes node n by its addresses and MAC.
func (g *Guard) remember(n NodeID) {
	for _, a := range n.ownAddrs() {
		g.addrOwners[a] = append(g.addrOwners[a], n)
	}
	if n.MAC != "" {
		g.macOwners[n.MAC] = append(g.macOwners[n.MAC], n)
	}
}

// ownAddrs are the node's underlay, VTEP and WireGuard addresses.
func (n NodeID) ownAddrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(n.Addrs)+2)
	for _, a := range n.Addrs {
		out = append(out, a.Addr())
	}
	for _, a := range []netip.Addr{n.VTEP, n.WireGuard} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

func isMirror(labels map[string]string) bool {
	_, ok := labels[v3.LabelCluster]
	return ok
}

// NodeOf returns the identity of n, of cluster ("" local) and named name
// in its own cluster.
func NodeOf(cluster, name string, n *v3.Node) NodeID {
	id := NodeID{Cluster: cluster, Name: name}
	var addrs []string
	if n.Spec.BGP != nil {
		addrs = append(addrs, n.Spec.BGP.IPv4Address, n.Spec.BGP.IPv6Address)
	}
	for _, a := range n.Spec.Addresses {
		addrs = append(addrs, a.Address)
	}
	for _, s := range addrs {
		if p, ok := parsePrefixOrAddr(s); ok && !slices.Contains(id.Addrs, p) {
			id.Addrs = append(id.Addrs, p)
		}
	}
	if a, err := netip.ParseAddr(n.Spec.IPv4VXLANTunnelAddr); err == nil {
		id.VTEP = a.Unmap()
	}
	if mac, err := net.ParseMAC(n.Spec.VXLANTunnelMACAddr); err == nil {
		id.MAC = mac.String()
	}
	if w := n.Spec.Wireguard; w != nil {
		if a, err := netip.ParseAddr(w.InterfaceIPv4Address); err == nil {
			id.WireGuard = a.Unmap()
		}
	}
	return id
}

// parsePrefixOrAddr parses "198.18.0.1/24" (kept with its prefix length,
// the node's subnet) or "198.18.0.1" (a single address).
func parsePrefixOrAddr(s string) (netip.Prefix, bool) {
	if s == "" {
		return netip.Prefix{}, false
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// AdmitPools admits the pools of remote cluster (its own, or their
// mirrors), in name order, and returns the refused ones. After it the
// cluster's blocks and addresses must lie inside an admitted pool.
func (g *Guard) AdmitPools(cluster string, pools []*v3.IPPool) []*Refusal {
	pools = slices.Clone(pools)
	slices.SortFunc(pools, func(a, b *v3.IPPool) int { return cmp.Compare(a.Name, b.Name) })
	admitted := []netip.Prefix{}
	var refused []*Refusal
	for _, p := range pools {
		name := v3.NameInOwnCluster(p.Annotations, p.Name)
		cidr, r := g.checkPool(cluster, name, p.Spec.CIDR)
		if r != nil {
			refused = append(refused, r)
			continue
		}
		admitted = append(admitted, cidr)
	}
	g.remotePools[cluster] = admitted
	return refused
}

// checkPool checks one remote pool's CIDR.
func (g *Guard) checkPool(cluster, name, s string) (netip.Prefix, *Refusal) {
	refuse := func(reason, format string, args ...any) *Refusal {
		return &Refusal{Cluster: cluster, Kind: "IPPool", Name: name, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	cidr, err := netip.ParsePrefix(s)
	if err != nil {
		return cidr, refuse(ReasonInvalid, "spec.cidr %q: %v", s, err)
	}
	cidr = cidr.Masked()
	if min := minPoolBits[cidr.Addr().Is4()]; cidr.Bits() < min {
		return cidr, refuse(ReasonTooBroad, "spec.cidr %s is broader than /%d", cidr, min)
	}
	if r := g.exclusions(cluster, "IPPool", name, "spec.cidr", cidr); r != nil {
		return cidr, r
	}
	return cidr, nil
}

// exclusions checks p against what no remote object may claim.
func (g *Guard) exclusions(cluster, kind, name, field string, p netip.Prefix) *Refusal {
	refuse := func(reason, format string, args ...any) *Refusal {
		return &Refusal{Cluster: cluster, Kind: kind, Name: name, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	if q, ok := overlapping(p, reserved); ok {
		return refuse(ReasonReserved, "%s %s overlaps the reserved range %s", field, p, q)
	}
	if q, ok := overlapping(p, g.localPools); ok {
		return refuse(ReasonLocalPool, "%s %s overlaps the local IPPool %s", field, p, q)
	}
	if q, node, ok := g.localNets.overlapping(p); ok {
		return refuse(ReasonLocalNode, "%s %s overlaps local node %q's address or subnet %s", field, p, node, q)
	}
	for other, pools := range g.remotePools {
		if other == cluster {
			continue
		}
		if q, ok := overlapping(p, pools); ok {
			return refuse(ReasonOtherRemote, "%s %s overlaps pool %s of remote cluster %q", field, p, q, other)
		}
	}
	return nil
}

// Prefix checks a remote block's CIDR (kind "IPAMBlock") or a remote
// endpoint's address (kind "WorkloadEndpoint", a single-address prefix) of
// cluster: inside one of its admitted pools, if they are known, and clear
// of every exclusion.
func (g *Guard) Prefix(cluster, kind, name, field string, p netip.Prefix) *Refusal {
	p = p.Masked()
	if own, known := g.remotePools[cluster]; known && !containedIn(p, own) {
		return &Refusal{Cluster: cluster, Kind: kind, Name: name, Reason: ReasonOutsideOwnPools,
			Detail: fmt.Sprintf("%s %s is in none of the cluster's admitted IPPools %v", field, p, own)}
	}
	return g.exclusions(cluster, kind, name, field, p)
}

// ParseClaim reads what a remote object's CIDR or address written as a
// string claims, as PrefixString checks it: "198.18.0.1/24" is
// 198.18.0.0/24, "198.18.0.1" is 198.18.0.1/32; false if it does not
// parse. A caller that checks the same string often parses it once and
// calls Prefix.
func ParseClaim(s string) (netip.Prefix, bool) {
	p, ok := parsePrefixOrAddr(s)
	return p.Masked(), ok
}

// PrefixString is Prefix for a CIDR or address written as a string.
func (g *Guard) PrefixString(cluster, kind, name, field, s string) (netip.Prefix, *Refusal) {
	p, ok := parsePrefixOrAddr(s)
	if !ok {
		return p, &Refusal{Cluster: cluster, Kind: kind, Name: name, Reason: ReasonInvalid, Detail: fmt.Sprintf("%s %q does not parse", field, s)}
	}
	return p.Masked(), g.Prefix(cluster, kind, name, field, p)
}

// AdmitNode checks the remote node n and, if admitted, remembers it so
// that later nodes of other clusters may not collide with it.
func (g *Guard) AdmitNode(n NodeID) *Refusal {
	r := g.CheckNode(n)
	if r == nil {
		g.remember(n)
	}
	return r
}

// CheckNode checks the remote node n without remembering it; it does not
// change g, so concurrent calls are safe.
func (g *Guard) CheckNode(n NodeID) *Refusal {
	refuse := func(reason, format string, args ...any) *Refusal {
		return &Refusal{Cluster: n.Cluster, Kind: "Node", Name: n.Name, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	addrs := n.ownAddrs()
	for _, a := range addrs {
		p := netip.PrefixFrom(a, a.BitLen())
		if q, ok := overlapping(p, reserved); ok {
			return refuse(ReasonReserved, "address %s is in the reserved range %s", a, q)
		}
		if q, ok := overlapping(p, g.localPools); ok {
			return refuse(ReasonLocalPool, "address %s is in the local IPPool %s", a, q)
		}
	}
	collision := func(what string, owners []NodeID) *Refusal {
		for _, o := range owners {
			if o.Cluster == n.Cluster {
				continue
			}
			where := "local node"
			if o.Cluster != "" {
				where = fmt.Sprintf("node of remote cluster %q", o.Cluster)
			}
			return refuse(ReasonNodeCollision, "%s equals that of %s %q", what, where, o.Name)
		}
		return nil
	}
	if n.MAC != "" {
		if r := collision("VTEP MAC "+n.MAC, g.macOwners[n.MAC]); r != nil {
			return r
		}
	}
	for _, a := range addrs {
		if r := collision("address "+a.String(), g.addrOwners[a]); r != nil {
			return r
		}
	}
	return nil
}

// overlapping returns the first prefix of in that overlaps p.
func overlapping(p netip.Prefix, in []netip.Prefix) (netip.Prefix, bool) {
	for _, q := range in {
		if q.Addr().Is4() == p.Addr().Is4() && q.Masked().Overlaps(p) {
			return q, true
		}
	}
	return netip.Prefix{}, false
}

// containedIn reports whether p lies inside one of in.
func containedIn(p netip.Prefix, in []netip.Prefix) bool {
	for _, q := range in {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// Summary is a one-line account of refusals, for a condition message:
// "IPAMBlock \"b\": OverlapsLocalPool; ..." with at most max entries.
func Summary(refusals []*Refusal, max int) string {
	parts := make([]string, 0, min(len(refusals), max)+1)
	for i, r := range refusals {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(refusals)-max))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %q: %s (%s)", r.Kind, r.Name, r.Reason, r.Detail))
	}
	return strings.Join(parts, "; ")
}
