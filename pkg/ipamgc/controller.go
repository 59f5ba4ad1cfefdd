package ipamgc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	calicoinformers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	calicolisters "github.com/meshapi/meshapi/pkg/generated/listers/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/runloop"
)

// Releaser releases IPAM allocations by handle, with a compare-and-swap on
// each block; pkg/ipam's Client is the one meshapi uses.
type Releaser interface {
	// ReleaseByHandle releases every address of handle and returns them;
	// an unknown handle releases nothing and is no error.
	ReleaseByHandle(ctx context.Context, handle string) ([]netip.Addr, error)
}

// Config tunes the controller.
type Config struct {
	// Grace is how long an allocation must be leaked (and old, by its
	// timestamp attribute) and a block empty on a gone node before it is
	// freed.
	Grace time.Duration
	// Interval is the time between passes when nothing happens.
	Interval time.Duration
	// Debounce is how long a pass waits after a pod or node deletion, to
	// take the deletions that follow in the same pass.
	Debounce time.Duration
}

// DefaultConfig returns the defaults: a five-minute grace, a pass a
// minute, one second of debounce.
func DefaultConfig() Config {
	return Config{Grace: 5 * time.Minute, Interval: time.Minute, Debounce: time.Second}
}

// Validate checks the configuration; flag names are those of
// meshapi-controller.
func (c Config) Validate() error {
	var errs []error
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("--ipam-gc-grace-period must not be negative, not %s", c.Grace))
	}
	if c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("--ipam-gc-interval must be at least 1s, not %s", c.Interval))
	}
	if c.Debounce < 0 {
		errs = append(errs, fmt.Errorf("the IPAM garbage collector's debounce must not be negative, not %s", c.Debounce))
	}
	return errors.Join(errs...)
}

// Controller frees leaked allocations and empty blocks of gone nodes.
type Controller struct {
	local    versioned.Interface
	releaser Releaser
	cfg      Config
	metrics  *Metrics

	kubeFactory   informers.SharedInformerFactory
	calicoFactory calicoinformers.SharedInformerFactory
	pods          corelisters.PodLister
	kubeNodes     corelisters.NodeLister
	nodes         calicolisters.NodeLister
	blocks        calicolisters.IPAMBlockLister
	synced        []cache.InformerSynced
	// trigger asks for a pass (after the debounce).
	trigger runloop.Kicker
}

// NewController returns a controller that reads Pods and Nodes through
// kube, Nodes and IPAMBlocks through local, releases through r and counts
// in m.
func NewController(kube kubernetes.Interface, local versioned.Interface, r Releaser, cfg Config, m *Metrics) *Controller {
	kf := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithTransform(slimPod))
	// Mirrored Nodes and blocks are other clusters': never in the cache.
	cf := calicoinformers.NewSharedInformerFactoryWithOptions(local, 0, calicoinformers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "!" + v3.LabelCluster
	}))
	c := &Controller{
		local: local, releaser: r, cfg: cfg, metrics: m, kubeFactory: kf, calicoFactory: cf,
		pods: kf.Core().V1().Pods().Lister(), kubeNodes: kf.Core().V1().Nodes().Lister(),
		nodes: cf.Projectcalico().V3().Nodes().Lister(), blocks: cf.Projectcalico().V3().IPAMBlocks().Lister(),
		trigger: runloop.NewKicker(),
	}
	onDelete := cache.ResourceEventHandlerFuncs{DeleteFunc: func(any) { c.Trigger() }}
	infs := []cache.SharedIndexInformer{kf.Core().V1().Pods().Informer(), kf.Core().V1().Nodes().Informer(),
		cf.Projectcalico().V3().Nodes().Informer(), cf.Projectcalico().V3().IPAMBlocks().Informer()}
	for i, inf := range infs {
		if i < 3 { // pods and both kinds of nodes
			_, _ = inf.AddEventHandler(onDelete)
		}
		c.synced = append(c.synced, inf.HasSynced)
	}
	return c
}

// slimPod keeps of a Pod only what the collector reads, to keep the cache
// small in large clusters.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion},
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{PodIPs: p.Status.PodIPs},
	}, nil
}

// PodOf returns what the collector judges of a pod: its node and the
// addresses in its status (an address that does not parse is left out).
func PodOf(p *corev1.Pod) Pod {
	out := Pod{Node: p.Spec.NodeName}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out.IPs = append(out.IPs, a.Unmap())
		}
	}
	return out
}

// Trigger asks for a pass after the debounce.
func (c *Controller) Trigger() { c.trigger.Kick() }

