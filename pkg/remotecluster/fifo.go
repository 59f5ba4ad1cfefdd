package remotecluster

import "k8s.io/client-go/util/workqueue"

// releasingFIFO is a Syncer's work queue storage: client-go's slice FIFO
// (workqueue.DefaultQueue), except that it lets go of its array whenever
// it is empty. The default keeps the array a burst grew it to (the
// initial resync queues every object of the cluster at once) until an
// append outgrows it, for each of the controller's syncers.
type releasingFIFO[T comparable] struct {
	items []T
}

var _ workqueue.Queue[queueItem] = &releasingFIFO[queueItem]{}

// Touch does nothing: the order is first in, first out.
func (q *releasingFIFO[T]) Touch(T) {}

// Push adds item at the end.
func (q *releasingFIFO[T]) Push(item T) { q.items = append(q.items, item) }

// Len is the number of items queued.
func (q *releasingFIFO[T]) Len() int { return len(q.items) }

// Pop removes and returns the first item; the queue must not be empty.
func (q *releasingFIFO[T]) Pop() T {
	item := q.items[0]
	var zero T
	q.items[0] = zero // no reference kept
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil
	}
	return item
}

// syncerQueueName is the name of the Syncer queue of cluster, the name
// label of its work queue metrics.
func syncerQueueName(cluster string) string { return "remote-" + cluster }

// newSyncerQueue returns a Syncer's rate-limited work queue named name,
// reporting to metrics, stored in a releasingFIFO.
func newSyncerQueue(name string, metrics workqueue.MetricsProvider) workqueue.TypedRateLimitingInterface[queueItem] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(mirrorRateLimiter(), workqueue.TypedRateLimitingQueueConfig[queueItem]{
		Name: name, MetricsProvider: metrics,
		DelayingQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[queueItem]{
			Name: name, MetricsProvider: metrics,
			Queue: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[queueItem]{
				Name: name, MetricsProvider: metrics, Queue: &releasingFIFO[queueItem]{},
			}),
		}),
	})
}
