package remotecluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/meshguard"
)

// SyncStatus is what a Syncer reports about its remote cluster.
type SyncStatus struct {
	// State is the sync state; empty keeps the current state and only
	// records Message as the last error.
	State v3.RemoteClusterSyncState
	// Reason is a CamelCase reason for the state.
	Reason string
	// Message explains the state; for failures it is the last error.
	Message string
	// LastError is the last error mirroring an object, while the
	// connection itself is fine.
	LastError string
}

// remoteKind is one kind as a Syncer mirrors it: the controller's kind
// and the Syncer's cache of the remote's objects. Its fields are guarded
// by the Syncer's mu.
type remoteKind struct {
	*kind
	// indexer caches the remote's objects of the kind; nil while the kind
	// is not mirrored (overlay routing off, or before Run starts it).
	indexer cache.Indexer
	// listedOK says the kind's last list or watch succeeded.
	listedOK bool
}

// queueItem names one remote object of one kind.
type queueItem struct {
	kind *remoteKind
	key  string
}

// Syncer mirrors one remote cluster into the local API for as long as its
// context lives. It owns its remote informers and its work queue, so a slow
// remote never holds up another.
type Syncer struct {
	cluster string
	overlay bool
	// remote reads a kubernetes datastore; etcd an etcdv3 one.
	remote versioned.Interface
	etcd   *etcdSource
	// kube reads a kubernetes datastore's Services and EndpointSlices for
	// federated Services; nil for etcdv3.
	kube kubernetes.Interface
	// exports reads the remote ServiceExports (Multi-Cluster Services)
	// beside kube; nil for etcdv3.
	exports mcsclientset.Interface
	// services are the informers on kube, set once Run starts them.
	services        *serviceInformers
	servicesChanged func()
	local           versioned.Interface
	// batch creates the endpoint mirrors in batches; nil (no local
	// client, in tests of the queue alone) creates each on its own.
	batch *mirrorBatcher
	// kinds are the mirrored kinds, each with the controller's shared
	// index of its mirrors and this Syncer's cache of the remote's objects.
	kinds []*remoteKind
	// pools is the IPPool kind, whose remote objects the others are
	// admitted against.
	pools  *remoteKind
	report func(SyncStatus)
	// writes is the Controller's bound on single mirror writes in flight,
	// shared by all its Syncers (batch requests have their own: batch).
	writes  writeSlots
	metrics *Metrics

	queue *meteredQueue
	// presence is queue's storage, told which items make a mirror appear
	// or go so that it serves them first.
	presence *presenceFirstFIFO[queueItem]

	// newGuard returns the guard of what this cluster may not claim (local
	// pools and nodes, other remote clusters'); nil admits everything.
	newGuard func(cluster string) *meshguard.Guard
	// onRefused is told of every new or changed refusal, and (with nil) of
	// a refusal that went away.
	onRefused func(*meshguard.Refusal)

	// admMu guards adm, the cached admission, rebuilt when stale.
	admMu    sync.Mutex
	adm      *admission
	admStale bool

	mu sync.Mutex
	// refused holds the remote objects not mirrored, and why.
	refused map[queueItem]*meshguard.Refusal
	// own tells the controller's informer events of the Syncer's own
	// mirror writes from changes made behind its back.
	own      *ownWrites
	failed   bool
	failedAt time.Time
	// probeDown: the last readiness probe of the remote failed (see
	// probe); the mirror is not reported InSync until one succeeds.
	probeDown bool
	// initial holds the items of the full resync not yet processed once;
	// pending counts them.
	initial map[queueItem]struct{}
	pending sync.WaitGroup
}

// mirrorRetryMax bounds the wait before a failed mirror write is tried
// again. The default controller limiter doubles it up to 1000 s: an
// object whose writes failed through a 5 s outage of the local API server
// (TestFaults/LocalMeshapiAPIServerKill) stayed unmirrored for over a
// minute after it came back, while the status said InSync.
const mirrorRetryMax = 5 * time.Second

