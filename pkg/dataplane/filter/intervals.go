package filter

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// interval is an inclusive range of addresses of one family: the form an
// element of an interval set takes in the kernel.
type interval struct {
	from, to netip.Addr
}

// String renders the interval as a prefix when it is one.
func (iv interval) String() string {
	for bits := 0; bits <= iv.from.BitLen(); bits++ {
		p := netip.PrefixFrom(iv.from, bits)
		if p.Masked().Addr() == iv.from && lastAddr(p) == iv.to {
			return p.String()
		}
	}
	return iv.from.String() + "-" + iv.to.String()
}

// prefixInterval returns the interval a masked prefix covers.
func prefixInterval(p netip.Prefix) interval {
	p = p.Masked()
	return interval{from: p.Addr(), to: lastAddr(p)}
}

// lastAddr returns the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// comparePrefix orders prefixes by address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// isHost reports whether a prefix is a single address.
func isHost(p netip.Prefix) bool { return p.Bits() == p.Addr().BitLen() }

// topLevel returns the intervals of the prefixes (one family) that no other
// of them contains: disjoint intervals whose union is the union of the
// prefixes. Prefixes either nest or are disjoint, so this is the kernel
// form of a set without merging neighbours, which keeps an element's
// identity stable when an unrelated member comes or goes.
func topLevel(ps []netip.Prefix) []interval {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, comparePrefix)
	var out []interval
	var cover netip.Prefix
	for _, p := range sorted {
		if cover.IsValid() && cover.Contains(p.Addr()) {
			continue
		}
		cover = p
		out = append(out, prefixInterval(p))
	}
	return out
}

// mergedIntervals returns the union of the prefixes as disjoint,
// non-adjacent intervals, for the constant sets of a rule's nets.
func mergedIntervals(ps []netip.Prefix) []interval {
	var out []interval
	for _, iv := range topLevel(ps) {
		if n := len(out); n > 0 && out[n-1].to.Next() == iv.from {
			out[n-1].to = iv.to
			continue
		}
		out = append(out, iv)
	}
	return out
}

// mergedPorts returns the union of the port ranges as disjoint,
// non-adjacent ranges.
func mergedPorts(rs []PortRange) []PortRange {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b PortRange) int { return cmp.Compare(a.Min, b.Min) })
	var out []PortRange
	for _, r := range sorted {
		if n := len(out); n > 0 && uint32(r.Min) <= uint32(out[n-1].Max)+1 {
			out[n-1].Max = max(out[n-1].Max, r.Max)
			continue
		}
		out = append(out, r)
	}
	return out
}

// intervalElements encodes address intervals as interval-set elements: a
// start key, and an interval-end key one past the last address unless
// that would overflow (the interval then runs to the end).
func intervalElements(ivs []interval) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(ivs))
	for _, iv := range ivs {
		out = append(out, nftables.SetElement{Key: iv.from.AsSlice()})
		if next := iv.to.Next(); next.IsValid() {
			out = append(out, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

// portElements encodes port ranges as interval-set elements.
func portElements(rs []PortRange) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(rs))
	for _, r := range rs {
		out = append(out, nftables.SetElement{Key: be16(r.Min)})
		if r.Max < 0xffff {
			out = append(out, nftables.SetElement{Key: be16(r.Max + 1), IntervalEnd: true})
		}
	}
	return out
}

// be16 encodes a port in network byte order.
func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// decodeIntervals reads back the elements of an address interval set.
func decodeIntervals(elems []nftables.SetElement) ([]interval, error) {
	type key struct {
		a   netip.Addr
		end bool
	}
	keys := make([]key, 0, len(elems))
	for _, e := range elems {
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok {
			return nil, fmt.Errorf("set element key of %d bytes", len(e.Key))
		}
		keys = append(keys, key{a: a, end: e.IntervalEnd})
	}
	// Ends before starts at the same key: [a, b) and [b, c) are adjacent.
	slices.SortFunc(keys, func(x, y key) int {
		if c := x.a.Compare(y.a); c != 0 {
			return c
		}
		switch {
		case x.end == y.end:
			return 0
		case x.end:
			return -1
		}
		return 1
	})
	var out []interval
	var open netip.Addr
	for _, k := range keys {
		switch {
		case !k.end && !open.IsValid():
			open = k.a
		case !k.end:
			return nil, fmt.Errorf("set element %v starts inside the interval from %v", k.a, open)
		case open.IsValid():
			out = append(out, interval{from: open, to: k.a.Prev()})
			open = netip.Addr{}
		default:
			// A leading interval end (as nft writes for ranges from the
			// family's first address) opens nothing.
		}
	}
	if open.IsValid() {
		out = append(out, interval{from: open, to: maxAddr(open)})
	}
	return out, nil
}

// maxAddr returns the last address of a's family.
func maxAddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	var b [16]byte
	for i := range b {
		b[i] = 0xff
	}
	return netip.AddrFrom16(b)
}
