package wireguard

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Via is the overlay that carries the traffic to one remote node.
type Via int

const (
	// ViaNone: no overlay route to the node (no key and no VXLAN).
	ViaNone Via = iota
	// ViaWireGuard: the node's AllowedIPs are routed through the
	// WireGuard device.
	ViaWireGuard
	// ViaVXLAN: the node is configured as a WireGuard peer (when it has a
	// key, so that handshakes go on), but its traffic takes the VXLAN
	// overlay's routes of the main table.
	ViaVXLAN
)

func (v Via) String() string {
	switch v {
	case ViaWireGuard:
		return "WireGuard"
	case ViaVXLAN:
		return "VXLAN"
	default:
		return "none"
	}
}

// Defaults of the fallback decision.
const (
	// DefaultHandshakeTimeout is how old the latest handshake may be for
	// the peer to count as ready: 180s, WireGuard's Reject-After-Time, past
	// which a session key is no longer accepted. A peer that exchanges
	// traffic or keepalives re-handshakes every two minutes.
	DefaultHandshakeTimeout = 180 * time.Second
	// DefaultHandshakeGrace is how long a newly configured peer (or a
	// peer with a new key) is given WireGuard before its first handshake:
	// 5s, WireGuard's Rekey-Timeout, after which it retries a handshake.
	DefaultHandshakeGrace = 5 * time.Second
	// DefaultPersistentKeepalive keeps handshakes going with every peer,
	// also those whose traffic falls back to VXLAN, so that they become
	// ready without traffic.
	DefaultPersistentKeepalive = 25 * time.Second
)

