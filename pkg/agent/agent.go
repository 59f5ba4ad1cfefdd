package agent

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

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/dataplane/nat"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	listers "github.com/meshapi/meshapi/pkg/generated/listers/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/runloop"
)

// FieldManager is the field manager of the agent's writes.
const FieldManager = "meshapi-agent"

// Config configures an Agent.
type Config struct {
	// NodeName is the name of this node's Node object.
	NodeName string
	// KubernetesNodeName, if set, is recorded in the Node's spec.orchRefs.
	KubernetesNodeName string
	// NodeIP is this node's underlay address with its prefix length, as
	// published in spec.bgp.ipv4Address (e.g. 198.18.0.1/24).
	NodeIP netip.Prefix
	// VTEP, if valid, fixes this node's VTEP address.
	VTEP netip.Addr
	// Client reaches the local projectcalico.org/v3 API.
	Client versioned.Interface
	// Dataplane programs the VXLAN overlay of the node's namespace.
	Dataplane *dataplane.Dataplane
	// NAT programs NAT-outgoing in the same namespace.
	NAT *nat.NAT
	// Policy, if set, enforces network policy in the same namespace: the
	// agent also watches Tiers, Profiles, NetworkPolicies,
	// GlobalNetworkPolicies and HostEndpoints. Nil leaves policy alone.
	Policy *PolicyConfig
	// WireGuard, if set, lets the agent run the WireGuard overlay when the
	// FelixConfiguration enables it (see wireguard.go); nil never does.
	WireGuard *WireGuardConfig
	// Metrics receive the agent's metrics; nil disables them.
	Metrics *Metrics
	// ResyncPeriod is how often the kernel is re-read and repaired and
	// the API reconciled again; 0 means 30s.
	ResyncPeriod time.Duration
	// Debounce is how long to gather API events before a reconcile; 0
	// means 50ms.
	Debounce time.Duration
	// StatusInterval is the least time between two writes of the Node's
	// status; 0 means 5s.
	StatusInterval time.Duration
	// ReconcileShare bounds the share of the agent's time that reconciles
	// take while API events keep coming (see gatherTime); 0 means
	// DefaultReconcileShare, 1 leaves only Debounce.
	ReconcileShare float64
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// Agent keeps one node's dataplane in step with the local API.
type Agent struct {
	cfg Config
	log *slog.Logger

	nodes  listers.NodeLister
	blocks listers.IPAMBlockLister
	pools  listers.IPPoolLister
	felix  listers.FelixConfigurationLister
	rccs   listers.RemoteClusterConfigurationLister
	eps    listers.WorkloadEndpointLister
	// parsed keeps the Endpoint of each WorkloadEndpoint the informer
	// holds; only the loop's reconcile uses it.
	parsed   endpointMemo
	localMAC net.HardwareAddr

	// Status written last, and when.
	lastStatus      *v3.NodeDataplaneStatus
	lastStatusWrite time.Time

	policy *policyEnforcer // nil: enforcement off

	ipam *ipam.Client // allocates the VTEP address when cfg.VTEP is not set

	wg *wgRuntime // nil: WireGuard off; used by the Run loop only
	// wgSwept: the leftovers of an earlier run were looked for (once, at
	// the first reconcile with WireGuard off); used by the Run loop only.
	wgSwept bool

	// warned holds the refusals and route conflicts already logged, so
	// that each is logged once while it lasts; used by the Run loop only.
	warned map[string]bool

	mu        sync.Mutex
	synced    bool
	lastError error
	lastApply time.Time
}

// New returns an Agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	var errs []error
	if cfg.NodeName == "" {
		errs = append(errs, errors.New("agent: the node name is empty"))
	}
	if !cfg.NodeIP.IsValid() || !cfg.NodeIP.Addr().Is4() {
		errs = append(errs, fmt.Errorf("agent: the node IP %q is not an IPv4 address with prefix length", cfg.NodeIP))
	}
	if cfg.VTEP.IsValid() && !cfg.VTEP.Is4() {
		errs = append(errs, fmt.Errorf("agent: the VXLAN tunnel address %q is not IPv4", cfg.VTEP))
	}
	if cfg.Client == nil || cfg.Dataplane == nil || cfg.NAT == nil {
		errs = append(errs, errors.New("agent: Client, Dataplane and NAT are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 30 * time.Second
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 50 * time.Millisecond
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 5 * time.Second
	}
	if cfg.ReconcileShare <= 0 || cfg.ReconcileShare > 1 {
		cfg.ReconcileShare = DefaultReconcileShare
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: log, ipam: ipam.NewClient(cfg.Client)}
	if cfg.Policy != nil {
		if cfg.Policy.Filter == nil {
			return nil, errors.New("agent: Policy needs a Filter")
		}
		var err error
		if a.policy, err = newPolicyEnforcer(*cfg.Policy, cfg.NodeName, cfg.Metrics, log.With("component", "policy"), cfg.ResyncPeriod); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Healthy returns nil once the informers have synced, the last
// reconcile succeeded and, with policy enforcement, network policy was
// programmed once; else why not.
func (a *Agent) Healthy() error {
	if a.policy != nil {
		if err := a.policy.ready(); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case !a.synced:
		return errors.New("informers have not synced yet")
	case a.lastApply.IsZero() && a.lastError == nil:
		return errors.New("the dataplane has not been programmed yet")
	case a.lastError != nil:
		return fmt.Errorf("last reconcile failed: %w", a.lastError)
	}
	return nil
}

// Run watches the local API and programs the node until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.cfg.Client, 0, informers.WithTransform(dropManagedFields))
	kicks := runloop.NewKicker()
	policyStages, err := a.watch(factory, kicks)
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if synced, err := a.waitSynced(ctx, factory); !synced {
		return err
	}

	// Policy enforcement runs beside the overlay: loading 100,000
	// endpoints into the policy state must not hold up routing.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if a.policy != nil {
		wg.Go(func() { a.enforcePolicy(ctx, policyStages) })
	}

	// The MAC this node published before a restart is the one to keep.
	if n, err := a.nodes.Get(a.cfg.NodeName); err == nil && n.Spec.VXLANTunnelMACAddr != "" {
		if mac, err := net.ParseMAC(n.Spec.VXLANTunnelMACAddr); err == nil {
			a.localMAC = mac
		}
	}
	a.reconcileLoop(ctx, kicks)
	return nil
}

// watch sets the agent's listers from factory's informers and has a
// change of what the dataplane depends on kick the reconcile loop. It returns the
// policy engine's informers, in the stages they are to be fed, if the
// agent enforces policy: made before the factory starts, so that they
// start with it.
func (a *Agent) watch(factory informers.SharedInformerFactory, kicks runloop.Kicker) ([][]cache.SharedIndexInformer, error) {
	pc := factory.Projectcalico().V3()
	poke := kicks.Kick
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { poke() },
		UpdateFunc: func(old, obj any) {
			if affectsDataplane(old, obj) {
				poke()
			}
		},
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		pc.Nodes().Informer(), pc.IPAMBlocks().Informer(), pc.IPPools().Informer(),
		pc.FelixConfigurations().Informer(), pc.RemoteClusterConfigurations().Informer(), pc.WorkloadEndpoints().Informer(),
	} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("agent: adding an event handler: %w", err)
		}
	}
	a.nodes, a.blocks, a.pools = pc.Nodes().Lister(), pc.IPAMBlocks().Lister(), pc.IPPools().Lister()
	a.felix, a.rccs, a.eps = pc.FelixConfigurations().Lister(), pc.RemoteClusterConfigurations().Lister(), pc.WorkloadEndpoints().Lister()
	if a.policy == nil {
		return nil, nil
	}
	return policyInformers(pc), nil
}

