package remotesync

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/bench/parallel"
)

const (
	// churnSet names the endpoints BenchmarkPropagationLatencyChurn
	// updates.
	churnSet = "bg"
	// churnAddrOffset puts their addresses after those of the endpoints
	// the benchmark creates.
	churnAddrOffset = 1 << 16
	// churnWriters is how many goroutines update them.
	churnWriters = 16
)

// newChurnEndpoint returns background endpoint i: named bg-<i>, with the
// (churnAddrOffset+i)-th address of 198.18.0.0/15.
func newChurnEndpoint(i int) *v3.WorkloadEndpoint {
	ep := newEndpoint(churnSet, churnAddrOffset+i)
	ep.Name, ep.Spec.Workload, ep.Spec.Pod = endpointName(churnSet, i), endpointName(churnSet, i), endpointName(churnSet, i)
	return ep
}

// createChurnEndpoints creates background endpoints 0..n-1 in cs from
// creators goroutines.
func createChurnEndpoints(ctx context.Context, cs versioned.Interface, n int) error {
	if churnAddrOffset+n > maxEndpoints {
		return fmt.Errorf("%d background endpoints: at most %d fit after the benchmark's", n, maxEndpoints-churnAddrOffset)
	}
	return parallel.ForEach(ctx, creators, n, func(ctx context.Context, i int) error {
		ep := newChurnEndpoint(i)
		if _, err := cs.ProjectcalicoV3().WorkloadEndpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s/%s: %w", ep.Namespace, ep.Name, err)
		}
		return nil
	})
}

// churner updates the generation label of the background endpoints of
// B at a set rate, round robin, from churnWriters goroutines, each owning
// every churnWriters-th endpoint; a writer that falls behind the schedule
// sends at once, so the rate achieved is the rate asked or what the
// server allows.
type churner struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	start   time.Time
	updates atomic.Int64
	once    sync.Once
	err     error
	took    time.Duration
}

// startChurner lists the background endpoints of cs and starts updating
// them at rate updates per second until stop.
func startChurner(ctx context.Context, cs versioned.Interface, rate float64) (*churner, error) {
	list, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the endpoints to churn: %w", err)
	}
	var weps []*v3.WorkloadEndpoint
	for i := range list.Items {
		if len(list.Items[i].Name) > len(churnSet) && list.Items[i].Name[:len(churnSet)+1] == churnSet+"-" {
			weps = append(weps, &list.Items[i])
		}
	}
	if len(weps) < churnWriters {
		return nil, fmt.Errorf("%d endpoints to churn, want at least %d", len(weps), churnWriters)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &churner{cancel: cancel, start: time.Now()}
	period := time.Duration(float64(time.Second) / rate * churnWriters)
	for w := range churnWriters {
		c.wg.Go(func() { c.write(ctx, cs, weps, w, period) })
	}
	return c, nil
}

// write is writer w's loop: one update of its next endpoint every period,
// its first at w*period/churnWriters.
func (c *churner) write(ctx context.Context, cs versioned.Interface, weps []*v3.WorkloadEndpoint, w int, period time.Duration) {
	next := c.start.Add(period * time.Duration(w) / churnWriters)
	gen := 0
	for {
		for i := w; i < len(weps); i += churnWriters {
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			next = next.Add(period)
			if ctx.Err() != nil {
				return
			}
			wep := weps[i].DeepCopy()
			if wep.Labels == nil {
				wep.Labels = map[string]string{}
			}
			wep.Labels[genLabel] = strconv.Itoa(gen)
			updated, err := cs.ProjectcalicoV3().WorkloadEndpoints(wep.Namespace).Update(ctx, wep, metav1.UpdateOptions{})
			if err != nil {
				if ctx.Err() == nil {
					c.fail(fmt.Errorf("churning %s/%s: %w", wep.Namespace, wep.Name, err))
				}
				return
			}
			weps[i] = updated
			c.updates.Add(1)
		}
		gen++
	}
}

func (c *churner) fail(err error) {
	c.once.Do(func() { c.err = err; c.cancel() })
}

// stop stops the writers and returns the updates made, how long they ran
// and the first error.
func (c *churner) stop() (int64, time.Duration, error) {
	c.cancel()
	c.wg.Wait()
	if c.took == 0 {
		c.took = time.Since(c.start)
	}
	c.once.Do(func() {})
	return c.updates.Load(), c.took, c.err
}
