package remotecluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	kuberecord "k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	clientsetscheme "github.com/meshapi/meshapi/pkg/generated/clientset/versioned/scheme"
	"github.com/meshapi/meshapi/pkg/meshguard"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// ClusterIndex indexes mirrored objects by the cluster they come from.
const ClusterIndex = "cluster"

// clusterIndexFunc returns the cluster label of a mirrored object.
func clusterIndexFunc(obj any) ([]string, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if c, ok := o.GetLabels()[v3.LabelCluster]; ok {
		return []string{c}, nil
	}
	return nil, nil
}

// Controller runs one Syncer per RemoteClusterConfiguration, restarts it
// when the configuration or its access Secret changes, removes the mirror
// of a deleted one, and writes each one's status.
type Controller struct {
	local   versioned.Interface
	kube    kubernetes.Interface
	metrics *Metrics
	// kinds are the mirrored kinds and the controller's caches of them.
	kinds []*kind
	// workers is the number of mirroring workers per remote cluster.
	workers int
	// writes bounds the mirror writes of all Syncers in flight at once.
	writes writeBounds

	rccs     cache.Indexer
	informer []cache.SharedIndexInformer
	// queue holds RCCs whose syncer may have to start, stop or restart;
	// statusQueue those whose status may have to be written.
	queue       workqueue.TypedRateLimitingInterface[string]
	statusQueue workqueue.TypedRateLimitingInterface[string]
	// secrets watches the access Secrets the RCCs name and queues an RCC
	// whose Secret changed; nil without a Kubernetes client.
	secrets *remoteaccess.SecretWatcher
	// ResyncPeriod is how often every RCC's access Secret is read again,
	// should a watch event have been missed.
	resyncPeriod time.Duration

	mu      sync.Mutex
	running map[string]*runningSyncer
	// counts holds, per cluster, the number of mirrored objects of each
	// kind (no entry for none), kept by the mirror informers' handlers so
	// that a status write does not have to count the whole mirror.
	counts map[string]map[*kind]int32
	// stale holds, per cluster, the clock of its disconnectedTTL.
	stale map[string]staleClock
	// servicesChanged is told when a remote cluster's Services change.
	servicesChanged func(cluster string)

	// events records refusals of remote objects as Events on the RCC.
	events   kuberecord.EventBroadcaster
	recorder kuberecord.EventRecorder
}

// kind is one mirrored kind in the controller: how it is mirrored (its
// entry in mirrorKinds) and the controller's caches of it.
type kind struct {
	mirrorKind
	// mirrors holds every cluster's mirrors of the kind, indexed by
	// ClusterIndex.
	mirrors cache.Indexer
	// own holds the local cluster's own objects of a requirement input;
	// nil for other kinds.
	own cache.Indexer
}

// kindsOf returns the kinds of specs, without caches yet.
func kindsOf(specs []mirrorKind) []*kind {
	out := make([]*kind, len(specs))
	for i, spec := range specs {
		out[i] = &kind{mirrorKind: spec}
	}
	return out
}

