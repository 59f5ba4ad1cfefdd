package meshguard

import (
	"net/netip"
	"slices"
)

// prefixSet answers "which prefix of the set overlaps p" in O(log n) per
// prefix length present, for the thousands of node addresses and subnets
// every remote address is checked against. Each prefix carries an owner
// label for messages. It is not safe for concurrent adds; lookups are
// read-only.
type prefixSet struct {
	// byLen holds, per prefix length, the masked prefixes of that length.
	byLen map[int]map[netip.Prefix]string
	// lens are the lengths present, ascending.
	lens []int
	// sorted are the masked prefixes ordered by address, for "p contains
	// one of them".
	sorted []netip.Prefix
}

// add adds p (masked) with its owner; an existing prefix keeps its first
// owner.
func (s *prefixSet) add(p netip.Prefix, owner string) {
	p = p.Masked()
	if s.byLen == nil {
		s.byLen = map[int]map[netip.Prefix]string{}
	}
	key := bitsKey(p)
	m := s.byLen[key]
	if m == nil {
		m = map[netip.Prefix]string{}
		s.byLen[key] = m
		i, _ := slices.BinarySearch(s.lens, key)
		s.lens = slices.Insert(s.lens, i, key)
	}
	if _, ok := m[p]; ok {
		return
	}
	m[p] = owner
	i, _ := slices.BinarySearchFunc(s.sorted, p, comparePrefix)
	s.sorted = slices.Insert(s.sorted, i, p)
}

// bitsKey tells IPv4 and IPv6 prefixes of the same length apart.
func bitsKey(p netip.Prefix) int {
	if p.Addr().Is4() {
		return p.Bits()
	}
	return 1000 + p.Bits()
}

// overlapping returns a prefix of the set that overlaps p, and its owner.
func (s *prefixSet) overlapping(p netip.Prefix) (netip.Prefix, string, bool) {
	p = p.Masked()
	// A prefix of the set that contains p: p's address masked to each
	// length up to p's own.
	for _, key := range s.lens {
		is4 := key < 1000
		bits := key % 1000
		if is4 != p.Addr().Is4() || bits > p.Bits() {
			continue
		}
		q := netip.PrefixFrom(p.Addr(), bits).Masked()
		if owner, ok := s.byLen[key][q]; ok {
			return q, owner, true
		}
	}
	// A prefix of the set inside p: its address lies in p's range.
	i, _ := slices.BinarySearchFunc(s.sorted, p, comparePrefix)
	if i < len(s.sorted) {
		if q := s.sorted[i]; q.Addr().Is4() == p.Addr().Is4() && p.Contains(q.Addr()) {
			return q, s.byLen[bitsKey(q)][q], true
		}
	}
	return netip.Prefix{}, "", false
}

// comparePrefix orders prefixes by address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