// waitSynced waits until factory's informers have synced and reports
// whether they did; false with no error when ctx ended first.
func (a *Agent) waitSynced(ctx context.Context, factory informers.SharedInformerFactory) (bool, error) {
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("agent: the %v informer did not sync", typ)
		}
	}
	a.mu.Lock()
	a.synced = true
	a.mu.Unlock()
	a.log.Info("informers synced", "node", a.cfg.NodeName)
	return true, nil
}

// enforcePolicy feeds the policy engine its informers' objects, stage by
// stage, then enforces policy until ctx ends.
func (a *Agent) enforcePolicy(ctx context.Context, stages [][]cache.SharedIndexInformer) {
	p := a.policy
	if err := feedInOrder(ctx, p.handler(), stages...); err != nil {
		if ctx.Err() == nil {
			a.log.Error("network policy enforcement did not start", "err", err)
		}
		return
	}
	a.log.Info("network policy state loaded; enforcing")
	p.run(ctx)
}

// reconcileLoop reconciles now, after each burst of changes kicked into
// kicks (gathered for a while that grows with the last reconcile's
// length), when a reconcile asks to run again, and with backoff after a
// failure; it resyncs the kernel (then reconciles) every ResyncPeriod and
// checks WireGuard peers between reconciles, until ctx ends.
func (a *Agent) reconcileLoop(ctx context.Context, kicks runloop.Kicker) {
	defer a.stopWireGuard()
	l := &runloop.Loop{
		Pass: a.reconcile,
		Gather: func(last time.Duration) time.Duration {
			return gatherTime(a.cfg.Debounce, last, a.cfg.ReconcileShare)
		},
		OnError: func(err error, in time.Duration) { a.log.Error("reconcile failed; retrying", "err", err, "in", in) },
		Tasks: []runloop.Task{
			{Every: a.cfg.ResyncPeriod, Do: a.resyncKernel, ThenPass: true},
			// Move peers between WireGuard and VXLAN as handshakes come
			// and go; no reconcile.
			{Every: a.wireguardCheckInterval(), Do: func(ctx context.Context) {
				if err := a.applyWireGuard(ctx); err != nil && ctx.Err() == nil {
					a.log.Error("WireGuard check failed", "err", err)
				}
			}},
		},
	}
	l.Run(ctx, kicks)
}

