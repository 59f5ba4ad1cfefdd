package meshguard

import (
	"net/netip"
	"testing"
)

func TestPrefixSetOverlapping(t *testing.T) {
	var s prefixSet
	for _, e := range [][2]string{
		{"198.18.0.1/24", "a1"}, {"198.18.0.2/24", "a2"}, {"198.18.9.7/32", "b1"}, {"198.18.12.0/22", "c1"}, {"fd00::1/64", "v6"},
	} {
		s.add(netip.MustParsePrefix(e[0]), e[1]) // a2's subnet is a1's: the first owner stays
	}
	tests := []struct {
		p     string
		want  string // "" none
		owner string
	}{
		{"198.18.0.77/32", "198.18.0.0/24", "a1"},
		{"198.18.0.0/16", "198.18.0.0/24", "a1"},
		{"198.18.9.0/24", "198.18.9.7/32", "b1"},
		{"198.18.9.7/32", "198.18.9.7/32", "b1"},
		{"198.18.9.8/32", "", ""},
		{"198.18.13.0/24", "198.18.12.0/22", "c1"},
		{"198.18.16.0/22", "", ""},
		{"0.0.0.0/1", "", ""},
		{"128.0.0.0/1", "198.18.0.0/24", "a1"},
		{"fd00::5/128", "fd00::/64", "v6"},
		{"fd01::/64", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.p, func(t *testing.T) {
			q, owner, ok := s.overlapping(netip.MustParsePrefix(tt.p))
			got := ""
			if ok {
				got = q.String()
			}
			if got != tt.want || owner != tt.owner {
				t.Fatalf("overlapping(%s) = %q of %q, want %q of %q", tt.p, got, owner, tt.want, tt.owner)
			}
		})
	}
}
