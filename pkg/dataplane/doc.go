// Package dataplane makes the Linux kernel's VXLAN overlay match a desired
// state. It has no Kubernetes imports: a caller (the node agent) turns the
// cluster's objects into a [Desired] and hands it to [Dataplane.Apply].
//
// # Model
//
// The overlay is the one the original product builds:
//
//   - one VXLAN device (by default "vxlan.calico", VNI 4096, UDP port 4789,
//     MTU = parent MTU - 50), without learning, whose source is this node's
//     underlay IP and which carries this node's VTEP IP as a /32;
//   - for every remote node that has a VTEP: a permanent neighbour entry
//     (VTEP IP -> VTEP MAC) and a permanent FDB entry (VTEP MAC -> the
//     node's underlay IP) on that device;
//   - for every IPAM block of a remote node a route "block via VTEP dev
//     vxlan.calico onlink", and a /32 route the same way for every remote
//     endpoint that lies outside its node's blocks ([EndpointRoute]).
//
// The device's MAC address is what the other nodes put in their entries,
// so it must be published (the original product keeps it on the Node). If
// the caller does not fix it ([VXLANConfig.LocalMAC]), the kernel picks
// one when the device is created; a device this Dataplane replaces or
// re-creates keeps the MAC it had.
//
// # Ownership
//
// Everything this package creates is tagged so that it never touches what
// others made:
//
//   - routes carry the route protocol number [DefaultRouteProtocol] (82,
//     "meshapi"; Calico's Felix uses 80, BIRD 12, the kernel 2, iproute2's
//     default 3 "boot", FRR 11 and 186-192). Only routes of the main table
//     with that protocol are ever replaced or deleted; a deletion names the
//     protocol too, so the kernel itself refuses to delete a route of
//     another owner. If a foreign route already occupies a destination we
//     want, Apply reports a conflict instead of overwriting it.
//   - neighbour and FDB entries are only read, written and deleted on our
//     own VXLAN device, which belongs to this package as a whole; of its
//     neighbours, only permanent ones (the kind we write) are removed.
//     Entries the kernel made itself are left to the kernel.
//   - the device is only deleted (or replaced when its VNI, port, source
//     address or parent changed) if it is a VXLAN device: a link of another
//     type that happens to have our name is an error, never deleted.
//
// # Reconciliation
//
// [Dataplane.Apply] computes the difference between the desired state and
// what it knows the kernel holds (read in full from the kernel on the first
// Apply, after the device was (re)created, and after any failed call; kept
// up to date by each successful call otherwise) and makes only the netlink
// calls needed: single route adds, replaces and deletes, single neighbour
// and FDB sets and deletes; nothing is flushed. [Dataplane.Resync] re-reads
// the kernel (routes with our protocol, neighbours and FDB entries on our
// device, the device itself) and repairs drift against the last desired
// state, for instance a route someone deleted by hand; [Dataplane.Run] calls
// it on a timer.
//
// # Namespaces and safety
//
// A Dataplane works on the network namespace of the [netlink.Handle] it is
// given: create it with netlink.NewHandleAt for a namespace other than the
// caller's, so that no OS thread ever switches namespace. With a nil handle
// it uses netlink's package handle, i.e. the namespace of whichever thread
// makes the call: only do that in a process that never switches namespaces.
// The tests create their own network namespaces and touch nothing else.
package dataplane
