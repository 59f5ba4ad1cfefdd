package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// portsProtocolMsg is reported when ports are matched without a protocol
// that has ports.
const portsProtocolMsg = "ports are only valid with protocol TCP, UDP, SCTP or UDPLite"

// validateRules validates a list of rules (policy or profile, ingress or
// egress) at fldPath.
func validateRules(fldPath *field.Path, rules []v3.Rule) field.ErrorList {
	var errs field.ErrorList
	for i := range rules {
		errs = append(errs, validateRule(fldPath.Index(i), &rules[i])...)
	}
	return errs
}

// isValidProtocolName reports whether name is a protocol name the dataplane
// understands: Calico's names, case-sensitive, or their lower-case forms.
func isValidProtocolName(name string) bool {
	switch name {
	case v3.ProtocolTCP, v3.ProtocolUDP, v3.ProtocolICMP, v3.ProtocolICMPv6, v3.ProtocolSCTP, v3.ProtocolUDPLite,
		"tcp", "udp", "icmp", "icmpv6", "sctp", "udplite":
		return true
	}
	return false
}

// validateProtocol checks a protocol given by name or number. Numbers are
// 0-255 by construction.
func validateProtocol(fldPath *field.Path, p *v3.Protocol) field.ErrorList {
	if p == nil || p.Number != nil || isValidProtocolName(p.Name) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, p.Name,
		"must be one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite (or the same in lower case) or a protocol number from 0 to 255")}
}

// icmpVersion returns 4 for ICMP, 6 for ICMPv6 (by name or number) and 0
// for any other or no protocol.
func icmpVersion(p *v3.Protocol) ipFamily {
	if p == nil {
		return 0
	}
	if p.Number != nil {
		switch *p.Number {
		case 1:
			return ipv4
		case 58:
			return ipv6
		}
		return 0
	}
	switch p.Name {
	case v3.ProtocolICMP, "icmp":
		return ipv4
	case v3.ProtocolICMPv6, "icmpv6":
		return ipv6
	}
	return 0
}

// describeProtocol renders a rule's protocol for messages.
func describeProtocol(p *v3.Protocol) string {
	if p == nil {
		return "protocol is not set"
	}
	return fmt.Sprintf("protocol is %q", p.String())
}

// netFamilies records the IP families of the CIDRs seen so far in a rule.
type netFamilies struct{ v4, v6 bool }

// validateRule validates one rule.
func validateRule(fldPath *field.Path, r *v3.Rule) field.ErrorList {
	var errs field.ErrorList

	switch r.Action {
	case "":
		errs = append(errs, field.Required(fldPath.Child("action"), "must be one of Allow, Deny, Log or Pass"))
	case v3.Allow, v3.Deny, v3.Log, v3.Pass:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("action"), r.Action,
			[]v3.Action{v3.Allow, v3.Deny, v3.Log, v3.Pass}))
	}

	var ipVersion ipFamily
	if r.IPVersion != nil {
		switch *r.IPVersion {
		case 4, 6:
			ipVersion = ipFamily(*r.IPVersion)
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("ipVersion"), *r.IPVersion, []string{"4", "6"}))
		}
	}

	protoErrs := validateProtocol(fldPath.Child("protocol"), r.Protocol)
	errs = append(errs, protoErrs...)
	errs = append(errs, validateProtocol(fldPath.Child("notProtocol"), r.NotProtocol)...)

	// ICMP and ICMPv6 pin the IP version.
	for _, p := range []*v3.Protocol{r.Protocol, r.NotProtocol} {
		if v := icmpVersion(p); v != 0 && ipVersion != 0 && v != ipVersion {
			errs = append(errs, field.Invalid(fldPath.Child("ipVersion"), *r.IPVersion,
				fmt.Sprintf("must be %d with protocol %s", v, p.String())))
			break
		}
	}

	// ICMP matches need protocol ICMP or ICMPv6.
	ruleICMP := icmpVersion(r.Protocol)
	for _, f := range []struct {
		name string
		icmp *v3.ICMPFields
	}{{"icmp", r.ICMP}, {"notICMP", r.NotICMP}} {
		if f.icmp == nil {
			continue
		}
		p := fldPath.Child(f.name)
		if ruleICMP == 0 {
			errs = append(errs, field.Forbidden(p,
				fmt.Sprintf("%s is only valid with protocol ICMP or ICMPv6 (%s)", f.name, describeProtocol(r.Protocol))))
		}
		errs = append(errs, validateICMPFields(p, f.icmp)...)
	}

	// The top-level ports alias is moved to destination.ports before
	// validation; it survives only when both were given.
	if len(r.Ports) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("ports"),
			"use destination.ports (the top-level ports alias cannot be combined with destination.ports)"))
	}

	portsOK := r.Protocol != nil && len(protoErrs) == 0 && r.Protocol.SupportsPorts()
	seen := &netFamilies{}
	errs = append(errs, validateEntityRule(fldPath.Child("source"), &r.Source, r.Protocol, portsOK, ipVersion, seen)...)
	errs = append(errs, validateEntityRule(fldPath.Child("destination"), &r.Destination, r.Protocol, portsOK, ipVersion, seen)...)
	return errs
}

