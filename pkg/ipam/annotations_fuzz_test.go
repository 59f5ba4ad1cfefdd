package ipam

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParsePoolsAnnotation parses fuzzed pool annotations: no panic; a
// rejection names the annotation and quotes its value; an accepted list
// has no empty entry and every entry with a "/" is a CIDR.
func FuzzParsePoolsAnnotation(f *testing.F) {
	for _, seed := range []string{
		`["pool-a", "198.18.4.0/24"]`, `[]`, `pool-a`, `["pool-a", ""]`, `["198.18.4.0/33"]`,
		`[" fd00:198:18::/64 "]`, `[1]`, `null`, `["a",`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		pools, err := ParsePoolsAnnotation(value)
		if err != nil {
			if !strings.Contains(err.Error(), AnnotationIPv4Pools) {
				t.Fatalf("ParsePoolsAnnotation(%q): error %q does not name the annotation", value, err)
			}
			return
		}
		for i, p := range pools {
			if p == "" || p != strings.TrimSpace(p) {
				t.Fatalf("ParsePoolsAnnotation(%q): entry %d %q is empty or untrimmed", value, i, p)
			}
			if strings.Contains(p, "/") {
				if _, err := netip.ParsePrefix(p); err != nil {
					t.Fatalf("ParsePoolsAnnotation(%q): entry %d %q accepted but not a CIDR: %v", value, i, p, err)
				}
			}
		}
	})
}

// FuzzParseAddrsAnnotation parses fuzzed ipAddrs annotations: no panic; a
// rejection names the annotation; accepted addresses are valid, unmapped,
// without an IPv6 zone (no pool contains one) and distinct.
func FuzzParseAddrsAnnotation(f *testing.F) {
	for _, seed := range []string{
		`["198.18.4.7"]`, `["198.18.4.7", "fd00:198:18::7"]`, `["198.18.4.7", "::ffff:198.18.4.7"]`,
		`["198.18.4.256"]`, `[]`, `"198.18.4.7"`, `[null]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		addrs, err := ParseAddrsAnnotation(value)
		if err != nil {
			if !strings.Contains(err.Error(), AnnotationIPAddrs) {
				t.Fatalf("ParseAddrsAnnotation(%q): error %q does not name the annotation", value, err)
			}
			return
		}
		seen := map[netip.Addr]bool{}
		for i, a := range addrs {
			switch {
			case !a.IsValid() || a.Is4In6() || a.Zone() != "":
				t.Fatalf("ParseAddrsAnnotation(%q): address %d %v is invalid, IPv4-mapped or has a zone", value, i, a)
			case seen[a]:
				t.Fatalf("ParseAddrsAnnotation(%q): address %v accepted twice", value, a)
			}
			seen[a] = true
		}
	})
}
