// Package peering computes what a node's BGP speaker should be, from the
// projectcalico.org/v3 objects alone: its AS number and router ID, the
// peers it opens sessions with (the node-to-node mesh, the BGPPeers that
// select it, the route reflectors their peerSelector selects) and the
// prefixes it advertises (its IPAM blocks, the service cluster and
// external IP CIDRs) with their communities. It is a pure core: no I/O, no
// clock, no gobgp; package speaker applies its result to a running
// speaker, and admission reads it to refuse conflicts.
package peering

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// DefaultMaxRestartTime is how long routes of a gracefully restarting peer
// are kept when its configuration says nothing: BIRD's default, which
// Calico documents.
const DefaultMaxRestartTime = 120 * time.Second

// DefaultPeerPort is the TCP port of a peer whose peerIP names none.
const DefaultPeerPort = 179

// PeerType tells why a session exists, as Calico's node status does.
type PeerType string

const (
	// NodeMesh is a session of the node-to-node mesh.
	NodeMesh PeerType = "NodeMesh"
	// NodePeer is a session with a node a BGPPeer's peerSelector selects.
	NodePeer PeerType = "NodePeer"
	// GlobalPeer is a session with a BGPPeer's peerIP.
	GlobalPeer PeerType = "GlobalPeer"
)

// Input is what the speaker of one node is computed from.
type Input struct {
	// NodeName is the node the speaker runs on.
	NodeName string
	// Nodes are the cluster's Nodes; mirrored ones (label
	// projectcalico.org/cluster) are ignored.
	Nodes []v3.Node
	// Configs are the BGPConfigurations: "default" and "node.<name>".
	Configs []v3.BGPConfiguration
	// Peers are the BGPPeers.
	Peers []v3.BGPPeer
	// Blocks are the IPAM blocks; those affine to the node are advertised.
	Blocks []v3.IPAMBlock
}

// Speaker is the desired state of one node's BGP speaker.
type Speaker struct {
	// ASNumber is the node's AS number.
	ASNumber uint32
	// RouterID is the node's router ID, its IPv4 address.
	RouterID netip.Addr
	// ListenPort is the TCP port the speaker listens on.
	ListenPort uint16
	// RouteReflectorClusterID is set when the node is a route reflector.
	RouteReflectorClusterID string
	// Peers are the sessions, sorted by address.
	Peers []Peer
	// Prefixes are the prefixes advertised, sorted.
	Prefixes []netip.Prefix
	// Communities are the communities some prefixes are advertised with
	// (the default BGPConfiguration's prefixAdvertisements).
	Communities map[netip.Prefix]Communities `json:",omitempty"`
}

// Peer is one session of the speaker.
type Peer struct {
	// Address and Port are where the peer listens.
	Address netip.Addr
	Port    uint16
	// ASNumber is the peer's AS number.
	ASNumber uint32
	// Type tells why the session exists.
	Type PeerType
	// Source is the BGPPeer's name, or the peer node's for the mesh.
	Source string
	// RouteReflectorClient is set when this node reflects routes to the
	// peer: this node is a route reflector and the peer is not.
	RouteReflectorClient bool
	// KeepOriginalNextHop advertises routes with their original next hop.
	KeepOriginalNextHop bool
	// BindLocal opens the session from the node's address.
	BindLocal bool
	// Password names the Secret key of the session's password.
	Password *corev1.SecretKeySelector
	// MaxRestartTime is the graceful restart time of the session.
	MaxRestartTime time.Duration
}

