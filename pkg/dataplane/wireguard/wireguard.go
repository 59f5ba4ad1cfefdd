//go:build linux

package wireguard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/meshapi/meshapi/pkg/dataplane"
)

// Defaults, as in the original product's FelixConfiguration.
const (
	DefaultDeviceName   = "wireguard.cali"
	DefaultListenPort   = 51820
	DefaultMTU          = 1440 // a 1500-byte underlay less 60 bytes of IPv4 WireGuard overhead
	DefaultTable        = 1
	DefaultRulePriority = 99
)

// Desired is the WireGuard state of this node.
type Desired struct {
	// Name of the device; "" means DefaultDeviceName.
	Name string
	// ListenPort is the UDP port; 0 means DefaultListenPort.
	ListenPort int
	// MTU of the device; 0 means DefaultMTU.
	MTU int
	// PrivateKey is this node's key (LoadOrCreatePrivateKey); required.
	PrivateKey wgtypes.Key
	// Address is the device's address (set as /32 or /128); invalid
	// means none.
	Address netip.Addr
	// FirewallMark, if not 0, marks the device's encrypted packets, and
	// the routing rule skips packets with that mark, so that AllowedIPs
	// may even cover node IPs without routing loops.
	FirewallMark int
	// Table is the routing table of the WireGuard routes; 0 means
	// DefaultTable.
	Table int
	// RulePriority is the priority of the rule that looks that table up
	// (wireguardRoutingRulePriority); 0 means DefaultRulePriority.
	RulePriority int
	// PersistentKeepalive for every peer; 0 means
	// DefaultPersistentKeepalive, negative means none. It keeps
	// handshakes going with peers whose traffic falls back to VXLAN.
	PersistentKeepalive time.Duration
	// Peers are the other nodes of the mesh with a public key (Plan
	// computes them).
	Peers []Peer
}

// Peer is one remote node.
type Peer struct {
	// Name identifies the node in logs, errors and Status.
	Name string
	// PublicKey is the node's published key.
	PublicKey wgtypes.Key
	// Endpoint is the node's IP and WireGuard port.
	Endpoint netip.AddrPort
	// AllowedIPs are the node's blocks, endpoint IPs and interface
	// address: what it may send from and what is routed to it.
	AllowedIPs []netip.Prefix
	// Route sends the traffic to AllowedIPs through WireGuard (the peer
	// is ready, see Decide). Without it the peer is still configured, so
	// that handshakes happen, but its traffic follows the main table
	// (the VXLAN overlay).
	Route bool
}

func (d Desired) withDefaults() Desired {
	if d.Name == "" {
		d.Name = DefaultDeviceName
	}
	if d.ListenPort == 0 {
		d.ListenPort = DefaultListenPort
	}
	if d.MTU == 0 {
		d.MTU = DefaultMTU
	}
	if d.Table == 0 {
		d.Table = DefaultTable
	}
	if d.RulePriority == 0 {
		d.RulePriority = DefaultRulePriority
	}
	if d.PersistentKeepalive == 0 {
		d.PersistentKeepalive = DefaultPersistentKeepalive
	}
	if d.PersistentKeepalive < 0 {
		d.PersistentKeepalive = 0
	}
	d.Address = d.Address.Unmap()
	return d
}

func (d Desired) validate() error {
	if len(d.Name) >= unix.IFNAMSIZ {
		return fmt.Errorf("WireGuard device name %q is longer than %d bytes", d.Name, unix.IFNAMSIZ-1)
	}
	if d.PrivateKey == (wgtypes.Key{}) {
		return fmt.Errorf("WireGuard device %s: no private key", d.Name)
	}
	if d.ListenPort < 0 || d.ListenPort > 65535 {
		return fmt.Errorf("WireGuard device %s: listen port %d out of range", d.Name, d.ListenPort)
	}
	keys := map[wgtypes.Key]string{}
	for _, p := range d.Peers {
		if p.PublicKey == (wgtypes.Key{}) {
			return fmt.Errorf("WireGuard device %s: peer %s has no public key", d.Name, p.Name)
		}
		if other, ok := keys[p.PublicKey]; ok {
			return fmt.Errorf("WireGuard device %s: peers %s and %s have the same public key", d.Name, other, p.Name)
		}
		keys[p.PublicKey] = p.Name
		if !p.Endpoint.IsValid() {
			return fmt.Errorf("WireGuard device %s: peer %s has no endpoint", d.Name, p.Name)
		}
	}
	return nil
}