// kindNamed returns the kind named name, nil if none.
func kindNamed(kinds []*kind, name string) *kind {
	for _, k := range kinds {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// runningSyncer is a Syncer and what it was started from.
type runningSyncer struct {
	syncer      *Syncer
	fingerprint remoteaccess.Fingerprint
	cancel      context.CancelFunc
	done        chan struct{}
	status      SyncStatus
	lastSync    *metav1.Time
}

// Concurrency is how many mirror writes a Controller runs at once.
type Concurrency struct {
	// WorkersPerCluster is the number of mirroring workers of each remote
	// cluster: the writes one remote's initial sync has in flight.
	WorkersPerCluster int
	// WritesInFlight bounds the single mirror writes of all remote
	// clusters together, and apart from them their MirrorBatch requests
	// (the endpoint creates); 0 bounds them only by the workers.
	WritesInFlight int
}

// NewController returns a controller that reads RemoteClusterConfigurations
// and writes mirrors through local, and reads and watches access Secrets
// through kube. Every resyncPeriod the access Secrets are also read again.
func NewController(local versioned.Interface, kube kubernetes.Interface, metrics *Metrics, conc Concurrency, resyncPeriod time.Duration) *Controller {
	c := &Controller{
		local: local, kube: kube, metrics: metrics, kinds: kindsOf(mirrorKinds()), resyncPeriod: resyncPeriod,
		workers: conc.WorkersPerCluster,
		writes:  writeBounds{single: newWriteSlots(conc.WritesInFlight), batches: newWriteSlots(conc.WritesInFlight)},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "remoteclusterconfigurations"}),
		statusQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "remoteclusterconfiguration-status"}),
		running: map[string]*runningSyncer{},
		counts:  map[string]map[*kind]int32{},
		stale:   map[string]staleClock{},
		events:  kuberecord.NewBroadcaster(),
	}
	c.recorder = c.events.NewRecorder(clientsetscheme.Scheme, corev1.EventSource{Component: FieldManager})
	if kube != nil {
		c.secrets = remoteaccess.NewSecretWatcher(kube, c.queue.Add)
	}
	rccInformer := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return local.ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return local.ProjectcalicoV3().RemoteClusterConfigurations().Watch(ctx, o)
		},
	}, &v3.RemoteClusterConfiguration{}, 0, cache.Indexers{})
	_, _ = rccInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueRCC,
		UpdateFunc: c.rccUpdated,
		DeleteFunc: c.enqueueRCC,
	})
	c.rccs = rccInformer.GetIndexer()
	c.informer = append(c.informer, rccInformer)

	// Every mirrored object of every cluster, indexed by cluster.
	for _, k := range c.kinds {
		inf := cache.NewSharedIndexInformer(k.MirrorListWatch(local), k.Example(), 0, cache.Indexers{ClusterIndex: clusterIndexFunc})
		if err := inf.SetTransform(k.MirrorTransform()); err != nil {
			panic(err) // cannot happen: SetTransform fails only once the informer runs
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				c.count(k, obj, 1)
				c.mirrorChanged(k, obj, false)
				c.guardInputChanged(k, obj)
			},
			UpdateFunc: func(old, obj any) {
				c.count(k, old, -1)
				c.count(k, obj, 1)
				c.mirrorChanged(k, obj, false)
				c.guardInputChanged(k, obj)
			},
			DeleteFunc: func(obj any) {
				c.count(k, obj, -1)
				c.mirrorChanged(k, obj, true)
				c.guardInputChanged(k, obj)
			},
		})
		if k.RequirementInput() {
			_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    func(any) { c.recheckRequirements() },
				UpdateFunc: func(any, any) { c.recheckRequirements() },
				DeleteFunc: func(any) { c.recheckRequirements() },
			})
		}
		k.mirrors = inf.GetIndexer()
		c.informer = append(c.informer, inf)
	}
	c.watchRequirementInputs()
	return c
}

func (c *Controller) enqueueRCC(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		c.queue.Add(key)
	}
}

// rccUpdated queues an updated RCC for reconciliation only when its spec
// (its generation) or its deletion state changed. Updates of the status
// alone, most of them the controller's own writes, only queue a status
// refresh: reconciling on them re-read the Secret and rewrote the status
// tens of times a second during a large initial sync.
func (c *Controller) rccUpdated(oldObj, obj any) {
	old, ok1 := oldObj.(*v3.RemoteClusterConfiguration)
	rcc, ok2 := obj.(*v3.RemoteClusterConfiguration)
	if !ok1 || !ok2 || specChanged(old, rcc) {
		c.enqueueRCC(obj)
		return
	}
	c.statusQueue.AddAfter(rcc.Name, statusDelay)
}

// specChanged tells whether an RCC update asks for reconciliation rather
// than a status refresh.
func specChanged(old, rcc *v3.RemoteClusterConfiguration) bool {
	return old.Generation != rcc.Generation ||
		(old.DeletionTimestamp == nil) != (rcc.DeletionTimestamp == nil) ||
		old.UID != rcc.UID
}

// statusDelay batches status writes: changes of the mirror within it are
// written together.
const statusDelay = 500 * time.Millisecond

