package filter

import (
	"fmt"
	"net/netip"
	"regexp"
)

// Action is what a rule does with the traffic it matches.
type Action string

const (
	// Allow ends the evaluation of the endpoint's policy in this direction:
	// the traffic is allowed (the other direction, at another local
	// endpoint, is still evaluated).
	Allow Action = "Allow"
	// Deny drops the traffic.
	Deny Action = "Deny"
	// Pass skips the rest of the tier and goes on with the next tier; after
	// the last tier the traffic is handled as if no policy applied.
	Pass Action = "Pass"
	// Log logs the packet to the kernel log and goes on with the next
	// rule.
	Log Action = "Log"
)

// Protocol numbers of the protocols a rule can name ports or ICMP fields
// for.
const (
	ProtoICMP    uint8 = 1
	ProtoTCP     uint8 = 6
	ProtoUDP     uint8 = 17
	ProtoICMPv6  uint8 = 58
	ProtoSCTP    uint8 = 132
	ProtoUDPLite uint8 = 136
)

// Endpoint is a local workload whose traffic passes a host-side interface:
// traffic from the workload arrives on it (egress), traffic to the workload
// leaves through it (ingress).
type Endpoint struct {
	// Interface is the host-side interface name, e.g. the veth "cali12ab".
	Interface string
	// Ingress are the tiers that govern traffic to the endpoint, in order.
	// None: ingress traffic is not touched.
	Ingress []Tier
	// Egress are the tiers that govern traffic from the endpoint, in
	// order. None: egress traffic is not touched.
	Egress []Tier
}

// Tier is the part of an endpoint's policy that one tier contributes: the
// rules of its policies that apply to the endpoint, in order.
type Tier struct {
	// Name of the tier, for comments only.
	Name string
	// DefaultAction applies when no rule of the tier ended the evaluation:
	// Deny (also when empty) or Pass.
	DefaultAction Action
	// Policies are the tier's policies that apply, in order.
	Policies []Policy
}

// Policy is one policy's rules in one direction.
type Policy struct {
	// Name of the policy, for comments and log prefixes.
	Name string
	// Rules in order.
	Rules []Rule
}

// Rule matches packets and applies its Action. Every criterion that is set
// must match.
type Rule struct {
	// Action of the rule.
	Action Action
	// IPVersion restricts the rule to IPv4 (4) or IPv6 (6); 0 for both.
	IPVersion int
	// Protocol the packet must have (an IP protocol number), nil for any.
	Protocol *uint8
	// NotProtocol the packet must not have, nil for none.
	NotProtocol *uint8
	// ICMP type (and code) the packet must have; needs Protocol ICMP or
	// ICMPv6.
	ICMP *ICMPMatch
	// NotICMP type (and code) the packet must not have; needs Protocol
	// ICMP or ICMPv6.
	NotICMP *ICMPMatch
	// Source criteria.
	Source Match
	// Destination criteria.
	Destination Match
	// LogPrefix is the kernel log prefix of a Log rule; a default naming
	// the policy is used when empty.
	LogPrefix string
}

// ICMPMatch is an ICMP type and optional code.
type ICMPMatch struct {
	// Type is the ICMP type.
	Type uint8
	// Code is the ICMP code, nil for any.
	Code *uint8
}

// Match is the criteria on one end (source or destination) of a rule.
type Match struct {
	// Nets the address must be in (any of them); empty for no constraint.
	Nets []netip.Prefix
	// NotNets the address must not be in.
	NotNets []netip.Prefix
	// Set names an IP set (see Filter.SetSet) the address must be in; ""
	// for no constraint. An empty set matches nothing.
	Set string
	// Ports the port must be in (any of them); needs a Protocol with ports
	// (TCP, UDP, SCTP, UDPLite).
	Ports []PortRange
	// NotPorts the port must not be in; needs a Protocol with ports.
	NotPorts []PortRange
}

// PortRange is an inclusive range of ports; a single port has Min == Max.
type PortRange struct {
	// Min is the first port.
	Min uint16
	// Max is the last port.
	Max uint16
}

// Desired is a complete desired state, for Filter.Apply.
type Desired struct {
	// Sets maps set names to their members.
	Sets map[string][]netip.Prefix
	// Endpoints are the endpoints with policy; endpoints not listed are
	// not touched.
	Endpoints []Endpoint
}

// Stats counts what one call changed in the kernel.
type Stats struct {
	// Transactions is the number of nftables transactions sent.
	Transactions int
	// SetsCreated and SetsDeleted count nftables sets (two per named set:
	// IPv4 and IPv6).
	SetsCreated, SetsDeleted int
	// ElementsAdded and ElementsDeleted count set elements (intervals).
	ElementsAdded, ElementsDeleted int
	// ChainsWritten counts chains created or rewritten, ChainsDeleted
	// chains removed.
	ChainsWritten, ChainsDeleted int
	// TableCreated reports that the table was (re)created.
	TableCreated bool
}

