package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultTierName is the tier a policy without spec.tier belongs to.
const DefaultTierName = "default"

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NetworkPolicy is a namespaced, ordered set of rules applied to the local
// endpoints its selector selects. Rule selectors select local and remote
// endpoints alike. In a tier other than "default" the name must be prefixed
// "<tier>.".
type NetworkPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the policy.
	// +optional
	Spec NetworkPolicySpec `json:"spec,omitempty"`
}

// NetworkPolicySpec is the specification of a NetworkPolicy.
type NetworkPolicySpec struct {
	// Tier the policy belongs to. Default "default".
	// +optional
	// +default="default"
	Tier string `json:"tier,omitempty"`
	// Order of the policy within its tier; lower orders apply first.
	// +optional
	Order *float64 `json:"order,omitempty"`
	// Ingress rules, in order.
	// +optional
	// +listType=atomic
	Ingress []Rule `json:"ingress,omitempty"`
	// Egress rules, in order.
	// +optional
	// +listType=atomic
	Egress []Rule `json:"egress,omitempty"`
	// Selector selects the local endpoints the policy applies to.
	// +optional
	Selector string `json:"selector,omitempty"`
	// Types are the directions the policy governs: Ingress, Egress. Default,
	// as in Calico: Egress alone for a policy with only egress rules, both
	// for one with ingress and egress rules, else Ingress.
	// +optional
	// +listType=atomic
	Types []PolicyType `json:"types,omitempty"`
	// ServiceAccountSelector selects endpoints by service account labels.
	// +optional
	ServiceAccountSelector string `json:"serviceAccountSelector,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// NetworkPolicyList is a list of NetworkPolicies.
type NetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of NetworkPolicies.
	Items []NetworkPolicy `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// GlobalNetworkPolicy is a cluster-wide NetworkPolicy.
type GlobalNetworkPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the policy.
	// +optional
	Spec GlobalNetworkPolicySpec `json:"spec,omitempty"`
}