// Options configure a WireGuard.
type Options struct {
	// RouteProtocol tags the routes and the rule; 0 means
	// dataplane.DefaultRouteProtocol (82), the VXLAN dataplane's.
	RouteProtocol netlink.RouteProtocol
	// Logger receives the logs, wireguard-go's at debug level; nil
	// discards them.
	Logger *slog.Logger
	// Userspace always runs wireguard-go, even where the kernel has
	// WireGuard.
	Userspace bool
	// UAPIName names the UAPI socket of a userspace device
	// (/var/run/wireguard/<UAPIName>.sock), which is also the name wgctrl
	// and `wg show` know the device by. "" means the device name when the
	// namespace is the caller's own, else "<device>-<namespace inode>",
	// since the socket directory is shared by all namespaces of a host.
	UAPIName string
}

// Stats tells what one Apply changed.
type Stats struct {
	// DeviceCreated: the device was created; Userspace: it runs
	// wireguard-go (set on every Apply).
	DeviceCreated, Userspace bool
	// DeviceUpdated: the device's MTU, address, up state, private key,
	// port or firewall mark was set.
	DeviceUpdated bool
	// PeersAdded, PeersUpdated, PeersRemoved count single peer changes.
	PeersAdded, PeersUpdated, PeersRemoved int
	// RoutesAdded, RoutesRemoved count routes of the WireGuard table.
	RoutesAdded, RoutesRemoved int
	// RulesAdded, RulesRemoved count routing rules.
	RulesAdded, RulesRemoved int
	// DeviceRemoved: RemoveLeftover deleted a leftover device.
	DeviceRemoved bool
}

// Changes is the number of changes the Apply made, counting the device as
// one.
func (s Stats) Changes() int {
	n := s.PeersAdded + s.PeersUpdated + s.PeersRemoved + s.RoutesAdded + s.RoutesRemoved + s.RulesAdded + s.RulesRemoved
	if s.DeviceCreated || s.DeviceUpdated || s.DeviceRemoved {
		n++
	}
	return n
}

// PeerStatus is what the device knows of one peer.
type PeerStatus struct {
	// Name is the Peer.Name given to Apply ("" for a peer Apply did not
	// configure).
	Name      string
	PublicKey wgtypes.Key
	// Endpoint is where the peer's packets go (WireGuard follows the
	// address the peer's packets come from).
	Endpoint netip.AddrPort
	// ConfiguredAt is when this WireGuard first configured the peer with
	// this key (or first saw it on an existing device).
	ConfiguredAt time.Time
	// LastHandshake is the latest completed handshake; zero if none.
	LastHandshake time.Time
	// ReceiveBytes and TransmitBytes count the peer's traffic.
	ReceiveBytes, TransmitBytes int64
	// Routed: its AllowedIPs are routed through the device.
	Routed bool
}

// WireGuard makes one network namespace's WireGuard device, peers, routes
// and routing rule match a Desired. Its methods are safe for concurrent
// use; calls are serialised.
type WireGuard struct {
	ns        netns.NsHandle // our own copy
	h         *netlink.Handle
	proto     netlink.RouteProtocol
	log       *slog.Logger
	opts      Options
	ownNSName bool // the namespace is the caller's

	mu         sync.Mutex
	client     *wgctrl.Client
	user       *userspaceDevice // nil: kernel device or none
	device     string           // the device we manage; "" = none
	wgName     string           // what wgctrl calls it
	noKernel   bool             // the kernel has no WireGuard
	last       *Desired
	configured map[wgtypes.Key]time.Time
	closed     bool
}

