// Package runner keeps a node's BGP speaker in step with the
// projectcalico.org/v3 API: it watches Nodes, BGPConfigurations, BGPPeers
// and IPAMBlocks, computes the speaker (package peering), applies it to a
// running speaker (package speaker), restarting it when the node's
// identity (AS number, router ID, listen port) changes, and writes the
// sessions to the Node's status.bgp and to the metrics, with how many of
// the pod addresses of each remote cluster the underlay routes (its
// RemoteClusterConfiguration says overlayRoutingMode Disabled; its
// WorkloadEndpoints are mirrored here) the learned routes cover.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/bgp/peering"
	"github.com/meshapi/meshapi/pkg/bgp/speaker"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	listers "github.com/meshapi/meshapi/pkg/generated/listers/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/runloop"
)

// Config configures a Runner.
type Config struct {
	// NodeName is the Node the speaker runs for.
	NodeName string
	// Client reads the API and writes the Node's status.
	Client versioned.Interface
	// Speaker is the template of the speaker's options: the route handle,
	// protocol, metric and stale routes time. The identity comes from the
	// API.
	Speaker speaker.Options
	// ListenPort overrides the BGPConfiguration's listen port when not 0;
	// -1 does not listen (tests).
	ListenPort int32
	// Passwords reads the Secret keys of session passwords; nil refuses
	// peers with a password.
	Passwords speaker.Passwords
	// Metrics, when set, receives the sessions and route counts.
	Metrics *speaker.Metrics
	// Debounce gathers API events before a reconcile; 0 is 50 ms.
	Debounce time.Duration
	// StatusInterval is how often the sessions are written even without
	// API events; 0 is 10 s.
	StatusInterval time.Duration
	// Log receives the runner's messages.
	Log logr.Logger
}

// Runner runs a node's speaker.
type Runner struct {
	cfg     Config
	nodes   listers.NodeLister
	configs listers.BGPConfigurationLister
	peers   listers.BGPPeerLister
	blocks  listers.IPAMBlockLister
	rccs    listers.RemoteClusterConfigurationLister
	// mirrored lists the WorkloadEndpoints mirrored from remote clusters.
	mirrored listers.WorkloadEndpointLister
	sp       *speaker.Speaker
	running  peering.Speaker
}

// Run runs the speaker until ctx ends, then stops it.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 50 * time.Millisecond
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	f := informers.NewSharedInformerFactory(cfg.Client, 0)
	// The remote clusters' endpoints only, by the label every mirror has.
	mf := informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = v3.LabelCluster
	}))
	v3i, mv3i := f.Projectcalico().V3(), mf.Projectcalico().V3()
	r := &Runner{cfg: cfg, nodes: v3i.Nodes().Lister(), configs: v3i.BGPConfigurations().Lister(),
		peers: v3i.BGPPeers().Lister(), blocks: v3i.IPAMBlocks().Lister(),
		rccs: v3i.RemoteClusterConfigurations().Lister(), mirrored: mv3i.WorkloadEndpoints().Lister()}
	kicks := runloop.NewKicker()
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kicks.Kick() },
		UpdateFunc: func(any, any) { kicks.Kick() },
		DeleteFunc: func(any) { kicks.Kick() },
	}
	// Peering follows these; the remote clusters' status is written on
	// the status interval.
	for _, inf := range []cache.SharedIndexInformer{v3i.Nodes().Informer(), v3i.BGPConfigurations().Informer(), v3i.BGPPeers().Informer(), v3i.IPAMBlocks().Informer()} {
		if _, err := inf.AddEventHandler(notify); err != nil {
			return fmt.Errorf("watching the BGP inputs: %w", err)
		}
	}
	v3i.RemoteClusterConfigurations().Informer()
	mv3i.WorkloadEndpoints().Informer()
	for _, factory := range []informers.SharedInformerFactory{f, mf} {
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return fmt.Errorf("syncing the %v informer: %w", typ, ctx.Err())
			}
		}
	}
	defer r.stop()
	l := &runloop.Loop{
		Pass: func(ctx context.Context) (time.Duration, error) {
			// A failed reconcile is tried again on the status interval.
			if err := r.reconcile(ctx); err != nil {
				cfg.Log.Error(err, "BGP reconcile")
			}
			return 0, nil
		},
		Gather: func(time.Duration) time.Duration { return cfg.Debounce },
		Tasks:  []runloop.Task{{Every: cfg.StatusInterval, ThenPass: true}},
	}
	l.Run(ctx, kicks)
	return nil
}

// stop stops the running speaker, if any.
func (r *Runner) stop() {
	if r.sp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.sp.Stop(ctx); err != nil {
		r.cfg.Log.Error(err, "stopping the BGP speaker")
	}
	r.sp = nil
}

