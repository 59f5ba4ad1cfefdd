package bgppeering

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// CheckNode refuses a local Node whose BGP identity conflicts with another
// local node's (same IPv4 address, the router ID, in the same AS), or whose
// address is the peerIP of a BGPPeer that selects it. global is the
// "default" BGPConfiguration, nil when absent. Mirrored nodes are not
// checked: their cluster checked them.
func CheckNode(n *v3.Node, nodes []v3.Node, peers []v3.BGPPeer, global *v3.BGPConfiguration) field.ErrorList {
	if _, mirrored := n.Labels[v3.LabelCluster]; mirrored {
		return nil
	}
	id, ok := peering.NodeAddress(n)
	if !ok {
		return nil
	}
	p := field.NewPath("spec", "bgp", "ipv4Address")
	as := peering.NodeAS(n, global)
	var errs field.ErrorList
	local := peering.LocalNodes(nodes)
	for i := range local {
		other := &local[i]
		if other.Name == n.Name {
			continue
		}
		if oid, ok := peering.NodeAddress(other); ok && oid == id && peering.NodeAS(other, global) == as {
			errs = append(errs, field.Invalid(p, n.Spec.BGP.IPv4Address, fmt.Sprintf(
				"node %q has the same router ID %s in the same AS %d: BGP speakers of one AS need distinct router IDs", other.Name, id, as)))
		}
	}
	for i := range peers {
		if selfPeer(&peers[i], n) {
			errs = append(errs, field.Invalid(p, n.Spec.BGP.IPv4Address, fmt.Sprintf(
				"BGPPeer %q selects this node and peers with %s, its own address: the node would peer with itself", peers[i].Name, peers[i].Spec.PeerIP)))
		}
	}
	return errs
}

// BGPInUse reports whether the cluster uses BGP: it has a "default"
// BGPConfiguration or a BGPPeer, or a local node reports a BGP speaker.
// Router IDs matter only then: an overlay-only cluster is not refused
// nodes that share an address.
func BGPInUse(nodes []v3.Node, peers []v3.BGPPeer, global *v3.BGPConfiguration) bool {
	if global != nil || len(peers) > 0 {
		return true
	}
	for _, n := range peering.LocalNodes(nodes) {
		if n.Status.BGP != nil {
			return true
		}
	}
	return false
}

// CheckBGPPeer refuses a BGPPeer whose peerIP is the address of a local
// node it selects: that node would peer with itself.
func CheckBGPPeer(bp *v3.BGPPeer, nodes []v3.Node) field.ErrorList {
	var errs field.ErrorList
	for _, n := range peering.LocalNodes(nodes) {
		if selfPeer(bp, &n) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "peerIP"), bp.Spec.PeerIP, fmt.Sprintf(
				"is the address of node %q, which the peer selects: the node would peer with itself", n.Name)))
		}
	}
	return errs
}

// selfPeer reports whether bp selects n and its peerIP is n's address.
func selfPeer(bp *v3.BGPPeer, n *v3.Node) bool {
	if bp.Spec.PeerIP == "" || !peering.Selects(bp, n) {
		return false
	}
	addr, ok := peering.NodeAddress(n)
	if !ok {
		return false
	}
	peer, err := peering.ParsePeerIP(bp.Spec.PeerIP)
	return err == nil && peer.Addr() == addr
}
