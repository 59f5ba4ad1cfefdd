package policy

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Label keys, prefixes and annotations of the original product and of
// meshapi's mirroring (they match pkg/podendpoints and pkg/remotecluster,
// which this package does not import to stay free of their dependencies).
const (
	// LabelServiceAccount is the label carrying an endpoint's service
	// account name.
	LabelServiceAccount = "projectcalico.org/serviceaccount"
	// LabelName is the label a namespace or service account profile
	// carries its object's name in (prefixed).
	LabelName = "projectcalico.org/name"
	// NamespaceLabelPrefix prefixes namespace labels in the labelsToApply
	// of a namespace profile.
	NamespaceLabelPrefix = "pcns."
	// ServiceAccountLabelPrefix prefixes service account labels in the
	// labelsToApply of a service account profile.
	ServiceAccountLabelPrefix = "pcsa."
	// NamespaceProfilePrefix prefixes a namespace's name to name its
	// profile: "kns.<namespace>".
	NamespaceProfilePrefix = "kns."
	// HostEndpointKeyPrefix prefixes a host endpoint's name to form its
	// Endpoint key.
	HostEndpointKeyPrefix = "hep:"
)

// EndpointFromWorkloadEndpoint converts a WorkloadEndpoint, local or
// mirrored, to an Endpoint keyed "<namespace>/<name>". Addresses that do not
// parse are skipped.
func EndpointFromWorkloadEndpoint(w *v3.WorkloadEndpoint) Endpoint {
	return Endpoint{
		Key:       w.Namespace + "/" + w.Name,
		Cluster:   w.Labels[v3.LabelCluster],
		Namespace: w.Namespace,
		Labels:    maps.Clone(w.Labels),
		Profiles:  slices.Clone(w.Spec.Profiles),
		IPs:       parseAddresses(w.Spec.IPNetworks),
		Node:      w.Spec.Node,
	}
}

// EndpointFromHostEndpoint converts a HostEndpoint, local or mirrored, to
// an Endpoint keyed "hep:<name>" with no namespace, its IPs the expected
// IPs. Addresses that do not parse are skipped.
func EndpointFromHostEndpoint(h *v3.HostEndpoint) Endpoint {
	return Endpoint{
		Key:      HostEndpointKeyPrefix + h.Name,
		Cluster:  h.Labels[v3.LabelCluster],
		Labels:   maps.Clone(h.Labels),
		Profiles: slices.Clone(h.Spec.Profiles),
		IPs:      parseAddresses(h.Spec.ExpectedIPs),
		Node:     h.Spec.Node,
	}
}

// ProfileFromV3 converts a Profile, local or mirrored: the cluster comes
// from the projectcalico.org/cluster label and the remote name from the
// projectcalico.org/remote-name annotation.
func ProfileFromV3(p *v3.Profile) Profile {
	return Profile{
		Name:       p.Name,
		Cluster:    p.Labels[v3.LabelCluster],
		RemoteName: p.Annotations[v3.AnnotationRemoteName],
		Labels:     maps.Clone(p.Spec.LabelsToApply),
	}
}

// TierFromV3 converts a Tier; an unset default action is Deny.
func TierFromV3(t *v3.Tier) Tier {
	out := Tier{Name: t.Name, Order: cloneFloat(t.Spec.Order), DefaultAction: v3.Deny}
	if t.Spec.DefaultAction != nil && *t.Spec.DefaultAction != "" {
		out.DefaultAction = *t.Spec.DefaultAction
	}
	return out
}

// PolicyFromNetworkPolicy converts a NetworkPolicy to a Policy keyed
// "<namespace>/<name>".
func PolicyFromNetworkPolicy(np *v3.NetworkPolicy) Policy {
	s := &np.Spec
	return Policy{
		Key:                    np.Namespace + "/" + np.Name,
		Name:                   np.Name,
		Namespace:              np.Namespace,
		Tier:                   tierName(s.Tier),
		Order:                  cloneFloat(s.Order),
		Selector:               s.Selector,
		ServiceAccountSelector: s.ServiceAccountSelector,
		Types:                  slices.Clone(s.Types),
		Ingress:                cloneRules(s.Ingress),
		Egress:                 cloneRules(s.Egress),
	}
}

// PolicyFromGlobalNetworkPolicy converts a GlobalNetworkPolicy to a Policy
// keyed "<name>".
func PolicyFromGlobalNetworkPolicy(gnp *v3.GlobalNetworkPolicy) Policy {
	s := &gnp.Spec
	return Policy{
		Key:                    gnp.Name,
		Name:                   gnp.Name,
		Tier:                   tierName(s.Tier),
		Order:                  cloneFloat(s.Order),
		Selector:               s.Selector,
		NamespaceSelector:      s.NamespaceSelector,
		ServiceAccountSelector: s.ServiceAccountSelector,
		Types:                  slices.Clone(s.Types),
		Ingress:                cloneRules(s.Ingress),
		Egress:                 cloneRules(s.Egress),
		DoNotTrack:             s.DoNotTrack,
		PreDNAT:                s.PreDNAT,
		ApplyOnForward:         s.ApplyOnForward,
	}
}

// tierName returns the tier, "default" when empty.
func tierName(t string) string {
	if t == "" {
		return v3.DefaultTierName
	}
	return t
}

// cloneFloat returns a copy of *f, or nil.
func cloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

// cloneRules deep-copies rules.
func cloneRules(rules []v3.Rule) []v3.Rule {
	if rules == nil {
		return nil
	}
	out := make([]v3.Rule, len(rules))
	for i := range rules {
		rules[i].DeepCopyInto(&out[i])
	}
	return out
}

// parseAddress reads a CIDR or a bare address (a host prefix), masked.
func parseAddress(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// parseAddresses reads CIDRs or addresses, skipping those that do not
// parse.
func parseAddresses(in []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range in {
		if p, ok := parseAddress(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// comparePrefix orders prefixes by address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// sortPrefixes sorts and deduplicates prefixes in place.
func sortPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, comparePrefix)
	return slices.Compact(ps)
}
