package peering

import (
	"net/netip"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestParseCommunity(t *testing.T) {
	for _, tc := range []struct {
		in       string
		standard uint32
		large    [3]uint32
		isLarge  bool
		wantErr  bool
	}{
		{in: "65001:100", standard: 65001<<16 | 100},
		{in: "0:0", standard: 0},
		{in: "65535:65535", standard: 0xffffffff},
		{in: "4200000000:1:2", large: [3]uint32{4200000000, 1, 2}, isLarge: true},
		{in: "65536:1", wantErr: true},        // 16-bit parts in a standard community
		{in: "4294967296:1:1", wantErr: true}, // 32-bit parts in a large one
		{in: "1", wantErr: true},              // one part
		{in: "1:2:3:4", wantErr: true},        // four parts
		{in: "a:b", wantErr: true},            // not numbers
		{in: "no-export", wantErr: true},      // well-known names are not accepted (Calico neither)
	} {
		t.Run(tc.in, func(t *testing.T) {
			std, large, isLarge, err := ParseCommunity(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if std != tc.standard || large != tc.large || isLarge != tc.isLarge {
				t.Errorf("= %d %v %v, want %d %v %v", std, large, isLarge, tc.standard, tc.large, tc.isLarge)
			}
		})
	}
}

func TestCommunities(t *testing.T) {
	block := netip.MustParsePrefix("198.19.1.0/26")
	other := netip.MustParsePrefix("198.19.9.0/26")
	svc := netip.MustParsePrefix("198.19.128.0/20")
	config := func(comms []v3.Community, ads ...v3.PrefixAdvertisement) *v3.BGPConfiguration {
		return &v3.BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.BGPConfigurationSpec{Communities: comms, PrefixAdvertisements: ads}}
	}
	named := []v3.Community{{Name: "rack", Value: "65001:100"}, {Name: "big", Value: "64512:1:2"}}
	for _, tc := range []struct {
		name   string
		global *v3.BGPConfiguration
		want   map[netip.Prefix]Communities
	}{
		{"no configuration", nil, nil},
		{"no prefixAdvertisements", config(named), nil},
		{"a CIDR containing the block tags it, names resolved",
			config(named, v3.PrefixAdvertisement{CIDR: "198.19.0.0/16", Communities: []string{"rack", "big"}}),
			map[netip.Prefix]Communities{
				block: {Standard: []uint32{65001<<16 | 100}, Large: [][3]uint32{{64512, 1, 2}}},
				other: {Standard: []uint32{65001<<16 | 100}, Large: [][3]uint32{{64512, 1, 2}}},
				svc:   {Standard: []uint32{65001<<16 | 100}, Large: [][3]uint32{{64512, 1, 2}}},
			}},
		{"the block itself, a literal value",
			config(nil, v3.PrefixAdvertisement{CIDR: "198.19.1.0/26", Communities: []string{"65002:7"}}),
			map[netip.Prefix]Communities{block: {Standard: []uint32{65002<<16 | 7}}}},
		{"a CIDR inside the block does not tag it (net ~ cidr: the route must be within the CIDR)",
			config(nil, v3.PrefixAdvertisement{CIDR: "198.19.1.0/28", Communities: []string{"65002:7"}}),
			map[netip.Prefix]Communities{}},
		{"every matching entry adds, duplicates once, sorted",
			config(named,
				v3.PrefixAdvertisement{CIDR: "198.19.0.0/16", Communities: []string{"65003:1", "rack"}},
				v3.PrefixAdvertisement{CIDR: "198.19.1.0/24", Communities: []string{"65001:100", "65000:9"}}),
			map[netip.Prefix]Communities{
				block: {Standard: []uint32{65000<<16 | 9, 65001<<16 | 100, 65003<<16 | 1}},
				other: {Standard: []uint32{65001<<16 | 100, 65003<<16 | 1}},
				svc:   {Standard: []uint32{65001<<16 | 100, 65003<<16 | 1}},
			}},
		{"an IPv6 CIDR tags no IPv4 route",
			config(nil, v3.PrefixAdvertisement{CIDR: "::/0", Communities: []string{"65002:7"}}),
			map[netip.Prefix]Communities{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := communities([]netip.Prefix{block, other, svc}, tc.global)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("communities = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCommunitiesString(t *testing.T) {
	c := Communities{Standard: []uint32{65001<<16 | 100}, Large: [][3]uint32{{64512, 1, 2}}}
	if got, want := c.String(), "65001:100 64512:1:2"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (Communities{}).String(); got != "" {
		t.Errorf("empty String = %q", got)
	}
}
