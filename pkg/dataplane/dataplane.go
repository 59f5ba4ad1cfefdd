package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// Defaults of the VXLAN overlay, as in the original product's
// FelixConfiguration.
const (
	DefaultDeviceName = "vxlan.calico"
	DefaultVNI        = 4096
	DefaultPort       = 4789
)

// DefaultRouteProtocol is the route protocol number (rtm_protocol) that tags
// every route this package creates: 82, named "meshapi". It is unassigned
// in the kernel's list (include/uapi/linux/rtnetlink.h) and in iproute2's
// rt_protos, and differs from Calico Felix's 80, so that meshapi and a
// Calico install never delete each other's routes. `ip route show proto 82`
// lists them.
const DefaultRouteProtocol netlink.RouteProtocol = 82

// VXLANConfig is the VXLAN device of this node.
type VXLANConfig struct {
	// Name of the device; "" means DefaultDeviceName.
	Name string
	// VNI is the VXLAN network identifier; 0 means DefaultVNI.
	VNI int
	// Port is the UDP destination port; 0 means DefaultPort.
	Port int
	// MTU of the device; 0 means the parent's MTU less the encapsulation
	// overhead (50 bytes over IPv4, 70 over IPv6), or 1450 when there is no
	// parent.
	MTU int
	// LocalVTEP is this node's VTEP IP, set on the device as a /32 (/128).
	// Invalid means no address on the device.
	LocalVTEP netip.Addr
	// LocalMAC is the device's MAC address; nil lets the kernel pick one,
	// which Stats.DeviceMAC and Dataplane.DeviceMAC report (remote nodes
	// need it for their neighbour and FDB entries). With nil, a device
	// that is replaced or re-created keeps the MAC it had while this
	// Dataplane lives; a new process (or a reboot) gets a new one unless
	// the caller passes the published MAC back here.
	LocalMAC net.HardwareAddr
	// ParentIP is this node's underlay IP: the source of the encapsulated
	// packets. The link that holds it is the device's parent. Invalid means
	// no fixed source and no parent.
	ParentIP netip.Addr
}

