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
package remotecluster