// Policy is what the fallback decision depends on besides the peer.
type Policy struct {
	// VXLANEnabled: the VXLAN overlay also runs, so a peer that is not
	// ready falls back to it. Without VXLAN, a peer with a key always
	// goes through WireGuard.
	VXLANEnabled bool
	// HandshakeTimeout bounds the age of the latest handshake of a ready
	// peer; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// HandshakeGrace is how long a peer configured with its current key
	// and without a handshake yet still counts as ready (its first
	// handshake is under way); 0 means DefaultHandshakeGrace, negative
	// means none (a peer needs a handshake first).
	HandshakeGrace time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.HandshakeTimeout <= 0 {
		p.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if p.HandshakeGrace == 0 {
		p.HandshakeGrace = DefaultHandshakeGrace
	}
	return p
}

// Observation is what is known about one remote node's WireGuard peer.
type Observation struct {
	// HasKey: the node published a public key.
	HasKey bool
	// ConfiguredAt is when the peer was configured on this node with the
	// node's current key (PeerStatus.ConfiguredAt); zero if it is not
	// configured yet.
	ConfiguredAt time.Time
	// LastHandshake is the latest handshake with the peer under its
	// current key (PeerStatus.LastHandshake); zero if none.
	LastHandshake time.Time
}

// Decide chooses the overlay for one remote node at time now, and says why:
//
//   - no public key: VXLAN if enabled, else none;
//   - VXLAN disabled: WireGuard, whatever the handshakes;
//   - a handshake within HandshakeTimeout: WireGuard;
//   - no handshake yet, and the peer not configured yet or configured
//     within HandshakeGrace (its first handshake is under way): WireGuard;
//   - otherwise (no handshake within the bounds): VXLAN.
//
// Decide is pure: call it again (e.g. on a timer) to move a node back to
// WireGuard when its handshake happens, or to VXLAN when it stops.
func Decide(now time.Time, p Policy, o Observation) (Via, string) {
	p = p.withDefaults()
	switch {
	case !o.HasKey && p.VXLANEnabled:
		return ViaVXLAN, "no WireGuard public key published"
	case !o.HasKey:
		return ViaNone, "no WireGuard public key published and VXLAN disabled"
	case !p.VXLANEnabled:
		return ViaWireGuard, "VXLAN disabled"
	}
	if !o.LastHandshake.IsZero() {
		if age := now.Sub(o.LastHandshake); age <= p.HandshakeTimeout {
			return ViaWireGuard, fmt.Sprintf("handshake %s ago", age.Round(time.Second))
		}
		return ViaVXLAN, fmt.Sprintf("latest handshake %s ago, more than %s", now.Sub(o.LastHandshake).Round(time.Second), p.HandshakeTimeout)
	}
	if o.ConfiguredAt.IsZero() {
		if p.HandshakeGrace > 0 {
			return ViaWireGuard, "new peer, handshake not attempted yet"
		}
		return ViaVXLAN, "new peer, no handshake yet"
	}
	if since := now.Sub(o.ConfiguredAt); since < p.HandshakeGrace {
		return ViaWireGuard, fmt.Sprintf("peer configured %s ago, first handshake under way", since.Round(time.Millisecond))
	}
	return ViaVXLAN, fmt.Sprintf("no handshake since the peer was configured %s ago", now.Sub(o.ConfiguredAt).Round(time.Second))
}

// Node is another node of the mesh (of this cluster or a remote one), as
// the agent knows it from the API.
type Node struct {
	// Name is the node's name, unique in the mesh.
	Name string
	// PublicKey is the WireGuard public key the node published; zero if
	// it has not published one (yet).
	PublicKey wgtypes.Key
	// NodeIP is the node's underlay IP, the peer's endpoint address.
	NodeIP netip.Addr
	// ListenPort is the node's WireGuard port; 0 means the local
	// Desired.ListenPort (the mesh requires the same wireguard* settings
	// everywhere).
	ListenPort int
	// AllowedIPs are the node's IPAM blocks, its endpoints' IPs outside
	// them and its WireGuard interface address.
	AllowedIPs []netip.Prefix
}

// Decision is the overlay chosen for one node and why.
type Decision struct {
	Node   string
	Via    Via
	Reason string
}

// Plan computes the peer set for Desired.Peers from the mesh's nodes (all
// but this one) and the last Status: one peer per node that has a public
// key and an IP, with Route set where Decide chooses WireGuard, plus the
// decision for every node (sorted by name). A node whose key is the same
// as an earlier node's (by name) is not configured, since WireGuard
// identifies peers by key; its decision says so. A status entry only
// counts for a node if its key is the node's current key, so a rotated key
// starts again as a new peer.
func Plan(now time.Time, p Policy, listenPort int, nodes []Node, status []PeerStatus) ([]Peer, []Decision) {
	if listenPort == 0 {
		listenPort = DefaultListenPort
	}
	byName := make(map[string]PeerStatus, len(status))
	for _, s := range status {
		byName[s.Name] = s
	}
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	keys := map[wgtypes.Key]string{}
	var peers []Peer
	decisions := make([]Decision, 0, len(sorted))
	for _, n := range sorted {
		hasKey := n.PublicKey != (wgtypes.Key{})
		if hasKey && !n.NodeIP.IsValid() {
			decisions = append(decisions, Decision{n.Name, fallback(p), "no node IP for the WireGuard endpoint"})
			continue
		}
		if other, dup := keys[n.PublicKey]; hasKey && dup {
			decisions = append(decisions, Decision{n.Name, fallback(p), "public key already used by node " + other})
			continue
		}
		obs := Observation{HasKey: hasKey}
		if s, ok := byName[n.Name]; ok && s.PublicKey == n.PublicKey {
			obs.ConfiguredAt, obs.LastHandshake = s.ConfiguredAt, s.LastHandshake
		}
		via, why := Decide(now, p, obs)
		decisions = append(decisions, Decision{n.Name, via, why})
		if !hasKey {
			continue
		}
		keys[n.PublicKey] = n.Name
		port := n.ListenPort
		if port == 0 {
			port = listenPort
		}
		peers = append(peers, Peer{
			Name:       n.Name,
			PublicKey:  n.PublicKey,
			Endpoint:   netip.AddrPortFrom(n.NodeIP.Unmap(), uint16(port)),
			AllowedIPs: slices.Clone(n.AllowedIPs),
			Route:      via == ViaWireGuard,
		})
	}
	return peers, decisions
}

// fallback is the overlay of a node that cannot be a WireGuard peer.
func fallback(p Policy) Via {
	if p.VXLANEnabled {
		return ViaVXLAN
	}
	return ViaNone
}