// New returns a WireGuard working in the network namespace ns (which it
// duplicates: the caller may close its handle). It does nothing to the
// namespace until Apply.
func New(ns netns.NsHandle, opts Options) (*WireGuard, error) {
	fd, err := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("WireGuard: duplicating the namespace handle: %w", err)
	}
	own := netns.NsHandle(fd)
	w := &WireGuard{ns: own, opts: opts, configured: map[wgtypes.Key]time.Time{}}
	w.proto = opts.RouteProtocol
	if w.proto == 0 {
		w.proto = dataplane.DefaultRouteProtocol
	}
	if w.proto <= 4 {
		own.Close()
		return nil, fmt.Errorf("WireGuard: route protocol %d is reserved by the kernel", w.proto)
	}
	w.log = opts.Logger
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if self, err := netns.Get(); err == nil {
		w.ownNSName = self.Equal(own)
		self.Close()
	}
	// netlink.NewHandleAt enters the namespace (setns) even when it is the
	// caller's own, which needs CAP_SYS_ADMIN: a handle in the agent's own
	// namespace is opened without it.
	if w.ownNSName {
		w.h, err = netlink.NewHandle()
	} else {
		w.h, err = netlink.NewHandleAt(own)
	}
	if err != nil {
		own.Close()
		return nil, fmt.Errorf("WireGuard: netlink handle in namespace %s: %w", own, err)
	}
	// wgctrl's kernel client (generic netlink) must live in the namespace;
	// its userspace client only uses UAPI sockets.
	if err := inNamespace(own, func() error {
		var err error
		w.client, err = wgctrl.New()
		return err
	}); err != nil {
		w.h.Close()
		own.Close()
		return nil, fmt.Errorf("WireGuard: wgctrl client: %w", err)
	}
	return w, nil
}

// Userspace tells whether the device runs wireguard-go.
func (w *WireGuard) Userspace() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.user != nil
}

// ControlName is the name wgctrl (and `wg show`) knows the device by: the
// UAPI socket's name for a userspace device, else the device's name.
func (w *WireGuard) ControlName() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wgName
}

// Apply makes the namespace match want: the device (created if missing),
// its MTU, address, key, port and firewall mark; the peers, changed one at
// a time so that the sessions of the others survive; the routes of the
// routed peers' AllowedIPs in the WireGuard table; the routing rule.
// Routes and the rule carry the route protocol; only those are ever
// removed.
func (w *WireGuard) Apply(ctx context.Context, want Desired) (Stats, error) {
	want = want.withDefaults()
	if err := want.validate(); err != nil {
		return Stats{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return Stats{}, fmt.Errorf("WireGuard device %s: Apply after Close", want.Name)
	}
	var st Stats
	if w.device != "" && w.device != want.Name {
		if err := w.removeAll(); err != nil {
			return st, err
		}
	}
	link, err := w.ensureDevice(want, &st)
	if err != nil {
		return st, err
	}
	st.Userspace = w.user != nil
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if err := w.ensureLink(link, want, &st); err != nil {
		return st, err
	}
	if err := w.configure(want, &st); err != nil {
		return st, err
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if w.last != nil && w.last.Table != want.Table { // the table moved: empty the old one
		rs, err := w.ourRoutes(w.last.Table)
		if err != nil {
			return st, fmt.Errorf("WireGuard device %s: %w", want.Name, err)
		}
		for _, r := range rs {
			if err := w.h.RouteDel(&r); err != nil && !isNotFound(err) {
				return st, fmt.Errorf("WireGuard device %s: removing route %s from the old table %d: %w", want.Name, r.Dst, w.last.Table, err)
			}
			st.RoutesRemoved++
		}
	}
	if err := w.ensureRoutes(link.Attrs().Index, want, &st); err != nil {
		return st, err
	}
	if err := w.ensureRules(want, &st); err != nil {
		return st, err
	}
	c := want
	c.Peers = slices.Clone(want.Peers)
	w.last = &c
	return st, nil
}

// ensureDevice finds or creates the device.
func (w *WireGuard) ensureDevice(want Desired, st *Stats) (netlink.Link, error) {
	link, err := w.h.LinkByName(want.Name)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("WireGuard device %s: %w", want.Name, err)
	}
	if err == nil {
		switch {
		case w.user != nil && link.Type() == "tuntap":
			return link, nil
		case w.user == nil && link.Type() == "wireguard":
			w.device, w.wgName = want.Name, want.Name
			return link, nil
		default:
			return nil, fmt.Errorf("WireGuard device %s: a %s link of that name exists that this agent did not create; not touching it", want.Name, link.Type())
		}
	}
	if w.user != nil { // someone deleted our TUN device: start again
		w.log.Warn("userspace WireGuard device disappeared; re-creating it", "device", want.Name)
		if err := w.user.Close(); err != nil {
			w.log.Warn("closing the old userspace device", "device", want.Name, "err", err)
		}
		w.user = nil
	}
	w.configured = map[wgtypes.Key]time.Time{}
	if !w.opts.Userspace && !w.noKernel {
		err := w.h.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: want.Name, MTU: want.MTU}})
		switch {
		case err == nil:
			link, err := w.h.LinkByName(want.Name)
			if err != nil {
				return nil, fmt.Errorf("WireGuard device %s: created but not found: %w", want.Name, err)
			}
			w.device, w.wgName = want.Name, want.Name
			st.DeviceCreated = true
			w.log.Info("created kernel WireGuard device", "device", want.Name)
			return link, nil
		case errors.Is(err, unix.EOPNOTSUPP):
			w.noKernel = true
			w.log.Info("the kernel has no WireGuard; running userspace wireguard-go", "device", want.Name)
		default:
			return nil, fmt.Errorf("WireGuard device %s: creating: %w", want.Name, err)
		}
	}
	uapiName := w.opts.UAPIName
	if uapiName == "" {
		uapiName = want.Name
		if !w.ownNSName {
			var st unix.Stat_t
			if err := unix.Fstat(int(w.ns), &st); err != nil {
				return nil, fmt.Errorf("WireGuard device %s: reading the namespace's inode: %w", want.Name, err)
			}
			uapiName = fmt.Sprintf("%s-%d", want.Name, st.Ino)
		}
	}
	u, err := startUserspace(w.ns, w.h, want.Name, uapiName, want.MTU, w.log)
	if err != nil {
		return nil, err
	}
	link, err = w.h.LinkByName(want.Name)
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("WireGuard device %s: %w", want.Name, err)
	}
	w.user, w.device, w.wgName = u, want.Name, uapiName
	st.DeviceCreated = true
	w.log.Info("started userspace WireGuard device", "device", want.Name, "uapi", uapiName)
	return link, nil
}

