package policy

import (
	"cmp"
	"slices"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// compareOrder orders optional orders ascending, nil last.
func compareOrder(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*a, *b)
}

// compareApplied orders applied policies by tier order, tier name, policy
// order, policy name and key.
func compareApplied(a, b *AppliedPolicy) int {
	if c := compareOrder(a.TierOrder, b.TierOrder); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Tier, b.Tier); c != 0 {
		return c
	}
	if c := compareOrder(a.Order, b.Order); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

// sortApplied sorts applied policies in evaluation order.
func sortApplied(ps []AppliedPolicy) {
	slices.SortFunc(ps, func(a, b AppliedPolicy) int { return compareApplied(&a, &b) })
}

// effectiveTypes returns the policy's types, defaulted as Calico does when
// empty: [Ingress] without egress rules, [Egress] with egress rules only,
// [Ingress, Egress] with both. Unknown and repeated types are dropped.
func effectiveTypes(types []v3.PolicyType, ingressRules, egressRules int) []v3.PolicyType {
	if len(types) == 0 {
		switch {
		case egressRules == 0:
			return []v3.PolicyType{v3.PolicyTypeIngress}
		case ingressRules == 0:
			return []v3.PolicyType{v3.PolicyTypeEgress}
		default:
			return []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress}
		}
	}
	var out []v3.PolicyType
	for _, t := range types {
		if (t == v3.PolicyTypeIngress || t == v3.PolicyTypeEgress) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// tierDefaultAction returns the tier's default action: Pass, or Deny.
func tierDefaultAction(a v3.Action) v3.Action {
	if a == v3.Pass {
		return v3.Pass
	}
	return v3.Deny
}