// Compute returns the speaker of in.NodeName. It fails when the node does
// not exist or has no IPv4 address to be its router ID.
func Compute(in Input) (Speaker, error) {
	nodes := LocalNodes(in.Nodes)
	self := findNode(nodes, in.NodeName)
	if self == nil {
		return Speaker{}, fmt.Errorf("node %q: no such Node", in.NodeName)
	}
	routerID, ok := NodeAddress(self)
	if !ok {
		return Speaker{}, fmt.Errorf("node %q: spec.bgp.ipv4Address is unset or invalid (%q): it is the router ID", self.Name, ipv4Address(self))
	}
	global, perNode := configs(in.Configs, in.NodeName)
	sp := Speaker{
		ASNumber:                uint32(NodeAS(self, global)),
		RouterID:                routerID,
		ListenPort:              listenPort(global, perNode),
		RouteReflectorClusterID: rrClusterID(self),
	}
	peers := map[netip.Addr]Peer{}
	if meshEnabled(global) {
		for i := range nodes {
			if p, ok := meshPeer(self, &nodes[i], global, sp.ListenPort); ok {
				peers[p.Address] = p
			}
		}
	}
	for i := range in.Peers {
		for _, p := range explicitPeers(self, &in.Peers[i], nodes, global, sp.ListenPort) {
			peers[p.Address] = p
		}
	}
	for _, p := range peers {
		sp.Peers = append(sp.Peers, p)
	}
	slices.SortFunc(sp.Peers, func(a, b Peer) int { return a.Address.Compare(b.Address) })
	sp.Prefixes = prefixes(in.NodeName, in.Blocks, global)
	sp.Communities = communities(sp.Prefixes, global)
	return sp, nil
}

// LocalNodes returns the nodes not mirrored from a remote cluster.
func LocalNodes(nodes []v3.Node) []v3.Node {
	var out []v3.Node
	for _, n := range nodes {
		if _, mirrored := n.Labels[v3.LabelCluster]; !mirrored {
			out = append(out, n)
		}
	}
	return out
}

func findNode(nodes []v3.Node, name string) *v3.Node {
	for i := range nodes {
		if nodes[i].Name == name {
			return &nodes[i]
		}
	}
	return nil
}

// configs returns the "default" and the "node.<name>" configurations, nil
// when absent.
func configs(all []v3.BGPConfiguration, node string) (global, perNode *v3.BGPConfiguration) {
	for i := range all {
		switch all[i].Name {
		case v3.BGPConfigurationName:
			global = &all[i]
		case "node." + node:
			perNode = &all[i]
		}
	}
	return global, perNode
}

// NodeAS returns a node's AS number: its own, else the default
// configuration's, else 64512.
func NodeAS(n *v3.Node, global *v3.BGPConfiguration) int64 {
	if n.Spec.BGP != nil && n.Spec.BGP.ASNumber != nil {
		return *n.Spec.BGP.ASNumber
	}
	if global != nil && global.Spec.ASNumber != nil {
		return *global.Spec.ASNumber
	}
	return v3.DefaultASNumber
}

// NodeAddress returns a node's IPv4 BGP address, its router ID.
func NodeAddress(n *v3.Node) (netip.Addr, bool) {
	s := ipv4Address(n)
	if s == "" {
		return netip.Addr{}, false
	}
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
		return p.Addr(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return a, true
	}
	return netip.Addr{}, false
}

func ipv4Address(n *v3.Node) string {
	if n.Spec.BGP == nil {
		return ""
	}
	return n.Spec.BGP.IPv4Address
}

func rrClusterID(n *v3.Node) string {
	if n.Spec.BGP == nil {
		return ""
	}
	return n.Spec.BGP.RouteReflectorClusterID
}

func meshEnabled(global *v3.BGPConfiguration) bool {
	return global == nil || global.Spec.NodeToNodeMeshEnabled == nil || *global.Spec.NodeToNodeMeshEnabled
}

// listenPort is the per-node configuration's port, else the default's,
// else 179.
func listenPort(global, perNode *v3.BGPConfiguration) uint16 {
	for _, c := range []*v3.BGPConfiguration{perNode, global} {
		if c != nil && c.Spec.ListenPort != 0 {
			return c.Spec.ListenPort
		}
	}
	return v3.DefaultBGPListenPort
}

// meshPeer is the mesh session from self to other, if other is another
// node with an IPv4 address.
func meshPeer(self, other *v3.Node, global *v3.BGPConfiguration, port uint16) (Peer, bool) {
	addr, ok := NodeAddress(other)
	if !ok || other.Name == self.Name {
		return Peer{}, false
	}
	p := Peer{
		Address: addr, Port: port, ASNumber: uint32(NodeAS(other, global)), Type: NodeMesh, Source: other.Name,
		BindLocal: true, MaxRestartTime: DefaultMaxRestartTime,
	}
	if global != nil {
		if global.Spec.NodeMeshMaxRestartTime != nil {
			p.MaxRestartTime = global.Spec.NodeMeshMaxRestartTime.Duration
		}
		if pw := global.Spec.NodeMeshPassword; pw != nil {
			p.Password = pw.SecretKeyRef
		}
	}
	return p, true
}

