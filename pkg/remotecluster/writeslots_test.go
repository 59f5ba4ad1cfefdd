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
