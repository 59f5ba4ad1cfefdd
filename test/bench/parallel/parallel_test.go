package parallel

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestForEach(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		workers  int
		n        int
		failAt   int // -1: none
		wantErr  error
		wantDone func(done map[int]int) bool
	}{
		{name: "every number once", workers: 4, n: 1000, failAt: -1,
			wantDone: func(d map[int]int) bool { return len(d) == 1000 && all(d, 1) }},
		{name: "no jobs", workers: 4, n: 0, failAt: -1,
			wantDone: func(d map[int]int) bool { return len(d) == 0 }},
		{name: "zero workers still runs", workers: 0, n: 3, failAt: -1,
			wantDone: func(d map[int]int) bool { return len(d) == 3 }},
		{name: "the first error stops the rest", workers: 1, n: 100, failAt: 10, wantErr: boom,
			wantDone: func(d map[int]int) bool { return len(d) == 11 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			done := map[int]int{}
			err := ForEach(context.Background(), tc.workers, tc.n, func(_ context.Context, i int) error {
				mu.Lock()
				done[i]++
				mu.Unlock()
				if i == tc.failAt {
					return boom
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !tc.wantDone(done) {
				t.Errorf("jobs run: %d distinct (%v...)", len(done), done)
			}
		})
	}
}

func TestForEachCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := 0
	err := ForEach(ctx, 2, 10, func(context.Context, int) error { ran++; return nil })
	if !errors.Is(err, context.Canceled) || ran != 0 {
		t.Errorf("ForEach on an ended context: err %v, %d jobs run; want context.Canceled, 0", err, ran)
	}
}

func all(d map[int]int, v int) bool {
	for _, n := range d {
		if n != v {
			return false
		}
	}
	return true
}
