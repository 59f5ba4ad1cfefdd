// Package meshcheck checks the requirements of the cluster mesh between
// this cluster and its remote clusters. The original product only documents
// them; meshapi enforces them at admission (CheckIPPool,
// CheckRemoteCluster, CheckFelixConfiguration) and continuously in the
// controller (Check, ViolationsFor). The functions are pure: callers read
// the clusters into ClusterViews.
//
// # Rules
//
// Pool overlap: no own IPPool of one cluster may overlap (share an
// address with) an own IPPool of another. Disabled pools count; pools of
// different IP families never overlap; pools whose CIDR does not parse are
// left to validation.
//
// Common overlay: two clusters must both use VXLAN, or both use
// WireGuard. A cluster uses VXLAN when its "default" FelixConfiguration
// sets vxlanEnabled to true or any of its own pools has vxlanMode Always
// or CrossSubnet; it uses WireGuard when wireguardEnabled or
// wireguardEnabledV6 is true.
//
// Equal settings: routeSource must be equal. When both clusters use
// VXLAN, vxlanEnabled, vxlanPort, vxlanVNI, vxlanMTU and vxlanMTUV6 must be
// equal; when both use WireGuard, wireguardEnabled, wireguardEnabledV6,
// wireguardListeningPort, wireguardListeningPortV6,
// wireguardInterfaceName, wireguardInterfaceNameV6, wireguardMTU,
// wireguardMTUV6, wireguardRoutingRulePriority,
// wireguardHostEncryptionEnabled and wireguardKeepAlive must be equal.
// Effective values are compared, an unset field taking its default:
// routeSource "CalicoIPAM", vxlanPort 4789, vxlanVNI 4096,
// wireguardListeningPort 51820, wireguardListeningPortV6 51821,
// wireguardInterfaceName "wireguard.cali", wireguardInterfaceNameV6
// "wg-v6.cali", wireguardRoutingRulePriority 99, booleans false,
// wireguardKeepAlive "0s". An unset vxlanEnabled is true when an own pool
// uses VXLAN, as the dataplane decides. An MTU that is unset or 0 is "auto"
// (the dataplane detects it): equal to another auto MTU, different from any
// number.
//
// Unique node names: no node name may be used by two clusters.
//
// Every rule applies between this cluster and each remote cluster. Between
// two remote clusters only pool overlap and node names are checked: this
// cluster mirrors both clusters' pools and nodes, but does not carry their
// traffic to each other.
//
// Callers pass each cluster's own pools and nodes. Objects mirrored from
// another cluster, if passed by mistake, are ignored: pools labelled
// projectcalico.org/cluster and node names containing "/".
//
// # Messages
//
// Values are shown as field.Invalid shows them: strings quoted, numbers
// and booleans bare; an automatic MTU is "auto" and wireguardKeepAlive a
// duration such as "25s". A pool is shown as IPPool "<name>" (<cidr>). The
// local cluster is "this cluster". The messages of Violation, which
// CheckRemoteCluster reports as
//
//	spec: Invalid value: "<rcc name>": <message>
//
// are, between this cluster and remote cluster R:
//
//	IPPool "<name>" (<cidr>) of remote cluster "R" overlaps local IPPool "<name>" (<cidr>)
//	no overlay in common with remote cluster "R": this cluster uses <overlays>, "R" uses <overlays>
//	<setting> <this cluster's value> differs from remote cluster "R" (<R's value>)
//	node name "<node>" is used in both this cluster and remote cluster "R"
//
// where <overlays> is none, VXLAN, WireGuard or VXLAN and WireGuard, and
// between remote clusters R and O:
//
//	IPPool "<name>" (<cidr>) of remote cluster "R" overlaps IPPool "<name>" (<cidr>) of remote cluster "O"
//	node name "<node>" is used in both remote cluster "R" and remote cluster "O"
//
// CheckIPPool reports:
//
//	spec.cidr: Invalid value: "<cidr>": overlaps IPPool "<name>" (<cidr>) of remote cluster "R"
//
// CheckFelixConfiguration reports:
//
//	spec: Forbidden: no overlay in common with remote cluster "R": this cluster uses <overlays>, "R" uses <overlays>
//	spec.<setting>: Invalid value: <new value>: differs from remote cluster "R" (<R's value>)
//
// For example:
//
//	spec.cidr: Invalid value: "10.244.0.0/16": overlaps IPPool "default-ipv4-ippool" (10.244.0.0/16) of remote cluster "cluster-b"
//	spec: Invalid value: "cluster-b": routeSource "CalicoIPAM" differs from remote cluster "cluster-b" ("WorkloadIPs")
//	spec.vxlanPort: Invalid value: 4790: differs from remote cluster "cluster-b" (4789)
//
// # Order
//
// Results are deterministic: remote clusters in order of name, pools in
// order of name, settings in the order above, node names sorted. For one
// remote cluster, or one pair of clusters, the rules come in the order
// pool overlap, common overlay, settings, node names.
package meshcheck
