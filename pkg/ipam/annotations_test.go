package ipam

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParsePoolsAnnotation(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    []string
		wantErr string
	}{
		{`["pool-a", "198.18.4.0/24"]`, []string{"pool-a", "198.18.4.0/24"}, ""},
		{`[]`, []string{}, ""},
		{`pool-a`, nil, `cni.projectcalico.org/ipv4pools "pool-a"`},
		{`["pool-a", ""]`, nil, "entry 1 is empty"},
		{`["198.18.4.0/33"]`, nil, `entry 0 "198.18.4.0/33" is not a CIDR`},
	} {
		got, err := ParsePoolsAnnotation(tc.value)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePoolsAnnotation(%s) error %v, want one with %q", tc.value, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePoolsAnnotation(%s) = %q, %v, want %q", tc.value, got, err, tc.want)
		}
	}
}

func TestParseAddrsAnnotation(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    []string
		wantErr string
	}{
		{`["198.18.4.5"]`, []string{"198.18.4.5"}, ""},
		{`["198.18.4.5", "fd00::5"]`, []string{"198.18.4.5", "fd00::5"}, ""},
		{`["::ffff:198.18.4.5"]`, []string{"198.18.4.5"}, ""},
		{`"198.18.4.5"`, nil, `cni.projectcalico.org/ipAddrs "\"198.18.4.5\""`},
		{`["198.18.4.5/32"]`, nil, `entry 0 "198.18.4.5/32" is not an IP address`},
		{`["198.18.4.5", "198.18.4.5"]`, nil, "listed twice"},
	} {
		got, err := ParseAddrsAnnotation(tc.value)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseAddrsAnnotation(%s) error %v, want one with %q", tc.value, err, tc.wantErr)
			}
			continue
		}
		var want []netip.Addr
		for _, s := range tc.want {
			want = append(want, netip.MustParseAddr(s))
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseAddrsAnnotation(%s) = %v, %v, want %v", tc.value, got, err, want)
		}
	}
}