// ensureLink sets the MTU, the address and the up state.
func (w *WireGuard) ensureLink(link netlink.Link, want Desired, st *Stats) error {
	name := want.Name
	if link.Attrs().MTU != want.MTU {
		if err := w.h.LinkSetMTU(link, want.MTU); err != nil {
			return fmt.Errorf("WireGuard device %s: setting MTU %d: %w", name, want.MTU, err)
		}
		st.DeviceUpdated = true
	}
	addrs, err := w.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("WireGuard device %s: listing addresses: %w", name, err)
	}
	var wantPfx netip.Prefix
	if want.Address.IsValid() {
		wantPfx = netip.PrefixFrom(want.Address, want.Address.BitLen())
	}
	found := false
	for _, a := range addrs {
		p, ok := ipNetToPrefix(a.IPNet)
		if !ok || a.Scope != int(netlink.SCOPE_UNIVERSE) {
			continue // link-local and the like are the kernel's
		}
		if p.Addr() == wantPfx.Addr() && p.Bits() == wantPfx.Bits() {
			found = true
			continue
		}
		if err := w.h.AddrDel(link, &a); err != nil {
			return fmt.Errorf("WireGuard device %s: removing address %s: %w", name, p, err)
		}
		st.DeviceUpdated = true
	}
	if wantPfx.IsValid() && !found {
		if err := w.h.AddrReplace(link, &netlink.Addr{IPNet: prefixToIPNet(wantPfx)}); err != nil {
			return fmt.Errorf("WireGuard device %s: adding address %s: %w", name, wantPfx, err)
		}
		st.DeviceUpdated = true
	}
	if link.Attrs().Flags&unix.IFF_UP == 0 {
		if err := w.h.LinkSetUp(link); err != nil {
			return fmt.Errorf("WireGuard device %s: setting it up: %w", name, err)
		}
		st.DeviceUpdated = true
	}
	if w.user != nil {
		return w.user.up()
	}
	return nil
}