// DefaultReconcileShare is Config.ReconcileShare's default: under a steady
// stream of events, reconciles take at most a quarter of the agent's time.
const DefaultReconcileShare = 0.25

// gatherTime is how long the loop gathers events before a reconcile:
// debounce, or longer when the last reconcile took long, so that
// reconciling takes at most share of the time while events keep coming
// (a reconcile computes the node's whole state, which grows with the
// mesh: 50,000 endpoints must not keep a core busy, as kube-proxy's
// --min-sync-period and Felix's apply throttle do for theirs).
func gatherTime(debounce, last time.Duration, share float64) time.Duration {
	if share >= 1 {
		return debounce
	}
	return max(debounce, time.Duration(float64(last)*(1-share)/share))
}

// resyncKernel re-reads the kernel and repairs drift.
func (a *Agent) resyncKernel(ctx context.Context) {
	_, err := dataplane.SplitConflicts(a.cfg.Dataplane.Resync(ctx))
	if err != nil && ctx.Err() == nil {
		a.log.Error("dataplane resync failed", "err", err)
		a.count("resync")
	}
	st, err := a.cfg.NAT.Resync(ctx)
	if err != nil && ctx.Err() == nil {
		a.log.Error("NAT-outgoing resync failed", "err", err)
		a.count("resync")
	}
	if m := a.cfg.Metrics; m != nil {
		m.DriftRepairs.WithLabelValues("nat").Add(float64(st.Changes()))
	}
}

// OnDataplaneResync is a dataplane.Options.OnResync for the agent's
// metrics: it counts the drift the dataplane's resyncs repaired.
func OnDataplaneResync(m *Metrics) func(dataplane.Stats, error) {
	return func(st dataplane.Stats, _ error) {
		if m != nil {
			m.DriftRepairs.WithLabelValues("dataplane").Add(float64(st.Changes()))
		}
	}
}

func (a *Agent) count(stage string) {
	if m := a.cfg.Metrics; m != nil {
		m.Errors.WithLabelValues(stage).Inc()
	}
}

