package remotecluster

import (
	"sync"

	"k8s.io/client-go/util/workqueue"
)

// syncerWorkQueue is the work queue under a Syncer's delaying and
// rate-limiting queues: client-go's workqueue.Typed, item for item (an
// item is processed by one worker at a time; one added again while it is
// processed is queued again at Done; Touch tells the storage of an item
// added again while queued), except that its sets of queued and
// processing items are made anew once empty after holding more than
// mapRenewAt items. client-go's keep the room the largest burst grew them
// to: after an initial sync of 1,000 objects, every remote's queue held
// it. The storage orders the items (presenceFirstFIFO).
type syncerWorkQueue[T comparable] struct {
	storage workqueue.Queue[T]
	cond    *sync.Cond
	// dirty are the items to process: queued in storage, or added again
	// while processed.
	dirty, processing renewingMap[T, struct{}]
	shuttingDown      bool
	drain             bool
}

var _ workqueue.TypedInterface[queueItem] = &syncerWorkQueue[queueItem]{}

func newSyncerWorkQueue[T comparable](storage workqueue.Queue[T]) *syncerWorkQueue[T] {
	return &syncerWorkQueue[T]{storage: storage, cond: sync.NewCond(&sync.Mutex{})}
}

// Add marks item as to be processed; ignored once shutting down.
func (q *syncerWorkQueue[T]) Add(item T) {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	if q.shuttingDown {
		return
	}
	if q.dirty.has(item) {
		if !q.processing.has(item) {
			q.storage.Touch(item)
		}
		return
	}
	q.dirty.set(item, struct{}{})
	if q.processing.has(item) {
		return // queued again at Done
	}
	q.storage.Push(item)
	q.cond.Signal()
}

// Len is the number of items queued.
func (q *syncerWorkQueue[T]) Len() int {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	return q.storage.Len()
}

// Get blocks until an item is queued and returns it, or until the queue
// shuts down with nothing queued (shutdown true). The caller must call
// Done with the item.
func (q *syncerWorkQueue[T]) Get() (item T, shutdown bool) {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	for q.storage.Len() == 0 && !q.shuttingDown {
		q.cond.Wait()
	}
	if q.storage.Len() == 0 {
		return item, true
	}
	item = q.storage.Pop()
	q.processing.set(item, struct{}{})
	q.dirty.delete(item)
	return item, false
}

// Done marks item as processed, and queues it again if it was added
// meanwhile.
func (q *syncerWorkQueue[T]) Done(item T) {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	q.processing.delete(item)
	if q.dirty.has(item) {
		q.storage.Push(item)
		q.cond.Signal()
	} else if q.processing.len() == 0 {
		q.cond.Signal()
	}
}

// ShutDown makes the queue ignore new items; Get returns what is queued,
// then reports shutdown.
func (q *syncerWorkQueue[T]) ShutDown() {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	q.drain = false
	q.shuttingDown = true
	q.cond.Broadcast()
}

// ShutDownWithDrain is ShutDown that also waits until every item being
// processed is done (or ShutDown is called).
func (q *syncerWorkQueue[T]) ShutDownWithDrain() {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	q.drain = true
	q.shuttingDown = true
	q.cond.Broadcast()
	for q.processing.len() != 0 && q.drain {
		q.cond.Wait()
	}
}

// ShuttingDown reports whether ShutDown was called.
func (q *syncerWorkQueue[T]) ShuttingDown() bool {
	q.cond.L.Lock()
	defer q.cond.L.Unlock()
	return q.shuttingDown
}