// staleCacheRetries is how many times in a row a mirror write refused for
// a stale local cache (staleCacheError) is retried before it counts as an
// error and shows in the status: with mirrorRateLimiter's delays, about
// 5 s for the cache to catch up. Under churn, the syncer's own writes
// race its cache a few times a second; a meshapi-apiserver replica that
// dies breaks every watch it served, and the caches catch up a second or
// two later (TestFaults/LocalMeshapiReplicaKill, TESTING.md).
const staleCacheRetries = 10

// mirrorRateLimiter is the syncer queue's: per item 5 ms doubling up to
// mirrorRetryMax. The workers bound how many writes run at once.
func mirrorRateLimiter() workqueue.TypedRateLimiter[queueItem] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[queueItem](5*time.Millisecond, mirrorRetryMax)
}

// newSyncer returns a Syncer for cluster that reads remote and writes local.
func newSyncer(cluster string, overlay bool, remote, local versioned.Interface,
	kinds []*kind, metrics *Metrics, writes writeBounds, report func(SyncStatus)) *Syncer {
	s := &Syncer{
		cluster: cluster, overlay: overlay, remote: remote, local: local,
		kinds: remoteKindsOf(kinds), metrics: metrics, writes: writes.single, report: report,
		refused: map[queueItem]*meshguard.Refusal{},
		own:     newOwnWrites(),
	}
	if local != nil {
		s.batch = newMirrorBatcher(cluster, local.ProjectcalicoV3(), writes.batches)
	}
	s.queue, s.presence = newSyncerQueue(syncerQueueName(cluster), metrics.queues)
	s.pools = s.kindOf(kindNamed(kinds, "IPPool"))
	return s
}

// remoteKindsOf returns a Syncer's kinds, none of them mirrored yet.
func remoteKindsOf(kinds []*kind) []*remoteKind {
	out := make([]*remoteKind, len(kinds))
	for i, k := range kinds {
		out[i] = &remoteKind{kind: k}
	}
	return out
}

// kindOf returns the Syncer's state of k, nil if k is not one of its kinds.
func (s *Syncer) kindOf(k *kind) *remoteKind {
	for _, rk := range s.kinds {
		if rk.kind == k {
			return rk
		}
	}
	return nil
}

// mirrorEvent is told of a change, seen by the controller's informer, of
// the mirror of the remote object key of kind k: the mirror's
// resourceVersion after the change, or its deletion. The echo of the
// Syncer's own last write is dropped (see ownWrites); any other change (a
// mirror edited or deleted behind its back, or one the Syncer must look
// at again) queues the object, and its reconcile puts the mirror back.
func (s *Syncer) mirrorEvent(k *kind, key, resourceVersion string, deleted bool) {
	rk := s.kindOf(k)
	if rk == nil {
		return
	}
	it := queueItem{rk, key}
	s.mu.Lock()
	queue := s.own.event(it, mirrorChange{resourceVersion: resourceVersion, deleted: deleted})
	s.mu.Unlock()
	if queue {
		if deleted {
			s.presence.Presence(it)
		}
		s.queue.Add(it)
	}
}

// mirrorChange is an event of a mirror: its resourceVersion, or its
// deletion.
type mirrorChange struct {
	resourceVersion string
	deleted         bool
}

