// Package policyfilter enforces projectcalico.org/v3 network policy on a
// node: it feeds a [policy.State] with the objects the agent's informers
// see and turns the State's results into the desired state of a
// [filter.Filter] (pkg/dataplane/filter, nftables), incrementally.
//
// # Wiring (for the agent)
//
//	f, err := filter.New(filter.Options{NetNS: fd, Logger: log})
//	s, err := policyfilter.New(policyfilter.Config{NodeName: node, Filter: f, Logger: log})
//	for _, inf := range []cache.SharedIndexInformer{
//		pc.WorkloadEndpoints().Informer(), pc.HostEndpoints().Informer(), pc.Profiles().Informer(),
//		pc.Tiers().Informer(), pc.NetworkPolicies().Informer(), pc.GlobalNetworkPolicies().Informer(),
//	} {
//		inf.AddEventHandler(s.Handler())
//	}
//	go s.Run(ctx, resyncPeriod) // after the informers synced; stops with ctx
//
// [Syncer.Upsert] and [Syncer.Delete] are what the handler calls; a caller
// with its own loop may call them and [Syncer.Sync] directly instead of
// Run.
//
// # Translation
//
//   - Which endpoints: the local WorkloadEndpoints (no
//     projectcalico.org/cluster label) whose spec.node is this node and
//     that have a spec.interfaceName, the host side of the pod's veth.
//     Mirrored remote endpoints and host endpoints are members of rule
//     sets only.
//   - Sets: every rule selector set of the State (policy.Entity.SetID)
//     becomes a filter set of that name, holding the addresses of the
//     matching local and remote endpoints. The State's SetAdded creates it
//     with its members; SetChanged adds and removes single members;
//     SetRemoved deletes it once no endpoint refers to it.
//   - Endpoints: PoliciesChanged recomputes the named endpoints from
//     State.PoliciesFor ([Endpoint]): per direction, the policies whose
//     types include it, grouped by tier in order, each tier with its
//     default action. An endpoint that no policy selects in either
//     direction is removed from the filter: its traffic is untouched.
//   - Rules ([Rule]): action, ipVersion, protocol and notProtocol (names
//     or numbers), icmp and notICMP, nets, notNets, the selector set,
//     ports and notPorts. Named ports are not resolved: a rule whose
//     ports are all named can never match and is left out; named ports
//     among numeric ones, and named notPorts, are dropped (a notPorts
//     entry then excludes less than written). Rules the dataplane cannot
//     enforce (an unknown protocol, ports without TCP, UDP, SCTP or
//     UDPLite, an ICMP code without a type) are left out and reported.
//
// Changes accumulate between syncs; [Syncer.Sync] hands them to the
// filter (set creations and member changes first, then endpoints, then set
// deletions) and commits, which writes only what changed.
package policyfilter
