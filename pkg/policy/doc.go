// Package policy computes, for each local endpoint, the ordered policies
// that apply to it and, for each of their rules, the set of endpoint IPs
// (local and mirrored remote) the rule's selectors match. It has no
// Kubernetes client, does no I/O and starts no goroutines: a caller feeds a
// State with endpoints, profiles, tiers and policies (converted from the
// projectcalico.org/v3 types by the From* functions) and reads the result
// with State.PoliciesFor, State.SetMembers and the Callbacks.
//
// # Endpoints and labels
//
// An Endpoint is a WorkloadEndpoint or a HostEndpoint, local (Cluster "")
// or mirrored from a remote cluster (Cluster is the value of the
// projectcalico.org/cluster label). A mirrored workload endpoint lives in
// the namespace of the same name as in its own cluster, so for this package
// a remote endpoint in "myapp" of cluster-b is in namespace "myapp". Host
// endpoints have no namespace.
//
// Selectors are evaluated over an endpoint's effective labels: its own
// labels, then, for keys it does not have, the labelsToApply of its
// profiles, the first profile in spec.profiles that has a key winning
// (Calico's label inheritance). A profile reference "kns.myapp" names a
// profile of the endpoint's own cluster; "cluster-b/kns.myapp" names the
// mirror of cluster-b's profile "kns.myapp", that is the Profile whose
// projectcalico.org/cluster label is cluster-b and whose
// projectcalico.org/remote-name annotation is "kns.myapp" (or, without the
// annotation, whose name is "cluster-b.kns.myapp").
//
// The namespace labels of a namespaced endpoint are the labelsToApply of
// the profile "kns.<namespace>" of the endpoint's cluster whose keys start
// with "pcns.", with that prefix removed, plus projectcalico.org/name =
// <namespace> (also when the profile is missing). namespaceSelector is
// evaluated over them. Service-account selectors are evaluated likewise
// over the "pcsa."-prefixed effective labels, with projectcalico.org/name
// taken from the projectcalico.org/serviceaccount label when absent.
//
// # Which endpoints a policy applies to
//
// A policy's own selector only ever selects local endpoints. A
// NetworkPolicy applies to the local endpoints of its namespace matching
// spec.selector (empty means all()) and spec.serviceAccountSelector. A
// GlobalNetworkPolicy applies to the local endpoints, namespaced or not,
// matching spec.selector and spec.serviceAccountSelector and, when set,
// spec.namespaceSelector (namespaced endpoints whose namespace labels
// match; "global()" selects the endpoints that have no namespace).
//
// # What a rule's selectors match
//
// The selector criteria of a rule's source or destination (selector,
// notSelector, namespaceSelector, serviceAccounts) select local and remote
// endpoints alike. When at least one is present the entity matches the
// IPs of the endpoints satisfying all of them within a scope:
//
//   - with a namespaceSelector: the namespaced endpoints whose namespace
//     labels match it, in any cluster; namespaceSelector "global()" instead
//     scopes to the endpoints without a namespace (host endpoints);
//   - otherwise, in a NetworkPolicy: the endpoints of the policy's
//     namespace, in any cluster;
//   - otherwise, in a GlobalNetworkPolicy: every endpoint.
//
// Within the scope, selector must match, notSelector must not match,
// serviceAccounts.names must contain the endpoint's
// projectcalico.org/serviceaccount label and serviceAccounts.selector must
// match its service-account labels. A rule with only a notSelector thus
// matches the IPs of the endpoints in scope that the notSelector does not
// select (it is an endpoint set, not "every address but these").
//
// Entity.HasSelector distinguishes "no selector criteria" (any address:
// SelectorIPs is nil) from "selector criteria matching no endpoint" (no
// address: SelectorIPs is empty but not nil). nets and notNets are kept as
// CIDRs and not intersected with the endpoint set; the dataplane matches
// both. Ports and notPorts are passed through; named ports are not
// resolved.
//
// # Sets
//
// Entities with the same selector criteria in the same scope share one IP
// set, like Calico's IP set per selector: the set's ID (Entity.SetID) is
// derived from the canonical form of scope and selectors, so it is stable
// across restarts, and two NetworkPolicies of a namespace with the same
// destination selector use the same set. A State keeps every set's members
// up to date with selector.Index: an endpoint's label change re-evaluates
// only the selectors that read a changed key and, when they require one
// of a few values of it (a namespace, app == "x"), accept its old or new
// value; a new selector is evaluated only against the endpoints having a
// value it requires. The Callbacks report each set's net change after
// every State method.
//
// # Order
//
// PoliciesFor lists the applicable policies by tier order (unset last,
// then tier name), then policy order (unset last), then policy name, then
// key. Each carries its tier's default action (Deny unless the tier says
// Pass). The tier "default" exists implicitly (order unset, action Deny)
// until a Tier of that name is given; the policies of any other tier that
// does not exist are not applied. When spec.types is empty the types
// default as Calico defaults them: [Ingress] when there are no egress
// rules, [Egress] when there are egress rules but no ingress rules, and
// [Ingress, Egress] when there are both. Rules of a direction the policy's
// types do not include are dropped.
package policy