// inputs reads the informer caches. Only the loop calls it (it updates
// a.parsed).
func (a *Agent) inputs() (Inputs, error) {
	in := Inputs{NodeName: a.cfg.NodeName, NodeIP: a.cfg.NodeIP.Addr(), VTEP: a.cfg.VTEP, LocalMAC: slices.Clone(a.localMAC)}
	var err error
	all := labels.Everything()
	if in.Nodes, err = a.nodes.List(all); err != nil {
		return in, fmt.Errorf("listing Nodes: %w", err)
	}
	if in.Blocks, err = a.blocks.List(all); err != nil {
		return in, fmt.Errorf("listing IPAMBlocks: %w", err)
	}
	if in.Pools, err = a.pools.List(all); err != nil {
		return in, fmt.Errorf("listing IPPools: %w", err)
	}
	if in.RCCs, err = a.rccs.List(all); err != nil {
		return in, fmt.Errorf("listing RemoteClusterConfigurations: %w", err)
	}
	eps, err := a.eps.List(all)
	if err != nil {
		return in, fmt.Errorf("listing WorkloadEndpoints: %w", err)
	}
	in.Endpoints = a.parsed.endpoints(eps)
	fc, err := a.felix.Get("default")
	switch {
	case err == nil:
		in.FelixConfiguration = fc
	case !apierrors.IsNotFound(err):
		return in, fmt.Errorf("reading FelixConfiguration \"default\": %w", err)
	}
	return in, nil
}

// tunnelAddress is this node's VTEP address: --vxlan-tunnel-address if
// given; else the address IPAM records for VXLANTunnelHandle(node), as
// the informers' blocks show it, or else allocated through pkg/ipam (an
// Assign with that handle returns the handle's existing allocation, not a
// new one), so that no pod ever gets it. A failure is logged and leaves
// the choice to chooseVTEP.
func (a *Agent) tunnelAddress(ctx context.Context, blocks []*v3.IPAMBlock) netip.Addr {
	if a.cfg.VTEP.IsValid() {
		return a.cfg.VTEP
	}
	handle := ipam.VXLANTunnelHandle(a.cfg.NodeName)
	if addr, ok := firstIPv4(ipam.HandleAddrs(blocks, handle)); ok {
		return addr
	}
	addrs, err := a.ipam.Assign(ctx, ipam.AssignArgs{Handle: handle, Node: a.cfg.NodeName})
	if err != nil {
		a.log.Warn("allocating the VXLAN tunnel address through IPAM", "handle", handle, "err", err)
		return netip.Addr{}
	}
	addr, _ := firstIPv4(addrs)
	a.log.Info("allocated the VXLAN tunnel address", "handle", handle, "address", addr)
	return addr
}

