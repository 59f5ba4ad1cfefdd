package ipam

import (
	"net/netip"
	"testing"
)

func TestBlockName(t *testing.T) {
	for _, tc := range []struct{ cidr, want string }{
		{"198.18.4.0/26", "198-18-4-0-26"},
		{"198.18.4.7/26", "198-18-4-0-26"},
		{"fd00:1::40/122", "fd00-1--40-122"},
	} {
		if got := BlockName(netip.MustParsePrefix(tc.cidr)); got != tc.want {
			t.Errorf("BlockName(%s) = %s, want %s", tc.cidr, got, tc.want)
		}
	}
}

func TestNextFreeCIDR(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name  string
		pool  string
		bits  int
		taken []string
		want  string // "" : none
	}{
		{"empty pool", "198.18.4.0/24", 26, nil, "198.18.4.0/26"},
		{"first taken", "198.18.4.0/24", 26, []string{"198.18.4.0/26"}, "198.18.4.64/26"},
		{"hole in the middle", "198.18.4.0/24", 26, []string{"198.18.4.0/26", "198.18.4.128/26"}, "198.18.4.64/26"},
		{"full", "198.18.4.0/24", 26, []string{"198.18.4.0/26", "198.18.4.64/26", "198.18.4.128/26", "198.18.4.192/26"}, ""},
		{"a larger hand-made block is stepped over", "198.18.4.0/24", 26, []string{"198.18.4.0/25"}, "198.18.4.128/26"},
		{"a smaller block taints its whole block", "198.18.4.0/24", 26, []string{"198.18.4.70/32"}, "198.18.4.0/26"},
		{"a smaller block taints its whole block (2)", "198.18.4.0/24", 26, []string{"198.18.4.3/32"}, "198.18.4.64/26"},
		{"blocks of other pools are ignored", "198.18.4.0/24", 26, []string{"198.18.5.0/26"}, "198.18.4.0/26"},
		{"block size larger than the pool", "198.18.4.0/28", 26, nil, ""},
		{"pool of one block", "198.18.4.0/26", 26, nil, "198.18.4.0/26"},
		{"IPv6 huge pool", "fd00:1::/64", 122, []string{"fd00:1::/122", "fd00:1::40/122"}, "fd00:1::80/122"},
		{"IPv6 pool behind a /96 taken", "fd00:1::/64", 122, []string{"fd00:1::/96"}, "fd00:1::1:0:0/122"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var taken []netip.Prefix
			for _, s := range tc.taken {
				taken = append(taken, p(s))
			}
			got, ok := nextFreeCIDR(p(tc.pool), tc.bits, taken)
			switch {
			case tc.want == "" && ok:
				t.Fatalf("got %s, want none", got)
			case tc.want != "" && (!ok || got != p(tc.want)):
				t.Fatalf("got %s (%v), want %s", got, ok, tc.want)
			}
		})
	}
}

func TestOrdinals(t *testing.T) {
	for _, tc := range []struct {
		block string
		o     int
		addr  string
	}{
		{"198.18.4.0/26", 0, "198.18.4.0"},
		{"198.18.4.64/26", 63, "198.18.4.127"},
		{"198.18.4.0/22", 300, "198.18.5.44"},
		{"fd00::40/122", 5, "fd00::45"},
	} {
		b := netip.MustParsePrefix(tc.block)
		if got := addrAt(b, tc.o); got != netip.MustParseAddr(tc.addr) {
			t.Errorf("addrAt(%s, %d) = %s, want %s", tc.block, tc.o, got, tc.addr)
		}
		if o, ok := ordinalOf(b, netip.MustParseAddr(tc.addr)); !ok || o != tc.o {
			t.Errorf("ordinalOf(%s, %s) = %d, %v, want %d", tc.block, tc.addr, o, ok, tc.o)
		}
	}
	if _, ok := ordinalOf(netip.MustParsePrefix("198.18.4.0/26"), netip.MustParseAddr("198.18.4.64")); ok {
		t.Error("ordinalOf found an address outside the block")
	}
}
