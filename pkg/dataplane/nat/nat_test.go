package nat

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
)

func TestToRangesMergesNestedAndAdjacent(t *testing.T) {
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []netip.Prefix
		want []string
	}{
		{"empty", nil, nil},
		{"one", pfx("198.18.0.0/24"), []string{"198.18.0.0-198.18.0.255"}},
		{"nested /32 in pool", pfx("198.18.0.0/24", "198.18.0.7/32"), []string{"198.18.0.0-198.18.0.255"}},
		{"adjacent merge", pfx("198.18.1.0/24", "198.18.0.0/24"), []string{"198.18.0.0-198.18.1.255"}},
		{"disjoint", pfx("198.18.0.0/24", "198.18.2.0/24"), []string{"198.18.0.0-198.18.0.255", "198.18.2.0-198.18.2.255"}},
		{"unmasked", pfx("198.18.0.9/24"), []string{"198.18.0.0-198.18.0.255"}},
		{"ipv6 ignored", pfx("fd00::/64", "198.18.0.1/32"), []string{"198.18.0.1-198.18.0.1"}},
		{"top of space", pfx("255.255.255.0/24"), []string{"255.255.255.0-255.255.255.255"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sortedRanges(toRanges(tc.in))
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Errorf("range %d: got %s, want %s", i, got[i], tc.want[i])
				}
			}
			// Elements parse back to the same ranges.
			back, ok := parseElements(elements(got))
			if !ok || len(back) != len(got) {
				t.Fatalf("parse back: %v %v", back, ok)
			}
			for _, r := range got {
				if !back[r] {
					t.Errorf("range %s lost in the round trip", r)
				}
			}
		})
	}
}

func TestParseElementsRejectsUnpaired(t *testing.T) {
	if _, ok := parseElements([]nftables.SetElement{{Key: []byte{198, 18, 0, 9}, IntervalEnd: true}}); ok {
		t.Error("a lone end element parsed")
	}
	if _, ok := parseElements([]nftables.SetElement{{Key: []byte{198, 18}}}); ok {
		t.Error("a 2-byte key parsed")
	}
}

func TestDiffRanges(t *testing.T) {
	have := toRanges([]netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("198.18.4.0/24")})
	want := toRanges([]netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("198.18.5.0/24")})
	add, del := diffRanges(have, want)
	if len(add) != 1 || add[0].String() != "198.18.5.0-198.18.5.255" || len(del) != 1 || del[0].String() != "198.18.4.0-198.18.4.255" {
		t.Errorf("add %v del %v", add, del)
	}
}
