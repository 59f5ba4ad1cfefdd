package remotecluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// runFIFO applies ops to q: "+N" pushes N, "*N" marks N (Presence), "~N"
// touches N, "-" pops; it returns what was popped.
func runFIFO(t *testing.T, q *presenceFirstFIFO[int], ops string) []int {
	t.Helper()
	var out []int
	for _, op := range strings.Fields(ops) {
		if op == "-" {
			out = append(out, q.Pop())
			continue
		}
		n, err := strconv.Atoi(op[1:])
		if err != nil {
			t.Fatalf("op %q: %v", op, err)
		}
		switch op[0] {
		case '+':
			q.Push(n)
		case '*':
			q.Presence(n)
		case '~':
			q.Touch(n)
		default:
			t.Fatalf("op %q", op)
		}
	}
	return out
}

func TestPresenceFirstFIFO(t *testing.T) {
	tests := []struct {
		name    string
		ops     string
		wantOut []int
		wantLen int
	}{
		{"unmarked: first in, first out", "+1 +2 +3 - - -", []int{1, 2, 3}, 0},
		{"interleaved", "+1 +2 - +3 - +4", []int{1, 2}, 2},
		{"a marked push goes ahead", "+1 +2 *3 +3 - - -", []int{3, 1, 2}, 0},
		{"marked ones keep their order", "+1 *2 +2 *3 +3 - - -", []int{2, 3, 1}, 0},
		{"a touch of a marked queued item moves it ahead once", "+1 +2 +3 *3 ~3 ~3 - - -", []int{3, 1, 2}, 0},
		{"a touch without a mark leaves the order", "+1 +2 ~2 ~1 - -", []int{1, 2}, 0},
		{"the mark is taken by one push", "*1 +1 - +1 +2 *2 ~2 - -", []int{1, 2, 1}, 0},
		{"at most presenceBurst in a row while others wait",
			"+100 *1 +1 *2 +2 *3 +3 *4 +4 *5 +5 *6 +6 - - - - - - -",
			[]int{1, 2, 3, 4, 100, 5, 6}, 0},
		{"turns are counted only while something else waits",
			"*1 +1 *2 +2 *3 +3 *4 +4 *5 +5 *6 +6 - - - - - +100 - -",
			[]int{1, 2, 3, 4, 5, 6, 100}, 0},
		{"the count starts again after the other line's turn",
			"+100 +101 *1 +1 *2 +2 *3 +3 *4 +4 *5 +5 *6 +6 *7 +7 *8 +8 *9 +9 *10 +10 - - - - - - - - - - - -",
			[]int{1, 2, 3, 4, 100, 5, 6, 7, 8, 101, 9, 10}, 0},
		{"a moved item is not served twice", "+1 +2 *1 ~1 - - +3 -", []int{1, 2, 3}, 0},
		{"moved, served, and queued again unmarked", "+1 +2 *1 ~1 - +1 - -", []int{1, 2, 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newPresenceFirstFIFO[int](nil)
			out := runFIFO(t, q, tc.ops)
			if !slices.Equal(out, tc.wantOut) || q.Len() != tc.wantLen {
				t.Errorf("popped %v, %d left; want %v, %d left", out, q.Len(), tc.wantOut, tc.wantLen)
			}
		})
	}
}

func TestPresenceFirstFIFOReleases(t *testing.T) {
	// A burst's arrays go once nothing is queued in them, stale entries
	// of moved items included.
	q := newPresenceFirstFIFO[queueItem](nil)
	for i := range 1000 {
		it := queueItem{key: fmt.Sprint(i)}
		q.Push(it)
		if i%3 == 0 {
			q.Presence(it)
			q.Touch(it)
		}
	}
	for q.Len() > 0 {
		q.Pop()
	}
	if q.first != nil || q.second != nil || q.queued.m != nil || q.marked.len() != 0 {
		t.Errorf("empty queue keeps arrays of capacity %d and %d, a queued map that held %d, %d marks", cap(q.first), cap(q.second), q.queued.peak, q.marked.len())
	}
	// A small queue keeps its map.
	q.Push(queueItem{key: "a"})
	q.Pop()
	if q.queued.m == nil || q.queued.peak != 1 {
		t.Errorf("after one item the map is %v with peak %d, want kept with peak 1", q.queued.m, q.queued.peak)
	}
}

func TestSyncerQueueServesPresenceFirst(t *testing.T) {
	// Through client-go's workqueue: its Add of a queued item calls
	// Touch, and of an item being processed, Push once it is done.
	q, fifo := newSyncerQueue("presence-test", nil)
	defer q.ShutDown()
	item := func(name string) queueItem { return queueItem{key: "ns/" + name} }
	for _, name := range []string{"u1", "u2", "u3"} {
		q.Add(item(name)) // updates
	}
	fifo.Presence(item("new")) // an add event: queued ahead
	q.Add(item("new"))
	fifo.Presence(item("u3")) // queued as an update, then deleted
	q.Add(item("u3"))
	busy, _ := q.Get() // "new", being processed
	fifo.Presence(busy)
	q.Add(busy) // deleted meanwhile: pushed ahead once Done
	q.Add(item("u4"))
	q.Done(busy)
	var got []string
	for q.Len() > 0 {
		it, _ := q.Get()
		got = append(got, it.key)
		q.Done(it)
	}
	want := []string{"ns/u3", "ns/new", "ns/u1", "ns/u2", "ns/u4"}
	if busy.key != "ns/new" || !slices.Equal(got, want) {
		t.Errorf("served %s first, then %v; want ns/new, then %v", busy.key, got, want)
	}
}
