package remotecluster

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSyncerWorkQueue(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run drives q and returns the items Get returned, in order.
		run  func(q *syncerWorkQueue[int]) []int
		want []int
	}{
		{name: "an item added twice while queued is got once", run: func(q *syncerWorkQueue[int]) []int {
			q.Add(1)
			q.Add(2)
			q.Add(1)
			return drain(q)
		}, want: []int{1, 2}},
		{name: "an item added while processed is got again after Done", run: func(q *syncerWorkQueue[int]) []int {
			q.Add(1)
			it, _ := q.Get()
			q.Add(1)
			q.Add(2)
			if q.Len() != 1 {
				t.Errorf("Len while 1 is processed and 2 queued = %d, want 1", q.Len())
			}
			q.Done(it)
			return append([]int{it}, drain(q)...)
		}, want: []int{1, 2, 1}},
		{name: "a marked item added again while queued moves ahead", run: func(q *syncerWorkQueue[int]) []int {
			q.Add(1)
			q.Add(2)
			q.storage.(*presenceFirstFIFO[int]).Presence(2)
			q.Add(2) // Touch
			return drain(q)
		}, want: []int{2, 1}},
		{name: "after ShutDown adds are ignored and what is queued is still got", run: func(q *syncerWorkQueue[int]) []int {
			q.Add(1)
			q.ShutDown()
			q.Add(2)
			got := drain(q)
			if _, shutdown := q.Get(); !shutdown || !q.ShuttingDown() {
				t.Error("Get of an empty queue shut down did not report shutdown")
			}
			return got
		}, want: []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newSyncerWorkQueue[int](newPresenceFirstFIFO[int](nil))
			if got := tc.run(q); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// drain gets and finishes every queued item, in order.
func drain(q *syncerWorkQueue[int]) []int {
	var got []int
	for q.Len() > 0 {
		it, _ := q.Get()
		got = append(got, it)
		q.Done(it)
	}
	return got
}

func TestSyncerWorkQueueShutDownWithDrainWaitsForProcessing(t *testing.T) {
	q := newSyncerWorkQueue[int](newPresenceFirstFIFO[int](nil))
	q.Add(1)
	it, _ := q.Get()
	drained := make(chan struct{})
	go func() { q.ShutDownWithDrain(); close(drained) }()
	select {
	case <-drained:
		t.Fatal("ShutDownWithDrain returned while an item was processed")
	case <-time.After(50 * time.Millisecond):
	}
	q.Done(it)
	<-drained
}

// TestSyncerWorkQueueRenewsSets: after a burst larger than mapRenewAt is
// processed, the queue holds no map of the burst's size.
func TestSyncerWorkQueueRenewsSets(t *testing.T) {
	for _, n := range []int{mapRenewAt, 4 * mapRenewAt} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			q := newSyncerWorkQueue[int](newPresenceFirstFIFO[int](nil))
			for i := range n {
				q.Add(i)
			}
			if got := drain(q); len(got) != n {
				t.Fatalf("got %d items, want %d", len(got), n)
			}
			renewed := q.dirty.m == nil // processing held one item at a time
			if want := n > mapRenewAt; renewed != want {
				t.Errorf("after %d items: sets made anew = %v, want %v", n, renewed, want)
			}
			q.Add(1) // still works after renewal
			if got := drain(q); !slices.Equal(got, []int{1}) {
				t.Errorf("after renewal got %v, want [1]", got)
			}
		})
	}
}