func firstIPv4(addrs []netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		if a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// reconcile programs the node once. again > 0 asks for another reconcile
// after that long (a status write that had to wait).
func (a *Agent) reconcile(ctx context.Context) (again time.Duration, err error) {
	in, err := a.inputs()
	if err != nil {
		return 0, err
	}
	in.VTEP = a.tunnelAddress(ctx, in.Blocks)
	res := Compute(in)
	for _, p := range res.Problems {
		a.log.Debug("ignoring an object", "problem", p)
	}
	m := a.cfg.Metrics

	dst, dpErr := a.cfg.Dataplane.Apply(ctx, res.Dataplane)
	// A foreign route at one of our destinations is reported, not a
	// failure: the node's health must not depend on what a remote cluster
	// claims or what another owner routes.
	conflicts, dpErr := dataplane.SplitConflicts(dpErr)
	reported := a.reportSkipped(res, conflicts)
	if dpErr != nil {
		a.count("dataplane")
		dpErr = fmt.Errorf("programming the VXLAN overlay: %w", dpErr)
	}
	if res.Dataplane.VXLAN != nil && len(dst.DeviceMAC) > 0 {
		a.localMAC = slices.Clone(dst.DeviceMAC)
	}
	var wgErr error
	if a.cfg.WireGuard != nil {
		wgState := ComputeWireGuard(in, res.VTEP, a.cfg.WireGuard.InterfaceAddress)
		for _, p := range wgState.Problems {
			a.log.Debug("ignoring a WireGuard value", "problem", p)
		}
		wgErr = a.reconcileWireGuard(ctx, wgState, in.FelixConfiguration)
	}
	node, nodeErr := a.registerNode(ctx, res)
	if nodeErr == nil {
		node, nodeErr = a.publishWireGuardKey(ctx, node)
	}
	if nodeErr != nil {
		a.count("node")
	}
	nst, natErr := a.cfg.NAT.Apply(ctx, res.NAT)
	if natErr != nil {
		a.count("nat")
		natErr = fmt.Errorf("programming NAT-outgoing: %w", natErr)
	}
	if m != nil {
		m.Applies.Inc()
		m.ApplyDuration.WithLabelValues("dataplane").Observe(dst.Duration.Seconds())
		m.ApplyDuration.WithLabelValues("nat").Observe(nst.Duration.Seconds())
		m.Changes.WithLabelValues("dataplane").Add(float64(dst.Changes()))
		m.Changes.WithLabelValues("nat").Add(float64(nst.Changes()))
		m.RoutesProgrammed.Set(float64(res.Routes()))
		m.ClusterRoutes.Reset()
		m.ClusterNodes.Reset()
		for _, c := range res.Clusters {
			m.ClusterRoutes.WithLabelValues(c.Cluster).Set(float64(c.Routes))
			m.ClusterNodes.WithLabelValues(c.Cluster).Set(float64(c.Nodes))
		}
	}
	if n := dst.Changes() + nst.Changes(); n > 0 {
		a.log.Info("programmed the node", "routes", res.Routes(), "dataplane", dst, "nat", nst)
	}
	applyErr := errors.Join(dpErr, wgErr, natErr)
	again, statusErr := a.writeStatus(ctx, node, res, errors.Join(applyErr, reported))
	if statusErr != nil {
		a.count("status")
	}
	err = errors.Join(applyErr, nodeErr, statusErr)
	a.mu.Lock()
	a.lastError = err
	if applyErr == nil {
		a.lastApply = time.Now()
	}
	a.mu.Unlock()
	return again, err
}

// registerNode creates or updates this node's Node: its addresses, VTEP
// address and the VXLAN device's MAC. It returns the Node as stored.
func (a *Agent) registerNode(ctx context.Context, res Result) (*v3.Node, error) {
	client := a.cfg.Client.ProjectcalicoV3().Nodes()
	have, err := a.nodes.Get(a.cfg.NodeName)
	if apierrors.IsNotFound(err) {
		n := &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName}}
		a.nodeSpec(&n.Spec, res)
		created, err := client.Create(ctx, n, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil {
			return nil, fmt.Errorf("registering Node %q: %w", a.cfg.NodeName, err)
		}
		a.log.Info("registered the Node", "node", a.cfg.NodeName, "spec", created.Spec)
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Node %q: %w", a.cfg.NodeName, err)
	}
	if _, mirrored := have.Labels[v3.LabelCluster]; mirrored {
		return nil, fmt.Errorf("Node %q is mirrored from remote cluster %q: pick another --node-name", a.cfg.NodeName, have.Labels[v3.LabelCluster])
	}
	want := have.DeepCopy()
	a.nodeSpec(&want.Spec, res)
	if apiequality.Semantic.DeepEqual(have.Spec, want.Spec) {
		return have, nil
	}
	updated, err := client.Update(ctx, want, metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating Node %q: %w", a.cfg.NodeName, err)
	}
	a.log.Info("updated the Node", "node", a.cfg.NodeName, "spec", updated.Spec)
	return updated, nil
}

// nodeSpec sets the fields of spec this agent owns.
func (a *Agent) nodeSpec(spec *v3.NodeSpec, res Result) {
	a.wireguardSpec(spec)
	if a.cfg.KubernetesNodeName != "" {
		spec.OrchRefs = []v3.OrchRef{{Orchestrator: v3.OrchestratorK8s, NodeName: a.cfg.KubernetesNodeName}}
	}
	if spec.BGP == nil {
		spec.BGP = &v3.NodeBGPSpec{}
	}
	spec.BGP.IPv4Address = a.cfg.NodeIP.String()
	addrs := slices.DeleteFunc(slices.Clone(spec.Addresses), func(x v3.NodeAddress) bool { return x.Type == v3.CalicoNodeIP })
	spec.Addresses = append([]v3.NodeAddress{{Address: a.cfg.NodeIP.String(), Type: v3.CalicoNodeIP}}, addrs...)
	if !slices.ContainsFunc(spec.Addresses, func(x v3.NodeAddress) bool { return x.Type == v3.InternalIP }) {
		spec.Addresses = append(spec.Addresses, v3.NodeAddress{Address: a.cfg.NodeIP.Addr().String(), Type: v3.InternalIP})
	}
	if res.Dataplane.VXLAN == nil {
		spec.IPv4VXLANTunnelAddr, spec.VXLANTunnelMACAddr = "", ""
		return
	}
	spec.IPv4VXLANTunnelAddr = ""
	if res.VTEP.IsValid() {
		spec.IPv4VXLANTunnelAddr = res.VTEP.String()
	}
	if len(a.localMAC) > 0 {
		spec.VXLANTunnelMACAddr = a.localMAC.String()
	}
}