// configure sets the device's key, port and mark and changes the peers
// that differ, one by one.
func (w *WireGuard) configure(want Desired, st *Stats) error {
	dev, err := w.client.Device(w.wgName)
	if err != nil {
		return fmt.Errorf("WireGuard device %s: reading its configuration (wgctrl %s): %w", want.Name, w.wgName, err)
	}
	var cfg wgtypes.Config
	if dev.PrivateKey != want.PrivateKey {
		cfg.PrivateKey = &want.PrivateKey
	}
	if dev.ListenPort != want.ListenPort {
		cfg.ListenPort = &want.ListenPort
	}
	if dev.FirewallMark != want.FirewallMark {
		cfg.FirewallMark = &want.FirewallMark
	}
	if cfg.PrivateKey != nil || cfg.ListenPort != nil || cfg.FirewallMark != nil {
		if err := w.client.ConfigureDevice(w.wgName, cfg); err != nil {
			return fmt.Errorf("WireGuard device %s: setting key, port %d and mark %#x: %w", want.Name, want.ListenPort, want.FirewallMark, err)
		}
		st.DeviceUpdated = true
	}
	names := make(map[wgtypes.Key]string, len(want.Peers))
	for _, p := range want.Peers {
		names[p.PublicKey] = p.Name
	}
	for _, p := range dev.Peers { // peers found on an existing device
		if _, ok := w.configured[p.PublicKey]; !ok {
			w.configured[p.PublicKey] = time.Now()
		}
	}
	removed, added, updated := peerChanges(dev.Peers, want.Peers, want.PersistentKeepalive)
	one := func(pc wgtypes.PeerConfig, what string) error {
		if err := w.client.ConfigureDevice(w.wgName, wgtypes.Config{Peers: []wgtypes.PeerConfig{pc}}); err != nil {
			name := names[pc.PublicKey]
			if name == "" {
				name = "(no longer desired)"
			}
			return fmt.Errorf("WireGuard device %s: %s peer %s (key %s): %w", want.Name, what, name, pc.PublicKey, err)
		}
		return nil
	}
	for _, pc := range removed {
		if err := one(pc, "removing"); err != nil {
			return err
		}
		delete(w.configured, pc.PublicKey)
		st.PeersRemoved++
	}
	for _, pc := range added {
		if err := one(pc, "adding"); err != nil {
			return err
		}
		w.configured[pc.PublicKey] = time.Now()
		st.PeersAdded++
	}
	for _, pc := range updated {
		if err := one(pc, "updating"); err != nil {
			return err
		}
		st.PeersUpdated++
	}
	return nil
}

// ensureRoutes makes the WireGuard table hold exactly the routed peers'
// AllowedIPs via the device.
func (w *WireGuard) ensureRoutes(linkIndex int, want Desired, st *Stats) error {
	have, err := w.ourRoutes(want.Table)
	if err != nil {
		return fmt.Errorf("WireGuard device %s: %w", want.Name, err)
	}
	owner := map[netip.Prefix]string{}
	for _, p := range want.Peers {
		if p.Route {
			for _, a := range prefixSet(p.AllowedIPs) {
				owner[a] = p.Name
			}
		}
	}
	wantSet := map[netip.Prefix]bool{}
	for _, p := range routedPrefixes(want.Peers) {
		wantSet[p] = true
	}
	present := map[netip.Prefix]bool{}
	for _, r := range have {
		p, ok := ipNetToPrefix(r.Dst)
		if ok && wantSet[p] && r.LinkIndex == linkIndex && !present[p] {
			present[p] = true
			continue
		}
		if err := w.h.RouteDel(&r); err != nil && !isNotFound(err) {
			return fmt.Errorf("WireGuard device %s: removing route %s from table %d: %w", want.Name, r.Dst, want.Table, err)
		}
		st.RoutesRemoved++
	}
	for _, p := range routedPrefixes(want.Peers) {
		if present[p] {
			continue
		}
		r := w.route(p, linkIndex, want.Table)
		if err := w.h.RouteReplace(r); err != nil {
			return fmt.Errorf("WireGuard device %s: route %s for peer %s in table %d: %w", want.Name, p, owner[p], want.Table, err)
		}
		st.RoutesAdded++
	}
	return nil
}

func (w *WireGuard) route(p netip.Prefix, linkIndex, table int) *netlink.Route {
	return &netlink.Route{
		Dst:       prefixToIPNet(p),
		LinkIndex: linkIndex,
		Table:     table,
		Scope:     netlink.SCOPE_LINK,
		Protocol:  w.proto,
	}
}

