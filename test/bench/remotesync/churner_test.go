package remotesync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
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
// B at a set rate, round robin, from writers goroutines, each owning
// every writers-th endpoint; a writer that falls behind the schedule
// sends at once, so the rate achieved is the rate asked or what the
// server allows.
type churner struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  time.Time
	// log[w] are writer w's updates, read after stop.
	log  [][]churnUpdate
	once sync.Once
	err  error
	took time.Duration
}

// churnUpdate is one update the churner made: the endpoint's name in B,
// the generation it wrote and when the call returned.
type churnUpdate struct {
	name string
	gen  int
	at   time.Time
}

// startChurner lists the background endpoints of cs and starts updating
// them at rate updates per second from writers goroutines until stop.
func startChurner(ctx context.Context, cs versioned.Interface, rate float64, writers int) (*churner, error) {
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
	if writers < 1 || len(weps) < writers {
		return nil, fmt.Errorf("%d endpoints to churn from %d writers: want at least one endpoint per writer", len(weps), writers)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &churner{cancel: cancel, start: time.Now(), log: make([][]churnUpdate, writers)}
	period := time.Duration(float64(time.Second) / rate * float64(writers))
	for w := range writers {
		c.wg.Go(func() { c.write(ctx, cs, weps, w, writers, period) })
	}
	return c, nil
}

// write is writer w's loop: one update of its next endpoint every period,
// its first at w*period/writers.
func (c *churner) write(ctx context.Context, cs versioned.Interface, weps []*v3.WorkloadEndpoint, w, writers int, period time.Duration) {
	next := c.start.Add(period * time.Duration(w) / time.Duration(writers))
	gen := 0
	for {
		for i := w; i < len(weps); i += writers {
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
			c.log[w] = append(c.log[w], churnUpdate{name: wep.Name, gen: gen, at: time.Now()})
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
	return int64(len(c.made())), c.took, c.err
}

// made returns every update the churner made; call it after stop.
func (c *churner) made() []churnUpdate {
	var all []churnUpdate
	for _, l := range c.log {
		all = append(all, l...)
	}
	return all
}

// genArrival is a MODIFIED event of a churned endpoint's mirror seen by
// A's watcher: the generation it carried and when it arrived.
type genArrival struct {
	gen int
	at  time.Time
}

// genArrivals records, per mirror name, the generations of the churn's
// label that A's watcher saw, in order of arrival.
type genArrivals struct {
	mu     sync.Mutex
	byName map[string][]genArrival
}

func newGenArrivals() *genArrivals { return &genArrivals{byName: map[string][]genArrival{}} }

// record notes the event of mirror name with labels, if it carries the
// churn's label.
func (a *genArrivals) record(name string, labels map[string]string, at time.Time) {
	v, ok := labels[genLabel]
	if !ok {
		return
	}
	gen, err := strconv.Atoi(v)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.byName[name] = append(a.byName[name], genArrival{gen: gen, at: at})
	a.mu.Unlock()
}

// caughtUp tells whether every mirror of want (mirror name -> the last
// generation written in B) has shown that generation.
func (a *genArrivals) caughtUp(want map[string]int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, gen := range want {
		seen := a.byName[name]
		if len(seen) == 0 || seen[len(seen)-1].gen < gen {
			return false
		}
	}
	return true
}

// lastGens returns, per mirror name, the last generation updates wrote.
func lastGens(updates []churnUpdate, mirrorName func(string) string) map[string]int {
	last := map[string]int{}
	for _, u := range updates {
		name := mirrorName(u.name)
		if g, ok := last[name]; !ok || u.gen > g {
			last[name] = u.gen
		}
	}
	return last
}

// updateLags returns, for every update, how long after its call returned
// in B the mirror first showed that generation or a later one (an update
// overtaken by the next before the controller wrote it counts until the
// newer one arrived), and how many updates never arrived.
func (a *genArrivals) updateLags(updates []churnUpdate, mirrorName func(string) string) (lags []time.Duration, missing int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range updates {
		seen := a.byName[mirrorName(u.name)]
		i, _ := slices.BinarySearchFunc(seen, u.gen, func(e genArrival, gen int) int { return cmp.Compare(e.gen, gen) })
		if i == len(seen) {
			missing++
			continue
		}
		lags = append(lags, seen[i].at.Sub(u.at))
	}
	return lags, missing
}

func TestUpdateLags(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	mirror := func(name string) string { return "b." + name }
	updates := []churnUpdate{
		{"bg-1", 0, at(0)}, {"bg-1", 1, at(10)}, {"bg-1", 2, at(20)},
		{"bg-2", 0, at(5)},
	}
	tests := []struct {
		name   string
		events []struct {
			name, gen string
			at        int
		}
		wantLags    []time.Duration
		wantMissing int
		caughtUp    bool
	}{
		{"every generation seen", []struct {
			name, gen string
			at        int
		}{
			{"b.bg-1", "0", 3}, {"b.bg-1", "1", 14}, {"bg-2", "0", 6}, {"b.bg-2", "0", 9}, {"b.bg-1", "2", 21},
		}, []time.Duration{3 * time.Millisecond, 4 * time.Millisecond, 1 * time.Millisecond, 4 * time.Millisecond}, 0, true},
		{"a coalesced update counts until the newer one", []struct {
			name, gen string
			at        int
		}{
			{"b.bg-1", "2", 30}, {"b.bg-2", "0", 7},
		}, []time.Duration{30 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond, 2 * time.Millisecond}, 0, true},
		{"never seen, and a label that is not a number", []struct {
			name, gen string
			at        int
		}{
			{"b.bg-1", "1", 12}, {"b.bg-2", "x", 7},
		}, []time.Duration{12 * time.Millisecond, 2 * time.Millisecond}, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newGenArrivals()
			for _, e := range tc.events {
				a.record(e.name, map[string]string{genLabel: e.gen}, at(e.at))
			}
			a.record("b.bg-1", map[string]string{"other": "1"}, at(99)) // no churn label: ignored
			lags, missing := a.updateLags(updates, mirror)
			if !slices.Equal(lags, tc.wantLags) || missing != tc.wantMissing {
				t.Errorf("lags %v, %d missing; want %v, %d", lags, missing, tc.wantLags, tc.wantMissing)
			}
			if got := a.caughtUp(lastGens(updates, mirror)); got != tc.caughtUp {
				t.Errorf("caughtUp = %v, want %v", got, tc.caughtUp)
			}
		})
	}
}
