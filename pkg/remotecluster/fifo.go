package remotecluster

import (
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// presenceBurst is how many presence changes a Syncer's queue serves in
// a row while other items wait: those get at least one turn in
// presenceBurst+1 however fast mirrors appear and go.
const presenceBurst = 4

// presenceFirstFIFO is a Syncer's work queue storage: two first-in,
// first-out lines, the first for objects whose mirror must appear or go
// (a remote object added or deleted, a mirror deleted behind the Syncer's
// back: see Presence), the second for the rest (updates of objects both
// sides have, the resync, retries). The first is served ahead of the
// second, but never more than presenceBurst times in a row while the
// second waits. Under churn in the remote cluster a new endpoint then
// waits for the workers, not behind every queued update of the others:
// until its mirror exists no policy of this cluster selects it, and until
// a deleted one's goes, its address keeps the labels a policy admitted.
//
// Unlike client-go's slice FIFO it lets go of its arrays once they hold
// no queued item, and its maps are renewingMaps: a burst (the initial
// resync queues every object at once) does not keep its room.
//
// The workqueue calls Push, Touch, Pop and Len under its own lock;
// Presence may be called from anywhere.
type presenceFirstFIFO[T comparable] struct {
	mu      sync.Mutex
	metrics *queueSeries // nil records nothing
	// marked are the items Presence told of, served first from their
	// next Push or Touch.
	marked renewingMap[T, struct{}]
	// queued holds each queued item's line and the sequence number of its
	// live entry there; an entry whose number differs was superseded by a
	// move to the first line and is skipped.
	queued        renewingMap[T, queuedAt]
	first, second []fifoEntry[T]
	nFirst        int // queued items in first
	seq           uint64
	servedInARow  int // items taken from first in a row while second waited
}

type queuedAt struct {
	first bool
	seq   uint64
	since time.Time // when it was pushed
}

type fifoEntry[T comparable] struct {
	item T
	seq  uint64
}

var _ workqueue.Queue[queueItem] = &presenceFirstFIFO[queueItem]{}

func newPresenceFirstFIFO[T comparable](metrics *queueSeries) *presenceFirstFIFO[T] {
	return &presenceFirstFIFO[T]{metrics: metrics}
}

// Presence marks item as a change of whether its mirror exists: from its
// next Push (or, if it is queued already, right away, by the Touch of the
// workqueue's Add that follows) it is served from the first line. Call it
// before the workqueue's Add of item.
func (q *presenceFirstFIFO[T]) Presence(item T) {
	q.mu.Lock()
	q.marked.set(item, struct{}{})
	q.mu.Unlock()
}

// takeMark reports whether item was marked, and clears the mark. q.mu is
// held.
func (q *presenceFirstFIFO[T]) takeMark(item T) bool {
	if !q.marked.has(item) {
		return false
	}
	q.marked.delete(item)
	return true
}

// Push adds item at the end of its line.
func (q *presenceFirstFIFO[T]) Push(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.enqueue(item, q.takeMark(item), time.Now())
	q.metrics.queued(q.queued.len())
}

// enqueue appends item's live entry, queued since, to the first line or
// the second. q.mu is held.
func (q *presenceFirstFIFO[T]) enqueue(item T, first bool, since time.Time) {
	q.seq++
	q.queued.set(item, queuedAt{first: first, seq: q.seq, since: since})
	if first {
		q.first = append(q.first, fifoEntry[T]{item, q.seq})
		q.nFirst++
		return
	}
	q.second = append(q.second, fifoEntry[T]{item, q.seq})
}

// Touch is told that item, already queued, was added again: if it was
// marked since, it moves to the end of the first line.
func (q *presenceFirstFIFO[T]) Touch(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.takeMark(item) {
		return
	}
	if at, ok := q.queued.get(item); ok && !at.first {
		q.enqueue(item, true, at.since)
	}
}

// Len is the number of items queued.
func (q *presenceFirstFIFO[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued.len()
}

// Pop removes and returns the next item; the queue must not be empty.
func (q *presenceFirstFIFO[T]) Pop() T {
	q.mu.Lock()
	defer q.mu.Unlock()
	nSecond := q.queued.len() - q.nFirst
	if q.nFirst > 0 && (q.servedInARow < presenceBurst || nSecond == 0) {
		if nSecond > 0 {
			q.servedInARow++
		}
		q.nFirst--
		return q.popLine(&q.first, q.nFirst)
	}
	q.servedInARow = 0
	return q.popLine(&q.second, nSecond-1)
}

// popLine removes and returns the first live entry of line, which holds
// left live entries after it; q.mu is held and line holds one.
func (q *presenceFirstFIFO[T]) popLine(line *[]fifoEntry[T], left int) T {
	var zero fifoEntry[T]
	for {
		e := (*line)[0]
		(*line)[0] = zero // no reference kept
		*line = (*line)[1:]
		at, ok := q.queued.get(e.item)
		if !ok || at.seq != e.seq {
			continue // superseded by a move to the first line
		}
		q.queued.delete(e.item)
		q.metrics.taken(at.since, q.queued.len())
		if left == 0 {
			*line = nil // what remains, if anything, is superseded
		}
		return e.item
	}
}

// syncerQueueName is the name of the Syncer queue of cluster, the name
// label of its work queue metrics.
func syncerQueueName(cluster string) string { return "remote-" + cluster }

// newSyncerQueue returns a Syncer's rate-limited work queue named name,
// reporting to metrics, and its storage, a presenceFirstFIFO.
func newSyncerQueue(name string, metrics *queueMetrics) (*meteredQueue, *presenceFirstFIFO[queueItem]) {
	var series *queueSeries
	if metrics != nil {
		series = metrics.series(name)
	}
	fifo := newPresenceFirstFIFO[queueItem](series)
	q := workqueue.NewTypedRateLimitingQueueWithConfig(mirrorRateLimiter(), workqueue.TypedRateLimitingQueueConfig[queueItem]{
		Name: name,
		DelayingQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[queueItem]{
			Name:  name,
			Queue: newSyncerWorkQueue[queueItem](fifo),
		}),
	})
	return &meteredQueue{TypedRateLimitingInterface: q, metrics: series, started: map[queueItem]time.Time{}}, fifo
}