// ownWrites tells which of the controller's mirror informer events are the
// echoes of the Syncer's own writes, so that they are dropped instead of
// being reconciled again, and hands a reconcile the Syncer's last write of
// a mirror while the mirror cache has not shown it yet. Its rules:
//
//   - a write is recorded (its resourceVersions, or a delete, and what
//     the mirror cache will keep of it) when its reconcile ends; an event
//     equal to the last of them is its echo: it is dropped and the record
//     forgotten (an event equal to an earlier one, a Node's update before
//     its status update, is dropped too);
//   - a write made while an earlier one's echo is outstanding keeps the
//     earlier one's events, so that its echo, when it comes, is dropped
//     too: under churn a remote object changes again before the echo of
//     its mirror's last write, and the mirror cache then lags the API
//     server on every write;
//   - any other event (another resourceVersion, older or newer, a delete
//     of a mirror last written, a mirror back after a delete) is
//     reconciled, and the record forgotten: a change behind the Syncer's
//     back, or a relist that replayed a state the Syncer did not write
//     last;
//   - a reconcile that starts while a record is held is handed it (begin)
//     and reconciles against it instead of the mirror cache, which does
//     not hold the write yet: a mirror updated from the cache's older
//     resourceVersion would be refused as a Conflict and retried until
//     the cache caught up. A reconcile that writes nothing keeps the
//     record; one whose write is refused forgets it (the mirror changed
//     behind the Syncer's back), and its retry reads the cache;
//   - the events of an object being reconciled are held, and judged
//     against its write once it is recorded.
//
// An event is dropped only when it shows what the Syncer wrote, and every
// reconcile since decided against exactly that: the mirror is what the
// remote object asked for then, and a later change of the remote object
// queues it anyway. Not safe for concurrent use: the Syncer calls it under
// its mu.
type ownWrites struct {
	// written holds, per object, the Syncer's last write of its mirror
	// whose echo has not come back. During a full resync the echoes of
	// most of a remote's writes are outstanding at once (about 125 KiB
	// per 1,000 objects), so the map is made anew once they are back.
	written renewingMap[queueItem, *write]
	// writing holds, per object being reconciled, the write it was handed
	// (nil for none) and the events held until its write, if any, is
	// recorded.
	writing map[queueItem]*reconciling
}

// reconciling is an object being reconciled: the write whose echo was
// outstanding when it started, and the events held since.
type reconciling struct {
	pending *write
	held    []mirrorChange
}

// forget drops the record of it.
func (o *ownWrites) forget(it queueItem) { o.written.delete(it) }

// newOwnWrites returns an ownWrites that knows of no write.
func newOwnWrites() *ownWrites {
	return &ownWrites{writing: map[queueItem]*reconciling{}}
}

// event judges an informer event ev of the mirror of it and returns
// whether it must be reconciled now. An event held for the reconcile in
// progress returns false: end judges it.
func (o *ownWrites) event(it queueItem, ev mirrorChange) (reconcile bool) {
	if r, writing := o.writing[it]; writing {
		r.held = append(r.held, ev)
		return false
	}
	return !o.echo(it, ev)
}

// begin is told that a reconcile of it starts, and returns the Syncer's
// last write of its mirror whose echo has not come back, nil for none:
// the reconcile takes the mirror to be what that write left. Its events
// are held until end.
func (o *ownWrites) begin(it queueItem) (pending *write) {
	pending, _ = o.written.get(it)
	o.forget(it)
	o.writing[it] = &reconciling{pending: pending}
	return pending
}

// end is told that the reconcile of it ended having written w (nil for
// nothing), failed if it returned an error, and returns whether an event
// held meanwhile must be reconciled.
func (o *ownWrites) end(it queueItem, w *write, failed bool) (again bool) {
	r := o.writing[it]
	delete(o.writing, it)
	switch {
	case w != nil:
		if p := r.pending; p != nil {
			w.earlier = append(p.events(), p.earlier...)
		}
		o.record(it, w)
	case !failed && r.pending != nil:
		o.record(it, r.pending) // it agreed with the write: the echo is still its own
	}
	for _, ev := range r.held {
		if !o.echo(it, ev) {
			again = true
		}
	}
	return again
}

// record keeps w as the last write of it.
func (o *ownWrites) record(it queueItem, w *write) {
	o.written.set(it, w)
}

