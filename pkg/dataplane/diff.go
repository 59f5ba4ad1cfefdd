package dataplane

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
)

// This file is the pure part of the package: what the kernel should hold
// (target), what it holds as far as we know (kernelState), and the
// operations that turn one into the other (plan). Nothing here makes a
// system call, so it is unit-tested without a kernel.

// mainTable is the kernel's main routing table (RT_TABLE_MAIN), the only
// table this package writes.
const mainTable = 254

// via is where a desired route points: the VTEP of the node that owns the
// destination.
type via struct {
	gw   netip.Addr
	node string
}

// target is the desired content of the kernel, derived from a Desired.
type target struct {
	routes map[netip.Prefix]via        // destination -> next hop
	neighs map[netip.Addr]string       // VTEP IP -> VTEP MAC (canonical form)
	fdb    map[string]netip.Addr       // VTEP MAC -> node (underlay) IP
	macs   map[string]net.HardwareAddr // canonical form -> MAC
}

// skip is a desired object that cannot be programmed, and why.
type skip struct {
	object   string
	reason   string
	conflict bool // two desired objects claim the same thing (warn-worthy)
}

func (s skip) String() string { return s.object + ": " + s.reason }

// kernelRoute is one route of our protocol as read from (or written to) the
// kernel.
type kernelRoute struct {
	dst       netip.Prefix
	gw        netip.Addr // invalid for a multipath or device route
	linkIndex int
	onlink    bool
	priority  int
	table     int
}

// kernelState is what the kernel holds of ours: routes with our protocol,
// permanent neighbours and FDB entries on our device.
type kernelState struct {
	linkIndex int
	routes    map[netip.Prefix][]kernelRoute
	neighs    map[netip.Addr]string
	fdb       map[string]map[netip.Addr]struct{} // MAC -> remote IPs
}

func newKernelState(linkIndex int) *kernelState {
	return &kernelState{
		linkIndex: linkIndex,
		routes:    map[netip.Prefix][]kernelRoute{},
		neighs:    map[netip.Addr]string{},
		fdb:       map[string]map[netip.Addr]struct{}{},
	}
}

// plan is the list of operations that turns a kernelState into a target.
type plan struct {
	neighSets []neighOp // add or update (update: old MAC set)
	fdbSets   []fdbOp
	routeAdds []kernelRoute // a destination we have no route for
	routeReps []kernelRoute // a destination whose route of ours is wrong
	routeDels []kernelRoute
	neighDels []neighOp
	fdbDels   []fdbOp
}

type neighOp struct {
	ip     netip.Addr
	mac    string // canonical form
	update bool   // an entry with another MAC exists
}

type fdbOp struct {
	mac    string // canonical form
	ip     netip.Addr
	update bool // the MAC exists with another remote
}

func (p *plan) empty() bool {
	return len(p.neighSets)+len(p.fdbSets)+len(p.routeAdds)+len(p.routeReps)+
		len(p.routeDels)+len(p.neighDels)+len(p.fdbDels) == 0
}

