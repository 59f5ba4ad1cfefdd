package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/wireguard"
)

// DefaultWireGuardKeyFile is where meshapi-agent keeps the node's
// WireGuard private key by default (--wireguard-key-file).
const DefaultWireGuardKeyFile = "/var/lib/meshapi/wireguard.key"

// WireGuardConfig lets the agent run the WireGuard overlay when the
// "default" FelixConfiguration's wireguardEnabled is true.
type WireGuardConfig struct {
	// NetNS is the namespace the device is created in (the one the
	// Dataplane programs); the agent duplicates it, the caller keeps it.
	NetNS netns.NsHandle
	// KeyFile holds the node's private key (base64, mode 0600); it is
	// created on first use and never leaves the node.
	KeyFile string
	// InterfaceAddress, if valid, is the device's address; otherwise the
	// node's VTEP address (the first address of its first block, see
	// [Compute]) is used, as a /32 on the device.
	InterfaceAddress netip.Addr
	// WithholdKey keeps the public key off the Node's status (and removes
	// one published earlier): the other nodes then have no peer for this
	// node and reach it over VXLAN. A test and troubleshooting hook
	// (meshapi-agent --wireguard-publish-key=false), not for production.
	WithholdKey bool
	// CheckInterval is how often the peers' handshakes are read and each
	// peer moved between WireGuard and VXLAN accordingly; 0 means 2s.
	CheckInterval time.Duration
	// Userspace always runs wireguard-go, even where the kernel has
	// WireGuard.
	Userspace bool
}

// WireGuardState is the WireGuard part of the desired state: what
// [wireguard.Plan] and [wireguard.WireGuard.Apply] need besides the
// private key and the device's status.
type WireGuardState struct {
	// Enabled is the FelixConfiguration's wireguardEnabled.
	Enabled bool
	// Device is the device's settings (name, port, MTU, address, rule
	// priority); PrivateKey and Peers are left to the caller.
	Device wireguard.Desired
	// Policy is the fallback policy: VXLAN when the cluster runs it.
	Policy wireguard.Policy
	// Nodes are the mesh's other nodes: this cluster's and those of every
	// remote cluster with overlayRoutingMode Enabled, sorted by reference.
	Nodes []wireguard.Node
	// Problems are values that could not be used.
	Problems []string
}

// ComputeWireGuard returns the WireGuard desired state from the same
// inputs as [Compute]; vtep is this node's VTEP address (Result.VTEP) and
// address the configured interface address, which wins when valid. It
// does no I/O.
//
// A node (local, or mirrored from a remote cluster with overlay routing
// Enabled) is a WireGuard node with its underlay address as endpoint, its
// status.wireguardPublicKey as key (none: it is reached over VXLAN) and as
// AllowedIPs its affine IPAM blocks, its endpoints' addresses outside them
// and its spec.wireguard.interfaceIPv4Address (/32s).
func ComputeWireGuard(in Inputs, vtep, address netip.Addr) WireGuardState {
	var st WireGuardState
	fc := in.FelixConfiguration
	if fc == nil || fc.Spec.WireguardEnabled == nil || !*fc.Spec.WireguardEnabled {
		return st
	}
	problem := func(format string, args ...any) { st.Problems = append(st.Problems, fmt.Sprintf(format, args...)) }
	st.Enabled = true
	st.Device = wireguardDevice(fc, vtep, address)
	st.Policy = wireguard.Policy{VXLANEnabled: vxlanEnabled(fc, in.Pools)}
	// A hostile mirror never becomes a peer or an AllowedIP (a route in
	// the WireGuard table, looked up before the main one).
	in, _ = admitRemote(in, overlayModes(in.RCCs))

	enabled := map[string]bool{}
	for _, rcc := range in.RCCs {
		enabled[rcc.Name] = rcc.Spec.SyncOptions.OverlayRoutingMode == v3.OverlayRoutingModeEnabled
	}
	// Compute reports the blocks that do not parse.
	blocks := blocksByNode(in.Blocks, func(string, ...any) {})
	extra := addressesOutsideBlocks(in.Endpoints, blocks)
	for _, n := range in.Nodes {
		ref, cluster := nodeRef(n)
		if ref == in.NodeName || (cluster != "" && !enabled[cluster]) {
			continue
		}
		st.Nodes = append(st.Nodes, wireguardPeer(n, ref, append(slices.Clone(blocks[ref]), extra[ref]...), problem))
	}
	slices.SortFunc(st.Nodes, func(a, b wireguard.Node) int { return cmp.Compare(a.Name, b.Name) })
	return st
}

