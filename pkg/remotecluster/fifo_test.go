package remotecluster

import (
	"slices"
	"testing"
)

func TestReleasingFIFO(t *testing.T) {
	tests := []struct {
		name string
		// ops: a positive number pushes it, 0 pops.
		ops     []int
		wantOut []int
		wantLen int
	}{
		{"first in, first out", []int{1, 2, 3, 0, 0, 0}, []int{1, 2, 3}, 0},
		{"interleaved", []int{1, 2, 0, 3, 0, 4}, []int{1, 2}, 2},
		{"empty again, then used", []int{1, 0, 2, 3, 0}, []int{1, 2}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q releasingFIFO[int]
			var out []int
			for _, op := range tc.ops {
				if op == 0 {
					out = append(out, q.Pop())
					continue
				}
				q.Push(op)
			}
			if !slices.Equal(out, tc.wantOut) || q.Len() != tc.wantLen {
				t.Errorf("popped %v, %d left; want %v, %d left", out, q.Len(), tc.wantOut, tc.wantLen)
			}
		})
	}
	// A burst's array goes once the queue is empty.
	var q releasingFIFO[queueItem]
	for i := range 1000 {
		q.Push(queueItem{key: string(rune('a' + i%26))})
	}
	for q.Len() > 0 {
		q.Pop()
	}
	if q.items != nil {
		t.Errorf("empty queue keeps an array of capacity %d", cap(q.items))
	}
}
