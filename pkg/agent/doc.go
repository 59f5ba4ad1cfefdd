// Package agent is meshapi's node agent: it watches the local
// projectcalico.org/v3 API only (informers on Nodes, IPAMBlocks, IPPools,
// FelixConfigurations, RemoteClusterConfigurations and WorkloadEndpoints,
// local and mirrored from remote clusters), computes the node's desired
// dataplane and makes the kernel match it with pkg/dataplane (VXLAN
// overlay) and pkg/dataplane/nat (NAT-outgoing), and, with
// [Config.Policy], enforces network policy with pkg/agent/policyfilter and
// pkg/dataplane/filter (nftables). It never talks to a remote cluster: the
// controller mirrors them into the local API.
//
// # Desired state ([Compute], no I/O)
//
//   - VXLAN runs when the "default" FelixConfiguration's vxlanEnabled is
//     true, or, unset, when a local IPPool uses vxlanMode Always or
//     CrossSubnet (CrossSubnet is treated as Always). VNI, port and MTU come
//     from that FelixConfiguration (defaults 4096, 4789, parent MTU - 50).
//   - Overlay peers are all other nodes with a VTEP address, MAC and IPv4
//     underlay address (spec.bgp.ipv4Address, else spec.addresses): the
//     nodes of this cluster, always, as Calico builds VXLAN between the
//     nodes of one cluster; and the mirrored nodes of a remote cluster
//     while its RemoteClusterConfiguration says overlayRoutingMode
//     Enabled. With Disabled, or once the RemoteClusterConfiguration is
//     deleted, that cluster's nodes, blocks and endpoint routes leave the
//     desired state at once, without waiting for the controller to remove
//     the mirrors: the underlay routes its pod IPs.
//   - Routes: each IPAMBlock affine to a peer ("host:<node>", mirrored
//     blocks "host:<cluster>/<node>") is routed via the peer's VTEP; for a
//     local peer only if the block lies in a local VXLAN pool. A
//     WorkloadEndpoint address outside its node's blocks gets a /32 of its
//     own (remote: always; local: if it lies in a local VXLAN pool).
//   - This node's VTEP address: --vxlan-tunnel-address if given; else
//     the address pkg/ipam allocates to the handle
//     "vxlan-tunnel-addr-<node>" (recorded in the node's block, so no pod
//     gets it, and the same across restarts); only if IPAM fails, the
//     address its Node already publishes when it still lies in one of the
//     node's blocks, else the first address of the node's first block.
//   - NAT-outgoing: sources are the local pools with natOutgoing;
//     destinations never masqueraded are every pool in the local API
//     (local ones enabled or disabled, and remote clusters' mirrored
//     pools) plus the addresses of mirrored remote endpoints, so that with
//     overlay routing Disabled, when remote pools are not mirrored, traffic
//     to remote pods still keeps its source: the seeds' manual "disabled IP
//     pool" step, done automatically.
//
// # Reconcile loop ([Agent.Run])
//
// Informer events trigger a reconcile after a short debounce (longer after
// a long reconcile, so that under churn reconciles take at most
// Config.ReconcileShare of the time; each WorkloadEndpoint is parsed once
// per version of the object, not on every reconcile): compute,
// [dataplane.Dataplane.Apply], register this node's Node (addresses,
// VTEP, the VXLAN device's MAC) when it changed, [nat.NAT.Apply], then the
// Node's status.dataplane when it changed (at most every StatusInterval).
// A failed reconcile is retried with backoff. The dataplane and the NAT
// table are re-read and repaired every ResyncPeriod. The MAC the Node
// publishes is passed back to the dataplane on restart, so a restarted
// agent keeps its MAC and the other nodes' entries stay valid.
//
// # Network policy ([Config.Policy])
//
// Beside the overlay loop, once the informers have synced: a
// policyfilter.Syncer learns every Tier, Profile, NetworkPolicy and
// GlobalNetworkPolicy first, then the HostEndpoints and WorkloadEndpoints
// (a new rule selector is evaluated against every endpoint already known,
// so policy first is the cheap order at startup); then every informer
// event leads to a commit of what changed to the nftables table "inet
// meshapi-filter" of the same namespace, retried with backoff on failure.
// The table is re-read and repaired every ResyncPeriod. [Agent.Healthy]
// waits for the first successful commit. Until then, and for endpoints no
// policy selects, traffic is not filtered. Metrics: the table's sets and
// elements, the commit latency (meshapi_agent_apply_duration_seconds
// {component="policy"}), errors, changes and drift repairs. Off
// (meshapi-agent --policy-enforcement=false), the agent deletes the table.
//
// # WireGuard ([Config.WireGuard], [ComputeWireGuard])
//
// When the "default" FelixConfiguration's wireguardEnabled is true, every
// reconcile also computes the WireGuard state (no I/O): the device
// (wireguardInterfaceName, wireguardListeningPort, wireguardMTU,
// wireguardRoutingRulePriority, Calico's defaults when unset) with
// address [WireGuardConfig.InterfaceAddress], else the VTEP address, as a
// /32; and the mesh's other nodes, the same set as the VXLAN peers (this
// cluster's, and remote clusters' with overlayRoutingMode Enabled), each
// with status.wireguardPublicKey, its underlay address and as allowed IPs
// its affine blocks, its endpoints' addresses outside them and its
// spec.wireguard.interfaceIPv4Address. The agent loads (or creates, mode
// 0600) the private key from [WireGuardConfig.KeyFile], creates the device
// with pkg/dataplane/wireguard, and on every reconcile and every
// CheckInterval (2s) reads the peers' handshakes and applies
// wireguard.Plan: a ready peer's traffic goes through WireGuard (table 1,
// the rule), one without a key or handshake falls back to VXLAN. It
// publishes the public key as status.wireguardPublicKey (unless
// WithholdKey, a test hook) and the address as
// spec.wireguard.interfaceIPv4Address; a key change on another Node
// triggers a reconcile (see affectsDataplane). wireguardEnabled false
// closes the device (device, routes and rule go) and unpublishes both.
// When the agent stops, a userspace device (which cannot outlive the
// process) is closed; a kernel one stays as programmed. Metric:
// meshapi_agent_wireguard_peers by via (wireguard, vxlan, none).
package agent