// count adds delta to the mirrored-object count of obj's cluster and kind.
func (c *Controller) count(k *kind, obj any, delta int32) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	cluster, ok := o.GetLabels()[v3.LabelCluster]
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.counts[cluster]
	if n == nil {
		n = map[*kind]int32{}
		c.counts[cluster] = n
	}
	n[k] += delta
	if n[k] == 0 {
		delete(n, k)
	}
	if len(n) == 0 {
		delete(c.counts, cluster)
	}
}

// mirroredCounts returns the number of mirrored objects of cluster per
// kind (no entry for none).
func (c *Controller) mirroredCounts(cluster string) map[*kind]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts[cluster])
}

// mirrorChanged routes a change of a local mirror (deleted: its deletion,
// obj then possibly a cache.DeletedFinalStateUnknown) to its cluster's
// syncer, which puts back anything changed behind its back and drops the
// echo of its own writes, and refreshes the cluster's counts.
func (c *Controller) mirrorChanged(k *kind, obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	cluster := o.GetLabels()[v3.LabelCluster]
	c.mu.Lock()
	r := c.running[cluster]
	c.mu.Unlock()
	if r != nil {
		if key, ok := k.RemoteKey(cluster, obj); ok {
			r.syncer.mirrorEvent(k, key, o.GetResourceVersion(), deleted)
		}
	}
	c.statusQueue.AddAfter(cluster, statusDelay)
	if _, exists, _ := c.rccs.GetByKey(cluster); !exists {
		c.queue.AddAfter(cluster, time.Second) // an orphan: remove it
	}
}

// Run runs the controller until ctx ends, then stops every syncer.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.queue.ShutDown()
	defer c.statusQueue.ShutDown()
	if c.kube != nil {
		// Without a Kubernetes client (the benchmarks, with inline
		// credentials only) refusals are logged but recorded as no Event.
		c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	}
	defer c.events.Shutdown()
	logger := klog.FromContext(ctx)
	var synced []cache.InformerSynced
	for _, inf := range c.informer {
		go inf.RunWithContext(ctx)
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("local caches did not sync")
	}
	// Mirrors of clusters that no longer have an RCC are removed.
	for _, k := range c.kinds {
		for _, cluster := range k.mirrors.ListIndexFuncValues(ClusterIndex) {
			c.queue.Add(cluster)
		}
	}
	logger.Info("Remote cluster controller started")
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
		go wait.UntilWithContext(ctx, c.statusWorker, time.Second)
	}
	go wait.UntilWithContext(ctx, func(context.Context) {
		for _, key := range c.rccs.ListKeys() {
			c.queue.Add(key)
		}
	}, c.resyncPeriod)
	<-ctx.Done()
	c.mu.Lock()
	running := c.running
	c.running = map[string]*runningSyncer{}
	c.mu.Unlock()
	for _, r := range running {
		r.cancel()
		<-r.done
	}
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	for {
		name, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		if err := c.reconcile(ctx, name); err != nil {
			klog.FromContext(ctx).Error(err, "Reconciling RemoteClusterConfiguration", "name", name)
			c.queue.AddRateLimited(name)
		} else {
			c.queue.Forget(name)
		}
		c.queue.Done(name)
	}
}

// statusWorker writes statuses until the status queue shuts down.
func (c *Controller) statusWorker(ctx context.Context) {
	for {
		name, shutdown := c.statusQueue.Get()
		if shutdown {
			return
		}
		if err := c.refreshStatus(ctx, name); err != nil {
			klog.FromContext(ctx).Error(err, "Writing RemoteClusterConfiguration status", "name", name)
			c.statusQueue.AddRateLimited(name)
		} else {
			c.statusQueue.Forget(name)
		}
		c.statusQueue.Done(name)
	}
}

// refreshStatus writes the status of a running syncer's RCC.
func (c *Controller) refreshStatus(ctx context.Context, name string) error {
	obj, exists, err := c.rccs.GetByKey(name)
	if err != nil || !exists {
		return err
	}
	c.mu.Lock()
	r := c.running[name]
	var st SyncStatus
	var lastSync *metav1.Time
	if r != nil {
		st, lastSync = r.status, r.lastSync
	}
	c.mu.Unlock()
	if r == nil {
		return nil // not running: reconcile wrote the status
	}
	rcc := obj.(*v3.RemoteClusterConfiguration)
	c.noteConnection(rcc, st.State)
	return c.writeStatus(ctx, rcc, st, lastSync, r.fingerprint.SecretResourceVersion)
}