// echo reports whether ev is an event of the last write recorded for it,
// or of one it overtook. The record is forgotten after the write's last
// event, and after any event that is not the Syncer's: from then on the
// cache holds something the Syncer did not write, and nothing is dropped
// until its next write.
func (o *ownWrites) echo(it queueItem, ev mirrorChange) bool {
	w, _ := o.written.get(it)
	if w == nil {
		return false
	}
	if w.overtook(ev) {
		return true // an overtaken write's: the last one's is still to come
	}
	i := -1
	switch {
	case ev.deleted && w.deleted:
		i = 0
	case !ev.deleted && !w.deleted:
		i = slices.Index(w.resourceVersions, ev.resourceVersion)
	}
	if i < 0 || i == len(w.resourceVersions)-1 || w.deleted {
		o.forget(it) // its last event, or not its event
	}
	return i >= 0 // an earlier one is e.g. a Node's update, before its status update
}

// Run connects, mirrors and keeps the mirror in step until ctx ends.
// Remote failures are reported and retried by the informers with capped
// exponential backoff and jitter; the mirror keeps its last known state.
func (s *Syncer) Run(ctx context.Context, workers int) {
	defer s.queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("remoteCluster", s.cluster)
	logger.Info(fmt.Sprintf("Creating syncer for RemoteClusterConfiguration(%s)", s.cluster), "overlayRouting", s.overlay)
	s.report(SyncStatus{State: v3.SyncStateConnecting, Reason: "Connecting", Message: "connecting to the remote cluster"})

	var synced []cache.InformerSynced
	for _, k := range s.kinds {
		if k.Overlay() && !s.overlay {
			continue
		}
		synced = append(synced, s.startInformer(ctx, logger, k))
	}
	go s.queue.reportUnfinished(ctx)
	if s.remote != nil {
		go s.probe(ctx)
	}
	if s.kube != nil {
		informers, svcSynced := startServiceInformers(ctx, s.kube, s.exports, s.notifyServices)
		s.mu.Lock()
		s.services = informers
		s.mu.Unlock()
		synced = append(synced, svcSynced...)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return
	}
	if !s.fullResync(ctx, workers) {
		return
	}
	s.markInSync(ctx)

	// After a failure the informers relist on their own; once every kind
	// has listed again and the queue is drained, the mirror is in sync.
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		s.mu.Lock()
		recovered := s.failed && !s.probeDown && s.allListed()
		s.mu.Unlock()
		if recovered && s.queue.Len() == 0 {
			s.markInSync(ctx)
		}
	}, 500*time.Millisecond)
}

// startInformer starts the informer of kind k's remote objects (through
// the remote API server, or its etcd), feeding the queue, and returns its
// HasSynced. It is a plain informer, not a shared one: its one handler
// runs as its cache is updated, without a shared informer's listener (two
// goroutines and a notification buffer of 1,024 entries, per kind and
// remote, that only ever had this one handler). Failures of the remote
// are seen by observedListWatch on every list and watch the informer
// starts, a broken watch's too: the informer lists or watches again.
func (s *Syncer) startInformer(ctx context.Context, logger klog.Logger, k *remoteKind) cache.InformerSynced {
	var lw cache.ListerWatcher
	if s.etcd != nil {
		lw = noWatchList{s.observedListWatch(ctx, k, k.EtcdListWatch(s.etcd))}
	} else {
		lw = s.observedListWatch(ctx, k, k.RemoteListWatch(s.remote))
	}
	pools := k == s.pools
	store, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		Logger:        &logger,
		ListerWatcher: lw,
		ObjectType:    k.Example(),
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.remoteEvent(k, obj, pools, true) },
			UpdateFunc: func(_, obj any) { s.remoteEvent(k, obj, pools, false) },
			DeleteFunc: func(obj any) { s.remoteEvent(k, obj, pools, true) },
		},
		Indexers:  cache.Indexers{}, // non-nil: the store is an Indexer
		Transform: k.RemoteTransform(),
	})
	s.mu.Lock()
	k.indexer = store.(cache.Indexer)
	s.mu.Unlock()
	go informer.RunWithContext(ctx)
	logger.Info("Full resync is required", "kind", k.Name())
	return informer.HasSynced
}

