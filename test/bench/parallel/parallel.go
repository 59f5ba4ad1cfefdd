// Package parallel runs the benchmarks' set-up loops: n numbered jobs
// from a fixed number of goroutines, stopping at the first error.
package parallel

import (
	"context"
	"sync"
	"sync/atomic"
)

// ForEach calls fn(ctx, i) for every i in 0..n-1 from workers goroutines,
// each taking the next number as it finishes the last. The first error
// cancels the context the others see, no new number is handed out, and
// ForEach returns that error once every goroutine has stopped; an ended
// ctx stops it the same way and returns ctx's cause.
func ForEach(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