// withDefaults returns c with its zero fields replaced by the defaults.
func (c VXLANConfig) withDefaults() VXLANConfig {
	if c.Name == "" {
		c.Name = DefaultDeviceName
	}
	if c.VNI == 0 {
		c.VNI = DefaultVNI
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	c.LocalVTEP = c.LocalVTEP.Unmap()
	c.ParentIP = c.ParentIP.Unmap()
	return c
}

// RemoteNode is another node of the overlay.
type RemoteNode struct {
	// Name identifies the node (in logs and EndpointRoute.Node).
	Name string
	// NodeIP is the node's underlay IP, where its VXLAN packets go.
	NodeIP netip.Addr
	// VTEP is the IP of the node's VXLAN device; a node without one is not
	// part of the overlay and is skipped.
	VTEP netip.Addr
	// MAC is the MAC address of the node's VXLAN device.
	MAC net.HardwareAddr
	// Blocks are the node's IPAM blocks, each routed via its VTEP.
	Blocks []netip.Prefix
}

// EndpointRoute is a route for a remote endpoint whose IP lies outside its
// node's blocks (usually a /32), via that node's VTEP.
type EndpointRoute struct {
	// Dst is the endpoint's address as a prefix.
	Dst netip.Prefix
	// Node is the RemoteNode.Name of the node that hosts it.
	Node string
}

// Desired is the state the kernel should be in.
type Desired struct {
	// VXLAN is the local device; nil means no overlay: the device and
	// every route with our protocol are removed.
	VXLAN *VXLANConfig
	// Nodes are the remote nodes.
	Nodes []RemoteNode
	// Endpoints are routes for remote endpoints outside their node's
	// blocks.
	Endpoints []EndpointRoute
}

// Stats tells what one Apply or Resync changed.
type Stats struct {
	// RoutesAdded, RoutesUpdated and RoutesRemoved count routes added,
	// replaced (next hop or device changed) and deleted.
	RoutesAdded, RoutesUpdated, RoutesRemoved int
	// NeighborsAdded, NeighborsUpdated and NeighborsRemoved count
	// permanent neighbour entries (VTEP IP -> MAC) added, changed to
	// another MAC and deleted.
	NeighborsAdded, NeighborsUpdated, NeighborsRemoved int
	// FDBAdded, FDBUpdated and FDBRemoved count FDB entries (MAC -> node
	// IP) added, moved to another node IP and deleted.
	FDBAdded, FDBUpdated, FDBRemoved int
	// DeviceCreated: the VXLAN device did not exist and was created.
	DeviceCreated bool
	// DeviceReplaced: the device existed with another VNI, port, source
	// address or parent (which cannot be changed in place) and was deleted
	// and created again.
	DeviceReplaced bool
	// DeviceUpdated: the device's MTU, MAC, address or up state was set.
	DeviceUpdated bool
	// DeviceRemoved: the device was deleted (Desired.VXLAN nil).
	DeviceRemoved bool
	// DeviceMAC is the device's MAC address after the call (nil without a
	// device).
	DeviceMAC net.HardwareAddr
	// Skipped counts desired objects that were not programmed because they
	// are incomplete (a node without VTEP) or conflict with another one.
	Skipped int
	// Conflicts counts routes not added because a route of another owner
	// holds the destination.
	Conflicts int
	// Duration is the time the call took.
	Duration time.Duration
}

// Changes is the number of kernel objects the call added, updated or
// removed, counting a device change as one.
func (s Stats) Changes() int {
	n := s.RoutesAdded + s.RoutesUpdated + s.RoutesRemoved +
		s.NeighborsAdded + s.NeighborsUpdated + s.NeighborsRemoved +
		s.FDBAdded + s.FDBUpdated + s.FDBRemoved
	for _, b := range []bool{s.DeviceCreated, s.DeviceReplaced, s.DeviceUpdated, s.DeviceRemoved} {
		if b {
			n++
		}
	}
	return n
}

// Options configure a Dataplane.
type Options struct {
	// RouteProtocol tags the routes the Dataplane owns; 0 means
	// DefaultRouteProtocol. Values 1 to 4 (redirect, kernel, boot,
	// static) are shared by everyone, so New panics on them.
	RouteProtocol netlink.RouteProtocol
	// Logger receives the Dataplane's logs; nil discards them.
	Logger *slog.Logger
	// OnResync, if set, is called after every Resync (including those of
	// Run) with what it changed, for metrics.
	OnResync func(Stats, error)
}

// Dataplane makes the kernel of one network namespace match a Desired. Its
// methods are safe for concurrent use; calls are serialised.
type Dataplane struct {
	h        *netlink.Handle
	proto    netlink.RouteProtocol
	log      *slog.Logger
	onResync func(Stats, error)

	mu       sync.Mutex
	desired  *Desired     // last Desired given to Apply; nil before the first
	known    *kernelState // our model of the kernel; nil = read it first
	device   string       // name of the device we manage ("" = none yet)
	mac      net.HardwareAddr
	warnings map[string]bool // conflicts already logged, to log each once
}

// New returns a Dataplane that works through h (nil: netlink's package
// handle, i.e. the calling thread's namespace; prefer a handle from
// netlink.NewHandleAt). It does nothing until Apply.
func New(h *netlink.Handle, opts Options) *Dataplane {
	if h == nil {
		h = &netlink.Handle{}
	}
	proto := opts.RouteProtocol
	if proto == 0 {
		proto = DefaultRouteProtocol
	}
	if proto <= 4 {
		// 1-4 are redirect, kernel, boot and static: far too common to be
		// an owner's tag.
		panic(fmt.Sprintf("dataplane: route protocol %d is reserved by the kernel", proto))
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dataplane{h: h, proto: proto, log: log, onResync: opts.OnResync, warnings: map[string]bool{}}
}

// RouteProtocol is the protocol number that tags this Dataplane's routes.
func (d *Dataplane) RouteProtocol() netlink.RouteProtocol { return d.proto }

// DeviceMAC is the MAC address of the VXLAN device as of the last Apply or
// Resync (nil if there is none).
func (d *Dataplane) DeviceMAC() net.HardwareAddr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.mac)
}

// Apply makes the kernel match want, with as few netlink calls as it can
// (see the package documentation), and remembers want for Resync. It
// carries on past a failing object and returns all failures joined; a
// later Apply or Resync retries them.
func (d *Dataplane) Apply(ctx context.Context, want Desired) (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	want = cloneDesired(want)
	d.desired = &want
	return d.sync(ctx, want, false)
}

// Resync re-reads the kernel and repairs any drift from the last Desired
// given to Apply. Before the first Apply it does nothing.
func (d *Dataplane) Resync(ctx context.Context) error {
	st, err := d.resync(ctx)
	if d.onResync != nil {
		d.onResync(st, err)
	}
	return err
}

func (d *Dataplane) resync(ctx context.Context) (Stats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.desired == nil {
		return Stats{}, nil
	}
	st, err := d.sync(ctx, *d.desired, true)
	if n := st.Changes(); n > 0 {
		d.log.Info("repaired dataplane drift", "changes", n, "stats", st)
	}
	return st, err
}

// Run calls Resync every period until ctx ends, logging its errors.
func (d *Dataplane) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.Resync(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("dataplane resync failed", "err", err)
			}
		}
	}
}

