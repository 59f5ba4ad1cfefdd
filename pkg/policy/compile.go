package policy

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// compiledPolicy is a Policy with its selectors parsed and nets read.
type compiledPolicy struct {
	p       Policy // normalized copy
	types   []v3.PolicyType
	main    *scopedSelector
	ingress []compiledRule // nil unless types includes Ingress
	egress  []compiledRule // nil unless types includes Egress
}

// compiledRule is a rule with its entities compiled.
type compiledRule struct {
	rule     v3.Rule
	src, dst compiledEntity
}

// compiledEntity is an entity rule with its selector criteria compiled.
type compiledEntity struct {
	sel             *scopedSelector // nil: no selector criteria
	setID           string          // set by the State when sel != nil
	nets, notNets   []netip.Prefix
	ports, notPorts []v3.Port
}

// compilePolicy checks and compiles a policy without touching the State.
func compilePolicy(p Policy) (*compiledPolicy, error) {
	if p.Key == "" {
		return nil, errors.New("policy without a key")
	}
	if p.Namespace != "" && strings.TrimSpace(p.NamespaceSelector) != "" {
		return nil, fmt.Errorf("policy %s: a namespaced policy cannot have a namespaceSelector", p.Key)
	}
	p.Tier = tierName(p.Tier)
	p.Order = cloneFloat(p.Order)
	p.Types = slices.Clone(p.Types)
	p.Ingress, p.Egress = cloneRules(p.Ingress), cloneRules(p.Egress)

	cp := &compiledPolicy{p: p, types: effectiveTypes(p.Types, len(p.Ingress), len(p.Egress))}
	main, err := newScopedSelector(criteria{
		namespace:  p.Namespace,
		nsSelector: strings.TrimSpace(p.NamespaceSelector),
		selector:   strings.TrimSpace(p.Selector),
		saSelector: strings.TrimSpace(p.ServiceAccountSelector),
	})
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p.Key, err)
	}
	cp.main = main
	for _, t := range cp.types {
		rules, dir := p.Ingress, "ingress"
		if t == v3.PolicyTypeEgress {
			rules, dir = p.Egress, "egress"
		}
		compiled := make([]compiledRule, len(rules))
		for i := range rules {
			if compiled[i], err = compileRule(p.Namespace, &rules[i]); err != nil {
				return nil, fmt.Errorf("policy %s: %s rule %d: %w", p.Key, dir, i, err)
			}
		}
		if t == v3.PolicyTypeEgress {
			cp.egress = compiled
		} else {
			cp.ingress = compiled
		}
	}
	return cp, nil
}

// compileRule compiles a rule of a policy in namespace ("" if global).
// Ports given beside the protocol (the legacy rule.ports) count as
// destination ports.
func compileRule(namespace string, r *v3.Rule) (compiledRule, error) {
	out := compiledRule{rule: *r.DeepCopy()}
	var err error
	if out.src, err = compileEntity(namespace, &r.Source); err != nil {
		return out, fmt.Errorf("source: %w", err)
	}
	if out.dst, err = compileEntity(namespace, &r.Destination); err != nil {
		return out, fmt.Errorf("destination: %w", err)
	}
	out.dst.ports = append(out.dst.ports, r.Ports...)
	return out, nil
}

// compileEntity compiles an entity rule.
func compileEntity(namespace string, er *v3.EntityRule) (compiledEntity, error) {
	var out compiledEntity
	var err error
	if c := entityCriteria(namespace, er); c.has() {
		if out.sel, err = newScopedSelector(c); err != nil {
			return out, err
		}
	}
	if out.nets, err = parseNets("nets", er.Nets); err != nil {
		return out, err
	}
	if out.notNets, err = parseNets("notNets", er.NotNets); err != nil {
		return out, err
	}
	out.ports = slices.Clone(er.Ports)
	out.notPorts = slices.Clone(er.NotPorts)
	return out, nil
}

// parseNets reads CIDRs (or bare addresses), masked.
func parseNets(field string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		p, ok := parseAddress(s)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a CIDR", field, s)
		}
		out = append(out, p)
	}
	return out, nil
}

// applied resolves a compiled policy for PoliciesFor.
func (s *State) applied(cp *compiledPolicy, tier Tier) AppliedPolicy {
	return AppliedPolicy{
		Key:               cp.p.Key,
		Name:              cp.p.Name,
		Namespace:         cp.p.Namespace,
		Tier:              tier.Name,
		TierOrder:         cloneFloat(tier.Order),
		TierDefaultAction: tierDefaultAction(tier.DefaultAction),
		Order:             cloneFloat(cp.p.Order),
		Types:             slices.Clone(cp.types),
		Ingress:           s.resolveRules(cp.p.Key, "ingress", cp.ingress),
		Egress:            s.resolveRules(cp.p.Key, "egress", cp.egress),
		DoNotTrack:        cp.p.DoNotTrack,
		PreDNAT:           cp.p.PreDNAT,
		ApplyOnForward:    cp.p.ApplyOnForward,
	}
}

// resolveRules resolves compiled rules to RuleMatch values.
func (s *State) resolveRules(key, dir string, rules []compiledRule) []RuleMatch {
	if rules == nil {
		return nil
	}
	out := make([]RuleMatch, len(rules))
	for i := range rules {
		r := &rules[i].rule
		m := RuleMatch{
			ID:          fmt.Sprintf("%s/%s/%d", key, dir, i),
			Action:      r.Action,
			Protocol:    r.Protocol.DeepCopy(),
			NotProtocol: r.NotProtocol.DeepCopy(),
			ICMP:        r.ICMP.DeepCopy(),
			NotICMP:     r.NotICMP.DeepCopy(),
			Source:      s.resolveEntity(&rules[i].src),
			Destination: s.resolveEntity(&rules[i].dst),
		}
		if r.IPVersion != nil {
			v := *r.IPVersion
			m.IPVersion = &v
		}
		if r.Metadata != nil {
			m.Annotations = maps.Clone(r.Metadata.Annotations)
		}
		out[i] = m
	}
	return out
}

// resolveEntity resolves a compiled entity against the current sets.
func (s *State) resolveEntity(e *compiledEntity) Entity {
	out := Entity{
		Nets:     slices.Clone(e.nets),
		NotNets:  slices.Clone(e.notNets),
		Ports:    slices.Clone(e.ports),
		NotPorts: slices.Clone(e.notPorts),
	}
	if e.sel != nil {
		out.HasSelector = true
		out.SetID = e.setID
		out.SelectorIPs = []netip.Prefix{}
		if set := s.sets[e.setID]; set != nil {
			out.SelectorIPs = setMembers(set)
		}
	}
	return out
}

// entities returns pointers to every compiled entity of the policy.
func (cp *compiledPolicy) entities() []*compiledEntity {
	var out []*compiledEntity
	for _, rules := range [][]compiledRule{cp.ingress, cp.egress} {
		for i := range rules {
			out = append(out, &rules[i].src, &rules[i].dst)
		}
	}
	return out
}
