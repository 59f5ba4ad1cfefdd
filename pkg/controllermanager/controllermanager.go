// Package controllermanager runs meshapi's controllers in one process (the
// remote cluster sync, federated Services, Multi-Cluster Services,
// WorkloadEndpoints and namespace Profiles from Pods and Namespaces, and
// the IPAM garbage collector):
// leader election on a Lease, /healthz, /readyz and Prometheus /metrics,
// and graceful shutdown.
package controllermanager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/meshapi/meshapi/pkg/federation"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamgc"
	mcscontroller "github.com/meshapi/meshapi/pkg/mcs/controller"
	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/pkg/remotecluster"
	"github.com/meshapi/meshapi/pkg/statusserver"
)

// Options are the flags of meshapi-controller.
type Options struct {
	// Kubeconfig reaches the local cluster; empty means in-cluster.
	Kubeconfig string
	// MetricsBindAddress serves /metrics, /healthz and /readyz.
	MetricsBindAddress string
	// Profiling serves Go's /debug/pprof on MetricsBindAddress.
	Profiling bool
	// LeaderElect turns leader election on.
	LeaderElect bool
	// LeaderElectionNamespace and LeaderElectionName name the Lease.
	LeaderElectionNamespace, LeaderElectionName string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Workers is the number of workers per remote cluster.
	Workers int
	// MirrorWritesInFlight bounds the mirror writes of all remote clusters
	// in flight at once.
	MirrorWritesInFlight int
	// KubeAPIQPS and KubeAPIBurst limit the controller's requests to the
	// local cluster's API (mirror writes, status, federated endpoints).
	KubeAPIQPS   float32
	KubeAPIBurst int
	// SecretResyncPeriod is how often access Secrets are read again.
	SecretResyncPeriod time.Duration
	// FederationGracePeriod is how long a failed remote cluster's addresses
	// stay in federated Services; 0 keeps them, as the original does.
	FederationGracePeriod time.Duration
	// IPAMGC tunes the IPAM garbage collector.
	IPAMGC ipamgc.Config
	// MCS runs the Multi-Cluster Services controller (ServiceImports
	// from the ServiceExports of the mesh).
	MCS bool
	// MCSClusterID is this cluster's id in the ClusterSet; empty reads
	// the ClusterProperty cluster.clusterset.k8s.io.
	MCSClusterID string
	// DirectAPIService names the APIService whose server the controller's
	// projectcalico.org requests go to directly, not through
	// kube-apiserver; empty sends them through kube-apiserver.
	DirectAPIService string
	// DirectRecheckPeriod is how often that APIService is read again.
	DirectRecheckPeriod time.Duration
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		MetricsBindAddress:      "127.0.0.1:9093",
		LeaderElect:             true,
		LeaderElectionNamespace: "calico-system",
		LeaderElectionName:      "meshapi-controller",
		LeaseDuration:           15 * time.Second,
		RenewDeadline:           10 * time.Second,
		RetryPeriod:             2 * time.Second,
		// The client's rate limit must not be what bounds an initial sync:
		// kube-apiserver's priority and fairness protects the servers.
		// An initial sync is one create per mirror, so its rate is the
		// writes in flight over the create's latency: with 16 workers
		// the 10-ms creates of a busy API server capped it at 0.70–0.75x
		// the rate 16 plain writers get; with 64 the API server's CPU
		// bounds it (0.95x, and 31 s instead of 37 s for 50,000
		// endpoints, BENCHMARKS.md). With 4 workers and 200 requests/s,
		// 50,000 endpoints took over four minutes.
		Workers: 64,
		// The writes of 50 remotes syncing at once, 64 workers each, would
		// overflow the priority and fairness queues of the local API
		// server (a flow gets a few queues of 50) and come back as 429s.
		MirrorWritesInFlight: 64,
		KubeAPIQPS:           5000,
		KubeAPIBurst:         10000,
		SecretResyncPeriod:   30 * time.Second,
		IPAMGC:               ipamgc.DefaultConfig(),
		MCS:                  true,
		DirectAPIService:     "v3.projectcalico.org",
		DirectRecheckPeriod:  time.Minute,
	}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig of the local cluster; empty means the in-cluster service account.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address serving /metrics, /healthz and /readyz (host:port; port 0 picks one).")
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "Serve Go's profiles (/debug/pprof/) on --metrics-bind-address; anyone who reaches that address can read them.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect one active replica with a Lease; others wait.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "Namespace of the leader election Lease.")
	fs.StringVar(&o.LeaderElectionName, "leader-election-name", o.LeaderElectionName, "Name of the leader election Lease.")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration, "How long a leader's Lease is valid.")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline, "How long the leader tries to renew before giving up.")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod, "How often candidates try to acquire the Lease.")
	fs.IntVar(&o.Workers, "workers", o.Workers, "Mirroring workers per remote cluster: how many mirror writes one remote cluster's initial sync has in flight at once (endpoint creates among them go together in MirrorBatch requests).")
	fs.IntVar(&o.MirrorWritesInFlight, "mirror-writes-in-flight", o.MirrorWritesInFlight,
		"Mirror writes of all remote clusters together in flight at once, and as many MirrorBatch requests (endpoint creates, many per request) apart from them: what many remote clusters syncing at once ask of the local API server, whose priority and fairness queues refuse (429) what they cannot hold.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second the controller may send to the local cluster's API; mirror writes of a large initial sync are bounded by it.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of requests above --kube-api-qps the controller may send to the local cluster's API.")
	fs.DurationVar(&o.SecretResyncPeriod, "secret-resync-period", o.SecretResyncPeriod, "How often each RemoteClusterConfiguration's access Secret is read again, to pick up changed credentials.")
	fs.DurationVar(&o.FederationGracePeriod, "federation-remote-grace-period", o.FederationGracePeriod,
		"How long the addresses of a remote cluster whose connection failed stay in federated Services. 0 (the default, as the original) keeps them until the cluster is back or its RemoteClusterConfiguration is deleted.")
	fs.DurationVar(&o.IPAMGC.Grace, "ipam-gc-grace-period", o.IPAMGC.Grace,
		"How long an IPAM allocation whose pod (or, for a VXLAN tunnel address, node) is gone must be seen leaked, and be old by its timestamp, before the IPAM garbage collector releases it; also how long an empty block of a gone node waits before it is deleted.")
	fs.BoolVar(&o.MCS, "mcs", o.MCS,
		"Run the Multi-Cluster Services (KEP-1645) controller: ServiceImports, their derived Services and EndpointSlices from the ServiceExports of every cluster of the mesh. It waits until the local cluster serves the CRDs of artifacts/mcs.")
	fs.StringVar(&o.MCSClusterID, "mcs-cluster-id", o.MCSClusterID,
		"This cluster's id in the ClusterSet, the name the other clusters' RemoteClusterConfigurations give it: creates the ClusterProperty cluster.clusterset.k8s.io when absent. Empty reads that ClusterProperty.")
	fs.DurationVar(&o.IPAMGC.Interval, "ipam-gc-interval", o.IPAMGC.Interval,
		"Time between IPAM garbage collection passes; pod and node deletions also start one.")
	fs.StringVar(&o.DirectAPIService, "direct-apiservice", o.DirectAPIService,
		"Send the projectcalico.org requests (mirror writes, status, watches) straight to the server behind this APIService, reached and verified as kube-apiserver's aggregator does (its Service, its caBundle), instead of through kube-apiserver: one hop and one filter chain less per request. That server still authenticates and authorizes every request. "+
			"When the APIService has no service or caBundle, or sets insecureSkipTLSVerify, or its server does not answer within 15s, the controller says why and goes through kube-apiserver. When the APIService's service or caBundle changes, the controller exits to be restarted with it. Empty always goes through kube-apiserver.")
	fs.DurationVar(&o.DirectRecheckPeriod, "direct-apiservice-recheck-period", o.DirectRecheckPeriod,
		"How often the --direct-apiservice APIService is read again, to see whether its service or caBundle changed.")
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, not %d", o.Workers))
	}
	if o.MirrorWritesInFlight < 1 {
		errs = append(errs, fmt.Errorf("--mirror-writes-in-flight must be at least 1, not %d", o.MirrorWritesInFlight))
	}
	if o.KubeAPIQPS <= 0 {
		errs = append(errs, fmt.Errorf("--kube-api-qps must be positive, not %g", o.KubeAPIQPS))
	}
	if o.KubeAPIBurst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-burst must be at least 1, not %d", o.KubeAPIBurst))
	}
	if o.LeaderElect && (o.LeaseDuration <= o.RenewDeadline || o.RenewDeadline <= o.RetryPeriod) {
		errs = append(errs, fmt.Errorf("leader election needs lease duration > renew deadline > retry period, not %s > %s > %s", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod))
	}
	if o.FederationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--federation-remote-grace-period must not be negative, not %s", o.FederationGracePeriod))
	}
	if err := o.IPAMGC.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.MCSClusterID != "" {
		if msgs := validation.IsDNS1123Label(o.MCSClusterID); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--mcs-cluster-id must be a DNS label (RFC 1123), not %q: %s", o.MCSClusterID, strings.Join(msgs, "; ")))
		}
	}
	if o.DirectRecheckPeriod < time.Second {
		errs = append(errs, fmt.Errorf("--direct-apiservice-recheck-period must be at least 1s, not %s", o.DirectRecheckPeriod))
	}
	if o.SecretResyncPeriod < time.Second {
		errs = append(errs, fmt.Errorf("--secret-resync-period must be at least 1s, not %s", o.SecretResyncPeriod))
	}
	return errors.Join(errs...)
}