// Selects reports whether a BGPPeer applies to a node: it names the node,
// its nodeSelector matches the node's labels, or it has neither.
func Selects(bp *v3.BGPPeer, n *v3.Node) bool {
	switch {
	case bp.Spec.Node != "":
		return bp.Spec.Node == n.Name
	case bp.Spec.NodeSelector != "":
		return matches(bp.Spec.NodeSelector, n.Labels)
	}
	return true
}

// matches evaluates a selector; one that does not parse matches nothing
// (validation refuses it on write).
func matches(sel string, labels map[string]string) bool {
	s, err := selector.Parse(sel)
	return err == nil && s.Evaluate(labels)
}

// explicitPeers are the sessions a BGPPeer gives self: none when it does
// not select self, its peerIP, or every other node its peerSelector
// selects.
func explicitPeers(self *v3.Node, bp *v3.BGPPeer, nodes []v3.Node, global *v3.BGPConfiguration, listen uint16) []Peer {
	if !Selects(bp, self) {
		return nil
	}
	base := Peer{
		Source: bp.Name, KeepOriginalNextHop: bp.Spec.KeepOriginalNextHop,
		BindLocal: bp.Spec.SourceAddress != v3.SourceAddressNone, MaxRestartTime: DefaultMaxRestartTime,
	}
	if bp.Spec.MaxRestartTime != nil {
		base.MaxRestartTime = bp.Spec.MaxRestartTime.Duration
	}
	if bp.Spec.Password != nil {
		base.Password = bp.Spec.Password.SecretKeyRef
	}
	selfAddr, _ := NodeAddress(self)
	if bp.Spec.PeerSelector == "" {
		ap, err := ParsePeerIP(bp.Spec.PeerIP)
		if err != nil || ap.Addr() == selfAddr {
			return nil
		}
		p := base
		p.Address, p.Port, p.ASNumber, p.Type = ap.Addr(), ap.Port(), uint32(bp.Spec.ASNumber), GlobalPeer
		if p.Port == 0 {
			p.Port = DefaultPeerPort
		}
		return []Peer{p}
	}
	var out []Peer
	for i := range nodes {
		other := &nodes[i]
		addr, ok := NodeAddress(other)
		if !ok || other.Name == self.Name || !matches(bp.Spec.PeerSelector, other.Labels) {
			continue
		}
		p := base
		p.Address, p.Port, p.ASNumber, p.Type = addr, listen, uint32(NodeAS(other, global)), NodePeer
		p.RouteReflectorClient = rrClusterID(self) != "" && rrClusterID(other) == ""
		out = append(out, p)
	}
	return out
}

// ParsePeerIP parses a BGPPeer's peerIP: "addr", "v4:port" or
// "[v6]:port"; the port is 0 when absent.
func ParsePeerIP(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 0), nil
	}
	return netip.ParseAddrPort(s)
}

// prefixes are the CIDRs of the node's affine blocks and the service
// cluster and external IP CIDRs, sorted and without duplicates.
func prefixes(node string, blocks []v3.IPAMBlock, global *v3.BGPConfiguration) []netip.Prefix {
	var out []netip.Prefix
	for _, b := range blocks {
		if b.Spec.Affinity == nil || *b.Spec.Affinity != "host:"+node {
			continue
		}
		if p, err := netip.ParsePrefix(b.Spec.CIDR); err == nil {
			out = append(out, p.Masked())
		}
	}
	if global != nil {
		for _, c := range global.Spec.ServiceClusterIPs {
			if p, err := netip.ParsePrefix(c.CIDR); err == nil {
				out = append(out, p.Masked())
			}
		}
		for _, c := range global.Spec.ServiceExternalIPs {
			if p, err := netip.ParsePrefix(c.CIDR); err == nil {
				out = append(out, p.Masked())
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	return slices.Compact(out)
}

// String renders a peer for logs: "198.18.0.2:179 AS64512 NodeMesh(node-b)".
func (p Peer) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s AS%d %s(%s)", netip.AddrPortFrom(p.Address, p.Port), p.ASNumber, p.Type, p.Source)
	if p.RouteReflectorClient {
		b.WriteString(" rr-client")
	}
	return b.String()
}
