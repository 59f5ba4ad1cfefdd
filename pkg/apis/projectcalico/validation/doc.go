// Package validation checks projectcalico.org/v3 objects before they are
// stored: one exported function per kind, plus Update functions that check
// only what an update may change (callers run both on an update). Each
// returns a field.ErrorList that reports every violation at once, with the
// JSON field path (e.g. "spec.egress[0].destination.ports") and, where the
// error type carries one, the offending value.
//
// The functions validate one object on its own; checks that need other
// objects (apart from ValidateIPPoolOverlap) or the mesh's view of remote
// clusters live elsewhere. Validation never modifies the object and never
// applies defaults: values that defaulting would fill in (an empty ipipMode,
// an empty policy tier, blockSize 0) are accepted and interpreted as their
// defaults. Metadata names are checked only where the kind constrains them
// further than the generic API server does.
//
// Values of secret-bearing fields (etcdPassword, k8sAPIToken,
// kubeconfigInline, URL passwords) are never echoed in error messages.
//
// # Rules
//
// Policy and profile rules are validated alike:
//
//   - action is required: Allow, Deny, Log or Pass;
//   - ipVersion, if set, is 4 or 6, and is 4 with protocol ICMP and 6 with
//     ICMPv6;
//   - protocol and notProtocol are TCP, UDP, ICMP, ICMPv6, SCTP or UDPLite
//     (or the same in lower case), or a number from 0 to 255;
//   - ports and notPorts of source and destination need a protocol with
//     ports (TCP, UDP, SCTP, UDPLite or 6, 17, 132, 136); numbers are 1-65535
//     and ranges ascending; named ports are allowed;
//   - icmp and notICMP need protocol ICMP or ICMPv6; a code needs a type;
//     type is 0-254, code 0-255;
//   - nets and notNets are CIDRs or bare addresses, of the rule's ipVersion
//     if set, and one rule does not mix IPv4 and IPv6;
//   - selector, notSelector, namespaceSelector and serviceAccounts.selector
//     are valid selectors;
//   - the top-level ports alias must be empty: the API server moves it to
//     destination.ports before validation, so it remains only when both
//     were given.
package validation
