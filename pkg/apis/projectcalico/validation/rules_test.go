package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// baseRule is the egress rule of the documentation example.
func baseRule() *v3.Rule {
	return &v3.Rule{
		Action:      v3.Allow,
		Protocol:    proto("TCP"),
		Destination: v3.EntityRule{Selector: "app == 'postgres'", Ports: []v3.Port{v3.SinglePort(5432)}},
	}
}

// validateEgressRule validates r as the only egress rule of a policy.
func validateEgressRule(r *v3.Rule) field.ErrorList {
	np := networkPolicy()
	np.Spec.Egress = []v3.Rule{*r}
	return ValidateNetworkPolicy(np)
}

const (
	e0   = "spec.egress[0]"
	dst  = e0 + ".destination"
	src  = e0 + ".source"
	icmp = e0 + ".icmp"
)

func TestValidateRule(t *testing.T) {
	runCases(t, baseRule, validateEgressRule, []tcase[v3.Rule]{
		// Accepted.
		{name: "documentation rule"},
		{name: "deny", mut: func(r *v3.Rule) { r.Action = v3.Deny }},
		{name: "log", mut: func(r *v3.Rule) { r.Action = v3.Log }},
		{name: "pass", mut: func(r *v3.Rule) { r.Action = v3.Pass }},
		{name: "action only", mut: func(r *v3.Rule) { *r = v3.Rule{Action: v3.Allow} }},
		{name: "lower-case tcp with ports", mut: func(r *v3.Rule) { r.Protocol = proto("tcp") }},
		{name: "UDP port range", mut: func(r *v3.Rule) {
			r.Protocol = proto("UDP")
			r.Destination.Ports = []v3.Port{v3.PortRange(8000, 8080), v3.SinglePort(53)}
		}},
		{name: "SCTP named port", mut: func(r *v3.Rule) {
			r.Protocol, r.Destination.Ports = proto("SCTP"), []v3.Port{v3.NamedPort("diameter")}
		}},
		{name: "UDPLite ports", mut: func(r *v3.Rule) { r.Protocol = proto("UDPLite") }},
		{name: "lower-case udplite and sctp", mut: func(r *v3.Rule) { r.Protocol, r.NotProtocol = proto("udplite"), proto("sctp") }},
		{name: "protocol numbers with ports", mut: func(r *v3.Rule) { r.Protocol = protoN(6) }},
		{name: "protocol number 17 with ports", mut: func(r *v3.Rule) { r.Protocol = protoN(17) }},
		{name: "protocol number 132 with ports", mut: func(r *v3.Rule) { r.Protocol = protoN(132) }},
		{name: "protocol number 136 with ports", mut: func(r *v3.Rule) { r.Protocol = protoN(136) }},
		{name: "protocol numbers 0 and 255", mut: func(r *v3.Rule) {
			r.Protocol, r.NotProtocol, r.Destination.Ports = protoN(0), protoN(255), nil
		}},
		{name: "source and not ports", mut: func(r *v3.Rule) {
			r.Source.Ports = []v3.Port{v3.PortRange(1024, 65535)}
			r.Destination.NotPorts = []v3.Port{v3.SinglePort(5433)}
		}},
		{name: "IPv4 nets with bare address and host bits", mut: func(r *v3.Rule) {
			r.IPVersion = ptr(4)
			r.Destination.Nets = []string{"10.0.0.0/8", "10.1.2.3", "192.168.1.7/24"}
			r.Source.NotNets = []string{"10.9.0.0/16"}
		}},
		{name: "IPv6 nets", mut: func(r *v3.Rule) {
			r.IPVersion = ptr(6)
			r.Destination.Nets = []string{"fd00::/8", "fd00::1"}
		}},
		{name: "ICMP type and code", mut: func(r *v3.Rule) {
			r.Protocol, r.Destination.Ports = proto("ICMP"), nil
			r.IPVersion = ptr(4)
			r.ICMP = &v3.ICMPFields{Type: ptr(8), Code: ptr(0)}
		}},
		{name: "ICMPv6 notICMP", mut: func(r *v3.Rule) {
			r.Protocol, r.Destination.Ports = proto("ICMPv6"), nil
			r.IPVersion = ptr(6)
			r.NotICMP = &v3.ICMPFields{Type: ptr(128)}
		}},
		{name: "ICMP by number with bounds", mut: func(r *v3.Rule) {
			r.Protocol, r.Destination.Ports = protoN(1), nil
			r.ICMP = &v3.ICMPFields{Type: ptr(254), Code: ptr(255)}
		}},
		{name: "lower-case icmpv6", mut: func(r *v3.Rule) {
			r.Protocol, r.Destination.Ports = proto("icmpv6"), nil
			r.ICMP = &v3.ICMPFields{Type: ptr(0)}
		}},
		{name: "every selector", mut: func(r *v3.Rule) {
			r.Source.Selector = "role == 'frontend'"
			r.Source.NotSelector = "has(canary)"
			r.Source.NamespaceSelector = "global()"
			r.Source.ServiceAccounts = &v3.ServiceAccountMatch{Names: []string{"api"}, Selector: "team == 'payments'"}
		}},
		{name: "metadata annotations", mut: func(r *v3.Rule) {
			r.Metadata = &v3.RuleMetadata{Annotations: map[string]string{"note": "db access"}}
		}},

		// Rejected.
		{
			name: "action missing",
			mut:  func(r *v3.Rule) { r.Action = "" },
			want: []want{required(e0+".action", "must be one of Allow, Deny, Log or Pass")},
		},
		{
			name: "action lower case",
			mut:  func(r *v3.Rule) { r.Action = "allow" },
			want: []want{notSupported(e0+".action", `"allow": supported values: "Allow", "Deny", "Log", "Pass"`)},
		},
		{
			name: "ipVersion 5",
			mut:  func(r *v3.Rule) { r.IPVersion = ptr(5) },
			want: []want{notSupported(e0+".ipVersion", `5: supported values: "4", "6"`)},
		},
		{
			name: "protocol of mixed case",
			mut:  func(r *v3.Rule) { r.Protocol = proto("Tcp") },
			want: []want{
				invalid(e0+".protocol", `"Tcp": must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (or the same in lower case) or a protocol number from 0 to 255`),
				invalid(dst+".ports", portsProtocolMsg),
			},
		},
		{
			name: "protocol name unknown",
			mut:  func(r *v3.Rule) { r.Protocol, r.Destination.Ports = proto("HTTP"), nil },
			want: []want{invalid(e0+".protocol", `"HTTP"`)},
		},
		{
			name: "notProtocol unknown",
			mut:  func(r *v3.Rule) { r.NotProtocol = proto("GRE") },
			want: []want{invalid(e0+".notProtocol", `"GRE"`)},
		},
		{
			name: "destination ports without protocol",
			mut:  func(r *v3.Rule) { r.Protocol = nil },
			want: []want{invalid(dst+".ports", "[5432]: ports are only valid with protocol TCP, UDP, SCTP or UDPLite (protocol is not set)")},
		},
		{
			name: "destination ports with ICMP",
			mut:  func(r *v3.Rule) { r.Protocol = proto("ICMP") },
			want: []want{invalid(dst+".ports", `ports are only valid with protocol TCP, UDP, SCTP or UDPLite (protocol is "ICMP")`)},
		},
		{
			name: "source ports with protocol number 1",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = protoN(1), nil
				r.Source.Ports = []v3.Port{v3.SinglePort(22)}
			},
			want: []want{invalid(src+".ports", `[22]: ports are only valid with protocol TCP, UDP, SCTP or UDPLite (protocol is "1")`)},
		},
		{
			name: "notPorts without protocol",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = nil, nil
				r.Source.NotPorts = []v3.Port{v3.NamedPort("http")}
				r.Destination.NotPorts = []v3.Port{v3.SinglePort(25)}
			},
			want: []want{
				invalid(src+".notPorts", `["http"]: `+portsProtocolMsg),
				invalid(dst+".notPorts", "[25]: "+portsProtocolMsg),
			},
		},
		{
			name: "ports with notProtocol only",
			mut:  func(r *v3.Rule) { r.Protocol, r.NotProtocol = nil, proto("TCP") },
			want: []want{invalid(dst+".ports", portsProtocolMsg)},
		},
		{
			name: "descending port range",
			mut:  func(r *v3.Rule) { r.Destination.Ports = []v3.Port{v3.SinglePort(80), v3.PortRange(9000, 8000)} },
			want: []want{invalid(dst+".ports[1]", `"9000:8000": the start of a port range must not be greater than its end`)},
		},
		{
			name: "port zero",
			mut:  func(r *v3.Rule) { r.Source.Ports = []v3.Port{v3.PortRange(0, 1023)} },
			want: []want{invalid(src+".ports[0]", `"0:1023": port numbers must be from 1 to 65535`)},
		},
		{
			name: "named port with numbers",
			mut:  func(r *v3.Rule) { r.Destination.Ports = []v3.Port{{PortName: "pg", MinPort: 1, MaxPort: 1}} },
			want: []want{invalid(dst+".ports[0]", `"pg": a named port cannot also have port numbers`)},
		},
		{
			name: "top-level ports alongside destination ports",
			mut:  func(r *v3.Rule) { r.Ports = []v3.Port{v3.SinglePort(5432)} },
			want: []want{forbidden(e0+".ports", "use destination.ports")},
		},
		{
			name: "icmp with TCP",
			mut:  func(r *v3.Rule) { r.ICMP = &v3.ICMPFields{Type: ptr(8)} },
			want: []want{forbidden(icmp, `icmp is only valid with protocol ICMP or ICMPv6 (protocol is "TCP")`)},
		},
		{
			name: "icmp without protocol",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = nil, nil
				r.ICMP = &v3.ICMPFields{Type: ptr(8)}
			},
			want: []want{forbidden(icmp, "(protocol is not set)")},
		},
		{
			name: "notICMP with UDP",
			mut: func(r *v3.Rule) {
				r.Protocol = proto("UDP")
				r.NotICMP = &v3.ICMPFields{Type: ptr(3)}
			},
			want: []want{forbidden(e0+".notICMP", `notICMP is only valid with protocol ICMP or ICMPv6 (protocol is "UDP")`)},
		},
		{
			name: "icmp code without type",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = proto("ICMP"), nil
				r.ICMP = &v3.ICMPFields{Code: ptr(1)}
			},
			want: []want{required(icmp+".type", "an ICMP code requires an ICMP type")},
		},
		{
			name: "icmp type 255",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = proto("ICMP"), nil
				r.ICMP = &v3.ICMPFields{Type: ptr(255)}
			},
			want: []want{invalid(icmp+".type", "255: must be from 0 to 254")},
		},
		{
			name: "icmp code out of range",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = proto("ICMPv6"), nil
				r.NotICMP = &v3.ICMPFields{Type: ptr(1), Code: ptr(256)}
			},
			want: []want{invalid(e0+".notICMP.code", "256: must be from 0 to 255")},
		},
		{
			name: "ICMP with ipVersion 6",
			mut: func(r *v3.Rule) {
				r.Protocol, r.Destination.Ports = proto("ICMP"), nil
				r.IPVersion = ptr(6)
			},
			want: []want{invalid(e0+".ipVersion", "6: must be 4 with protocol ICMP")},
		},
		{
			name: "notProtocol ICMPv6 with ipVersion 4",
			mut:  func(r *v3.Rule) { r.NotProtocol, r.IPVersion = protoN(58), ptr(4) },
			want: []want{invalid(e0+".ipVersion", "4: must be 6 with protocol 58")},
		},
		{
			name: "net with bad prefix length",
			mut:  func(r *v3.Rule) { r.Destination.Nets = []string{"10.0.0.0/33"} },
			want: []want{invalid(dst+".nets[0]", `"10.0.0.0/33": must be a valid CIDR or IP address`)},
		},
		{
			name: "notNets not an address",
			mut:  func(r *v3.Rule) { r.Source.NotNets = []string{"10.0.0.0/8", "internal"} },
			want: []want{invalid(src+".notNets[1]", `"internal"`)},
		},
		{
			name: "IPv6 net in an IPv4 rule",
			mut: func(r *v3.Rule) {
				r.IPVersion = ptr(4)
				r.Destination.Nets = []string{"10.0.0.0/8", "fd00::/8"}
			},
			want: []want{invalid(dst+".nets[1]", `"fd00::/8": must be an IPv4 CIDR: the rule has ipVersion 4`)},
		},
		{
			name: "IPv4 notNet in an IPv6 rule",
			mut: func(r *v3.Rule) {
				r.IPVersion = ptr(6)
				r.Destination.NotNets = []string{"10.0.0.1"}
			},
			want: []want{invalid(dst+".notNets[0]", `"10.0.0.1": must be an IPv6 CIDR: the rule has ipVersion 6`)},
		},
		{
			name: "IPv4 source and IPv6 destination",
			mut: func(r *v3.Rule) {
				r.Source.Nets = []string{"10.0.0.0/8"}
				r.Destination.Nets = []string{"fd00::/8"}
			},
			want: []want{invalid(dst+".nets[0]", `"fd00::/8": a rule cannot match both IPv4 and IPv6 CIDRs`)},
		},
		{
			name: "destination selector invalid",
			mut:  func(r *v3.Rule) { r.Destination.Selector = "app == postgres" },
			want: []want{invalid(dst+".selector", `"app == postgres": invalid selector at column`)},
		},
		{
			name: "notSelector invalid",
			mut:  func(r *v3.Rule) { r.Source.NotSelector = "has(canary" },
			want: []want{invalid(src+".notSelector", `"has(canary"`)},
		},
		{
			name: "namespaceSelector invalid",
			mut:  func(r *v3.Rule) { r.Destination.NamespaceSelector = "&& x" },
			want: []want{invalid(dst+".namespaceSelector", `"&& x"`)},
		},
		{
			name: "service account selector invalid and empty name",
			mut: func(r *v3.Rule) {
				r.Source.ServiceAccounts = &v3.ServiceAccountMatch{Names: []string{"api", ""}, Selector: "team =="}
			},
			want: []want{
				invalid(src+".serviceAccounts.selector", `"team =="`),
				required(src+".serviceAccounts.names[1]", "must not be empty"),
			},
		},
	})
}

// Rules are validated the same way in ingress lists and in profiles.
func TestValidateRuleIngressPath(t *testing.T) {
	np := networkPolicy()
	np.Spec.Ingress = []v3.Rule{*baseRule(), *baseRule()}
	np.Spec.Ingress[1].Protocol = nil
	checkErrors(t, ValidateNetworkPolicy(np), invalid("spec.ingress[1].destination.ports", portsProtocolMsg))
}