// ourRoutes lists the routes with our protocol in table.
func (w *WireGuard) ourRoutes(table int) ([]netlink.Route, error) {
	rs, err := w.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table, Protocol: w.proto},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, fmt.Errorf("listing routes of table %d: %w", table, err)
	}
	return rs, nil
}

// ensureRules keeps one rule per family in use, "lookup <table>" at the
// priority (skipping the firewall mark if any), and removes our others.
func (w *WireGuard) ensureRules(want Desired, st *Stats) error {
	families := []int{netlink.FAMILY_V4}
	for _, p := range want.Peers {
		for _, a := range p.AllowedIPs {
			if a.Addr().Unmap().Is6() && !slices.Contains(families, netlink.FAMILY_V6) {
				families = append(families, netlink.FAMILY_V6)
			}
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := w.ourRules(fam)
		if err != nil {
			return fmt.Errorf("WireGuard device %s: %w", want.Name, err)
		}
		keep := false
		for _, r := range rules {
			if !keep && slices.Contains(families, fam) && w.ruleMatches(r, want) {
				keep = true
				continue
			}
			if err := w.h.RuleDel(&r); err != nil && !isNotFound(err) {
				return fmt.Errorf("WireGuard device %s: removing rule %s: %w", want.Name, r, err)
			}
			st.RulesRemoved++
		}
		if !keep && slices.Contains(families, fam) {
			r := w.rule(fam, want)
			if err := w.h.RuleAdd(r); err != nil {
				return fmt.Errorf("WireGuard device %s: adding rule priority %d lookup %d: %w", want.Name, want.RulePriority, want.Table, err)
			}
			st.RulesAdded++
		}
	}
	return nil
}

func (w *WireGuard) rule(family int, want Desired) *netlink.Rule {
	r := netlink.NewRule()
	r.Family = family
	r.Priority = want.RulePriority
	r.Table = want.Table
	r.Protocol = uint8(w.proto)
	if want.FirewallMark != 0 {
		m := uint32(want.FirewallMark)
		r.Mark, r.Mask, r.Invert = m, &m, true
	}
	return r
}

func (w *WireGuard) ruleMatches(r netlink.Rule, want Desired) bool {
	if r.Priority != want.RulePriority || r.Table != want.Table || r.Src != nil || r.Dst != nil || r.IifName != "" || r.OifName != "" {
		return false
	}
	if want.FirewallMark == 0 {
		return r.Mark == 0 && !r.Invert
	}
	return r.Invert && r.Mark == uint32(want.FirewallMark) && r.Mask != nil && *r.Mask == uint32(want.FirewallMark)
}

// ourRules lists the rules of family that carry our protocol.
func (w *WireGuard) ourRules(family int) ([]netlink.Rule, error) {
	rules, err := w.h.RuleList(family)
	if err != nil {
		if family == netlink.FAMILY_V6 && errors.Is(err, unix.EAFNOSUPPORT) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing routing rules: %w", err)
	}
	var ours []netlink.Rule
	for _, r := range rules {
		if r.Protocol == uint8(w.proto) {
			ours = append(ours, r)
		}
	}
	return ours, nil
}

// Status reports the device's peers, sorted by name then key, with their
// latest handshakes: what Decide needs.
func (w *WireGuard) Status(ctx context.Context) ([]PeerStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.device == "" || w.closed {
		return nil, nil
	}
	dev, err := w.client.Device(w.wgName)
	if err != nil {
		return nil, fmt.Errorf("WireGuard device %s: reading its peers (wgctrl %s): %w", w.device, w.wgName, err)
	}
	byKey := map[wgtypes.Key]Peer{}
	if w.last != nil {
		for _, p := range w.last.Peers {
			byKey[p.PublicKey] = p
		}
	}
	out := make([]PeerStatus, 0, len(dev.Peers))
	for _, p := range dev.Peers {
		s := PeerStatus{
			Name:          byKey[p.PublicKey].Name,
			PublicKey:     p.PublicKey,
			ConfiguredAt:  w.configured[p.PublicKey],
			LastHandshake: p.LastHandshakeTime,
			ReceiveBytes:  p.ReceiveBytes,
			TransmitBytes: p.TransmitBytes,
			Routed:        byKey[p.PublicKey].Route,
		}
		if p.Endpoint != nil {
			s.Endpoint = unmapAddrPort(p.Endpoint.AddrPort())
		}
		if s.LastHandshake.Unix() == 0 { // "never", as the kernel and UAPI say it
			s.LastHandshake = time.Time{}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b PeerStatus) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.PublicKey.String(), b.PublicKey.String()))
	})
	return out, nil
}