// Run runs the controllers until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	cfg, err := o.restConfig()
	if err != nil {
		return err
	}
	var c controllerClients
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if c.mcs, err = mcsclientset.NewForConfig(cfg); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := controllerMetrics{remotes: remotecluster.NewMetrics(reg), gc: ipamgc.NewMetrics(reg), mcs: mcscontroller.NewMetrics(reg)}
	var leading atomic.Bool

	status, err := statusserver.Start(statusserver.Config{
		Address: o.MetricsBindAddress, Gatherer: reg, Profiling: o.Profiling,
		Readyz: func() (string, error) {
			if o.LeaderElect && !leading.Load() {
				// A standby replica is healthy and ready to take over.
				return "ok (standby)", nil
			}
			return "ok", nil
		},
		OnError: func(err error) { logger.Error(err, "Metrics server failed") },
	})
	if err != nil {
		return fmt.Errorf("--metrics-bind-address: %w", err)
	}
	defer status.Stop()
	logger.Info("Serving metrics and health", "address", status.Addr().String(), "profiling", o.Profiling)
	// After the health server: the direct server's probe may take a while.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if c.local, err = versioned.NewForConfig(o.projectcalicoConfig(ctx, cfg, c.kube, c.dyn, stop)); err != nil {
		return err
	}

	run := func(ctx context.Context) {
		leading.Store(true)
		o.runControllers(ctx, c, metrics)
	}
	if !o.LeaderElect {
		run(ctx)
		return restartCause(ctx)
	}
	if err := o.runWhileLeading(ctx, c.kube, run, func() { leading.Store(false) }); err != nil {
		return err
	}
	return restartCause(ctx)
}

