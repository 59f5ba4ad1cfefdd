package policyfilter

import (
	"fmt"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
	"github.com/meshapi/meshapi/pkg/policy"
)

// protocolNumbers maps the protocol names of the API to IP protocol
// numbers.
var protocolNumbers = map[string]uint8{
	strings.ToLower(v3.ProtocolTCP):     filter.ProtoTCP,
	strings.ToLower(v3.ProtocolUDP):     filter.ProtoUDP,
	strings.ToLower(v3.ProtocolICMP):    filter.ProtoICMP,
	strings.ToLower(v3.ProtocolICMPv6):  filter.ProtoICMPv6,
	strings.ToLower(v3.ProtocolSCTP):    filter.ProtoSCTP,
	strings.ToLower(v3.ProtocolUDPLite): filter.ProtoUDPLite,
}

// protocolNumber converts a protocol; nil stays nil.
func protocolNumber(p *v3.Protocol) (*uint8, error) {
	if p == nil {
		return nil, nil
	}
	if p.Number != nil {
		n := *p.Number
		return &n, nil
	}
	n, ok := protocolNumbers[strings.ToLower(p.Name)]
	if !ok {
		return nil, fmt.Errorf("unknown protocol %q", p.Name)
	}
	return &n, nil
}

// Endpoint translates the policies that apply to a local endpoint
// (policy.State.PoliciesFor, in order) into the filter's form for its
// host-side interface. Rules that can never match as written here (named
// ports only, see the package documentation) are left out; rules that are
// invalid (an unknown protocol, ports without a protocol with ports) are
// left out and reported in the error, which does not stop the translation
// of the others. ok is false when no policy governs either direction: the
// endpoint's traffic is then left untouched.
func Endpoint(iface string, applied []policy.AppliedPolicy) (ep filter.Endpoint, ok bool, err error) {
	ep.Interface = iface
	var errs []string
	for _, dir := range []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress} {
		var tiers []filter.Tier
		for i := range applied {
			a := &applied[i]
			if !slices.Contains(a.Types, dir) {
				continue
			}
			if n := len(tiers); n == 0 || tiers[n-1].Name != a.Tier {
				tiers = append(tiers, filter.Tier{Name: a.Tier, DefaultAction: filter.Action(a.TierDefaultAction)})
			}
			rules := a.Ingress
			if dir == v3.PolicyTypeEgress {
				rules = a.Egress
			}
			p := filter.Policy{Name: a.Key}
			for _, rm := range rules {
				r, keep, rerr := Rule(rm)
				if rerr != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", rm.ID, rerr))
				}
				if keep {
					p.Rules = append(p.Rules, r)
				}
			}
			t := &tiers[len(tiers)-1]
			t.Policies = append(t.Policies, p)
		}
		if dir == v3.PolicyTypeIngress {
			ep.Ingress = tiers
		} else {
			ep.Egress = tiers
		}
	}
	if len(errs) > 0 {
		err = fmt.Errorf("endpoint %s: rules left out: %s", iface, strings.Join(errs, "; "))
	}
	return ep, len(ep.Ingress)+len(ep.Egress) > 0, err
}

// Rule translates one resolved rule. keep is false when the rule is left
// out: it can never match (its only ports are named ports) or it is
// invalid (err says why).
func Rule(rm policy.RuleMatch) (r filter.Rule, keep bool, err error) {
	r.Action = filter.Action(rm.Action)
	switch r.Action {
	case filter.Allow, filter.Deny, filter.Pass, filter.Log:
	default:
		return r, false, fmt.Errorf("unknown action %q", rm.Action)
	}
	if rm.IPVersion != nil {
		r.IPVersion = *rm.IPVersion
	}
	if r.Protocol, err = protocolNumber(rm.Protocol); err != nil {
		return r, false, err
	}
	if r.NotProtocol, err = protocolNumber(rm.NotProtocol); err != nil {
		return r, false, err
	}
	if r.ICMP, err = icmp(rm.ICMP); err != nil {
		return r, false, err
	}
	if r.NotICMP, err = icmp(rm.NotICMP); err != nil {
		return r, false, err
	}
	var ok bool
	if r.Source, ok = match(rm.Source); !ok {
		return r, false, nil
	}
	if r.Destination, ok = match(rm.Destination); !ok {
		return r, false, nil
	}
	for _, m := range []filter.Match{r.Source, r.Destination} {
		if len(m.Ports)+len(m.NotPorts) > 0 && (r.Protocol == nil || !portProtocol(*r.Protocol)) {
			return r, false, fmt.Errorf("ports need protocol TCP, UDP, SCTP or UDPLite")
		}
	}
	return r, true, nil
}

// portProtocol reports whether a protocol has ports.
func portProtocol(p uint8) bool {
	return p == filter.ProtoTCP || p == filter.ProtoUDP || p == filter.ProtoSCTP || p == filter.ProtoUDPLite
}

// icmp converts ICMP fields; a code needs a type.
func icmp(f *v3.ICMPFields) (*filter.ICMPMatch, error) {
	if f == nil || (f.Type == nil && f.Code == nil) {
		return nil, nil
	}
	if f.Type == nil {
		return nil, fmt.Errorf("icmp code without a type")
	}
	if *f.Type < 0 || *f.Type > 255 {
		return nil, fmt.Errorf("icmp type %d out of range", *f.Type)
	}
	m := &filter.ICMPMatch{Type: uint8(*f.Type)}
	if f.Code != nil {
		if *f.Code < 0 || *f.Code > 255 {
			return nil, fmt.Errorf("icmp code %d out of range", *f.Code)
		}
		c := uint8(*f.Code)
		m.Code = &c
	}
	return m, nil
}

// match converts one side of a rule; ok is false when it can never match
// (ports given, all of them named).
func match(e policy.Entity) (m filter.Match, ok bool) {
	m.Nets = slices.Clone(e.Nets)
	m.NotNets = slices.Clone(e.NotNets)
	if e.HasSelector {
		m.Set = e.SetID
	}
	m.Ports = numericPorts(e.Ports)
	if len(e.Ports) > 0 && len(m.Ports) == 0 {
		return m, false
	}
	m.NotPorts = numericPorts(e.NotPorts)
	return m, true
}

// numericPorts keeps the numeric ports and ranges, dropping named ports.
func numericPorts(ps []v3.Port) []filter.PortRange {
	var out []filter.PortRange
	for _, p := range ps {
		if p.PortName == "" {
			out = append(out, filter.PortRange{Min: p.MinPort, Max: p.MaxPort})
		}
	}
	return out
}
