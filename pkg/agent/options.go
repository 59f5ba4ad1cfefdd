package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/agent/heartbeat"
	"github.com/meshapi/meshapi/pkg/dataplane"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
	"github.com/meshapi/meshapi/pkg/dataplane/nat"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipamd"
	"github.com/meshapi/meshapi/pkg/ipamwire"
	"github.com/meshapi/meshapi/pkg/statusserver"
)

// Options are the flags of meshapi-agent.
type Options struct {
	// Kubeconfig reaches the local cluster; empty means in-cluster.
	Kubeconfig string
	// NodeName is this node's Node name.
	NodeName string
	// KubernetesNodeName, if set, is the Kubernetes Node this node is: the
	// agent records it in its Node's spec.orchRefs, which tells the IPAM
	// garbage collector that the node is gone once that Kubernetes Node is.
	KubernetesNodeName string
	// NodeIP is this node's underlay address, "198.18.0.1/24" or
	// "198.18.0.1" (taken as /32).
	NodeIP string
	// VXLANTunnelAddress fixes the VTEP address; empty picks one from the
	// node's block.
	VXLANTunnelAddress string
	// NetNS is a network namespace to program instead of the agent's own:
	// a path (/proc/<pid>/ns/net, /var/run/netns/x) or a name under
	// /var/run/netns.
	NetNS string
	// PolicyEnforcement enforces network policy with nftables (the table
	// "inet meshapi-filter"); off, the agent deletes that table.
	PolicyEnforcement bool
	// WireGuardKeyFile holds the node's WireGuard private key (created,
	// mode 0600, when WireGuard is first enabled).
	WireGuardKeyFile string
	// WireGuardInterfaceAddress fixes the WireGuard device's address;
	// empty means the VTEP address.
	WireGuardInterfaceAddress string
	// WireGuardPublishKey publishes the public key on the Node's status;
	// false withholds it (a test and troubleshooting hook).
	WireGuardPublishKey bool
	// MetricsBindAddress serves /metrics and /healthz.
	MetricsBindAddress string
	// Profiling serves Go's /debug/pprof on MetricsBindAddress.
	Profiling bool
	// ResyncPeriod, Debounce and StatusInterval tune the loop (see Config).
	ResyncPeriod, Debounce, StatusInterval time.Duration
	// ReconcileShare bounds the time reconciles take under churn (see
	// Config).
	ReconcileShare float64
	// LogLevel is debug, info, warn or error.
	LogLevel string

	// IPAMSocket is the Unix socket of the node-local IPAM service
	// (pkg/ipamd) the CNI plugin asks for pod addresses; empty runs no
	// service.
	IPAMSocket string
	// BGP runs the node's BGP speaker (see bgp.go).
	BGP bool
	// BGPPasswordNamespace holds the Secrets of BGP session passwords
	// (BGPPeer spec.password, BGPConfiguration spec.nodeMeshPassword),
	// as calico-node reads them from its own namespace.
	BGPPasswordNamespace string
	// HeartbeatNamespace holds the node's heartbeat Lease (package
	// heartbeat); HeartbeatPeriod is how often it is renewed, 0 for no
	// heartbeat.
	HeartbeatNamespace string
	HeartbeatPeriod    time.Duration
}