// controllerClients are the clients the controllers share: of the core
// API, dynamic, of projectcalico.org/v3 (through the direct server when
// it answers), and of the multi-cluster services API.
type controllerClients struct {
	kube  kubernetes.Interface
	dyn   dynamic.Interface
	local versioned.Interface
	mcs   mcsclientset.Interface
}

// controllerMetrics are the controllers' metrics, registered once for the
// process: a replica that leads again reuses them.
type controllerMetrics struct {
	remotes *remotecluster.Metrics
	gc      *ipamgc.Metrics
	mcs     *mcscontroller.Metrics
}

// runControllers runs every controller until ctx ends: remote clusters,
// federated services, multi-cluster service imports (--mcs), pod
// endpoints and the IPAM garbage collector.
func (o *Options) runControllers(ctx context.Context, c controllerClients, m controllerMetrics) {
	logger := klog.FromContext(ctx)
	var wg sync.WaitGroup
	runLogged := func(name string, run func() error) {
		wg.Go(func() {
			if err := run(); err != nil {
				logger.Error(err, name+" stopped")
			}
		})
	}
	remotes := remotecluster.NewController(c.local, c.kube, m.remotes,
		remotecluster.Concurrency{WorkersPerCluster: o.Workers, WritesInFlight: o.MirrorWritesInFlight}, o.SecretResyncPeriod)
	federated := federation.NewController(c.kube, remotes, o.FederationGracePeriod)
	servicesChanged := []func(string){federated.ClusterChanged}
	if o.MCS {
		imports := mcscontroller.New(c.kube, c.mcs, c.dyn, remotes, mcscontroller.Config{ClusterID: o.MCSClusterID}, m.mcs)
		servicesChanged = append(servicesChanged, imports.ClusterChanged)
		runLogged("Multi-cluster service controller", func() error { return imports.Run(ctx, 2) })
	}
	remotes.OnServicesChanged(func(cluster string) {
		for _, f := range servicesChanged {
			f(cluster)
		}
	})
	runLogged("Remote cluster controller", func() error { return remotes.Run(ctx, 2) })
	runLogged("Federated service controller", func() error { return federated.Run(ctx, 2) })
	runLogged("Pod endpoint controller", func() error { return podendpoints.NewController(c.kube, c.local).Run(ctx, 2) })
	runLogged("IPAM garbage collector", func() error {
		return ipamgc.NewController(c.kube, c.local, ipam.NewClient(c.local), o.IPAMGC, m.gc).Run(ctx)
	})
	wg.Wait()
}

// runWhileLeading runs run while this replica holds the leader election
// Lease (--leader-elect-*), calling stopped when it loses it, until ctx
// ends.
func (o *Options) runWhileLeading(ctx context.Context, kube kubernetes.Interface, run func(context.Context), stopped func()) error {
	logger := klog.FromContext(ctx)
	id, err := os.Hostname()
	if err != nil {
		return err
	}
	id = fmt.Sprintf("%s_%d", id, os.Getpid())
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.LeaderElectionNamespace, o.LeaderElectionName,
		kube.CoreV1(), kube.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return err
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
		ReleaseOnCancel: true, Name: o.LeaderElectionName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: run,
			OnStoppedLeading: func() {
				stopped()
				logger.Info("Stopped leading", "identity", id)
			},
			OnNewLeader: func(leader string) { logger.Info("Leader", "identity", leader) },
		},
	})
	return nil
}

func (o *Options) restConfig() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if o.Kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("building the local cluster's client configuration: %w", err)
	}
	cfg.UserAgent = "meshapi-controller"
	cfg.QPS, cfg.Burst = o.KubeAPIQPS, o.KubeAPIBurst
	return cfg, nil
}