// fullResync reconciles every remote object and every mirrored object of
// this cluster, so that what was deleted while away goes too, with
// workers workers (who go on with later changes), and reports whether it
// finished before ctx ended.
func (s *Syncer) fullResync(ctx context.Context, workers int) bool {
	s.report(SyncStatus{State: v3.SyncStateResyncInProgress, Reason: "ResyncInProgress", Message: "reconciling the mirror with the remote cluster"})
	initial := s.resyncItems()
	s.mu.Lock()
	s.initial = make(map[queueItem]struct{}, len(initial))
	for _, it := range initial {
		s.initial[it] = struct{}{}
	}
	s.pending.Add(len(s.initial))
	s.mu.Unlock()
	for range workers {
		go wait.UntilWithContext(ctx, s.work, time.Second)
	}
	for _, it := range initial {
		s.queue.Add(it)
	}
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return false
	}
	s.mu.Lock()
	s.initial = nil // empty by now, but a map keeps the room it grew to
	s.mu.Unlock()
	return true
}

// resyncItems lists every remote object and every local mirror of this
// cluster, for every kind (disabled kinds have only local mirrors, which
// the resync deletes). A mirror whose remote object is gone is marked as
// a presence change, as the remote objects were by their informers' adds.
func (s *Syncer) resyncItems() []queueItem {
	seen := map[queueItem]bool{}
	var items []queueItem
	add := func(it queueItem) {
		if !seen[it] {
			seen[it] = true
			items = append(items, it)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.kinds {
		if k.indexer != nil {
			for _, key := range k.indexer.ListKeys() {
				add(queueItem{k, key})
			}
		}
		objs, _ := k.mirrors.ByIndex(ClusterIndex, s.cluster)
		for _, obj := range objs {
			if key, ok := k.RemoteKey(s.cluster, obj); ok && !seen[queueItem{k, key}] {
				s.presence.Presence(queueItem{k, key})
				add(queueItem{k, key})
			}
		}
	}
	return items
}

// work processes queue items until the queue shuts down.
func (s *Syncer) work(ctx context.Context) {
	for {
		it, shutdown := s.queue.Get()
		if shutdown {
			return
		}
		s.process(ctx, it)
		s.queue.Done(it)
	}
}

// process reconciles one item; a failure is retried with backoff. Items of
// the full resync count as processed after their first attempt, so that
// one bad object (a name conflict) shows in lastError instead of holding
// the whole cluster out of sync.
func (s *Syncer) process(ctx context.Context, it queueItem) {
	slot, ok := s.writes.take(ctx)
	if !ok {
		return // stopping: the queue shuts down with the context
	}
	defer slot.give()
	k := it.kind
	s.mu.Lock()
	remote := k.indexer
	pending := s.own.begin(it)
	s.mu.Unlock()
	if remote != nil && !s.admitted(it, remote) {
		remote = nil // refused: no mirror, and an existing one goes
	}
	w, err := k.Reconcile(ctx, s.cluster, it.key, remote, k.mirrors, pending, mirrorWriter{cs: s.local, batch: s.batch, slot: slot})
	if w == nil && err == nil {
		s.metrics.noopReconciles.WithLabelValues(s.cluster).Inc()
	}
	s.mu.Lock()
	again := s.own.end(it, w, err != nil)
	if _, ok := s.initial[it]; ok {
		delete(s.initial, it)
		s.pending.Done()
	}
	s.mu.Unlock()
	if err == nil {
		s.queue.Forget(it)
		if again {
			s.queue.Add(it) // changed behind the Syncer's back meanwhile
		}
		return
	}
	var stale *staleCacheError
	if errors.As(err, &stale) && s.queue.NumRequeues(it) < staleCacheRetries {
		klog.FromContext(ctx).V(2).Info("Mirror cache behind the API server; retrying", "remoteCluster", s.cluster, "kind", k.Name(), "key", it.key, "err", err)
		s.metrics.staleRetries.WithLabelValues(s.cluster).Inc()
		s.queue.AddRateLimited(it)
		return
	}
	s.metrics.errors.WithLabelValues(s.cluster).Inc()
	klog.FromContext(ctx).Error(err, "Mirroring", "remoteCluster", s.cluster, "kind", k.Name(), "key", it.key)
	s.report(SyncStatus{Message: err.Error()})
	s.queue.AddRateLimited(it)
}

// remoteEvent queues a remote object after an informer event; a change of
// the remote's own pools also makes every refusal be checked again.
// presence: the object was added or deleted, so its mirror must appear or
// go, and it is served ahead of updates.
func (s *Syncer) remoteEvent(k *remoteKind, obj any, pools, presence bool) {
	if pools {
		s.invalidateAdmission()
	}
	s.enqueueRemote(k, obj, presence)
}

// enqueueRemote queues a remote object after an informer event, ahead of
// updates if presence.
func (s *Syncer) enqueueRemote(k *remoteKind, obj any, presence bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	s.metrics.events.WithLabelValues(s.cluster, k.Name()).Inc()
	it := queueItem{k, key}
	if presence {
		s.presence.Presence(it)
	}
	s.queue.Add(it)
}

// observedListWatch records the outcome of every list and every watch the
// informer starts: a refused connection is retried by the reflector
// without telling a watch error handler, and a watch that broke is
// followed by a new watch or list, so failures and recoveries are seen
// here.
func (s *Syncer) observedListWatch(ctx context.Context, k *remoteKind, lw *cache.ListWatch) *cache.ListWatch {
	list, watchFn := lw.ListWithContextFunc, lw.WatchFuncWithContext
	observe := func(err error) {
		if err != nil {
			s.remoteFailed(ctx, err)
			return
		}
		s.mu.Lock()
		k.listedOK = true
		s.mu.Unlock()
	}
	lw.ListWithContextFunc = func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		obj, err := list(ctx, opts)
		observe(err)
		return obj, err
	}
	lw.WatchFuncWithContext = func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		w, err := watchFn(ctx, opts)
		observe(err)
		return w, err
	}
	return lw
}

