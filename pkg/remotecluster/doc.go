// Package remotecluster mirrors remote clusters into the local API: the
// federated endpoint identity of the mesh.
//
// For every RemoteClusterConfiguration a Syncer reads the access Secret it
// references, connects to the remote cluster, lists and watches its
// WorkloadEndpoints, HostEndpoints and Profiles (labels only) and, with
// overlay routing Enabled, its Nodes, IPPools and IPAMBlocks, and writes
// them into the local API as mirrored objects:
//
//   - object names become "<cluster>.<name>" (metadata.name cannot hold a
//     "/"), and every node or profile reference inside becomes
//     "<cluster>/<name>", e.g. spec.node "cluster-b/host-1";
//   - every mirrored object carries the label projectcalico.org/cluster
//     with the RemoteClusterConfiguration's name; the API server refuses
//     user writes to such objects;
//   - remote IPPools are mirrored disabled, so local IPAM never allocates
//     from them and NAT-outgoing never applies towards them.
//
// The mirror survives a remote outage with its last known state; after
// reconnecting, a full resync removes what was deleted while away.
//
// How it is built:
//
//   - mirrorKinds (kinds.go) has one entry per mirrored kind: its client,
//     its mirror function (mirror.go), how the status counts it, whether
//     the mesh's requirements compare it and whether it is a meshguard
//     input. Adding a kind is one entry there.
//   - The Controller (controller.go) starts, restarts and stops one Syncer
//     per RemoteClusterConfiguration, holds one informer per kind on every
//     cluster's mirrors (counts, requirements, guard inputs, orphans) and
//     writes each RCC's status from what its Syncer reports.
//   - A Syncer (syncer.go) watches its remote cluster and writes the
//     mirror; the controller passes it every change of its mirrors. It
//     remembers what each of its writes returned, so the event of its own
//     write is dropped, and reconciles against that write until the
//     mirror cache shows it (ownWrites, with the rules that keep that
//     correct while the mirror cache lags); any other change of a mirror
//     is reconciled and put back. Reconciles that write nothing are
//     counted by remote_cluster_noop_reconciles_total, writes refused for
//     a cache that was behind by remote_cluster_stale_cache_retries_total.
//   - The mirror naming (labels, annotations, "<cluster>.<name>",
//     "<cluster>/<name>") is pkg/apis/projectcalico/v3's (labels.go); the
//     access Secret's format is pkg/remoteaccess's.
package remotecluster