// wireguardDevice is this node's WireGuard device as fc configures it,
// with the defaults where it does not, addressed address (else vtep).
func wireguardDevice(fc *v3.FelixConfiguration, vtep, address netip.Addr) wireguard.Desired {
	d := wireguard.Desired{Name: fc.Spec.WireguardInterfaceName}
	if p := fc.Spec.WireguardListeningPort; p != nil {
		d.ListenPort = *p
	}
	if m := fc.Spec.WireguardMTU; m != nil {
		d.MTU = *m
	}
	if p := fc.Spec.WireguardRoutingRulePriority; p != nil {
		d.RulePriority = *p
	}
	if d.Name == "" {
		d.Name = v3.DefaultWireguardInterfaceName
	}
	if d.ListenPort == 0 {
		d.ListenPort = v3.DefaultWireguardListeningPort
	}
	if d.RulePriority == 0 {
		d.RulePriority = v3.DefaultWireguardRoutingRulePri
	}
	switch {
	case address.IsValid():
		d.Address = address.Unmap()
	case vtep.IsValid():
		d.Address = vtep.Unmap()
	}
	return d
}

// addressesOutsideBlocks returns, by node reference, the IPv4 addresses
// of endpoints outside their node's blocks.
func addressesOutsideBlocks(endpoints []*Endpoint, blocks map[string][]netip.Prefix) map[string][]netip.Prefix {
	extra := map[string][]netip.Prefix{}
	for _, ep := range endpoints {
		for _, n := range ep.Networks {
			if p := n.Addr; n.AddrErr == nil && p.Addr().Is4() && !containedIn(p, blocks[ep.Node]) {
				extra[ep.Node] = append(extra[ep.Node], p)
			}
		}
	}
	return extra
}

// wireguardPeer is node n, referred to as ref, as a WireGuard peer whose
// AllowedIPs are allowed (its blocks and endpoint addresses) and its
// WireGuard interface's address; a public key or address that does not
// parse is a problem, and the peer is kept without it.
func wireguardPeer(n *v3.Node, ref string, allowed []netip.Prefix, problem func(string, ...any)) wireguard.Node {
	wn := wireguard.Node{Name: ref}
	if s := n.Status.WireguardPublicKey; s != "" {
		k, err := wgtypes.ParseKey(s)
		if err != nil {
			problem("Node %q: status.wireguardPublicKey %q: %v", n.Name, s, err)
		} else {
			wn.PublicKey = k
		}
	}
	if ip, err := NodeAddress(n); err == nil {
		wn.NodeIP = ip
	} else {
		problem("%v", err)
	}
	if n.Spec.Wireguard != nil && n.Spec.Wireguard.InterfaceIPv4Address != "" {
		a, err := parseAddr(n.Spec.Wireguard.InterfaceIPv4Address)
		switch {
		case err != nil || !a.Is4():
			problem("Node %q: spec.wireguard.interfaceIPv4Address %q is not an IPv4 address", n.Name, n.Spec.Wireguard.InterfaceIPv4Address)
		case !containedIn(netip.PrefixFrom(a, 32), allowed):
			allowed = append(allowed, netip.PrefixFrom(a, 32))
		}
	}
	wn.AllowedIPs = sortPrefixes(allowed)
	return wn
}