// allListed reports whether every mirrored kind's last list succeeded.
// Callers hold s.mu.
func (s *Syncer) allListed() bool {
	for _, k := range s.kinds {
		if k.indexer != nil && !k.listedOK {
			return false
		}
	}
	return true
}

// remoteFailed records a failed list or watch of the remote cluster:
// every kind must list or watch again before the mirror is in sync.
func (s *Syncer) remoteFailed(ctx context.Context, err error) { s.fail(ctx, err, true) }

// fail records a failure of the remote cluster; relist says whether every
// kind must list or watch again before the mirror is in sync.
func (s *Syncer) fail(ctx context.Context, err error, relist bool) {
	if ctx.Err() != nil {
		return
	}
	reason, msg := describeRemoteError(s.cluster, err)
	s.mu.Lock()
	wasFailed := s.failed
	s.failed = true
	if !wasFailed {
		s.failedAt = time.Now()
	}
	if relist {
		for _, k := range s.kinds {
			k.listedOK = false
		}
	}
	s.mu.Unlock()
	if !wasFailed {
		s.notifyServices()
		s.metrics.reconnects.WithLabelValues(s.cluster).Inc()
		klog.FromContext(ctx).Info("Remote cluster connection failed; keeping the last known mirror", "remoteCluster", s.cluster, "reason", reason, "err", err)
	}
	s.metrics.errors.WithLabelValues(s.cluster).Inc()
	s.report(SyncStatus{State: v3.SyncStateConnectionFailed, Reason: reason, Message: msg})
}

// markInSync reports InSync and logs the line users grep for.
func (s *Syncer) markInSync(ctx context.Context) {
	s.mu.Lock()
	s.failed = false
	s.failedAt = time.Time{}
	s.mu.Unlock()
	s.notifyServices()
	klog.FromContext(ctx).Info(fmt.Sprintf("Sending in-sync update for RemoteClusterConfiguration(%s)", s.cluster))
	s.report(SyncStatus{State: v3.SyncStateInSync, Reason: "InSync", Message: "the mirror matches the remote cluster"})
}

