package wireguard

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// peerChanges computes the wgctrl peer configurations that turn the
// device's peers (have) into want, one entry per peer that changes and
// none for the others, so that their sessions are untouched: removals
// first (a rotated key's old peer goes before the new one takes its
// AllowedIPs), then new peers, then updates (endpoint, keepalive or
// AllowedIPs, replaced as a whole). The result is sorted within each
// group, for stable logs and tests.
func peerChanges(have []wgtypes.Peer, want []Peer, keepalive time.Duration) (removed, added, updated []wgtypes.PeerConfig) {
	wantBy := make(map[wgtypes.Key]Peer, len(want))
	for _, p := range want {
		wantBy[p.PublicKey] = p
	}
	haveBy := make(map[wgtypes.Key]wgtypes.Peer, len(have))
	for _, p := range have {
		haveBy[p.PublicKey] = p
		if _, ok := wantBy[p.PublicKey]; !ok {
			removed = append(removed, wgtypes.PeerConfig{PublicKey: p.PublicKey, Remove: true})
		}
	}
	for _, p := range want {
		h, ok := haveBy[p.PublicKey]
		if ok && peerEqual(h, p, keepalive) {
			continue
		}
		ka := keepalive
		c := wgtypes.PeerConfig{
			PublicKey:                   p.PublicKey,
			UpdateOnly:                  ok,
			Endpoint:                    net.UDPAddrFromAddrPort(p.Endpoint),
			PersistentKeepaliveInterval: &ka,
			ReplaceAllowedIPs:           true,
			AllowedIPs:                  ipNets(p.AllowedIPs),
		}
		if ok {
			updated = append(updated, c)
		} else {
			added = append(added, c)
		}
	}
	byKey := func(a, b wgtypes.PeerConfig) int { return cmp.Compare(a.PublicKey.String(), b.PublicKey.String()) }
	slices.SortFunc(removed, byKey)
	slices.SortFunc(added, byKey)
	slices.SortFunc(updated, byKey)
	return removed, added, updated
}

// peerEqual tells whether the device's peer h already is p.
func peerEqual(h wgtypes.Peer, p Peer, keepalive time.Duration) bool {
	if h.PersistentKeepaliveInterval != keepalive {
		return false
	}
	if h.Endpoint == nil || unmapAddrPort(h.Endpoint.AddrPort()) != unmapAddrPort(p.Endpoint) {
		return false
	}
	return slices.Equal(prefixSet(netPrefixes(h.AllowedIPs)), prefixSet(p.AllowedIPs))
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// prefixSet returns the masked, unmapped, sorted, deduplicated prefixes.
func prefixSet(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if p.IsValid() {
			out = append(out, canonical(p))
		}
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func canonical(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		a, bits = a.Unmap(), bits-96
		if bits < 0 {
			bits = 0
		}
	}
	return netip.PrefixFrom(a, bits).Masked()
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func ipNets(ps []netip.Prefix) []net.IPNet {
	set := prefixSet(ps)
	out := make([]net.IPNet, 0, len(set))
	for _, p := range set {
		out = append(out, *prefixToIPNet(p))
	}
	return out
}

func netPrefixes(ns []net.IPNet) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ns))
	for _, n := range ns {
		if p, ok := ipNetToPrefix(&n); ok {
			out = append(out, p)
		}
	}
	return out
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ipNetToPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	if a.Is4In6() && bits == 32 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), true
}

// routedPrefixes returns the destinations to route through the device:
// the AllowedIPs of the peers with Route set.
func routedPrefixes(peers []Peer) []netip.Prefix {
	var all []netip.Prefix
	for _, p := range peers {
		if p.Route {
			all = append(all, p.AllowedIPs...)
		}
	}
	return prefixSet(all)
}
