package policy

import (
	"net/netip"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Endpoint is a workload or host endpoint, local or mirrored from a remote
// cluster, as the State sees it.
type Endpoint struct {
	// Key identifies the endpoint: "<namespace>/<name>" for a workload
	// endpoint, "hep:<name>" for a host endpoint (see the From functions).
	Key string
	// Cluster is the remote cluster the endpoint is mirrored from, "" for
	// a local endpoint.
	Cluster string
	// Namespace is the endpoint's namespace, "" for a host endpoint.
	Namespace string
	// Labels are the endpoint's own labels.
	Labels map[string]string
	// Profiles are the endpoint's profile references, in order: "kns.ns",
	// or "<cluster>/kns.ns" for a mirrored endpoint.
	Profiles []string
	// IPs are the endpoint's addresses.
	IPs []netip.Prefix
	// Node hosts the endpoint; "<cluster>/<node>" for a remote endpoint.
	Node string
}

// Profile is a profile whose labelsToApply endpoints inherit.
type Profile struct {
	// Name is the object's name: "kns.myapp", or "cluster-b.kns.myapp"
	// for a mirror.
	Name string
	// Cluster is the remote cluster of a mirrored profile, "" if local.
	Cluster string
	// RemoteName is the profile's name in its own cluster. When empty it
	// is Name without the "<Cluster>." prefix.
	RemoteName string
	// Labels are the profile's labelsToApply.
	Labels map[string]string
}

// Tier is an ordered group of policies.
type Tier struct {
	// Name of the tier.
	Name string
	// Order of the tier; lower first, nil last.
	Order *float64
	// DefaultAction for traffic no policy of the tier decides: Deny (also
	// when empty) or Pass.
	DefaultAction v3.Action
}

// Policy is a NetworkPolicy (Namespace set) or GlobalNetworkPolicy
// (Namespace empty) as the State sees it.
type Policy struct {
	// Key identifies the policy: "<namespace>/<name>" for a NetworkPolicy,
	// "<name>" for a GlobalNetworkPolicy.
	Key string
	// Name of the policy.
	Name string
	// Namespace of a NetworkPolicy, "" for a GlobalNetworkPolicy.
	Namespace string
	// Tier of the policy; "" means "default".
	Tier string
	// Order of the policy within its tier; lower first, nil last.
	Order *float64
	// Selector selects the local endpoints the policy applies to; ""
	// means all().
	Selector string
	// NamespaceSelector restricts a GlobalNetworkPolicy to the endpoints
	// of matching namespaces; "global()" to non-namespaced endpoints. It
	// must be empty for a NetworkPolicy.
	NamespaceSelector string
	// ServiceAccountSelector restricts the policy to endpoints whose
	// service account labels match.
	ServiceAccountSelector string
	// Types are the directions the policy governs; empty means the
	// Calico default (see the package documentation).
	Types []v3.PolicyType
	// Ingress rules, in order.
	Ingress []v3.Rule
	// Egress rules, in order.
	Egress []v3.Rule
	// DoNotTrack is the GlobalNetworkPolicy flag, passed through.
	DoNotTrack bool
	// PreDNAT is the GlobalNetworkPolicy flag, passed through.
	PreDNAT bool
	// ApplyOnForward is the GlobalNetworkPolicy flag, passed through.
	ApplyOnForward bool
}

// AppliedPolicy is a policy as it applies to one local endpoint, its rules
// resolved against the State at the time of the call.
type AppliedPolicy struct {
	// Key of the policy.
	Key string
	// Name of the policy.
	Name string
	// Namespace of a NetworkPolicy, "" for a GlobalNetworkPolicy.
	Namespace string
	// Tier is the policy's tier.
	Tier string
	// TierOrder is the order of the tier, nil when unset.
	TierOrder *float64
	// TierDefaultAction is Deny or Pass.
	TierDefaultAction v3.Action
	// Order of the policy, nil when unset.
	Order *float64
	// Types are the policy's directions, defaulted when the policy had
	// none.
	Types []v3.PolicyType
	// Ingress rules, empty unless Types includes Ingress.
	Ingress []RuleMatch
	// Egress rules, empty unless Types includes Egress.
	Egress []RuleMatch
	// DoNotTrack is passed through from the policy.
	DoNotTrack bool
	// PreDNAT is passed through from the policy.
	PreDNAT bool
	// ApplyOnForward is passed through from the policy.
	ApplyOnForward bool
}

// RuleMatch is a rule with its selectors resolved to IPs.
type RuleMatch struct {
	// ID names the rule: "<policy key>/ingress/<index>" or
	// "<policy key>/egress/<index>".
	ID string
	// Action of the rule.
	Action v3.Action
	// IPVersion restricts the rule to IPv4 (4) or IPv6 (6); nil for both.
	IPVersion *int
	// Protocol the rule matches, nil for any.
	Protocol *v3.Protocol
	// NotProtocol the rule excludes, nil for none.
	NotProtocol *v3.Protocol
	// ICMP type and code the rule matches.
	ICMP *v3.ICMPFields
	// NotICMP type and code the rule excludes.
	NotICMP *v3.ICMPFields
	// Source the rule matches.
	Source Entity
	// Destination the rule matches.
	Destination Entity
	// Annotations of the rule's metadata.
	Annotations map[string]string
}

// Entity is one end of a rule. Every present criterion must match.
type Entity struct {
	// HasSelector reports whether the entity has selector criteria
	// (selector, notSelector, namespaceSelector or serviceAccounts). When
	// false the entity matches any address and SelectorIPs is nil.
	HasSelector bool
	// SetID identifies the shared IP set of the selector criteria, "" when
	// HasSelector is false.
	SetID string
	// SelectorIPs are the sorted, deduplicated addresses of the endpoints
	// the selector criteria match; empty and not nil when they match none.
	SelectorIPs []netip.Prefix
	// Nets the address must be in (any of them), nil for no constraint.
	Nets []netip.Prefix
	// NotNets the address must not be in.
	NotNets []netip.Prefix
	// Ports the port must be one of (named ports are not resolved).
	Ports []v3.Port
	// NotPorts the port must not be one of.
	NotPorts []v3.Port
}

// Callbacks receive the State's changes. Each State method that changes
// something reports, once it is done: SetAdded for every set that came
// into use, then SetChanged for every set whose members changed (net of
// the whole call; a new set's initial members included), then
// PoliciesChanged, then SetRemoved for every set no longer used (its
// members are not reported removed first). IDs and keys are sorted.
// Callbacks run synchronously and must not call back into the State. Any
// of them may be nil.
type Callbacks struct {
	// SetAdded reports a set that came into use.
	SetAdded func(setID string)
	// SetChanged reports the addresses added to and removed from a set,
	// each sorted; at least one is non-empty.
	SetChanged func(setID string, added, removed []netip.Prefix)
	// PoliciesChanged reports the local endpoints whose PoliciesFor
	// result may differ other than in set members (which SetChanged
	// reports): a policy started or stopped applying, or a policy or tier
	// that applies changed. Deleted endpoints may be included.
	PoliciesChanged func(endpointKeys []string)
	// SetRemoved reports a set that is no longer used.
	SetRemoved func(setID string)
}