// NewOptions returns the defaults; the node name defaults to $NODENAME,
// else the host name.
func NewOptions() *Options {
	name := os.Getenv("NODENAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	return &Options{
		NodeName:            name,
		NodeIP:              os.Getenv("NODE_IP"),
		PolicyEnforcement:   true,
		WireGuardKeyFile:    DefaultWireGuardKeyFile,
		WireGuardPublishKey: true,
		MetricsBindAddress:  "127.0.0.1:9094",
		ResyncPeriod:        30 * time.Second,
		Debounce:            50 * time.Millisecond,
		ReconcileShare:      DefaultReconcileShare,
		StatusInterval:      5 * time.Second,
		LogLevel:            "info",
		IPAMSocket:          ipamwire.DefaultSocket,
		HeartbeatNamespace:  heartbeat.DefaultNamespace,
		HeartbeatPeriod:     heartbeat.DefaultPeriod,

		BGPPasswordNamespace: DefaultBGPPasswordNamespace,
	}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig of the local cluster; empty means the in-cluster service account.")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "Name of this node's projectcalico.org/v3 Node (default $NODENAME, else the host name).")
	fs.StringVar(&o.KubernetesNodeName, "kubernetes-node-name", o.KubernetesNodeName, "The Kubernetes Node this node is, recorded in the Node's spec.orchRefs (orchestrator k8s) so that meshapi-controller's IPAM garbage collector frees its addresses once that Kubernetes Node is deleted; empty records none (a node outside Kubernetes).")
	fs.StringVar(&o.NodeIP, "node-ip", o.NodeIP, "This node's underlay IPv4 address with prefix length, e.g. 198.18.0.1/24 (default $NODE_IP); the source of VXLAN packets.")
	fs.StringVar(&o.VXLANTunnelAddress, "vxlan-tunnel-address", o.VXLANTunnelAddress, "This node's VTEP address; empty means the address IPAM allocates to the handle vxlan-tunnel-addr-<node> (kept across restarts).")
	fs.StringVar(&o.NetNS, "netns", o.NetNS, "Network namespace to program (a path, or a name under /var/run/netns); empty means the agent's own.")
	fs.BoolVar(&o.PolicyEnforcement, "policy-enforcement", o.PolicyEnforcement, "Enforce network policy (NetworkPolicy, GlobalNetworkPolicy, Profile, Tier) on this node's workload endpoints with nftables (table inet meshapi-filter); false deletes that table and leaves traffic unfiltered.")
	fs.StringVar(&o.WireGuardKeyFile, "wireguard-key-file", o.WireGuardKeyFile, "File holding this node's WireGuard private key (base64, mode 0600), created when FelixConfiguration's wireguardEnabled is first true; the key never leaves the node.")
	fs.StringVar(&o.WireGuardInterfaceAddress, "wireguard-interface-address", o.WireGuardInterfaceAddress, "The WireGuard device's IPv4 address (a /32 on the device, published as spec.wireguard.interfaceIPv4Address); empty means the VTEP address.")
	fs.BoolVar(&o.WireGuardPublishKey, "wireguard-publish-key", o.WireGuardPublishKey, "Publish the WireGuard public key on the Node's status.wireguardPublicKey; false withholds it (and removes a published one), so that the other nodes reach this node over VXLAN. A test and troubleshooting hook: leave it true.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address serving /metrics and /healthz (host:port; port 0 picks one).")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "Serve Go's profiles (/debug/pprof/) on --metrics-bind-address; anyone who reaches that address can read them.")
	fs.DurationVar(&o.ResyncPeriod, "resync-period", o.ResyncPeriod, "How often the kernel is re-read and drift repaired.")
	fs.DurationVar(&o.Debounce, "debounce", o.Debounce, "How long API events are gathered before the dataplane is programmed.")
	fs.Float64Var(&o.ReconcileShare, "max-reconcile-share", o.ReconcileShare,
		"The largest share of the agent's time that reconciles (each computes and programs the node's whole state) may take while API events keep coming: after a reconcile that took d, events are gathered for at least d*(1-share)/share, and at least --debounce. 1 leaves only --debounce.")
	fs.DurationVar(&o.StatusInterval, "status-interval", o.StatusInterval, "Least time between two writes of the Node's status.dataplane.")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "Log level: debug, info, warn or error.")

	fs.StringVar(&o.HeartbeatNamespace, "heartbeat-namespace", o.HeartbeatNamespace, "Namespace of the node's heartbeat Lease meshapi-agent-<node>, which meshctl check's agents step reads.")
	fs.DurationVar(&o.HeartbeatPeriod, "heartbeat-period", o.HeartbeatPeriod, fmt.Sprintf("How often the heartbeat Lease is renewed; its duration is %d periods, after which meshctl check reports the agent dead. 0 writes no heartbeat.", heartbeat.DurationFactor))
	// The node-local IPAM service of the CNI plugin.
	fs.StringVar(&o.IPAMSocket, "ipam-socket", o.IPAMSocket, "Unix socket (created mode 0600) of the node-local IPAM service that meshapi-cni asks for pod addresses; the service batches the node's concurrent allocations into one IPAMBlock write. Empty runs no service (the plugin then fails with CNI error 11).")
	o.addBGPFlags(fs)
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if o.NodeName == "" {
		errs = append(errs, errors.New("--node-name is empty and the host name is unknown"))
	}
	if _, err := o.nodeIP(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.vtep(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.wireguardAddress(); err != nil {
		errs = append(errs, err)
	}
	if o.WireGuardKeyFile == "" {
		errs = append(errs, errors.New("--wireguard-key-file is empty"))
	}
	if o.ResyncPeriod < time.Second {
		errs = append(errs, fmt.Errorf("--resync-period must be at least 1s, not %s", o.ResyncPeriod))
	}
	if o.HeartbeatPeriod != 0 && o.HeartbeatPeriod < time.Second {
		errs = append(errs, fmt.Errorf("--heartbeat-period must be 0 (no heartbeat) or at least 1s, not %s", o.HeartbeatPeriod))
	}
	if o.HeartbeatPeriod != 0 && o.HeartbeatNamespace == "" {
		errs = append(errs, errors.New("--heartbeat-namespace is empty"))
	}
	if o.ReconcileShare <= 0 || o.ReconcileShare > 1 {
		errs = append(errs, fmt.Errorf("--max-reconcile-share must be in (0, 1], not %g", o.ReconcileShare))
	}
	if o.Debounce < 0 || o.StatusInterval < 0 {
		errs = append(errs, fmt.Errorf("--debounce (%s) and --status-interval (%s) must not be negative", o.Debounce, o.StatusInterval))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: %w", o.LogLevel, err))
	}
	if err := o.validateBGP(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (o *Options) nodeIP() (netip.Prefix, error) {
	if o.NodeIP == "" {
		return netip.Prefix{}, errors.New("--node-ip is required (or $NODE_IP)")
	}
	p, err := netip.ParsePrefix(o.NodeIP)
	if err != nil {
		a, aerr := netip.ParseAddr(o.NodeIP)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("--node-ip %q is neither an address nor an address/length: %w", o.NodeIP, err)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("--node-ip %q is not IPv4", o.NodeIP)
	}
	return p, nil
}

func (o *Options) vtep() (netip.Addr, error) {
	if o.VXLANTunnelAddress == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(o.VXLANTunnelAddress)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("--vxlan-tunnel-address %q is not an IPv4 address", o.VXLANTunnelAddress)
	}
	return a, nil
}

func (o *Options) wireguardAddress() (netip.Addr, error) {
	if o.WireGuardInterfaceAddress == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(o.WireGuardInterfaceAddress)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("--wireguard-interface-address %q is not an IPv4 address", o.WireGuardInterfaceAddress)
	}
	return a, nil
}

// netnsPath turns --netns into a path.
func (o *Options) netnsPath() string {
	if strings.Contains(o.NetNS, "/") {
		return o.NetNS
	}
	return filepath.Join("/var/run/netns", o.NetNS)
}

// Run runs the agent until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	var level slog.Level
	_ = level.UnmarshalText([]byte(o.LogLevel))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", o.NodeName)
	nodeIP, _ := o.nodeIP()
	vtep, _ := o.vtep()
	wgAddr, _ := o.wireguardAddress()

	cfg, err := o.restConfig()
	if err != nil {
		return err
	}
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the projectcalico.org/v3 client: %w", err)
	}

	ns, err := o.openNetNS()
	if err != nil {
		return err
	}
	defer ns.close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(reg)
	dp := dataplane.New(ns.nl, dataplane.Options{Logger: log.With("component", "dataplane"), OnResync: OnDataplaneResync(metrics)})
	policy, closePolicy, err := o.policyConfig(ctx, ns.fd, log)
	if err != nil {
		return err
	}
	defer closePolicy()
	a, err := New(Config{
		NodeName: o.NodeName, KubernetesNodeName: o.KubernetesNodeName, NodeIP: nodeIP, VTEP: vtep, Client: client,
		Dataplane: dp, NAT: nat.New(ns.nft, nat.Options{Logger: log.With("component", "nat")}),
		Policy: policy, Metrics: metrics,
		WireGuard: &WireGuardConfig{NetNS: ns.handle, KeyFile: o.WireGuardKeyFile, InterfaceAddress: wgAddr, WithholdKey: !o.WireGuardPublishKey}, ResyncPeriod: o.ResyncPeriod, Debounce: o.Debounce, StatusInterval: o.StatusInterval, ReconcileShare: o.ReconcileShare,
		Logger: log,
	})
	if err != nil {
		return err
	}

	// The IPAM service listens before /readyz can answer: a ready agent
	// serves the CNI plugin.
	if o.IPAMSocket != "" {
		stopIPAM, err := o.startIPAM(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer stopIPAM()
	}

	status, err := statusserver.Start(statusserver.Config{
		Address: o.MetricsBindAddress, Gatherer: reg, Healthz: a.Healthy, Profiling: o.Profiling,
		OnError: func(err error) { log.Error("metrics server failed", "err", err) },
	})
	if err != nil {
		return fmt.Errorf("--metrics-bind-address: %w", err)
	}
	defer status.Stop()
	log.Info("serving metrics and health", "address", status.Addr().String(), "profiling", o.Profiling)

	log.Info("starting", "nodeIP", nodeIP, "netns", o.NetNS, "policyEnforcement", o.PolicyEnforcement, "bgp", o.BGP)
	stopHeartbeat, err := o.startHeartbeat(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopHeartbeat()
	waitBGP, err := o.startBGP(ctx, cfg, client, ns.nl, reg, log)
	if err != nil {
		return err
	}
	defer waitBGP()
	err = a.Run(ctx)
	log.Info("stopped; the dataplane stays as programmed")
	return err
}

// nodeNetNS is the network namespace the agent programs (--netns, or its
// own) and the handles bound to it, so that no thread of the agent
// changes namespace.
type nodeNetNS struct {
	handle netns.NsHandle
	fd     int // for nftables and the filter; 0 for the agent's own namespace
	nl     *netlink.Handle
	nft    *nftables.Conn
}

// openNetNS opens the namespace to program and a netlink handle and an
// nftables connection in it.
func (o *Options) openNetNS() (_ *nodeNetNS, err error) {
	ns := &nodeNetNS{handle: netns.None()}
	defer func() {
		if err != nil {
			ns.close()
		}
	}()
	var nftOpts []nftables.ConnOption
	if o.NetNS != "" {
		if ns.handle, err = netns.GetFromPath(o.netnsPath()); err != nil {
			ns.handle = netns.None()
			return nil, fmt.Errorf("opening --netns %q: %w", o.NetNS, err)
		}
		if ns.nl, err = netlink.NewHandleAt(ns.handle); err != nil {
			return nil, fmt.Errorf("opening a netlink handle in --netns %q: %w", o.NetNS, err)
		}
		ns.fd = int(ns.handle)
		nftOpts = append(nftOpts, nftables.WithNetNSFd(ns.fd))
	} else {
		if ns.handle, err = netns.Get(); err != nil {
			ns.handle = netns.None()
			return nil, fmt.Errorf("opening the agent's network namespace: %w", err)
		}
		if ns.nl, err = netlink.NewHandle(); err != nil {
			return nil, fmt.Errorf("opening a netlink handle: %w", err)
		}
	}
	if ns.nft, err = nftables.New(nftOpts...); err != nil {
		return nil, fmt.Errorf("opening an nftables connection: %w", err)
	}
	return ns, nil
}

// close closes what openNetNS opened.
func (ns *nodeNetNS) close() {
	if ns.nl != nil {
		ns.nl.Close()
	}
	if ns.handle.IsOpen() {
		_ = ns.handle.Close()
	}
}

// policyConfig opens the policy filter in the namespace of nsFD when
// --policy-enforcement is on, and returns it with the function that
// closes it; when off, it removes a filter an earlier run left and
// returns nil.
func (o *Options) policyConfig(ctx context.Context, nsFD int, log *slog.Logger) (*PolicyConfig, func(), error) {
	if !o.PolicyEnforcement {
		return nil, func() {}, teardownPolicy(ctx, nsFD, log)
	}
	f, err := filter.New(filter.Options{NetNS: nsFD, Logger: log.With("component", "filter")})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the policy filter: %w", err)
	}
	return &PolicyConfig{Filter: f}, func() { f.Close() }, nil
}