// computeTarget turns a Desired into the target content of the kernel. It
// is deterministic: nodes are taken in name order and endpoints in
// destination order, and when two of them claim the same VTEP, MAC or
// destination the first one wins and the other is reported as skipped.
// Desired.VXLAN nil gives an empty target.
func computeTarget(d Desired) (target, []skip) {
	t := target{
		routes: map[netip.Prefix]via{},
		neighs: map[netip.Addr]string{},
		fdb:    map[string]netip.Addr{},
		macs:   map[string]net.HardwareAddr{},
	}
	if d.VXLAN == nil {
		return t, nil
	}
	var skips []skip
	local := d.VXLAN.LocalVTEP

	nodes := slices.Clone(d.Nodes)
	slices.SortStableFunc(nodes, func(a, b RemoteNode) int { return cmp.Compare(a.Name, b.Name) })
	vteps := map[string]netip.Addr{}
	neighOwner := map[netip.Addr]string{}
	macOwner := map[string]string{}
	for _, n := range nodes {
		obj := "node " + n.Name
		switch {
		case !n.VTEP.IsValid():
			skips = append(skips, skip{object: obj, reason: "no VTEP IP"})
			continue
		case len(n.MAC) != 6:
			skips = append(skips, skip{object: obj, reason: fmt.Sprintf("invalid VTEP MAC %q", n.MAC.String())})
			continue
		case !n.NodeIP.IsValid():
			skips = append(skips, skip{object: obj, reason: "no node IP"})
			continue
		case n.VTEP.Unmap() == local.Unmap():
			skips = append(skips, skip{object: obj, reason: "its VTEP " + n.VTEP.String() + " is this node's"})
			continue
		}
		vtep := n.VTEP.Unmap()
		mac := n.MAC.String()
		if other, ok := neighOwner[vtep]; ok {
			skips = append(skips, skip{object: obj, reason: "VTEP " + vtep.String() + " already used by node " + other, conflict: true})
			continue
		}
		if other, ok := macOwner[mac]; ok {
			skips = append(skips, skip{object: obj, reason: "VTEP MAC " + mac + " already used by node " + other, conflict: true})
			continue
		}
		if _, dup := vteps[n.Name]; dup {
			skips = append(skips, skip{object: obj, reason: "listed twice", conflict: true})
			continue
		}
		neighOwner[vtep] = n.Name
		macOwner[mac] = n.Name
		vteps[n.Name] = vtep
		t.neighs[vtep] = mac
		t.fdb[mac] = n.NodeIP.Unmap()
		t.macs[mac] = slices.Clone(n.MAC)
		for _, b := range n.Blocks {
			addRoute(&t, &skips, "block "+b.String()+" of node "+n.Name, b, via{gw: vtep, node: n.Name})
		}
	}

	eps := slices.Clone(d.Endpoints)
	slices.SortStableFunc(eps, func(a, b EndpointRoute) int {
		if c := a.Dst.Addr().Compare(b.Dst.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Dst.Bits(), b.Dst.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(a.Node, b.Node)
	})
	for _, e := range eps {
		obj := "endpoint route " + e.Dst.String() + " to node " + e.Node
		vtep, ok := vteps[e.Node]
		if !ok {
			skips = append(skips, skip{object: obj, reason: "node unknown or without VTEP"})
			continue
		}
		addRoute(&t, &skips, obj, e.Dst, via{gw: vtep, node: e.Node})
	}
	return t, skips
}

func addRoute(t *target, skips *[]skip, obj string, dst netip.Prefix, v via) {
	if !dst.IsValid() {
		*skips = append(*skips, skip{object: obj, reason: "invalid destination"})
		return
	}
	dst = netip.PrefixFrom(dst.Addr().Unmap(), dst.Bits()-unmapBits(dst)).Masked()
	if dst.Addr().Is4() != v.gw.Is4() {
		*skips = append(*skips, skip{object: obj, reason: "destination and VTEP " + v.gw.String() + " are of different IP families"})
		return
	}
	if old, ok := t.routes[dst]; ok {
		if old.gw != v.gw {
			*skips = append(*skips, skip{object: obj, reason: "destination already routed to node " + old.node, conflict: true})
		}
		return
	}
	t.routes[dst] = v
}

// unmapBits is the number of bits to drop from an IPv4-mapped IPv6 prefix
// to express it as IPv4.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return 96
	}
	return 0
}

// wantRoute is the kernel route that realises a target entry on our device.
func wantRoute(dst netip.Prefix, v via, linkIndex int) kernelRoute {
	return kernelRoute{dst: dst, gw: v.gw, linkIndex: linkIndex, onlink: true, priority: 0, table: mainTable}
}

