package soak

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// creators is how many goroutines create a cluster's initial endpoints.
const creators = 16

// churner writes one cluster's endpoints: the initial load, then the
// churn, each shard by its own goroutine.
type churner struct {
	mb     *member
	shards []*shard
	rec    *recorder

	// written and writeErrors count the churn's events.
	written, writeErrors atomic.Int64
	mu                   sync.Mutex
	// errorSample holds the first few write errors.
	errorSample []string
}

// newChurner returns mb's churner with workers shards of its endpoint
// pool; seq numbers the events of every cluster.
func newChurner(mb *member, workers int, seq *atomic.Uint64) *churner {
	c := &churner{mb: mb}
	for i := range workers {
		c.shards = append(c.shards, newShard(endpointPools[mb.index], i, workers, seq))
	}
	return c
}

// load creates n endpoints spread over the shards from creators
// goroutines and returns how long that took.
func (c *churner) load(ctx context.Context, n int) (time.Duration, error) {
	type job struct {
		sh *shard
		at int
		ep *v3.WorkloadEndpoint
	}
	var jobs []job
	for i, sh := range c.shards {
		count := n / len(c.shards)
		if i < n%len(c.shards) {
			count++
		}
		sh.live = make([]*v3.WorkloadEndpoint, count)
		for at := range count {
			ep, ok := sh.newEndpoint()
			if !ok {
				return 0, fmt.Errorf("cluster %s: %d endpoints do not fit in pool %s", c.mb.name(), n, sh.pool)
			}
			jobs = append(jobs, job{sh, at, ep})
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range creators {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				stored, err := c.mb.client.ProjectcalicoV3().WorkloadEndpoints(j.ep.Namespace).Create(ctx, j.ep, metav1.CreateOptions{})
				if err != nil {
					cancel(fmt.Errorf("cluster %s: creating endpoint %s/%s: %w", c.mb.name(), j.ep.Namespace, j.ep.Name, err))
					return
				}
				j.sh.live[j.at] = stored
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// count is how many endpoints the churner holds.
func (c *churner) count() int {
	n := 0
	for _, sh := range c.shards {
		n += len(sh.live)
	}
	return n
}

// run writes the shard's events, one every period, until stop is closed.
// A tick missed while a write takes longer is dropped, not caught up.
func (c *churner) run(ctx context.Context, sh *shard, period time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ev := sh.next()
		k := eventKey{origin: c.mb.name(), seq: ev.seq, del: ev.kind == opDelete}
		c.rec.expect(k, time.Now())
		stored, err := c.write(ctx, ev)
		c.rec.written(k, time.Now(), err == nil)
		if err == nil {
			c.written.Add(1)
			sh.commit(ev, stored)
			continue
		}
		c.failed(fmt.Errorf("%s of %s/%s in %s: %w", ev.kind, ev.obj.Namespace, ev.obj.Name, c.mb.name(), err))
		sh.abort(ev, c.current(ctx, ev.obj))
	}
}

// write writes ev and returns the endpoint as stored (nil for a delete).
func (c *churner) write(ctx context.Context, ev event) (*v3.WorkloadEndpoint, error) {
	weps := c.mb.client.ProjectcalicoV3().WorkloadEndpoints(ev.obj.Namespace)
	switch ev.kind {
	case opCreate:
		return weps.Create(ctx, ev.obj, metav1.CreateOptions{})
	case opDelete:
		return nil, weps.Delete(ctx, ev.obj.Name, metav1.DeleteOptions{})
	default:
		return weps.Update(ctx, ev.obj, metav1.UpdateOptions{})
	}
}

// current reads the endpoint after a failed write: nil if it does not
// exist, the written object if it cannot be read.
func (c *churner) current(ctx context.Context, ep *v3.WorkloadEndpoint) *v3.WorkloadEndpoint {
	for range 5 {
		got, err := c.mb.client.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Get(ctx, ep.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return got
		}
		sleepCtx(ctx, time.Second)
	}
	return ep
}

// failed counts a write error and keeps the first few.
func (c *churner) failed(err error) {
	c.writeErrors.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errorSample) < 5 {
		c.errorSample = append(c.errorSample, err.Error())
	}
}