// reconcile makes the syncer of one RCC match its configuration and
// writes its status.
func (c *Controller) reconcile(ctx context.Context, name string) error {
	obj, exists, err := c.rccs.GetByKey(name)
	if err != nil {
		return err
	}
	if !exists {
		c.watchSecret(ctx, name, nil)
		c.stop(name)
		c.metrics.forget(name)
		c.mu.Lock()
		delete(c.stale, name)
		c.mu.Unlock()
		return c.deleteMirror(ctx, name)
	}
	rcc := obj.(*v3.RemoteClusterConfiguration)
	c.watchSecret(ctx, name, rcc.Spec.ClusterAccessSecret)
	access, fingerprint, err := c.access(ctx, rcc)
	c.mu.Lock()
	r := c.running[name]
	c.mu.Unlock()
	if err != nil {
		var ce *remoteaccess.ConfigError
		if !errors.As(err, &ce) {
			return err
		}
		// Keep the last known mirror, as in an outage, until it is fixed
		// (or, with a disconnectedTTL, until that runs out).
		c.stop(name)
		c.noteConnection(rcc, v3.SyncStateConfigIncomplete)
		if _, err := c.expireStale(ctx, rcc); err != nil {
			return err
		}
		return c.writeStatus(ctx, rcc, SyncStatus{State: v3.SyncStateConfigIncomplete, Reason: ce.Reason, Message: ce.Message}, nil, fingerprint.SecretResourceVersion)
	}
	if r == nil || r.fingerprint != fingerprint {
		c.stop(name)
		r = c.start(ctx, rcc, access, fingerprint)
	}
	c.mu.Lock()
	state := r.status.State
	c.mu.Unlock()
	c.noteConnection(rcc, state)
	if expired, err := c.expireStale(ctx, rcc); err != nil {
		return err
	} else if expired {
		r = c.start(ctx, rcc, access, fingerprint)
	}
	c.mu.Lock()
	status, lastSync := r.status, r.lastSync
	c.mu.Unlock()
	return c.writeStatus(ctx, rcc, status, lastSync, r.fingerprint.SecretResourceVersion)
}

// access reads how to reach the remote cluster, and a fingerprint that
// changes whenever the syncer must restart: the spec, or the Secret.
func (c *Controller) access(ctx context.Context, rcc *v3.RemoteClusterConfiguration) (*remoteaccess.Access, remoteaccess.Fingerprint, error) {
	return remoteaccess.ReadAccess(ctx, c.kube, rcc)
}

// watchSecret makes the access Secret ref (nil: none) the one watched for
// the RCC called name, so that a change of it queues the RCC at once.
func (c *Controller) watchSecret(ctx context.Context, name string, ref *corev1.ObjectReference) {
	if c.secrets != nil {
		c.secrets.Set(ctx, name, ref)
	}
}