// Changed reports whether anything was changed.
func (s Stats) Changed() bool {
	return s.TableCreated || s.SetsCreated+s.SetsDeleted+s.ElementsAdded+s.ElementsDeleted+s.ChainsWritten+s.ChainsDeleted > 0
}

// add accumulates o into s.
func (s *Stats) add(o Stats) {
	s.Transactions += o.Transactions
	s.SetsCreated += o.SetsCreated
	s.SetsDeleted += o.SetsDeleted
	s.ElementsAdded += o.ElementsAdded
	s.ElementsDeleted += o.ElementsDeleted
	s.ChainsWritten += o.ChainsWritten
	s.ChainsDeleted += o.ChainsDeleted
	s.TableCreated = s.TableCreated || o.TableCreated
}

// setNameRE is what a set name may look like.
var setNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}$`)

// validateSetName checks a set name.
func validateSetName(name string) error {
	if !setNameRE.MatchString(name) {
		return fmt.Errorf("set name %q: want 1 to 200 of [A-Za-z0-9_.-]", name)
	}
	return nil
}

// validateInterface checks an interface name as the kernel does.
func validateInterface(name string) error {
	if name == "" || len(name) >= 16 || name == "." || name == ".." {
		return fmt.Errorf("interface name %q: want 1 to 15 bytes", name)
	}
	for _, c := range []byte(name) {
		if c == '/' || c == ':' || c <= ' ' || c == 0x7f {
			return fmt.Errorf("interface name %q: invalid character %q", name, c)
		}
	}
	return nil
}

// hasPorts reports whether the protocol has ports.
func hasPorts(p uint8) bool {
	return p == ProtoTCP || p == ProtoUDP || p == ProtoSCTP || p == ProtoUDPLite
}

// validateEndpoint checks an endpoint and returns the sets its rules
// reference.
func validateEndpoint(ep *Endpoint) (map[string]int, error) {
	if err := validateInterface(ep.Interface); err != nil {
		return nil, err
	}
	refs := map[string]int{}
	for dir, tiers := range map[string][]Tier{"ingress": ep.Ingress, "egress": ep.Egress} {
		for ti, t := range tiers {
			if t.DefaultAction != "" && t.DefaultAction != Deny && t.DefaultAction != Pass {
				return nil, fmt.Errorf("endpoint %s: %s tier %d (%s): default action %q: want Deny or Pass", ep.Interface, dir, ti, t.Name, t.DefaultAction)
			}
			for pi, p := range t.Policies {
				for ri, r := range p.Rules {
					if err := validateRule(&r); err != nil {
						return nil, fmt.Errorf("endpoint %s: %s tier %d (%s) policy %d (%s) rule %d: %w", ep.Interface, dir, ti, t.Name, pi, p.Name, ri, err)
					}
					for _, m := range []Match{r.Source, r.Destination} {
						if m.Set != "" {
							refs[m.Set]++
						}
					}
				}
			}
		}
	}
	return refs, nil
}

// validateRule checks a rule's criteria.
func validateRule(r *Rule) error {
	switch r.Action {
	case Allow, Deny, Pass, Log:
	default:
		return fmt.Errorf("action %q: want Allow, Deny, Pass or Log", r.Action)
	}
	if r.IPVersion != 0 && r.IPVersion != 4 && r.IPVersion != 6 {
		return fmt.Errorf("ipVersion %d: want 4 or 6", r.IPVersion)
	}
	for _, m := range []*Match{&r.Source, &r.Destination} {
		if len(m.Ports)+len(m.NotPorts) > 0 && (r.Protocol == nil || !hasPorts(*r.Protocol)) {
			return fmt.Errorf("ports need protocol TCP, UDP, SCTP or UDPLite")
		}
		for _, pr := range append(m.Ports[:len(m.Ports):len(m.Ports)], m.NotPorts...) {
			if pr.Min > pr.Max {
				return fmt.Errorf("port range %d:%d is empty", pr.Min, pr.Max)
			}
		}
		if m.Set != "" {
			if err := validateSetName(m.Set); err != nil {
				return err
			}
		}
		for _, p := range append(m.Nets[:len(m.Nets):len(m.Nets)], m.NotNets...) {
			if !p.IsValid() {
				return fmt.Errorf("invalid net %v", p)
			}
		}
	}
	if r.ICMP != nil || r.NotICMP != nil {
		if r.Protocol == nil || (*r.Protocol != ProtoICMP && *r.Protocol != ProtoICMPv6) {
			return fmt.Errorf("icmp fields need protocol ICMP or ICMPv6")
		}
	}
	return nil
}
