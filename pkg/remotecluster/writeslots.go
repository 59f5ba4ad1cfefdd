package remotecluster

import "context"

// writeSlots bound the mirror writes a Controller's Syncers have in flight
// together. Each Syncer has its own workers, enough for one remote's
// initial sync to keep the local API server busy; with many remotes
// syncing at once their workers together would ask the local API server
// for more concurrent writes than its priority and fairness queues hold,
// and what they cannot hold is refused with 429 and retried a second
// later. A nil writeSlots bounds nothing.
type writeSlots chan struct{}

// newWriteSlots returns n slots; nil when n is not positive.
func newWriteSlots(n int) writeSlots {
	if n <= 0 {
		return nil
	}
	return make(writeSlots, n)
}

// acquire takes a slot, waiting for one; false when ctx ended first.
func (w writeSlots) acquire(ctx context.Context) bool {
	if w == nil {
		return ctx.Err() == nil
	}
	select {
	case w <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// release gives back a slot acquire took.
func (w writeSlots) release() {
	if w != nil {
		<-w
	}
}