// startIPAM starts the node-local IPAM service on --ipam-socket, with a
// client of its own (the pods' path: no client-side rate limit of the
// agent's watches); the returned func stops it and waits for it.
func (o *Options) startIPAM(ctx context.Context, cfg *rest.Config, log *slog.Logger) (func(), error) {
	icfg := rest.CopyConfig(cfg)
	icfg.QPS, icfg.Burst = 200, 400
	icfg.UserAgent = "meshapi-agent/ipamd"
	cs, err := versioned.NewForConfig(icfg)
	if err != nil {
		return nil, fmt.Errorf("creating the IPAM service's projectcalico.org/v3 client: %w", err)
	}
	core, err := corev1client.NewForConfig(icfg)
	if err != nil {
		return nil, fmt.Errorf("creating the IPAM service's core client: %w", err)
	}
	srv, err := ipamd.New(ipamd.Config{Node: o.NodeName, Socket: o.IPAMSocket, Client: cs, Pods: core, Logger: log.With("component", "ipamd")})
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		return nil, fmt.Errorf("--ipam-socket: %w", err)
	}
	ictx, cancel := context.WithCancel(ctx)
	go func() {
		if err := srv.Serve(ictx); err != nil {
			log.Error("IPAM service failed", "err", err)
		}
	}()
	return func() { cancel(); <-srv.Done() }, nil
}

// startHeartbeat renews the node's heartbeat Lease every
// --heartbeat-period (package heartbeat) with a client of its own, so
// that the agent's watches' rate limit never delays it; the returned func
// stops it and waits for it.
func (o *Options) startHeartbeat(ctx context.Context, cfg *rest.Config, log *slog.Logger) (func(), error) {
	if o.HeartbeatPeriod <= 0 {
		return func() {}, nil
	}
	hcfg := rest.CopyConfig(cfg)
	hcfg.UserAgent = "meshapi-agent/heartbeat"
	leases, err := coordinationclient.NewForConfig(hcfg)
	if err != nil {
		return nil, fmt.Errorf("creating the heartbeat's coordination.k8s.io client: %w", err)
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		heartbeat.Run(hctx, heartbeat.Config{Leases: leases, Namespace: o.HeartbeatNamespace, Node: o.NodeName,
			Period: o.HeartbeatPeriod, Logger: log.With("component", "heartbeat")})
	}()
	return func() { cancel(); <-done }, nil
}

func (o *Options) restConfig() (*rest.Config, error) {
	if o.Kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig and not in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading --kubeconfig %s: %w", o.Kubeconfig, err)
	}
	return cfg, nil
}
