package peering

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Communities are the BGP communities a route is advertised with.
type Communities struct {
	// Standard are RFC 1997 communities, "aa:nn" as aa<<16 | nn.
	Standard []uint32 `json:"standard,omitempty"`
	// Large are RFC 8092 communities, "aa:nn:mm" as {aa, nn, mm}.
	Large [][3]uint32 `json:"large,omitempty"`
}

// ParseCommunity reads a community value: "aa:nn" (16-bit numbers, a
// standard community) or "aa:nn:mm" (32-bit numbers, a large one).
func ParseCommunity(v string) (standard uint32, large [3]uint32, isLarge bool, err error) {
	parts := strings.Split(v, ":")
	bits := map[int]int{2: 16, 3: 32}[len(parts)]
	if bits == 0 {
		return 0, large, false, fmt.Errorf("community %q: not \"aa:nn\" or \"aa:nn:mm\"", v)
	}
	for i, part := range parts {
		n, err := strconv.ParseUint(part, 10, bits)
		if err != nil {
			return 0, large, false, fmt.Errorf("community %q: part %q is not a %d-bit number", v, part, bits)
		}
		large[i] = uint32(n)
	}
	if bits == 16 {
		return large[0]<<16 | large[1], [3]uint32{}, false, nil
	}
	return 0, large, true, nil
}

// String renders the communities as BGP tools do: "65001:100
// 64512:1:2"; equal sets render equally.
func (c Communities) String() string {
	var parts []string
	for _, s := range c.Standard {
		parts = append(parts, fmt.Sprintf("%d:%d", s>>16, s&0xffff))
	}
	for _, l := range c.Large {
		parts = append(parts, fmt.Sprintf("%d:%d:%d", l[0], l[1], l[2]))
	}
	return strings.Join(parts, " ")
}

// add adds the community value v, skipping one it cannot read (the API
// validated it).
func (c *Communities) add(v string) {
	std, large, isLarge, err := ParseCommunity(v)
	switch {
	case err != nil:
	case isLarge:
		c.Large = append(c.Large, large)
	default:
		c.Standard = append(c.Standard, std)
	}
}

// normalize sorts and deduplicates.
func (c *Communities) normalize() {
	slices.Sort(c.Standard)
	c.Standard = slices.Compact(c.Standard)
	slices.SortFunc(c.Large, func(a, b [3]uint32) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]), cmp.Compare(a[2], b[2]))
	})
	c.Large = slices.Compact(c.Large)
}

// communities tags each advertised prefix with the communities of every
// prefixAdvertisement of the default BGPConfiguration whose CIDR contains
// it, as Calico's BIRD configuration does (`net ~ cidr`); a name resolves
// through spec.communities, anything else is a literal value. Prefixes
// without communities are left out.
func communities(prefixes []netip.Prefix, global *v3.BGPConfiguration) map[netip.Prefix]Communities {
	if global == nil || len(global.Spec.PrefixAdvertisements) == 0 {
		return nil
	}
	named := map[string]string{}
	for _, c := range global.Spec.Communities {
		named[c.Name] = c.Value
	}
	out := map[netip.Prefix]Communities{}
	for _, p := range prefixes {
		var c Communities
		for _, a := range global.Spec.PrefixAdvertisements {
			cidr, err := netip.ParsePrefix(a.CIDR)
			if err != nil || cidr.Addr().Is4() != p.Addr().Is4() || cidr.Bits() > p.Bits() || !cidr.Contains(p.Addr()) {
				continue
			}
			for _, v := range a.Communities {
				if value, ok := named[v]; ok {
					v = value
				}
				c.add(v)
			}
		}
		if len(c.Standard)+len(c.Large) > 0 {
			c.normalize()
			out[p] = c
		}
	}
	return out
}
