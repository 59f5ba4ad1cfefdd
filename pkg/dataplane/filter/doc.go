// Package filter makes nftables enforce network policy on a node's local
// workload endpoints. It has no Kubernetes imports: a caller (the node
// agent, through pkg/agent/policyfilter) describes named IP sets and, per
// endpoint (its host-side interface), the ordered tiers, policies and rules
// of each direction, and a [Filter] makes one nftables table match.
//
// # What is written
//
// Everything lives in one table of family inet, by default
// "meshapi-filter" ([DefaultTableName]); the Filter never reads or writes
// another table, and Teardown deletes only its own. In it:
//
//   - per named set two interval sets, "<name>-v4" (ipv4_addr) and
//     "<name>-v6" (ipv6_addr). An element is a member prefix that no other
//     member contains (a /32 for a pod, wider prefixes as they come), so a
//     member coming or going is one element added or deleted;
//   - a base chain "forward" (hook forward, priority filter, policy
//     accept): established and related traffic is accepted, then for each
//     endpoint with egress policy "iifname <if> jump eg/<if>" and for each
//     endpoint with ingress policy "oifname <if> jump in/<if>". Traffic from
//     a pod arrives from its veth (egress); traffic to it leaves through it
//     (ingress). Endpoints, or directions, without policy are not matched
//     at all: their traffic is untouched;
//   - per endpoint and direction with policy a chain "eg/<if>" (or
//     "in/<if>") that drops conntrack-invalid packets and goes to the first
//     tier chain "eg/<if>/0", and one chain per tier "eg/<if>/<n>" holding
//     the rules of the tier's policies in order, then the tier's default
//     action.
//
// # Semantics (Calico's)
//
// In a tier chain, Allow returns to the forward chain (the traffic is
// allowed in this direction; if the peer is a local endpoint with ingress
// policy, that is evaluated next), Deny drops, Log logs to the kernel log
// with a prefix naming the policy and goes on with the next rule, and Pass
// goes to the next tier's chain. When no rule of a tier ended the
// evaluation, the tier's default action applies: Deny drops, Pass goes on
// with the next tier. Pass out of the last tier returns to the forward
// chain, whose policy is accept: traffic that every tier passes is treated
// as if no policy applied (the Kubernetes namespace profiles of the
// original allow everything). Every policy rule is written once per address
// family it can match (IPv4 and IPv6, unless its ipVersion, protocol or
// nets restrict it). Every rule has a counter and a comment.
//
// A rule matches protocol and notProtocol, ICMP type/code and their
// negation, and per side nets (any of), notNets (none of), a named set,
// ports and notPorts (numeric ports and ranges; they need TCP, UDP, SCTP or
// UDPLite). Nets and port lists become constant anonymous interval sets of
// the rule. Named ports are not known here: the caller resolves or drops
// them.
//
// Established flows are accepted before any policy, as in the original: a
// policy change (a set member removed, a rule changed) refuses new
// connections at once, while connections already established go on until
// conntrack forgets them.
//
// Only forwarded traffic is filtered: traffic between a pod and its own
// node (input and output hooks) is not.
//
// # Updates
//
// The desired state is changed with [Filter.SetSet], [Filter.UpdateSet],
// [Filter.DeleteSet], [Filter.SetEndpoint] and [Filter.DeleteEndpoint] (or
// replaced as a whole with [Filter.Apply]); [Filter.Commit] then writes only
// what changed: set elements added and deleted one by one (a set is never
// flushed), the chains of the endpoints whose policy changed rewritten
// (flushed and refilled in the same transaction, so a packet sees the old
// or the new rules, never none), the forward chain rewritten when an
// endpoint gains or loses a direction's policy, chains and sets no longer
// used deleted. Set elements go first, in transactions of at most
// [Options.MaxElementsPerTransaction] elements; the chains, then the
// deletions, follow in one transaction. A rule may only refer to a set that
// exists, and a set in use cannot be deleted.
//
// [Filter.Resync] reads the table back (sets and their elements, chains and
// their rules' comments, which carry a fingerprint of each rule) and
// repairs any drift: a missing table, chain, rule or element, an altered
// chain, a foreign chain or set in our table. [Filter.Run] does so on a
// timer. After a failed transaction the next Commit resyncs first.
//
// # Namespaces
//
// A Filter works in the network namespace whose descriptor
// [Options.NetNS] gives (nftables.WithNetNSFd), so no thread of the caller
// ever switches namespace; 0 means the caller's own. The tests create their
// own namespaces and touch nothing else.
package filter
