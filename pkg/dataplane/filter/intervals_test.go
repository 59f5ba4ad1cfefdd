package filter

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func render(ivs []interval) string {
	var out []string
	for _, iv := range ivs {
		out = append(out, iv.String())
	}
	return strings.Join(out, " ")
}

func TestTopLevelAndMerged(t *testing.T) {
	cases := []struct {
		in          []netip.Prefix
		top, merged string
	}{
		{prefixes(), "", ""},
		{prefixes("10.0.0.2/32", "10.0.0.1/32"), "10.0.0.1/32 10.0.0.2/32", "10.0.0.1-10.0.0.2"},
		{prefixes("10.0.0.5/32", "10.0.0.0/24", "10.0.0.0/24", "10.0.1.0/24"), "10.0.0.0/24 10.0.1.0/24", "10.0.0.0/23"},
		{prefixes("10.0.0.128/25", "10.0.0.0/16"), "10.0.0.0/16", "10.0.0.0/16"},
		{prefixes("255.255.255.255/32", "0.0.0.0/1"), "0.0.0.0/1 255.255.255.255/32", "0.0.0.0/1 255.255.255.255/32"},
		{prefixes("2001:db8::/64", "2001:db8::1/128"), "2001:db8::/64", "2001:db8::/64"},
	}
	for _, c := range cases {
		if got := render(topLevel(c.in)); got != c.top {
			t.Errorf("topLevel(%v) = %q, want %q", c.in, got, c.top)
		}
		if got := render(mergedIntervals(c.in)); got != c.merged {
			t.Errorf("mergedIntervals(%v) = %q, want %q", c.in, got, c.merged)
		}
	}
}

// TestIntervalElementsRoundTrip encodes intervals as the kernel stores
// them and decodes them back, in the reverse order the kernel lists them.
func TestIntervalElementsRoundTrip(t *testing.T) {
	for _, in := range [][]netip.Prefix{
		prefixes("10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"),
		prefixes("10.0.0.0/24", "192.168.0.0/16", "255.255.255.255/32"),
		prefixes("0.0.0.0/0"),
		prefixes("2001:db8::1/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
	} {
		want := topLevel(in)
		elems := intervalElements(want)
		slices.Reverse(elems)
		got, err := decodeIntervals(elems)
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		if render(got) != render(want) {
			t.Errorf("round trip of %v: %s, want %s", in, render(got), render(want))
		}
	}
	if _, err := decodeIntervals([]nftables.SetElement{{Key: []byte{10, 0, 0, 1}}, {Key: []byte{10, 0, 0, 2}}}); err == nil {
		t.Error("two starts in a row decoded without error")
	}
}

func TestMergedPortsAndElements(t *testing.T) {
	got := mergedPorts([]PortRange{{9000, 9000}, {5430, 5433}, {5434, 5440}, {5432, 5432}, {65535, 65535}})
	if want := []PortRange{{5430, 5440}, {9000, 9000}, {65535, 65535}}; !slices.Equal(got, want) {
		t.Errorf("mergedPorts = %v, want %v", got, want)
	}
	elems := portElements(got)
	var keys []string
	for _, e := range elems {
		keys = append(keys, fmt.Sprintf("%d%s", int(e.Key[0])<<8|int(e.Key[1]), map[bool]string{true: "e"}[e.IntervalEnd]))
	}
	// 65535 runs to the end: no interval end past it.
	if want := "5430 5441e 9000 9001e 65535"; strings.Join(keys, " ") != want {
		t.Errorf("port elements %s, want %s", strings.Join(keys, " "), want)
	}
}

func TestValidateEndpoint(t *testing.T) {
	tcp, icmp := ProtoTCP, ProtoICMP
	ok := Rule{Action: Allow, Protocol: &tcp, Destination: Match{Set: "db", Ports: []PortRange{{1, 2}}}}
	cases := []struct {
		name string
		ep   Endpoint
		err  string
	}{
		{"valid", Endpoint{Interface: "cali1", Egress: []Tier{{Policies: []Policy{{Rules: []Rule{ok}}}}}}, ""},
		{"interface too long", Endpoint{Interface: "0123456789abcdef"}, "interface name"},
		{"interface with slash", Endpoint{Interface: "a/b"}, "invalid character"},
		{"bad tier default", Endpoint{Interface: "c", Ingress: []Tier{{DefaultAction: Allow}}}, "default action"},
		{"ports without protocol", Endpoint{Interface: "c", Ingress: []Tier{{Policies: []Policy{{Rules: []Rule{{Action: Allow, Source: Match{Ports: []PortRange{{1, 1}}}}}}}}}}, "ports need protocol"},
		{"ports with ICMP", Endpoint{Interface: "c", Ingress: []Tier{{Policies: []Policy{{Rules: []Rule{{Action: Allow, Protocol: &icmp, Destination: Match{NotPorts: []PortRange{{1, 1}}}}}}}}}}, "ports need protocol"},
		{"empty port range", Endpoint{Interface: "c", Ingress: []Tier{{Policies: []Policy{{Rules: []Rule{{Action: Allow, Protocol: &tcp, Destination: Match{Ports: []PortRange{{5, 1}}}}}}}}}}, "empty"},
		{"icmp on tcp", Endpoint{Interface: "c", Ingress: []Tier{{Policies: []Policy{{Rules: []Rule{{Action: Allow, Protocol: &tcp, ICMP: &ICMPMatch{Type: 8}}}}}}}}, "icmp fields"},
		{"unknown action", Endpoint{Interface: "c", Ingress: []Tier{{Policies: []Policy{{Rules: []Rule{{Action: "Accept"}}}}}}}, "action"},
		{"bad set name", Endpoint{Interface: "c", Ingress: []Tier{{Policies: []Policy{{Rules: []Rule{{Action: Allow, Source: Match{Set: "a b"}}}}}}}}, "set name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refs, err := validateEndpoint(&c.ep)
			if c.err == "" {
				if err != nil || refs["db"] != 1 {
					t.Fatalf("err %v, refs %v", err, refs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err %v, want one containing %q", err, c.err)
			}
		})
	}
}

// TestRenderFamilies checks which families a rule is written for.
func TestRenderFamilies(t *testing.T) {
	tcp, icmp6 := ProtoTCP, ProtoICMPv6
	cases := []struct {
		name string
		r    Rule
		want []int
	}{
		{"no criteria", Rule{Action: Allow}, []int{4, 6}},
		{"ipVersion 6", Rule{Action: Allow, IPVersion: 6}, []int{6}},
		{"ICMPv6", Rule{Action: Allow, Protocol: &icmp6}, []int{6}},
		{"v4 nets only", Rule{Action: Allow, Protocol: &tcp, Source: Match{Nets: prefixes("10.0.0.0/8")}}, []int{4}},
		{"v6 notNets: both", Rule{Action: Allow, Source: Match{NotNets: prefixes("2001:db8::/32")}}, []int{4, 6}},
		{"set: both", Rule{Action: Allow, Destination: Match{Set: "db"}}, []int{4, 6}},
	}
	for _, c := range cases {
		var got []int
		for _, fam := range []family{ipv4, ipv6} {
			if _, _, ok := ruleExprs(&c.r, fam); ok {
				got = append(got, fam.version)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: families %v, want %v", c.name, got, c.want)
		}
	}
}