// wireguardCheckInterval is how often the Run loop re-plans WireGuard's
// peers.
func (a *Agent) wireguardCheckInterval() time.Duration {
	if wc := a.cfg.WireGuard; wc != nil && wc.CheckInterval > 0 {
		return wc.CheckInterval
	}
	return 2 * time.Second
}

// Status is the status.dataplane the agent reports for a result and the
// error of the apply (nil: it succeeded).
func Status(res Result, device string, applyErr error) *v3.NodeDataplaneStatus {
	s := &v3.NodeDataplaneStatus{Routes: int32(res.Routes())}
	if res.Dataplane.VXLAN != nil {
		s.VXLANDevice = device
	}
	for _, c := range res.Clusters {
		s.RemoteClusters = append(s.RemoteClusters, v3.NodeRemoteClusterStatus{
			Cluster: c.Cluster, OverlayRoutingMode: string(c.Mode), Nodes: int32(c.Nodes), Routes: int32(c.Routes),
		})
	}
	if applyErr != nil {
		s.LastError = applyErr.Error()
	}
	return s
}

// writeStatus writes status.dataplane of node (this node's Node as
// stored) when it changed, at most every StatusInterval; again > 0 asks to be called again after that long
// for a change that had to wait.
func (a *Agent) writeStatus(ctx context.Context, node *v3.Node, res Result, applyErr error) (again time.Duration, err error) {
	device := dataplane.DefaultDeviceName
	if c := res.Dataplane.VXLAN; c != nil && c.Name != "" {
		device = c.Name
	}
	want := Status(res, device, applyErr)
	if a.lastStatus != nil && apiequality.Semantic.DeepEqual(a.lastStatus, want) {
		return 0, nil
	}
	if wait := a.cfg.StatusInterval - time.Since(a.lastStatusWrite); wait > 0 {
		return wait, nil
	}
	if node == nil {
		return 0, nil // registration failed; its error is reported
	}
	n := node.DeepCopy()
	now := metav1.Now()
	want.LastApplyTime = &now
	n.Status.Dataplane = want
	if _, err := a.cfg.Client.ProjectcalicoV3().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return 0, fmt.Errorf("writing the status of Node %q: %w", a.cfg.NodeName, err)
	}
	want.LastApplyTime = nil
	a.lastStatus, a.lastStatusWrite = want, time.Now()
	return 0, nil
}

// affectsDataplane tells whether an update can change what the agent
// programs. The status of a RemoteClusterConfiguration (rewritten by the
// controller as its mirror grows) and a Node's status.dataplane (the
// agents' own reports) do not: reconciling on them cost a full Compute
// and Apply each, 60 ms at 20,000 routes.
func affectsDataplane(oldObj, obj any) bool {
	switch n := obj.(type) {
	case *v3.RemoteClusterConfiguration:
		o, ok := oldObj.(*v3.RemoteClusterConfiguration)
		return !ok || o.Generation != n.Generation || o.UID != n.UID ||
			!apiequality.Semantic.DeepEqual(o.Spec, n.Spec) || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
	case *v3.Node:
		o, ok := oldObj.(*v3.Node)
		if !ok {
			return true
		}
		return !apiequality.Semantic.DeepEqual(withoutReport(o), withoutReport(n))
	}
	return true
}

// withoutReport is n without what changes on every write and its agent's
// own status.dataplane report.
func withoutReport(n *v3.Node) *v3.Node {
	c := n.DeepCopy()
	c.ResourceVersion, c.ManagedFields, c.Status.Dataplane = "", nil, nil
	return c
}

// dropManagedFields is the transform of the agent's informers: the agent
// reads no object's managedFields, which are about a fifth of a cached
// WorkloadEndpoint (kube-controller-manager and the remote-cluster
// controller drop them for the same reason). An update built from a
// cached object sends none, and the server keeps its own.
func dropManagedFields(obj any) (any, error) {
	if o, err := meta.Accessor(obj); err == nil {
		o.SetManagedFields(nil)
	}
	return obj, nil
}