// GlobalNetworkPolicySpec is the specification of a GlobalNetworkPolicy.
type GlobalNetworkPolicySpec struct {
	// Tier the policy belongs to. Default "default".
	// +optional
	// +default="default"
	Tier string `json:"tier,omitempty"`
	// Order of the policy within its tier; lower orders apply first.
	// +optional
	Order *float64 `json:"order,omitempty"`
	// Ingress rules, in order.
	// +optional
	// +listType=atomic
	Ingress []Rule `json:"ingress,omitempty"`
	// Egress rules, in order.
	// +optional
	// +listType=atomic
	Egress []Rule `json:"egress,omitempty"`
	// Selector selects the local endpoints the policy applies to.
	// +optional
	Selector string `json:"selector,omitempty"`
	// Types are the directions the policy governs: Ingress, Egress.
	// +optional
	// +listType=atomic
	Types []PolicyType `json:"types,omitempty"`
	// DoNotTrack applies the policy before connection tracking.
	// +optional
	DoNotTrack bool `json:"doNotTrack,omitempty"`
	// PreDNAT applies the policy before DNAT.
	// +optional
	PreDNAT bool `json:"preDNAT,omitempty"`
	// ApplyOnForward applies the policy to forwarded traffic too.
	// +optional
	ApplyOnForward bool `json:"applyOnForward,omitempty"`
	// NamespaceSelector selects the namespaces of the endpoints the policy
	// applies to.
	// +optional
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// ServiceAccountSelector selects endpoints by service account labels.
	// +optional
	ServiceAccountSelector string `json:"serviceAccountSelector,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// GlobalNetworkPolicyList is a list of GlobalNetworkPolicies.
type GlobalNetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of GlobalNetworkPolicies.
	Items []GlobalNetworkPolicy `json:"items"`
}

// PolicyType is a direction a policy governs.
// +enum
type PolicyType string

const (
	// PolicyTypeIngress governs traffic to the endpoint.
	PolicyTypeIngress PolicyType = "Ingress"
	// PolicyTypeEgress governs traffic from the endpoint.
	PolicyTypeEgress PolicyType = "Egress"
)

// Action is what a rule does with the traffic it matches.
// +enum
type Action string

const (
	// Allow accepts the traffic.
	Allow Action = "Allow"
	// Deny drops the traffic.
	Deny Action = "Deny"
	// Log logs the traffic and goes on to the next rule.
	Log Action = "Log"
	// Pass skips the rest of the tier and goes on to the next tier.
	Pass Action = "Pass"
)

// Rule matches traffic and applies an action to it.
type Rule struct {
	// Action: Allow, Deny, Log or Pass.
	Action Action `json:"action"`
	// IPVersion restricts the rule to IPv4 (4) or IPv6 (6).
	// +optional
	IPVersion *int `json:"ipVersion,omitempty"`
	// Protocol matches the IP protocol, by name or number.
	// +optional
	Protocol *Protocol `json:"protocol,omitempty"`
	// NotProtocol matches every protocol but this one.
	// +optional
	NotProtocol *Protocol `json:"notProtocol,omitempty"`
	// ICMP matches ICMP type and code.
	// +optional
	ICMP *ICMPFields `json:"icmp,omitempty"`
	// NotICMP matches every ICMP type and code but these.
	// +optional
	NotICMP *ICMPFields `json:"notICMP,omitempty"`
	// Source matches the traffic's source.
	// +optional
	Source EntityRule `json:"source,omitempty"`
	// Destination matches the traffic's destination.
	// +optional
	Destination EntityRule `json:"destination,omitempty"`
	// Ports is accepted for compatibility with the original product's
	// documentation, which writes destination ports beside protocol. The
	// API server moves it to destination.ports, with a warning; it is never
	// stored here.
	// +optional
	// +listType=atomic
	Ports []Port `json:"ports,omitempty"`
	// Metadata carries annotations of the rule.
	// +optional
	Metadata *RuleMetadata `json:"metadata,omitempty"`
}

// ICMPFields matches ICMP type and code.
type ICMPFields struct {
	// Type is the ICMP type.
	// +optional
	Type *int `json:"type,omitempty"`
	// Code is the ICMP code; requires Type.
	// +optional
	Code *int `json:"code,omitempty"`
}

// RuleMetadata carries annotations of a rule.
type RuleMetadata struct {
	// Annotations of the rule.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// EntityRule matches one end of the traffic. Every field present must match.
type EntityRule struct {
	// Nets matches addresses in any of these CIDRs.
	// +optional
	// +listType=atomic
	Nets []string `json:"nets,omitempty"`
	// Selector matches endpoints, local and remote, by label.
	// +optional
	Selector string `json:"selector,omitempty"`
	// NamespaceSelector matches endpoints in namespaces with these labels;
	// "global()" matches non-namespaced endpoints.
	// +optional
	NamespaceSelector string `json:"namespaceSelector,omitempty"`
	// Ports matches these ports or ranges; needs protocol TCP, UDP or SCTP.
	// +optional
	// +listType=atomic
	Ports []Port `json:"ports,omitempty"`
	// NotNets matches addresses in none of these CIDRs.
	// +optional
	// +listType=atomic
	NotNets []string `json:"notNets,omitempty"`
	// NotSelector matches endpoints the selector does not select.
	// +optional
	NotSelector string `json:"notSelector,omitempty"`
	// NotPorts matches ports other than these.
	// +optional
	// +listType=atomic
	NotPorts []Port `json:"notPorts,omitempty"`
	// ServiceAccounts matches endpoints by service account.
	// +optional
	ServiceAccounts *ServiceAccountMatch `json:"serviceAccounts,omitempty"`
}

// ServiceAccountMatch matches endpoints by service account.
type ServiceAccountMatch struct {
	// Names of service accounts.
	// +optional
	// +listType=atomic
	Names []string `json:"names,omitempty"`
	// Selector over service account labels.
	// +optional
	Selector string `json:"selector,omitempty"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Tier is an ordered group of policies; tiers apply in order, and a Pass
// action moves on to the next tier.
type Tier struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the tier.
	// +optional
	Spec TierSpec `json:"spec,omitempty"`
}

// TierSpec is the specification of a Tier.
type TierSpec struct {
	// Order of the tier; lower orders apply first. Unset orders last.
	// +optional
	Order *float64 `json:"order,omitempty"`
	// DefaultAction for traffic that no policy of the tier decides: Deny
	// (default) or Pass.
	// +optional
	DefaultAction *Action `json:"defaultAction,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// TierList is a list of Tiers.
type TierList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of Tiers.
	Items []Tier `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Profile carries labels (and rules) shared by endpoints; the Kubernetes
// namespace "ns" becomes the profile "kns.ns" whose labels are the
// namespace's labels.
type Profile struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the profile.
	// +optional
	Spec ProfileSpec `json:"spec,omitempty"`
}

// ProfileSpec is the specification of a Profile.
type ProfileSpec struct {
	// Ingress rules.
	// +optional
	// +listType=atomic
	Ingress []Rule `json:"ingress,omitempty"`
	// Egress rules.
	// +optional
	// +listType=atomic
	Egress []Rule `json:"egress,omitempty"`
	// LabelsToApply are added to every endpoint that uses the profile.
	// +optional
	LabelsToApply map[string]string `json:"labelsToApply,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ProfileList is a list of Profiles.
type ProfileList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items is the list of Profiles.
	Items []Profile `json:"items"`
}