// diff computes the operations that turn the kernel state k into the target
// t. The order of application is: neighbour and FDB sets (so that the next
// hops of new routes resolve), route adds and replaces, route deletes, then
// neighbour and FDB deletes.
func diff(k *kernelState, t target) plan {
	var p plan

	for _, ip := range sortedAddrs(t.neighs) {
		mac := t.neighs[ip]
		old, ok := k.neighs[ip]
		if !ok || old != mac {
			p.neighSets = append(p.neighSets, neighOp{ip: ip, mac: mac, update: ok})
		}
	}
	for _, ip := range sortedAddrs(k.neighs) {
		if _, ok := t.neighs[ip]; !ok {
			p.neighDels = append(p.neighDels, neighOp{ip: ip, mac: k.neighs[ip]})
		}
	}

	for _, mac := range slices.Sorted(maps.Keys(t.fdb)) {
		ip := t.fdb[mac]
		have := k.fdb[mac]
		if _, ok := have[ip]; !ok {
			p.fdbSets = append(p.fdbSets, fdbOp{mac: mac, ip: ip, update: len(have) > 0})
		}
		for _, old := range sortedSet(have) {
			if old != ip {
				p.fdbDels = append(p.fdbDels, fdbOp{mac: mac, ip: old})
			}
		}
	}
	for _, mac := range slices.Sorted(maps.Keys(k.fdb)) {
		if _, ok := t.fdb[mac]; ok {
			continue
		}
		for _, old := range sortedSet(k.fdb[mac]) {
			p.fdbDels = append(p.fdbDels, fdbOp{mac: mac, ip: old})
		}
	}

	for _, dst := range sortedPrefixes(t.routes) {
		want := wantRoute(dst, t.routes[dst], k.linkIndex)
		have := k.routes[dst]
		matched := -1
		for i, r := range have {
			if r == want {
				matched = i
				break
			}
		}
		if matched < 0 {
			// A route of ours in the slot the new one takes (same table and
			// priority) is replaced in place; otherwise the route is added.
			slot := -1
			for i, r := range have {
				if r.table == want.table && r.priority == want.priority {
					slot = i
					break
				}
			}
			if slot >= 0 {
				p.routeReps = append(p.routeReps, want)
				matched = slot
			} else {
				p.routeAdds = append(p.routeAdds, want)
			}
		}
		for i, r := range have {
			if i != matched {
				p.routeDels = append(p.routeDels, r)
			}
		}
	}
	for _, dst := range slices.SortedFunc(maps.Keys(k.routes), comparePrefix) {
		if _, ok := t.routes[dst]; ok {
			continue
		}
		p.routeDels = append(p.routeDels, k.routes[dst]...)
	}
	return p
}

// Updates of the kernel state after a successful operation, so that the
// state stays a faithful model of the kernel between full reads.

func (k *kernelState) setNeigh(ip netip.Addr, mac string) { k.neighs[ip] = mac }
func (k *kernelState) delNeigh(ip netip.Addr)             { delete(k.neighs, ip) }

func (k *kernelState) setFDB(mac string, ip netip.Addr) {
	if k.fdb[mac] == nil {
		k.fdb[mac] = map[netip.Addr]struct{}{}
	}
	k.fdb[mac][ip] = struct{}{}
}

func (k *kernelState) delFDB(mac string, ip netip.Addr) {
	delete(k.fdb[mac], ip)
	if len(k.fdb[mac]) == 0 {
		delete(k.fdb, mac)
	}
}

// putRoute records r, replacing a route of the same destination, table and
// priority (what the kernel's replace does).
func (k *kernelState) putRoute(r kernelRoute) {
	rs := k.routes[r.dst]
	for i, old := range rs {
		if old.table == r.table && old.priority == r.priority {
			rs[i] = r
			return
		}
	}
	k.routes[r.dst] = append(rs, r)
}

func (k *kernelState) delRoute(r kernelRoute) {
	rs := slices.DeleteFunc(k.routes[r.dst], func(o kernelRoute) bool { return o == r })
	if len(rs) == 0 {
		delete(k.routes, r.dst)
		return
	}
	k.routes[r.dst] = rs
}

// apply changes k as the kernel would by carrying out p. It is what the
// unit tests use to check that a plan reaches its target.
func (k *kernelState) apply(p plan) {
	for _, o := range p.neighSets {
		k.setNeigh(o.ip, o.mac)
	}
	for _, o := range p.fdbSets {
		k.setFDB(o.mac, o.ip)
	}
	for _, r := range p.routeAdds {
		k.putRoute(r)
	}
	for _, r := range p.routeReps {
		k.putRoute(r)
	}
	for _, r := range p.routeDels {
		k.delRoute(r)
	}
	for _, o := range p.neighDels {
		k.delNeigh(o.ip)
	}
	for _, o := range p.fdbDels {
		k.delFDB(o.mac, o.ip)
	}
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func sortedPrefixes[V any](m map[netip.Prefix]V) []netip.Prefix {
	return slices.SortedFunc(maps.Keys(m), comparePrefix)
}

func sortedAddrs[V any](m map[netip.Addr]V) []netip.Addr {
	return slices.SortedFunc(maps.Keys(m), netip.Addr.Compare)
}

func sortedSet(m map[netip.Addr]struct{}) []netip.Addr {
	return sortedAddrs(m)
}
