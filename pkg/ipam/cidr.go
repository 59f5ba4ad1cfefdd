package ipam

import (
	"math/big"
	"net/netip"
	"strings"
)

// BlockName is the name of the IPAMBlock of cidr, as Calico names it: the
// CIDR with '.', ':' and '/' replaced by '-' ("198-18-4-0-26").
func BlockName(cidr netip.Prefix) string {
	return strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(cidr.Masked().String())
}

// addrInt is a as an integer.
func addrInt(a netip.Addr) *big.Int {
	b := a.AsSlice()
	return new(big.Int).SetBytes(b)
}

// intAddr is the address of integer i in a's family.
func intAddr(i *big.Int, is4 bool) netip.Addr {
	var buf [16]byte
	b := i.Bytes()
	n := 16
	if is4 {
		n = 4
	}
	copy(buf[n-len(b):n], b)
	if is4 {
		return netip.AddrFrom4([4]byte(buf[:4]))
	}
	return netip.AddrFrom16(buf)
}

// prefixSpan is the number of addresses of p.
func prefixSpan(p netip.Prefix) *big.Int {
	return new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits()))
}

// addrAt is the address at ordinal o of block.
func addrAt(block netip.Prefix, o int) netip.Addr {
	a := block.Masked().Addr()
	i := addrInt(a)
	i.Add(i, big.NewInt(int64(o)))
	return intAddr(i, a.Is4())
}

// ordinalOf is a's offset in block, or false when block does not hold a.
func ordinalOf(block netip.Prefix, a netip.Addr) (int, bool) {
	if !block.Contains(a) {
		return 0, false
	}
	d := addrInt(a)
	d.Sub(d, addrInt(block.Masked().Addr()))
	return int(d.Int64()), true
}

// blockCount is the number of addresses of a block of cidr, or 0 when it
// is too large to record allocations (more than 4096 addresses).
func blockCount(cidr netip.Prefix) int {
	host := cidr.Addr().BitLen() - cidr.Bits()
	if host > 12 {
		return 0
	}
	return 1 << host
}

// nextFreeCIDR is the first block of length blockBits inside pool that
// overlaps none of taken. It steps over taken blocks, so it costs
// O(len(taken)²) whatever the size of the pool.
func nextFreeCIDR(pool netip.Prefix, blockBits int, taken []netip.Prefix) (netip.Prefix, bool) {
	pool = pool.Masked()
	bits := pool.Addr().BitLen()
	if blockBits < pool.Bits() || blockBits > bits {
		return netip.Prefix{}, false
	}
	is4 := pool.Addr().Is4()
	step := new(big.Int).Lsh(big.NewInt(1), uint(bits-blockBits))
	start := addrInt(pool.Addr())
	end := new(big.Int).Add(start, prefixSpan(pool))
	cur := new(big.Int).Set(start)
	for cur.Cmp(end) < 0 {
		cand := netip.PrefixFrom(intAddr(cur, is4), blockBits)
		t, hit := firstOverlap(cand, taken)
		if !hit {
			return cand, true
		}
		// Skip past t, to the next block boundary at or after its end.
		tEnd := new(big.Int).Add(addrInt(t.Masked().Addr()), prefixSpan(t))
		off := new(big.Int).Sub(tEnd, start)
		off.Add(off, new(big.Int).Sub(step, big.NewInt(1)))
		off.Div(off, step).Mul(off, step)
		next := off.Add(off, start)
		cur.Add(cur, step)
		if next.Cmp(cur) > 0 {
			cur = next
		}
	}
	return netip.Prefix{}, false
}

func firstOverlap(p netip.Prefix, in []netip.Prefix) (netip.Prefix, bool) {
	for _, q := range in {
		if q.Overlaps(p) {
			return q, true
		}
	}
	return netip.Prefix{}, false
}