// start starts a syncer for rcc.
func (c *Controller) start(ctx context.Context, rcc *v3.RemoteClusterConfiguration, access *remoteaccess.Access, fingerprint remoteaccess.Fingerprint) *runningSyncer {
	name := rcc.Name
	r := &runningSyncer{fingerprint: fingerprint, done: make(chan struct{}),
		status: SyncStatus{State: v3.SyncStateConnecting, Reason: "Connecting", Message: "connecting to the remote cluster"}}
	report := func(st SyncStatus) {
		c.mu.Lock()
		if st.State == "" {
			r.status.LastError = st.Message
		} else {
			r.status = st
			if st.State == v3.SyncStateInSync {
				now := metav1.Now()
				r.lastSync = &now
			}
		}
		state := r.status.State
		c.mu.Unlock()
		c.metrics.connectionStatus.WithLabelValues(name).Set(ConnectionStatus(state))
		c.statusQueue.Add(name)
	}
	var remote versioned.Interface
	var etcd *etcdSource
	var err error
	if access.DatastoreType == v3.DatastoreTypeEtcdV3 {
		etcd, err = newEtcdSource(access.Etcd)
	} else {
		remote, err = access.Client()
	}
	if err != nil {
		reason := "KubeconfigInvalid"
		var ce *remoteaccess.ConfigError
		if errors.As(err, &ce) {
			reason = ce.Reason
		}
		r.status = SyncStatus{State: v3.SyncStateConfigIncomplete, Reason: reason, Message: err.Error()}
		close(r.done)
		r.cancel = func() {}
		return r
	}
	overlay := rcc.Spec.SyncOptions.OverlayRoutingMode == v3.OverlayRoutingModeEnabled
	r.syncer = newSyncer(name, overlay, remote, c.local, c.kinds, c.metrics, c.writes, report)
	r.syncer.etcd = etcd
	r.syncer.newGuard = c.newGuard
	r.syncer.onRefused = func(refusal *meshguard.Refusal) { c.refused(ctx, name, refusal) }
	if remote != nil && c.servicesChanged != nil {
		kube, err := kubernetes.NewForConfig(access.RESTConfig())
		exports, exportsErr := mcsclientset.NewForConfig(access.RESTConfig())
		if err == nil && exportsErr == nil {
			r.syncer.kube, r.syncer.exports = kube, exports
			r.syncer.servicesChanged = func() { c.servicesChanged(name) }
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	c.mu.Lock()
	c.running[name] = r
	c.mu.Unlock()
	c.metrics.connectionStatus.WithLabelValues(name).Set(ConnectionStatus(v3.SyncStateConnecting))
	go func() {
		defer close(r.done)
		r.syncer.Run(sctx, c.workers)
		if etcd != nil {
			_ = etcd.close()
		}
	}()
	return r
}

// stop stops the syncer of name, if any, and waits for it.
func (c *Controller) stop(name string) {
	c.mu.Lock()
	r := c.running[name]
	delete(c.running, name)
	c.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
		if c.servicesChanged != nil {
			c.servicesChanged(name)
		}
	}
}

// deleteMirror removes every mirrored object of cluster: one
// deletecollection by the cluster label per kind and namespace, not one
// request per object (50,000 mirrors took over a minute one by one).
func (c *Controller) deleteMirror(ctx context.Context, cluster string) error {
	var errs []error
	for _, k := range c.kinds {
		errs = append(errs, k.DeleteMirror(ctx, cluster, k.mirrors, c.local))
	}
	return errors.Join(errs...)
}

// inSyncSettle bounds how long a new InSync status waits for the
// controller's own cache of the mirror (see settling).
const inSyncSettle = 10 * time.Second

// settling tells whether the InSync status of name should wait a moment:
// the syncer has written every mirror, but the controller's cache has not
// seen them all yet, so the counts and the requirements would be computed
// over part of the mirror (for half a second a user saw InSync with no
// pools, and RequirementsMet False for "no overlay in common"). A mirror
// that cannot be written (e.g. its namespace is terminating) never shows
// up, so the wait ends after inSyncSettle.
func (c *Controller) settling(name string, st SyncStatus, lastSync *metav1.Time) bool {
	if st.State != v3.SyncStateInSync || lastSync == nil || time.Since(lastSync.Time) > inSyncSettle {
		return false
	}
	c.mu.Lock()
	r := c.running[name]
	c.mu.Unlock()
	if r == nil || r.syncer == nil {
		return false
	}
	return !maps.Equal(r.syncer.remoteCounts(), c.mirroredCounts(name))
}

// writeStatus writes the status of rcc if it changed; secretVersion is the
// resourceVersion of the access Secret the status describes.
func (c *Controller) writeStatus(ctx context.Context, rcc *v3.RemoteClusterConfiguration, st SyncStatus, lastSync *metav1.Time, secretVersion string) error {
	if c.settling(rcc.Name, st, lastSync) {
		c.statusQueue.AddAfter(rcc.Name, 100*time.Millisecond)
		return nil
	}
	c.metrics.connectionStatus.WithLabelValues(rcc.Name).Set(ConnectionStatus(st.State))
	counts := &v3.MirroredObjectCounts{}
	perKind := c.mirroredCounts(rcc.Name)
	for _, k := range c.kinds {
		n := perKind[k]
		c.metrics.mirrored.WithLabelValues(rcc.Name, k.Name()).Set(float64(n))
		if field := k.StatusCount(counts); field != nil {
			*field = n
		}
	}
	want := rcc.Status.DeepCopy()
	want.ObservedGeneration = rcc.Generation
	want.ObservedSecretResourceVersion = secretVersion
	want.SyncState = st.State
	want.MirroredObjects = counts
	if lastSync != nil {
		want.LastSyncTime = lastSync
	}
	want.LastError = st.LastError
	if st.State == v3.SyncStateConnectionFailed || st.State == v3.SyncStateConfigIncomplete {
		want.LastError = st.Message
	}
	connected, synced := metav1.ConditionUnknown, metav1.ConditionFalse
	switch st.State {
	case v3.SyncStateInSync:
		connected, synced = metav1.ConditionTrue, metav1.ConditionTrue
	case v3.SyncStateResyncInProgress:
		connected = metav1.ConditionTrue
	case v3.SyncStateConnectionFailed, v3.SyncStateConfigIncomplete:
		connected = metav1.ConditionFalse
	}
	setCondition(&want.Conditions, v3.RemoteClusterConditionConnected, connected, st.Reason, st.Message, rcc.Generation)
	setCondition(&want.Conditions, v3.RemoteClusterConditionSynced, synced, st.Reason, st.Message, rcc.Generation)
	c.setRequirementsMet(ctx, rcc, want)
	c.refusalCondition(rcc, want)
	if apiequality.Semantic.DeepEqual(&rcc.Status, want) {
		return nil
	}
	updated := rcc.DeepCopy()
	updated.Status = *want
	_, err := c.local.ProjectcalicoV3().RemoteClusterConfigurations().UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: FieldManager})
	switch {
	case apierrors.IsConflict(err):
		// A newer version is on its way through the informer; look again
		// once it is there (a status-only update queues no reconcile).
		c.queue.AddAfter(rcc.Name, statusDelay)
		return nil
	case apierrors.IsNotFound(err):
		return nil // deleted: the informer's delete event follows
	}
	return err
}