// remoteCounts returns, per kind, how many remote objects the syncer
// mirrors now (no entry for none, or for a kind it does not mirror).
func (s *Syncer) remoteCounts() map[*kind]int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[*kind]int32{}
	for _, k := range s.kinds {
		if k.indexer == nil {
			continue
		}
		if n := len(k.indexer.ListKeys()); n > 0 {
			out[k.kind] = int32(n)
		}
	}
	return out
}

// failedSince returns when the connection failed, zero while it works.
func (s *Syncer) failedSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failedAt
}

// notifyServices tells the federation that this cluster's Services,
// EndpointSlices or connection changed.
func (s *Syncer) notifyServices() {
	if s.servicesChanged != nil {
		s.servicesChanged()
	}
}

// admitted checks the remote object of it against the admission and
// records the outcome; an object that is gone counts as admitted (its
// refusal, if any, goes with it).
func (s *Syncer) admitted(it queueItem, remote cache.Indexer) bool {
	cached, exists, err := remote.GetByKey(it.key)
	var obj runtime.Object
	if err == nil && exists {
		var ok bool
		if obj, ok = it.kind.RemoteObject(cached); !ok {
			return false // not what the kind caches: nothing is mirrored from it
		}
	}
	var r *meshguard.Refusal
	if obj != nil && s.newGuard != nil {
		r = s.admission().admit(s.cluster, obj)
	}
	s.mu.Lock()
	old := s.refused[it]
	if r == nil {
		delete(s.refused, it)
	} else {
		s.refused[it] = r
	}
	s.mu.Unlock()
	changed := (old == nil) != (r == nil) || (r != nil && old.Error() != r.Error())
	if changed && s.onRefused != nil {
		s.onRefused(r)
	}
	// A refused pool is still mirrored, as the inert record it is (always
	// disabled, never NAT-outgoing, selecting no node), so that the mesh's
	// requirements report the overlap; nothing routes by it: blocks and
	// endpoints are admitted only inside admitted pools, and the agents
	// refuse it again (no NAT exemption).
	_, pool := obj.(*v3.IPPool)
	return r == nil || pool
}

// admission returns the admission of this cluster's objects, built again
// after invalidateAdmission.
func (s *Syncer) admission() *admission {
	s.admMu.Lock()
	defer s.admMu.Unlock()
	if s.adm != nil && !s.admStale {
		return s.adm
	}
	adm := &admission{guard: s.newGuard(s.cluster), refusedPools: map[string]*meshguard.Refusal{}}
	s.mu.Lock()
	var poolIdx cache.Indexer
	if s.pools != nil {
		poolIdx = s.pools.indexer
	}
	s.mu.Unlock()
	if poolIdx != nil {
		// Overlay routing: the pools are mirrored, and blocks and
		// endpoints must lie inside the admitted ones.
		for _, r := range adm.guard.AdmitPools(s.cluster, typed[*v3.IPPool](poolIdx.List())) {
			adm.refusedPools[r.Name] = r
		}
	}
	s.adm, s.admStale = adm, false
	return adm
}

// invalidateAdmission makes the next check rebuild the admission, and
// queues every refused object to be checked again, ahead of updates (a
// refused object has no mirror).
func (s *Syncer) invalidateAdmission() {
	s.admMu.Lock()
	s.admStale = true
	s.admMu.Unlock()
	s.mu.Lock()
	items := make([]queueItem, 0, len(s.refused))
	for it := range s.refused {
		items = append(items, it)
	}
	s.mu.Unlock()
	for _, it := range items {
		s.presence.Presence(it) // admitted now, its mirror appears
		s.queue.Add(it)
	}
}

// refusals returns the current refusals, ordered by kind and name.
func (s *Syncer) refusals() []*meshguard.Refusal {
	s.mu.Lock()
	out := make([]*meshguard.Refusal, 0, len(s.refused))
	for _, r := range s.refused {
		out = append(out, r)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *meshguard.Refusal) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}
