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

// writeBounds are a Controller's bounds on the mirror writes of all its
// Syncers in flight: single writes, each request holding a slot of
// single, and MirrorBatch requests, each holding one of batches (each
// remote has at most batchesInFlight). Apart, so that a create waiting in
// a batch, which gave back its single slot, never queues behind updates
// for one.
type writeBounds struct {
	single, batches writeSlots
}

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

// heldSlot is a slot one reconcile holds, which it may give back before
// it ends: a create waiting in a batch gives it back while it waits (the
// batch's request holds one for all its creates).
type heldSlot struct {
	slots writeSlots
	held  bool
}

// take takes a slot, waiting for one; false when ctx ended first.
func (w writeSlots) take(ctx context.Context) (*heldSlot, bool) {
	if !w.acquire(ctx) {
		return nil, false
	}
	return &heldSlot{slots: w, held: true}, true
}

// give gives the slot back, if it is still held.
func (h *heldSlot) give() {
	if h != nil && h.held {
		h.held = false
		h.slots.release()
	}
}

// retake takes a slot again after give, waiting for one; false when ctx
// ended first (and then nothing is held).
func (h *heldSlot) retake(ctx context.Context) bool {
	if h == nil || h.held {
		return true
	}
	h.held = h.slots.acquire(ctx)
	return h.held
}
