package remotecluster

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// ReconcileMirror runs the mirroring of one remote object of the kind
// named kind, for the tests of package remotecluster_test (which may import
// the in-process API server, itself an importer of this package).
func ReconcileMirror(ctx context.Context, kind, cluster, remoteKey string, remote, local cache.Indexer, cs versioned.Interface) error {
	for _, k := range mirrorKinds() {
		if k.Name() == kind {
			_, err := k.Reconcile(ctx, cluster, remoteKey, remote, local, nil, mirrorWriter{cs: cs, batch: newMirrorBatcher(cluster, cs.ProjectcalicoV3(), nil)})
			return err
		}
	}
	panic("no mirror kind " + kind)
}

// IsStaleCache reports whether err is a mirror write refused for a stale
// local cache, which the syncer retries without counting an error.
func IsStaleCache(err error) bool {
	var stale *staleCacheError
	return errors.As(err, &stale)
}

// PoolSyncer is a Syncer of one cluster's IPPools driven step by step by
// a test: the test runs its reconciles and hands it the mirror informer's
// events, holding the mirror cache it reads as far behind the API server
// as it likes.
type PoolSyncer struct {
	s *Syncer
	k *kind
}

// NewPoolSyncer returns a PoolSyncer of cluster whose remote IPPools are
// remote's, writing their mirrors through cs and reading them from
// mirrors.
func NewPoolSyncer(cluster string, remote, mirrors cache.Indexer, cs versioned.Interface) *PoolSyncer {
	kinds := kindsOf(mirrorKinds())
	k := kindNamed(kinds, "IPPool")
	k.mirrors = mirrors
	s := newSyncer(cluster, true, nil, cs, kinds, NewMetrics(prometheus.NewRegistry()), writeBounds{}, func(SyncStatus) {})
	s.kindOf(k).indexer = remote
	return &PoolSyncer{s: s, k: k}
}

// Reconcile reconciles the mirror of the remote pool name.
func (p *PoolSyncer) Reconcile(ctx context.Context, name string) {
	p.s.process(ctx, queueItem{p.s.kindOf(p.k), name})
}

// StaleRetries returns the Syncer's remote_cluster_stale_cache_retries_total.
func (p *PoolSyncer) StaleRetries() float64 {
	return testutil.ToFloat64(p.s.metrics.staleRetries.WithLabelValues(p.s.cluster))
}

// MirrorEvent hands the Syncer the informer event of mirror, its deletion
// if deleted, as the controller does.
func (p *PoolSyncer) MirrorEvent(mirror *v3.IPPool, deleted bool) {
	if key, ok := p.k.RemoteKey(p.s.cluster, mirror); ok {
		p.s.mirrorEvent(p.k, key, mirror.ResourceVersion, deleted)
	}
}

// Queued returns the remote names queued for a reconcile, and takes them
// off the queue.
func (p *PoolSyncer) Queued() []string {
	var names []string
	for p.s.queue.Len() > 0 {
		it, _ := p.s.queue.Get()
		names = append(names, it.key)
		p.s.queue.Done(it)
	}
	return names
}

// Stop releases the Syncer's queue.
func (p *PoolSyncer) Stop() { p.s.queue.ShutDown() }

// CreateMirrorsInBatches creates eps, mirrors of cluster's endpoints, each
// from a goroutine of its own through one Syncer's batcher, and returns
// what each create returned.
func CreateMirrorsInBatches(ctx context.Context, cs versioned.Interface, cluster string, eps []*v3.WorkloadEndpoint) ([]*v3.WorkloadEndpoint, []error) {
	slots := newWriteSlots(16)
	b := newMirrorBatcher(cluster, cs.ProjectcalicoV3(), slots)
	created, errs := make([]*v3.WorkloadEndpoint, len(eps)), make([]error, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Go(func() {
			slot, _ := slots.take(ctx)
			defer slot.give()
			created[i], errs[i] = b.create(ctx, ep, slot)
		})
	}
	wg.Wait()
	return created, errs
}