// wgRuntime is the agent's WireGuard while it is enabled.
type wgRuntime struct {
	dev   *wireguard.WireGuard
	key   wgtypes.Key
	state WireGuardState
	via   map[string]wireguard.Via // last decision per node, for the logs
}

// wireguardEnabled tells whether st asks for WireGuard and the agent can
// run it.
func (a *Agent) wireguardEnabled(st WireGuardState) bool {
	return st.Enabled && a.cfg.WireGuard != nil
}

// reconcileWireGuard starts, reconfigures or stops the WireGuard overlay
// after a reconcile computed st from fc (the "default"
// FelixConfiguration, nil if absent).
func (a *Agent) reconcileWireGuard(ctx context.Context, st WireGuardState, fc *v3.FelixConfiguration) error {
	if !a.wireguardEnabled(st) {
		if a.wg == nil && !a.wgSwept && a.cfg.WireGuard != nil {
			if err := a.removeWireGuardLeftover(fc); err != nil {
				return err
			}
		}
		if a.wg != nil {
			a.log.Info("WireGuard disabled; removing the device", "device", a.wg.state.Device.Name)
			err := a.wg.dev.Close()
			a.wg = nil
			a.setPeerMetrics(nil)
			if err != nil {
				return fmt.Errorf("removing WireGuard device: %w", err)
			}
		}
		return nil
	}
	if a.wg == nil {
		wc := a.cfg.WireGuard
		key, created, err := wireguard.LoadOrCreatePrivateKey(wc.KeyFile)
		if err != nil {
			return err
		}
		dev, err := wireguard.New(wc.NetNS, wireguard.Options{Logger: a.log.With("component", "wireguard"), Userspace: wc.Userspace})
		if err != nil {
			return err
		}
		a.log.Info("WireGuard enabled", "device", st.Device.Name, "keyFile", wc.KeyFile, "newKey", created, "publicKey", key.PublicKey().String())
		a.wg = &wgRuntime{dev: dev, key: key, via: map[string]wireguard.Via{}}
	}
	a.wg.state = st
	return a.applyWireGuard(ctx)
}

// removeWireGuardLeftover removes, once per start while WireGuard is off,
// the kernel device, table routes and rule an earlier run left behind (it
// stopped while WireGuard ran, and wireguardEnabled was switched off
// before this start). The device's name is fc's wireguardInterfaceName,
// else the default.
func (a *Agent) removeWireGuardLeftover(fc *v3.FelixConfiguration) error {
	name := v3.DefaultWireguardInterfaceName
	if fc != nil && fc.Spec.WireguardInterfaceName != "" {
		name = fc.Spec.WireguardInterfaceName
	}
	dev, err := wireguard.New(a.cfg.WireGuard.NetNS, wireguard.Options{Logger: a.log.With("component", "wireguard")})
	if err != nil {
		return fmt.Errorf("looking for a leftover WireGuard device %s: %w", name, err)
	}
	st, err := dev.RemoveLeftover(name, 0)
	err = errors.Join(err, dev.Close())
	if err != nil {
		a.count("wireguard")
		return fmt.Errorf("removing what WireGuard left from an earlier run: %w", err)
	}
	a.wgSwept = true
	if n := st.Changes(); n > 0 {
		a.log.Info("WireGuard is disabled; removed what an earlier run left", "device", name, "deviceRemoved", st.DeviceRemoved,
			"routesRemoved", st.RoutesRemoved, "rulesRemoved", st.RulesRemoved)
	}
	return nil
}