// Close removes what this WireGuard made — the routes of its table and
// its rules (those with its protocol), the device — and stops the
// userspace device's goroutines. Call it when WireGuard is disabled or the
// agent stops; Apply fails afterwards.
func (w *WireGuard) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.removeAll()
	err = errors.Join(err, w.client.Close())
	w.h.Close()
	err = errors.Join(err, w.ns.Close())
	return err
}

// removeAll deletes our routes, rules and device.
func (w *WireGuard) removeAll() error {
	var errs []error
	table := DefaultTable
	if w.last != nil {
		table = w.last.Table
	}
	if rs, err := w.ourRoutes(table); err != nil {
		errs = append(errs, fmt.Errorf("WireGuard device %s: %w", w.device, err))
	} else {
		for _, r := range rs {
			if err := w.h.RouteDel(&r); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("WireGuard device %s: removing route %s: %w", w.device, r.Dst, err))
			}
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := w.ourRules(fam)
		if err != nil {
			errs = append(errs, fmt.Errorf("WireGuard device %s: %w", w.device, err))
			continue
		}
		for _, r := range rules {
			if err := w.h.RuleDel(&r); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("WireGuard device %s: removing rule %s: %w", w.device, r, err))
			}
		}
	}
	if w.user != nil {
		if err := w.user.Close(); err != nil {
			errs = append(errs, err)
		}
		w.user = nil
	} else if w.device != "" {
		if link, err := w.h.LinkByName(w.device); err == nil && link.Type() == "wireguard" {
			if err := w.h.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("WireGuard device %s: deleting: %w", w.device, err))
			}
		} else if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("WireGuard device %s: %w", w.device, err))
		}
	}
	w.device, w.wgName = "", ""
	w.configured = map[wgtypes.Key]time.Time{}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV)
}

// RemoveLeftover removes what an earlier run of the agent may have left
// in the namespace although WireGuard is now off: the kernel WireGuard
// device named name (a link of another type by that name is left alone),
// the routes carrying our protocol in table (0: DefaultTable), and the
// routing rules carrying our protocol. A kernel device outlives the agent
// that made it; when wireguardEnabled is switched off while no agent runs,
// nothing else would remove it, and its rule (priority 99, before the main
// table) would keep steering traffic into it. Call it before the first
// Apply, only while WireGuard is disabled; it fails after Close.
func (w *WireGuard) RemoveLeftover(name string, table int) (Stats, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var st Stats
	if w.closed {
		return st, fmt.Errorf("WireGuard device %s: RemoveLeftover after Close", name)
	}
	if w.device != "" {
		return st, fmt.Errorf("WireGuard device %s: RemoveLeftover while device %s is managed", name, w.device)
	}
	if name == "" {
		name = DefaultDeviceName
	}
	if table == 0 {
		table = DefaultTable
	}
	var errs []error
	rs, err := w.ourRoutes(table)
	errs = append(errs, err)
	for _, r := range rs {
		if err := w.h.RouteDel(&r); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing leftover route %s from table %d: %w", r.Dst, table, err))
			continue
		}
		st.RoutesRemoved++
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := w.ourRules(fam)
		errs = append(errs, err)
		for _, r := range rules {
			if err := w.h.RuleDel(&r); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("removing leftover rule %s: %w", r, err))
				continue
			}
			st.RulesRemoved++
		}
	}
	link, err := w.h.LinkByName(name)
	switch {
	case err == nil && link.Type() == "wireguard":
		if err := w.h.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("deleting leftover WireGuard device %s: %w", name, err))
		} else {
			st.DeviceRemoved = true
		}
	case err != nil && !isNotFound(err):
		errs = append(errs, fmt.Errorf("looking for a leftover WireGuard device %s: %w", name, err))
	}
	return st, errors.Join(errs...)
}