// sync brings the kernel to want. full forces a complete read of the
// kernel instead of trusting the model kept since the last read.
func (d *Dataplane) sync(ctx context.Context, want Desired, full bool) (st Stats, err error) {
	start := time.Now()
	defer func() {
		st.Duration = time.Since(start)
		st.DeviceMAC = slices.Clone(d.mac)
	}()
	if err := ctx.Err(); err != nil {
		return st, err
	}

	if want.VXLAN == nil {
		d.known = nil
		err := d.teardown(&st)
		return st, err
	}
	cfg := want.VXLAN.withDefaults()
	if d.device != "" && d.device != cfg.Name {
		// The device was renamed in the configuration: remove the old one.
		if err := d.removeDevice(d.device, &st); err != nil {
			return st, err
		}
		d.known = nil
	}
	d.device = cfg.Name

	link, err := d.ensureDevice(cfg, &st)
	if err != nil {
		d.known = nil
		return st, err
	}
	d.mac = slices.Clone(link.Attrs().HardwareAddr)
	idx := link.Attrs().Index

	if full || d.known == nil || d.known.linkIndex != idx || st.DeviceCreated || st.DeviceReplaced {
		k, err := d.readKernel(idx)
		if err != nil {
			d.known = nil
			return st, err
		}
		d.known = k
	}

	t, skips := computeTarget(want)
	st.Skipped = len(skips)
	d.logSkips(skips)

	p := diff(d.known, t)
	if p.empty() {
		return st, nil
	}
	if err := d.execute(ctx, p, t, cfg.Name, &st); err != nil {
		// Something failed: read the kernel again next time rather than
		// trust a model that may be off.
		d.known = nil
		return st, err
	}
	return st, nil
}

// logSkips logs conflicts once each (they repeat on every Resync) and
// incomplete objects at debug level.
func (d *Dataplane) logSkips(skips []skip) {
	seen := map[string]bool{}
	for _, s := range skips {
		key := s.String()
		seen[key] = true
		if !s.conflict {
			d.log.Debug("not programming", "object", s.object, "reason", s.reason)
			continue
		}
		if !d.warnings[key] {
			d.log.Warn("not programming", "object", s.object, "reason", s.reason)
		}
	}
	d.warnings = seen
}

// teardown removes the device and every route with our protocol.
func (d *Dataplane) teardown(st *Stats) error {
	var errs []error
	name := d.device
	if name == "" {
		name = DefaultDeviceName
	}
	if err := d.removeDevice(name, st); err != nil {
		errs = append(errs, err)
	}
	d.mac = nil
	routes, err := d.listRoutes()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range routes {
		if err := d.delRoute(r, name, st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// execute carries out p, keeping d.known in step with each successful
// call. It goes on past failures and returns them joined.
func (d *Dataplane) execute(ctx context.Context, p plan, t target, dev string, st *Stats) error {
	var errs []error
	k := d.known
	step := func(err error) bool {
		if err != nil {
			errs = append(errs, err)
		}
		return ctx.Err() == nil
	}

	for _, o := range p.neighSets {
		if !step(d.setNeigh(k.linkIndex, o, t.macs[o.mac], dev, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	for _, o := range p.fdbSets {
		if !step(d.setFDB(k.linkIndex, o, t.macs[o.mac], dev, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	for _, r := range p.routeAdds {
		if !step(d.addRoute(r, dev, false, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	for _, r := range p.routeReps {
		if !step(d.addRoute(r, dev, true, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	for _, r := range p.routeDels {
		if !step(d.delRoute(r, dev, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	for _, o := range p.neighDels {
		if !step(d.delNeigh(k.linkIndex, o, dev, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	for _, o := range p.fdbDels {
		if !step(d.delFDB(k.linkIndex, o, dev, st)) {
			return errors.Join(append(errs, ctx.Err())...)
		}
	}
	return errors.Join(errs...)
}

// readKernel reads routes with our protocol and the permanent neighbours
// and FDB entries of the device linkIndex.
func (d *Dataplane) readKernel(linkIndex int) (*kernelState, error) {
	k := newKernelState(linkIndex)
	routes, err := d.listRoutes()
	if err != nil {
		return nil, err
	}
	for _, r := range routes {
		k.routes[r.dst] = append(k.routes[r.dst], r)
	}
	if err := d.readNeighbours(k); err != nil {
		return nil, err
	}
	return k, nil
}

func cloneDesired(in Desired) Desired {
	out := Desired{}
	if in.VXLAN != nil {
		c := *in.VXLAN
		c.LocalMAC = slices.Clone(c.LocalMAC)
		out.VXLAN = &c
	}
	out.Nodes = make([]RemoteNode, len(in.Nodes))
	for i, n := range in.Nodes {
		n.MAC = slices.Clone(n.MAC)
		n.Blocks = slices.Clone(n.Blocks)
		out.Nodes[i] = n
	}
	out.Endpoints = slices.Clone(in.Endpoints)
	return out
}