// applyWireGuard reads the peers' handshakes, decides per node between
// WireGuard and VXLAN and applies the result. It runs after every
// reconcile and every CheckInterval.
func (a *Agent) applyWireGuard(ctx context.Context) error {
	w := a.wg
	if w == nil {
		return nil
	}
	name := w.state.Device.Name
	status, err := w.dev.Status(ctx)
	if err != nil {
		a.count("wireguard")
		return fmt.Errorf("WireGuard device %s: reading peer status: %w", name, err)
	}
	peers, decisions := wireguard.Plan(time.Now(), w.state.Policy, w.state.Device.ListenPort, w.state.Nodes, status)
	want := w.state.Device
	want.PrivateKey, want.Peers = w.key, peers
	stats, err := w.dev.Apply(ctx, want)
	if m := a.cfg.Metrics; m != nil {
		m.Changes.WithLabelValues("wireguard").Add(float64(stats.Changes()))
	}
	if err != nil {
		a.count("wireguard")
		return fmt.Errorf("programming WireGuard device %s: %w", name, err)
	}
	seen := map[string]bool{}
	for _, d := range decisions {
		seen[d.Node] = true
		if old, ok := w.via[d.Node]; !ok || old != d.Via {
			a.log.Info("WireGuard peer", "peer", d.Node, "via", d.Via.String(), "reason", d.Reason)
			w.via[d.Node] = d.Via
		}
	}
	for n := range w.via {
		if !seen[n] {
			delete(w.via, n)
		}
	}
	a.setPeerMetrics(decisions)
	if stats.Changes() > 0 {
		a.log.Debug("programmed WireGuard", "device", name, "stats", stats)
	}
	return nil
}

// setPeerMetrics sets meshapi_agent_wireguard_peers from the decisions.
func (a *Agent) setPeerMetrics(decisions []wireguard.Decision) {
	m := a.cfg.Metrics
	if m == nil {
		return
	}
	counts := map[wireguard.Via]int{wireguard.ViaWireGuard: 0, wireguard.ViaVXLAN: 0, wireguard.ViaNone: 0}
	for _, d := range decisions {
		counts[d.Via]++
	}
	for via, n := range counts {
		m.WireGuardPeers.WithLabelValues(strings.ToLower(via.String())).Set(float64(n))
	}
}

// stopWireGuard runs when the agent stops: a userspace device cannot
// outlive the process, so it is closed (routes and rule go, traffic falls
// back to the main table, i.e. VXLAN); a kernel device stays as
// programmed, like the rest of the dataplane.
func (a *Agent) stopWireGuard() {
	if a.wg == nil || !a.wg.dev.Userspace() {
		return
	}
	if err := a.wg.dev.Close(); err != nil {
		a.log.Error("removing the WireGuard device", "device", a.wg.state.Device.Name, "err", err)
	}
	a.wg = nil
}

// wireguardSpec sets spec.wireguard of this node's Node: the device's
// address while WireGuard runs, nothing otherwise. Without a
// WireGuardConfig the agent leaves it alone.
func (a *Agent) wireguardSpec(spec *v3.NodeSpec) {
	if a.cfg.WireGuard == nil {
		return
	}
	if a.wg == nil || !a.wg.state.Device.Address.IsValid() {
		spec.Wireguard = nil
		return
	}
	spec.Wireguard = &v3.NodeWireguardSpec{InterfaceIPv4Address: a.wg.state.Device.Address.String()}
}

// publishWireGuardKey makes status.wireguardPublicKey of node (this
// node's Node as stored) the device's public key while WireGuard runs and
// the key is not withheld, empty otherwise; it returns the Node as stored.
func (a *Agent) publishWireGuardKey(ctx context.Context, node *v3.Node) (*v3.Node, error) {
	if a.cfg.WireGuard == nil || node == nil {
		return node, nil
	}
	want := ""
	if a.wg != nil && !a.cfg.WireGuard.WithholdKey {
		want = a.wg.key.PublicKey().String()
	}
	if node.Status.WireguardPublicKey == want {
		return node, nil
	}
	n := node.DeepCopy()
	n.Status.WireguardPublicKey = want
	updated, err := a.cfg.Client.ProjectcalicoV3().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil {
		return node, fmt.Errorf("writing status.wireguardPublicKey of Node %q: %w", a.cfg.NodeName, err)
	}
	a.log.Info("published the WireGuard public key", "node", a.cfg.NodeName, "publicKey", want)
	return updated, nil
}
