package policyfilter

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
	"github.com/meshapi/meshapi/pkg/policy"
)

func u8(v uint8) *uint8 { return &v }
func ip(v int) *int     { return &v }

func TestRule(t *testing.T) {
	tcp := v3.ProtocolFromString("TCP")
	cases := []struct {
		name string
		in   policy.RuleMatch
		want filter.Rule
		keep bool
		err  string
	}{
		{
			name: "seed rule: TCP to a selector set on 5432",
			in: policy.RuleMatch{Action: v3.Allow, Protocol: &tcp, Destination: policy.Entity{
				HasSelector: true, SetID: "sabc", SelectorIPs: []netip.Prefix{}, Ports: []v3.Port{v3.SinglePort(5432)}}},
			want: filter.Rule{Action: filter.Allow, Protocol: u8(6), Destination: filter.Match{Set: "sabc", Ports: []filter.PortRange{{Min: 5432, Max: 5432}}}},
			keep: true,
		},
		{
			name: "protocol by number, lower-case name, ipVersion, nets",
			in: policy.RuleMatch{Action: v3.Deny, IPVersion: ip(4), Protocol: ptr(v3.ProtocolFromInt(17)),
				NotProtocol: ptr(v3.ProtocolFromString("sctp")),
				Source: policy.Entity{Nets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, NotNets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
					Ports: []v3.Port{v3.PortRange(1000, 2000)}, NotPorts: []v3.Port{v3.SinglePort(1500)}}},
			want: filter.Rule{Action: filter.Deny, IPVersion: 4, Protocol: u8(17), NotProtocol: u8(132), Source: filter.Match{
				Nets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, NotNets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
				Ports: []filter.PortRange{{Min: 1000, Max: 2000}}, NotPorts: []filter.PortRange{{Min: 1500, Max: 1500}}}},
			keep: true,
		},
		{
			name: "ICMP type and code",
			in:   policy.RuleMatch{Action: v3.Log, Protocol: ptr(v3.ProtocolFromString("ICMP")), ICMP: &v3.ICMPFields{Type: ip(8), Code: ip(0)}, NotICMP: &v3.ICMPFields{Type: ip(3)}},
			want: filter.Rule{Action: filter.Log, Protocol: u8(1), ICMP: &filter.ICMPMatch{Type: 8, Code: u8(0)}, NotICMP: &filter.ICMPMatch{Type: 3}},
			keep: true,
		},
		{
			name: "a selector matching nothing still names its set",
			in:   policy.RuleMatch{Action: v3.Pass, Source: policy.Entity{HasSelector: true, SetID: "sempty", SelectorIPs: []netip.Prefix{}}},
			want: filter.Rule{Action: filter.Pass, Source: filter.Match{Set: "sempty"}},
			keep: true,
		},
		{
			name: "named ports only: never matches, left out",
			in:   policy.RuleMatch{Action: v3.Allow, Protocol: &tcp, Destination: policy.Entity{Ports: []v3.Port{v3.NamedPort("http")}}},
			keep: false,
		},
		{
			name: "named ports among numeric ones are dropped",
			in: policy.RuleMatch{Action: v3.Allow, Protocol: &tcp, Destination: policy.Entity{
				Ports: []v3.Port{v3.NamedPort("http"), v3.SinglePort(80)}, NotPorts: []v3.Port{v3.NamedPort("admin")}}},
			want: filter.Rule{Action: filter.Allow, Protocol: u8(6), Destination: filter.Match{Ports: []filter.PortRange{{Min: 80, Max: 80}}}},
			keep: true,
		},
		{
			name: "unknown protocol",
			in:   policy.RuleMatch{Action: v3.Allow, Protocol: ptr(v3.ProtocolFromString("DCCP"))},
			err:  "unknown protocol",
		},
		{
			name: "ports without a protocol with ports",
			in:   policy.RuleMatch{Action: v3.Allow, Protocol: ptr(v3.ProtocolFromString("ICMP")), Destination: policy.Entity{Ports: []v3.Port{v3.SinglePort(1)}}},
			err:  "ports need protocol",
		},
		{
			name: "ICMP code without type",
			in:   policy.RuleMatch{Action: v3.Allow, Protocol: ptr(v3.ProtocolFromString("ICMP")), ICMP: &v3.ICMPFields{Code: ip(1)}},
			err:  "code without a type",
		},
		{
			name: "unknown action",
			in:   policy.RuleMatch{Action: "Reject"},
			err:  "unknown action",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, keep, err := Rule(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || keep {
					t.Fatalf("Rule = %+v, keep %v, err %v; want left out with an error containing %q", got, keep, err, c.err)
				}
				return
			}
			if err != nil || keep != c.keep {
				t.Fatalf("keep %v, err %v; want keep %v", keep, err, c.keep)
			}
			if keep && !reflect.DeepEqual(got, c.want) {
				t.Errorf("Rule =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestEndpointTiers(t *testing.T) {
	allow := policy.RuleMatch{ID: "x", Action: v3.Allow}
	bad := policy.RuleMatch{ID: "p/ingress/1", Action: v3.Allow, Protocol: ptr(v3.ProtocolFromString("nope"))}
	cases := []struct {
		name    string
		applied []policy.AppliedPolicy
		want    filter.Endpoint
		ok      bool
		err     string
	}{
		{name: "no policy: untouched", want: filter.Endpoint{Interface: "cali1"}},
		{
			name: "tiers grouped in order, per direction by type",
			applied: []policy.AppliedPolicy{
				{Key: "sec1", Tier: "security", TierDefaultAction: v3.Pass, Types: []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress},
					Ingress: []policy.RuleMatch{allow}, Egress: []policy.RuleMatch{allow}},
				{Key: "sec2", Tier: "security", TierDefaultAction: v3.Pass, Types: []v3.PolicyType{v3.PolicyTypeIngress}},
				{Key: "ns/default.p", Tier: "default", TierDefaultAction: v3.Deny, Types: []v3.PolicyType{v3.PolicyTypeIngress},
					Ingress: []policy.RuleMatch{allow, bad}},
			},
			want: filter.Endpoint{Interface: "cali1",
				Ingress: []filter.Tier{
					{Name: "security", DefaultAction: filter.Pass, Policies: []filter.Policy{{Name: "sec1", Rules: []filter.Rule{{Action: filter.Allow}}}, {Name: "sec2"}}},
					{Name: "default", DefaultAction: filter.Deny, Policies: []filter.Policy{{Name: "ns/default.p", Rules: []filter.Rule{{Action: filter.Allow}}}}},
				},
				Egress: []filter.Tier{
					{Name: "security", DefaultAction: filter.Pass, Policies: []filter.Policy{{Name: "sec1", Rules: []filter.Rule{{Action: filter.Allow}}}}},
				},
			},
			ok:  true,
			err: "p/ingress/1: unknown protocol",
		},
		{
			name: "egress-only policy: ingress untouched, egress default deny",
			applied: []policy.AppliedPolicy{
				{Key: "ns/default.e", Tier: "default", TierDefaultAction: v3.Deny, Types: []v3.PolicyType{v3.PolicyTypeEgress}},
			},
			want: filter.Endpoint{Interface: "cali1", Egress: []filter.Tier{{Name: "default", DefaultAction: filter.Deny, Policies: []filter.Policy{{Name: "ns/default.e"}}}}},
			ok:   true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := Endpoint("cali1", c.applied)
			if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("err %v, want %q", err, c.err)
			}
			if ok != c.ok || !reflect.DeepEqual(got, c.want) {
				t.Errorf("Endpoint = %+v, ok %v\nwant %+v, ok %v", got, ok, c.want, c.ok)
			}
		})
	}
}
