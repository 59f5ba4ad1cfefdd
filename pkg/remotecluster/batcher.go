package remotecluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	v3client "github.com/meshapi/meshapi/pkg/generated/clientset/versioned/typed/projectcalico/v3"
)

// Batching of a Syncer's endpoint creates (MirrorBatch): the creates its
// workers ask for while a batch is in flight wait and go together in the
// next one, at most maxBatchItems, at most batchesInFlight at once. A
// request per mirror cost the local API server as much again as the
// mirror itself (BENCHMARKS.md, "What a request of its own costs").
const (
	maxBatchItems   = 500
	batchesInFlight = 2
)

// mirrorBatcher creates one remote cluster's endpoint mirrors in batches.
// Against an API server that does not serve MirrorBatches (an older one,
// or a role that does not grant them) it creates each mirror on its own,
// as before.
type mirrorBatcher struct {
	cluster string
	batches v3client.MirrorBatchInterface
	single  func(ns string) v3client.WorkloadEndpointInterface
	// slots bound the batch requests of all remotes in flight: each
	// request holds one (writeBounds.batches).
	slots writeSlots

	mu       sync.Mutex
	queue    []*batchedCreate
	inFlight int
	// unbatched: the server refused the first batch as a whole (no such
	// resource, or not allowed), so every create goes on its own.
	unbatched bool
}

// batchedCreate is one create waiting for its batch.
type batchedCreate struct {
	ep   *v3.WorkloadEndpoint
	done chan batchOutcome
}

type batchOutcome struct {
	created *v3.WorkloadEndpoint
	err     error
}

// newMirrorBatcher returns the batcher of cluster's endpoint mirrors,
// written through cs, each batch's request holding one of slots (the
// Controller's batch slots; nil: unbounded).
func newMirrorBatcher(cluster string, cs v3client.ProjectcalicoV3Interface, slots writeSlots) *mirrorBatcher {
	return &mirrorBatcher{cluster: cluster, batches: cs.MirrorBatches(), single: cs.WorkloadEndpoints, slots: slots}
}

// create creates ep with the next batch and returns it as stored (its
// UID and resourceVersion set), or the error a create of it alone would
// have returned (apierrors.IsAlreadyExists and the like hold). The caller's
// single-write slot slot (nil: none) is given back while ep waits in its
// batch, whose request holds a batch slot: the bound on single writes
// does not bound the mirrors batches carry. It is taken again only for
// an error, after which the caller may write on its own.
func (b *mirrorBatcher) create(ctx context.Context, ep *v3.WorkloadEndpoint, slot *heldSlot) (*v3.WorkloadEndpoint, error) {
	b.mu.Lock()
	unbatched := b.unbatched
	b.mu.Unlock()
	if unbatched {
		return b.single(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{FieldManager: FieldManager})
	}
	slot.give()
	created, err := b.enqueue(ctx, ep)
	if err != nil && !slot.retake(ctx) {
		return nil, fmt.Errorf("%w (and stopping: %w)", err, ctx.Err())
	}
	return created, err
}

// enqueue queues ep for the next batch, starting a sender if fewer than
// batchesInFlight run, and waits for its outcome.
func (b *mirrorBatcher) enqueue(ctx context.Context, ep *v3.WorkloadEndpoint) (*v3.WorkloadEndpoint, error) {
	b.mu.Lock()
	c := &batchedCreate{ep: ep, done: make(chan batchOutcome, 1)}
	b.queue = append(b.queue, c)
	start := b.inFlight < batchesInFlight
	if start {
		b.inFlight++
	}
	b.mu.Unlock()
	if start {
		go b.send(ctx)
	}
	select {
	case o := <-c.done:
		return o.created, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the mirror batch of %s/%s: %w", ep.Namespace, ep.Name, ctx.Err())
	}
}

