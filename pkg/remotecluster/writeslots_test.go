package remotecluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteSlots(t *testing.T) {
	for _, tc := range []struct {
		name    string
		slots   int
		writers int
		// want is the most writes in flight at once the slots allow.
		want int
	}{
		{name: "unbounded", slots: 0, writers: 8, want: 8},
		{name: "one", slots: 1, writers: 8, want: 1},
		{name: "fewer than the writers", slots: 3, writers: 8, want: 3},
		{name: "more than the writers", slots: 16, writers: 8, want: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWriteSlots(tc.slots)
			var inFlight, most atomic.Int32
			// Every writer holds its slot until all that can hold one at
			// once do, so the most seen is exactly what the slots allow.
			full := make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			for range tc.writers {
				wg.Go(func() {
					if !w.acquire(t.Context()) {
						t.Error("acquire failed with a live context")
						return
					}
					n := inFlight.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					if int(n) == tc.want {
						once.Do(func() { close(full) })
					}
					select {
					case <-full:
					case <-time.After(10 * time.Second):
						t.Error("the slots never filled")
					}
					inFlight.Add(-1)
					w.release()
				})
			}
			wg.Wait()
			if got := int(most.Load()); got != tc.want {
				t.Errorf("most writes in flight = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestWriteSlotsAcquireEndsWithContext(t *testing.T) {
	w := newWriteSlots(1)
	if !w.acquire(t.Context()) {
		t.Fatal("the first acquire failed")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan bool)
	go func() { done <- w.acquire(ctx) }()
	cancel()
	if <-done {
		t.Error("acquire of a full slot set returned true after its context ended")
	}
	w.release()
	if !w.acquire(t.Context()) {
		t.Error("acquire after release failed")
	}
	var unbounded writeSlots
	if unbounded.acquire(ctx) {
		t.Error("acquire with an ended context returned true without slots")
	}
}

// A held slot is given back once however often give is called, and
// retaken only when given.
func TestHeldSlot(t *testing.T) {
	slots := newWriteSlots(1)
	ctx := context.Background()
	h, ok := slots.take(ctx)
	if !ok || len(slots) != 1 {
		t.Fatalf("take: %v, %d in use", ok, len(slots))
	}
	h.give()
	h.give()
	if len(slots) != 0 {
		t.Fatalf("after two gives %d in use, want 0", len(slots))
	}
	other, _ := slots.take(ctx)
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	if h.retake(stopped) || h.held {
		t.Fatal("retake with every slot taken and the context ended succeeded")
	}
	h.give() // holds nothing: must not free other's slot
	if len(slots) != 1 {
		t.Fatalf("a give of nothing freed a slot: %d in use", len(slots))
	}
	other.give()
	if !h.retake(ctx) || len(slots) != 1 || !h.retake(ctx) || len(slots) != 1 {
		t.Fatalf("retake: %d in use, want 1 (and a second retake a no-op)", len(slots))
	}
	var none *heldSlot
	none.give()
	if !none.retake(ctx) {
		t.Error("a nil slot (no bound) cannot be retaken")
	}
}