// reconcile makes the speaker match the API and reports its sessions.
func (r *Runner) reconcile(ctx context.Context) error {
	in, err := r.input()
	if err != nil {
		return err
	}
	want, err := peering.Compute(in)
	if err != nil {
		return err
	}
	if r.sp != nil && (want.ASNumber != r.running.ASNumber || want.RouterID != r.running.RouterID || want.ListenPort != r.running.ListenPort) {
		r.cfg.Log.Info("BGP identity changed: restarting the speaker", "from", fmt.Sprintf("AS%d/%s:%d", r.running.ASNumber, r.running.RouterID, r.running.ListenPort),
			"to", fmt.Sprintf("AS%d/%s:%d", want.ASNumber, want.RouterID, want.ListenPort))
		r.stop()
	}
	if r.sp == nil {
		opts := r.cfg.Speaker
		opts.ASNumber, opts.RouterID, opts.ListenPort = want.ASNumber, want.RouterID, int32(want.ListenPort)
		if r.cfg.ListenPort != 0 {
			opts.ListenPort = r.cfg.ListenPort
		}
		if len(opts.ListenAddresses) == 0 {
			opts.ListenAddresses = []string{want.RouterID.String()}
		}
		if opts.Log.GetSink() == nil {
			opts.Log = r.cfg.Log
		}
		if r.sp, err = speaker.Start(ctx, opts); err != nil {
			return err
		}
	}
	r.running = want
	applyErr := r.sp.Apply(ctx, want, r.cfg.Passwords)
	return joinErr(applyErr, r.report(ctx, want))
}

// input reads the speaker's inputs from the informers.
func (r *Runner) input() (peering.Input, error) {
	in := peering.Input{NodeName: r.cfg.NodeName}
	nodes, err := r.nodes.List(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("listing Nodes: %w", err)
	}
	for _, n := range nodes {
		in.Nodes = append(in.Nodes, *n)
	}
	configs, err := r.configs.List(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("listing BGPConfigurations: %w", err)
	}
	for _, c := range configs {
		in.Configs = append(in.Configs, *c)
	}
	peers, err := r.peers.List(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("listing BGPPeers: %w", err)
	}
	for _, p := range peers {
		in.Peers = append(in.Peers, *p)
	}
	blocks, err := r.blocks.List(labels.Everything())
	if err != nil {
		return in, fmt.Errorf("listing IPAMBlocks: %w", err)
	}
	for _, b := range blocks {
		in.Blocks = append(in.Blocks, *b)
	}
	return in, nil
}

// report writes the sessions to the Node's status.bgp (a merge patch of
// that field only: the agent's status.dataplane is left alone) and to the
// metrics.
func (r *Runner) report(ctx context.Context, want peering.Speaker) error {
	sessions, err := r.sp.Sessions(ctx)
	if err != nil {
		return err
	}
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.Observe(sessions, len(r.sp.Learned()), len(want.Prefixes))
	}
	st := speaker.NodeStatus(want, sessions, metav1.Now())
	if st.RemoteClusters, err = r.remoteClusters(); err != nil {
		return err
	}
	patch, err := statusPatch(st)
	if err != nil {
		return err
	}
	if _, err := r.cfg.Client.ProjectcalicoV3().Nodes().Patch(ctx, r.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("writing Node %s status.bgp: %w", r.cfg.NodeName, err)
	}
	return nil
}

// remoteClusters is status.bgp.remoteClusters: how many of the pod
// addresses of each remote cluster the underlay routes the speaker's
// learned routes cover.
func (r *Runner) remoteClusters() ([]v3.NodeBGPRemoteClusterStatus, error) {
	rccs, err := r.rccs.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing RemoteClusterConfigurations: %w", err)
	}
	var underlay []string
	for _, rcc := range rccs {
		if rcc.EffectiveOverlayRoutingMode() == v3.OverlayRoutingModeDisabled {
			underlay = append(underlay, rcc.Name)
		}
	}
	if len(underlay) == 0 {
		return nil, nil
	}
	mirrored, err := r.mirrored.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing mirrored WorkloadEndpoints: %w", err)
	}
	endpoints := make([]v3.WorkloadEndpoint, len(mirrored))
	for i, ep := range mirrored {
		endpoints[i] = *ep
	}
	return speaker.RemoteClusters(underlay, endpoints, r.sp.Learned()), nil
}

// statusPatch is the merge patch setting status.bgp to st; a list that
// became empty (sessions, remoteClusters) is written as null, which a
// merge patch needs to remove the old one.
func statusPatch(st any) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	for _, list := range []string{"sessions", "remoteClusters"} {
		if _, ok := fields[list]; !ok {
			fields[list] = nil
		}
	}
	return json.Marshal(map[string]any{"status": map[string]any{"bgp": fields}})
}

func joinErr(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}