// validateICMPFields checks ICMP type and code ranges, and that a code comes
// with a type.
func validateICMPFields(fldPath *field.Path, f *v3.ICMPFields) field.ErrorList {
	var errs field.ErrorList
	if f.Code != nil && f.Type == nil {
		errs = append(errs, field.Required(fldPath.Child("type"), "an ICMP code requires an ICMP type"))
	}
	errs = append(errs, validateRange(fldPath.Child("type"), f.Type, 0, 254, "")...)
	errs = append(errs, validateRange(fldPath.Child("code"), f.Code, 0, 255, "")...)
	return errs
}

// validateEntityRule validates the source or destination of a rule. proto
// is the rule's protocol (for messages), portsOK whether it has ports,
// ipVersion the rule's IP version (0 if unset); seen accumulates the CIDR
// families of the rule, which must not mix.
func validateEntityRule(fldPath *field.Path, e *v3.EntityRule, proto *v3.Protocol, portsOK bool, ipVersion ipFamily, seen *netFamilies) field.ErrorList {
	var errs field.ErrorList

	errs = append(errs, validateRuleNets(fldPath.Child("nets"), e.Nets, ipVersion, seen)...)
	errs = append(errs, validateRuleNets(fldPath.Child("notNets"), e.NotNets, ipVersion, seen)...)

	errs = append(errs, ValidateSelector(fldPath.Child("selector"), e.Selector)...)
	errs = append(errs, ValidateSelector(fldPath.Child("notSelector"), e.NotSelector)...)
	errs = append(errs, ValidateSelector(fldPath.Child("namespaceSelector"), e.NamespaceSelector)...)

	for _, f := range []struct {
		name  string
		ports []v3.Port
	}{{"ports", e.Ports}, {"notPorts", e.NotPorts}} {
		if len(f.ports) == 0 {
			continue
		}
		p := fldPath.Child(f.name)
		if !portsOK {
			errs = append(errs, field.Invalid(p, f.ports, fmt.Sprintf("%s (%s)", portsProtocolMsg, describeProtocol(proto))))
		}
		for i, port := range f.ports {
			errs = append(errs, validateRulePort(p.Index(i), port)...)
		}
	}

	if sa := e.ServiceAccounts; sa != nil {
		p := fldPath.Child("serviceAccounts")
		errs = append(errs, ValidateSelector(p.Child("selector"), sa.Selector)...)
		for i, n := range sa.Names {
			if n == "" {
				errs = append(errs, field.Required(p.Child("names").Index(i), "service account names must not be empty"))
			}
		}
	}
	return errs
}

// validateRuleNets checks that each element is a CIDR or bare IP of the
// rule's IP version, and that the rule does not mix IPv4 and IPv6.
func validateRuleNets(fldPath *field.Path, nets []string, ipVersion ipFamily, seen *netFamilies) field.ErrorList {
	var errs field.ErrorList
	for i, n := range nets {
		p := fldPath.Index(i)
		prefix, ok, perrs := validateCIDROrIP(p, n, anyFamily)
		errs = append(errs, perrs...)
		if !ok {
			continue
		}
		fam := familyOf(prefix.Addr())
		switch {
		case ipVersion != 0 && fam != ipVersion:
			errs = append(errs, field.Invalid(p, n, fmt.Sprintf("must be an %s CIDR: the rule has ipVersion %d", familyName(ipVersion), ipVersion)))
		case (fam == ipv4 && seen.v6) || (fam == ipv6 && seen.v4):
			errs = append(errs, field.Invalid(p, n, "a rule cannot match both IPv4 and IPv6 CIDRs; write one rule per IP version"))
		}
		if fam == ipv4 {
			seen.v4 = true
		} else {
			seen.v6 = true
		}
	}
	return errs
}

// validateRulePort checks a port, range or named port of a rule.
func validateRulePort(fldPath *field.Path, p v3.Port) field.ErrorList {
	if p.PortName != "" {
		if p.MinPort != 0 || p.MaxPort != 0 {
			return field.ErrorList{field.Invalid(fldPath, p.PortName, "a named port cannot also have port numbers")}
		}
		return nil
	}
	if p.MinPort == 0 || p.MaxPort == 0 {
		return field.ErrorList{field.Invalid(fldPath, p.String(), "port numbers must be from 1 to 65535")}
	}
	if p.MinPort > p.MaxPort {
		return field.ErrorList{field.Invalid(fldPath, p.String(), "the start of a port range must not be greater than its end")}
	}
	return nil
}