// send sends batches of the queued creates until none is left, with the
// context of the create that started it: a Syncer's workers share their
// Run's, so it ends only when the Syncer stops, and then the requests in
// flight are cancelled as a create on its own would be. It takes a batch
// slot before it takes the creates from the queue, so that those that
// arrive while it waits for one go in the same batch.
func (b *mirrorBatcher) send(ctx context.Context) {
	for {
		slotted := b.slots.acquire(ctx)
		batch := b.next(!slotted)
		if batch == nil {
			if slotted {
				b.slots.release()
			}
			return
		}
		if !slotted {
			for _, c := range batch {
				c.done <- batchOutcome{err: fmt.Errorf("waiting for a slot for the mirror batch: %w", ctx.Err())}
			}
			continue
		}
		b.sendOne(ctx, batch)
		b.slots.release()
	}
}

// next takes the next batch from the queue (all of it when all is set),
// nil when it is empty, and then counts the sender out.
func (b *mirrorBatcher) next(all bool) []*batchedCreate {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), maxBatchItems)
	if all {
		n = len(b.queue)
	}
	if n == 0 {
		b.inFlight--
		return nil
	}
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil // let the backing array of a burst go
	}
	return batch
}

// sendOne sends one batch and answers each of its creates.
func (b *mirrorBatcher) sendOne(ctx context.Context, batch []*batchedCreate) {
	req := &v3.MirrorBatch{Spec: v3.MirrorBatchSpec{Cluster: b.cluster, WorkloadEndpoints: make([]v3.WorkloadEndpoint, len(batch))}}
	for i, c := range batch {
		req.Spec.WorkloadEndpoints[i] = *c.ep
	}
	got, err := b.batches.Create(ctx, req, metav1.CreateOptions{FieldManager: FieldManager})
	if err == nil && len(got.Status.Results) != len(batch) {
		err = fmt.Errorf("mirror batch of %d endpoints of cluster %s answered %d results", len(batch), b.cluster, len(got.Status.Results))
	}
	if err != nil && refusesBatches(err) {
		b.fallBack(ctx, batch, err)
		return
	}
	for i, c := range batch {
		if err != nil {
			c.done <- batchOutcome{err: fmt.Errorf("mirror batch of %d endpoints: %w", len(batch), err)}
			continue
		}
		c.done <- outcomeOf(c.ep, got.Status.Results[i])
	}
}

// refusesBatches tells an answer to a MirrorBatch that means the server
// will never take one: it does not serve the resource (an older server),
// or the role of the controller does not grant it.
func refusesBatches(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err)
}

// fallBack creates batch's mirrors one by one, as every create from now
// on will be: the server refused the batch with err.
func (b *mirrorBatcher) fallBack(ctx context.Context, batch []*batchedCreate, err error) {
	b.mu.Lock()
	if !b.unbatched {
		klog.FromContext(ctx).Info("Local API server refuses mirror batches; creating each mirror on its own", "remoteCluster", b.cluster, "err", err)
	}
	b.unbatched = true
	b.mu.Unlock()
	for _, c := range batch {
		created, err := b.single(c.ep.Namespace).Create(ctx, c.ep, metav1.CreateOptions{FieldManager: FieldManager})
		c.done <- batchOutcome{created, err}
	}
}

// outcomeOf turns the result of ep in its batch into what a create of it
// alone would have returned: ep itself, with the stored UID and
// resourceVersion, when stored.
func outcomeOf(ep *v3.WorkloadEndpoint, res v3.MirrorResult) batchOutcome {
	if res.Code != http.StatusCreated {
		return batchOutcome{err: apierrors.FromObject(&metav1.Status{
			Status: metav1.StatusFailure, Code: res.Code, Reason: res.Reason, Message: res.Message,
			Details: &metav1.StatusDetails{Name: res.Name, Group: v3.GroupName, Kind: "workloadendpoints"},
		})}
	}
	ep.UID, ep.ResourceVersion = res.UID, res.ResourceVersion
	return batchOutcome{created: ep}
}
