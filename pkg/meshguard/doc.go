// Package meshguard decides which objects of a remote cluster may steer
// traffic on this cluster's nodes. It is pure: callers hand it the pools and
// nodes they know, and it answers, for each remote IPPool, IPAMBlock,
// WorkloadEndpoint address and Node, whether the remote owns what the object
// claims.
//
// A remote cluster owns only its own address space. A remote pool is
// admitted unless it overlaps a reserved range (link-local, loopback,
// multicast, unspecified), is broader than a /8 (IPv4) or /16 (IPv6), or overlaps a local
// pool, a local node's address or subnet, or a pool already admitted for
// another remote cluster. A remote block or endpoint address must lie inside
// one of that remote's admitted pools (when its pools are known) and obey
// the same exclusions. A remote Node is refused when its address, VTEP
// address, WireGuard interface address or VTEP MAC equals a local node's or
// another remote node's, or one of those addresses falls in a reserved range
// or a local pool.
//
// Every refusal is a *Refusal, naming the object and a CamelCase reason.
// The controller uses it at mirror time, the agent again at program time.
package meshguard