// Run runs passes until ctx ends: one at start, one every Interval, one
// after each burst of pod or node deletions, and one when the first
// waiting leak's grace ends.
func (c *Controller) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("ipam-gc")
	c.kubeFactory.Start(ctx.Done())
	defer c.kubeFactory.Shutdown()
	c.calicoFactory.Start(ctx.Done())
	defer c.calicoFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("IPAM garbage collector: pod, node and block caches did not sync")
	}
	logger.Info("IPAM garbage collector started", "gracePeriod", c.cfg.Grace, "interval", c.cfg.Interval)
	seen := map[string]time.Time{}
	l := &runloop.Loop{
		Pass: func(ctx context.Context) (time.Duration, error) {
			wait := c.cfg.Interval
			next, err := c.pass(klog.NewContext(ctx, logger), seen)
			if err != nil {
				c.metrics.errors.Inc()
				logger.Error(err, "IPAM garbage collection pass failed")
				wait = min(wait, 5*time.Second)
			}
			if next.seen != nil {
				seen = next.seen
			}
			if !next.at.IsZero() {
				wait = min(wait, max(time.Until(next.at), 0))
			}
			return max(wait, time.Millisecond), nil // one due now runs at once
		},
		Gather: func(time.Duration) time.Duration { return c.cfg.Debounce },
	}
	l.Run(ctx, c.trigger)
	return nil
}

// passResult is what a pass tells the loop: the leaks being tracked and
// when the next pass is due (zero: after the interval).
type passResult struct {
	seen map[string]time.Time
	at   time.Time
}

// pass plans over the caches and applies the plan.
func (c *Controller) pass(ctx context.Context, seen map[string]time.Time) (passResult, error) {
	state, err := c.snapshot()
	if err != nil {
		return passResult{}, err
	}
	plan, err := NewPlan(state, seen, time.Now(), c.cfg.Grace)
	if err != nil {
		return passResult{}, err
	}
	res := passResult{seen: plan.Seen, at: plan.Next}
	c.metrics.waiting.Set(float64(plan.Waiting))
	errs := c.apply(ctx, plan)
	if len(plan.Releases) > 0 {
		// Released addresses may leave blocks of gone nodes empty: look
		// again once the cache has the released blocks.
		if soon := time.Now().Add(c.cfg.Debounce); res.at.IsZero() || soon.Before(res.at) {
			res.at = soon
		}
	}
	return res, errs
}

// snapshot reads the state from the caches.
func (c *Controller) snapshot() (*State, error) {
	blocks, err := c.blocks.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing IPAMBlocks from the cache: %w", err)
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing Pods from the cache: %w", err)
	}
	kubeNodes, err := c.kubeNodes.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing Kubernetes Nodes from the cache: %w", err)
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing Nodes from the cache: %w", err)
	}
	s := &State{Pods: make(map[string]Pod, len(pods))}
	for _, b := range blocks {
		s.Blocks = append(s.Blocks, *b)
	}
	for _, p := range pods {
		s.Pods[p.Namespace+"/"+p.Name] = PodOf(p)
	}
	kubeNames := make([]string, 0, len(kubeNodes))
	for _, n := range kubeNodes {
		kubeNames = append(kubeNames, n.Name)
	}
	calicoNodes := make([]v3.Node, 0, len(nodes))
	for _, n := range nodes {
		calicoNodes = append(calicoNodes, *n)
	}
	s.Nodes = LiveNodes(kubeNames, calicoNodes)
	return s, nil
}

// apply releases the plan's handles and deletes its blocks, logging each.
func (c *Controller) apply(ctx context.Context, plan *Plan) error {
	logger := klog.FromContext(ctx)
	var errs []error
	for _, r := range plan.Releases {
		addrs, err := c.releaser.ReleaseByHandle(ctx, r.Handle)
		if err != nil {
			errs = append(errs, fmt.Errorf("releasing handle %q: %w", r.Handle, err))
			continue
		}
		l := r.Leaks[0]
		c.metrics.released.WithLabelValues(string(l.Reason)).Add(float64(len(addrs)))
		logger.Info("Released leaked IPAM allocation", "handle", r.Handle, "addresses", addrs,
			"pod", l.Pod(), "node", l.Attrs[AttrNode], "block", l.Block, "reason", l.Reason, "detail", l.Describe())
	}
	for _, b := range plan.DeleteBlocks {
		if err := c.deleteBlock(ctx, &b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteBlock deletes an empty block of a gone node, logging it.
func (c *Controller) deleteBlock(ctx context.Context, b *v3.IPAMBlock) error {
	logger := klog.FromContext(ctx)
	deleted, err := DeleteEmptyBlock(ctx, c.local, b)
	switch {
	case err != nil:
		return err
	case deleted:
		c.metrics.blocksDeleted.Inc()
		logger.Info("Deleted empty IPAM block of a gone node", "block", b.Name, "cidr", b.Spec.CIDR,
			"node", BlockNode(b), "reason", ReasonNodeGone)
	default:
		logger.V(2).Info("Empty IPAM block changed or went before its deletion; looking again next pass", "block", b.Name)
	}
	return nil
}

// DeleteEmptyBlock deletes block b if it is still the version given (its
// resourceVersion and UID as preconditions), so that an allocation made
// since b was read wins. It reports false, without error, when the block
// changed or is already gone.
func DeleteEmptyBlock(ctx context.Context, cs versioned.Interface, b *v3.IPAMBlock) (bool, error) {
	rv, uid := b.ResourceVersion, b.UID
	err := cs.ProjectcalicoV3().IPAMBlocks().Delete(ctx, b.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{ResourceVersion: &rv, UID: &uid}})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		return false, nil
	}
	return false, fmt.Errorf("deleting empty IPAMBlock %q (resourceVersion %s) of node %q: %w", b.Name, rv, BlockNode(b), err)
}
