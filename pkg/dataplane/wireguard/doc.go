// Package wireguard makes a network namespace's WireGuard overlay match a
// desired state, with per-peer fallback to the VXLAN overlay of
// pkg/dataplane. Like pkg/dataplane it has no Kubernetes imports.
//
// # Model
//
//   - one WireGuard device (by default "wireguard.cali", port 51820, MTU
//     1440) with this node's private key and interface address (/32);
//     created with netlink (link type "wireguard") where the kernel has
//     WireGuard, else run in-process by userspace wireguard-go on a TUN
//     device created inside the namespace ([WireGuard.Userspace]);
//   - one peer per other node of the mesh that published a public key,
//     endpoint node IP:port, AllowedIPs its blocks, endpoint IPs and
//     interface address, with a persistent keepalive so that handshakes
//     happen also while its traffic falls back to VXLAN;
//   - for every peer whose traffic goes through WireGuard ([Peer.Route]), a
//     route per AllowedIP "dev wireguard.cali table 1 proto 82", and one
//     rule "priority 99 lookup 1" (skipping the firewall mark if one is
//     set). A peer without Route has no route there, so its traffic
//     follows the main table: the VXLAN overlay's routes, which
//     pkg/dataplane keeps for every node. Falling back and moving back is
//     therefore one route per AllowedIP in the WireGuard table.
//
// # Configuration
//
// Keys, port, mark and peers are set with wgctrl, for the kernel device
// through generic netlink, for wireguard-go through its UAPI socket
// /var/run/wireguard/<name>.sock (name: [WireGuard.ControlName]; `wg show
// <name>` works too). Peers are changed one at a time: a new peer is added,
// a changed one updated with ReplaceAllowedIPs, a gone one removed; the
// peer list is never replaced, so other peers' sessions survive a key
// rotation or a removal. A rotated key is a removal of the old key and an
// addition of the new one.
//
// # Readiness and fallback
//
// [WireGuard.Status] reports each peer's latest handshake and when it was
// configured with its current key. [Decide] turns that into WireGuard or
// VXLAN for one node: no key → VXLAN; a handshake within 180s → WireGuard;
// no handshake yet and configured less than the grace (5s) ago →
// WireGuard; otherwise VXLAN; without VXLAN always WireGuard. [Plan] does
// it for all the nodes and returns the peers to apply.
//
// # Agent wiring
//
// When FelixConfiguration's wireguardEnabled is true:
//
//	key, _, err := wireguard.LoadOrCreatePrivateKey("/var/lib/meshapi/wireguard.key") // 0600
//	// publish key.PublicKey().String() and the interface address on the Node's status
//	wg, err := wireguard.New(nsHandle, wireguard.Options{Logger: log}) // netns.Get() for the agent's own
//	defer wg.Close() // or when WireGuard is disabled: removes device, routes, rule
//	// on every change and on a timer (a few seconds, so that a handshake moves a node to WireGuard):
//	status, _ := wg.Status(ctx)
//	peers, decisions := wireguard.Plan(time.Now(), wireguard.Policy{VXLANEnabled: vxlanEnabled},
//		listenPort, nodes /* every other node of the mesh: name, published key, IP, blocks, endpoint IPs */, status)
//	_, err = wg.Apply(ctx, wireguard.Desired{Name: ifaceName, ListenPort: listenPort, MTU: mtu,
//		PrivateKey: key, Address: ifaceAddr, RulePriority: rulePriority, Peers: peers})
//
// The VXLAN dataplane stays as it is (routes for every node in the main
// table); WireGuard's rule takes precedence for ready peers. Nodes whose
// decision is VXLAN need VXLAN enabled to be reachable.
//
// # Namespaces and safety
//
// A WireGuard works on the namespace handle given to [New]: netlink calls
// go through a handle opened at it, and whatever must be created inside it
// (the TUN device, wireguard-go's UDP sockets, also when its port changes,
// wgctrl's generic netlink socket) is created on a locked OS thread that
// switches into it and back. Routes and the rule carry the route protocol
// (82 by default, as pkg/dataplane's): only those are removed. An existing
// link with the device's name that is not a WireGuard device this
// WireGuard made is an error, never deleted. The UAPI socket directory is
// shared by all namespaces of a host, so a device in another namespace than
// the caller's gets the socket name "<device>-<namespace inode>".
package wireguard