// setCondition sets a condition, keeping its transition time when the
// status does not change.
func setCondition(conds *[]metav1.Condition, typ string, status metav1.ConditionStatus, reason, msg string, gen int64) {
	if reason == "" {
		reason = "Unknown"
	}
	for i := range *conds {
		c := &(*conds)[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message, c.ObservedGeneration = status, reason, msg, gen
		return
	}
	*conds = append(*conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: metav1.Now()})
}

// setRequirementsMet sets the RequirementsMet condition from the mesh's
// requirements between this cluster and the remote one, as last mirrored,
// and logs a change.
func (c *Controller) setRequirementsMet(ctx context.Context, rcc *v3.RemoteClusterConfiguration, status *v3.RemoteClusterConfigurationStatus) {
	violations, overlay := c.requirements()
	cond, reason, msg := metav1.ConditionTrue, "RequirementsMet", "the mesh's requirements hold between this cluster and the remote cluster"
	switch {
	case rcc.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled:
		cond, reason, msg = metav1.ConditionUnknown, "OverlayRoutingDisabled", "checked only with overlayRoutingMode Enabled, when the remote's nodes, pools and settings are mirrored"
	case !overlay[rcc.Name]:
		cond, reason, msg = metav1.ConditionUnknown, "NotSyncedYet", "checked once the remote cluster's nodes, pools and settings are mirrored"
	case len(violations[rcc.Name]) > 0:
		cond, reason, msg = metav1.ConditionFalse, "RequirementsNotMet", requirementsMessage(violations[rcc.Name])
	}
	before := meta.FindStatusCondition(status.Conditions, v3.RemoteClusterConditionRequirementsMet)
	if before == nil || before.Status != cond || before.Message != msg {
		klog.FromContext(ctx).Info("Mesh requirements", "remoteCluster", rcc.Name, "met", cond, "reason", reason, "message", msg)
	}
	setCondition(&status.Conditions, v3.RemoteClusterConditionRequirementsMet, cond, reason, msg, rcc.Generation)
}
