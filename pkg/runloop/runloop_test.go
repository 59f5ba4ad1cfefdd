package runloop

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder records the passes and task runs of a loop, in order.
type recorder struct {
	mu     sync.Mutex
	events []event
	ch     chan struct{} // told of each event
}

type event struct {
	what string
	at   time.Time
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1000)} }

func (r *recorder) add(what string) {
	r.mu.Lock()
	r.events = append(r.events, event{what, time.Now()})
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// wait waits for n events in all, failing the test after a long while.
func (r *recorder) wait(t *testing.T, n int) []event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		got := append([]event(nil), r.events...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("%d events after 20 s, want %d: %v", len(got), n, got)
		}
	}
}

// quiet fails the test if an event beyond n comes within d.
func (r *recorder) quiet(t *testing.T, n int, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) > n {
		t.Errorf("%d events, want %d: %v", len(r.events), n, r.events)
	}
}

// run starts l until the test ends.
func run(t *testing.T, l *Loop, kicks Kicker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, kicks); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func names(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.what
	}
	return out
}

func TestLoop(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the loop, and drives it once it has run its
		// first pass; want are the events, in order.
		setup func(r *recorder, k Kicker) (*Loop, func())
		want  []string
	}{
		{
			name: "one pass at once, then none unless asked",
			setup: func(r *recorder, k Kicker) (*Loop, func()) {
				return &Loop{Pass: func(context.Context) (time.Duration, error) { r.add("pass"); return 0, nil }}, nil
			},
			want: []string{"pass"},
		},
		{
			name: "the kicks of a burst make one pass",
			setup: func(r *recorder, k Kicker) (*Loop, func()) {
				l := &Loop{
					Pass: func(context.Context) (time.Duration, error) { r.add("pass"); return 0, nil },
					Gather: func(time.Duration) time.Duration {
						k.Kick() // more of the burst, during the wait
						k.Kick()
						return 20 * time.Millisecond
					},
				}
				return l, k.Kick
			},
			want: []string{"pass", "pass"},
		},
		{
			name: "a pass that asks to run again does",
			setup: func(r *recorder, k Kicker) (*Loop, func()) {
				n := 0
				return &Loop{Pass: func(context.Context) (time.Duration, error) {
					r.add("pass")
					n++
					if n < 3 {
						return 10 * time.Millisecond, nil
					}
					return 0, nil
				}}, nil
			},
			want: []string{"pass", "pass", "pass"},
		},
		{
			name: "a task without a pass, and one with",
			setup: func(r *recorder, k Kicker) (*Loop, func()) {
				tasks := 0
				l := &Loop{
					Pass: func(context.Context) (time.Duration, error) { r.add("pass"); return 0, nil },
					Tasks: []Task{{Every: 30 * time.Millisecond, Do: func(context.Context) {
						tasks++
						if tasks <= 2 {
							r.add("task")
						}
					}}},
				}
				return l, nil
			},
			want: []string{"pass", "task", "task"},
		},
		{
			name: "a task with no period never runs",
			setup: func(r *recorder, k Kicker) (*Loop, func()) {
				return &Loop{
					Pass:  func(context.Context) (time.Duration, error) { r.add("pass"); return 0, nil },
					Tasks: []Task{{Do: func(context.Context) { r.add("task") }, ThenPass: true}},
				}, nil
			},
			want: []string{"pass"},
		},
		{
			name: "a task that then passes",
			setup: func(r *recorder, k Kicker) (*Loop, func()) {
				passes := 0
				return &Loop{
					Pass: func(context.Context) (time.Duration, error) {
						passes++
						if passes <= 2 {
							r.add("pass")
						}
						return 0, nil
					},
					Tasks: []Task{{Every: 20 * time.Millisecond, ThenPass: true}},
				}, nil
			},
			want: []string{"pass", "pass"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, k := newRecorder(), NewKicker()
			l, drive := tc.setup(r, k)
			run(t, l, k)
			r.wait(t, 1)
			if drive != nil {
				drive()
			}
			got := r.wait(t, len(tc.want))
			r.quiet(t, len(tc.want), 100*time.Millisecond)
			if g := names(got); !slices.Equal(g, tc.want) {
				t.Errorf("events %v, want %v", g, tc.want)
			}
		})
	}
}

// TestLoopBackoff: failed passes are retried after a wait that doubles up
// to the maximum, and a pass that succeeds resets it.
func TestLoopBackoff(t *testing.T) {
	const backoff = 20 * time.Millisecond
	r := newRecorder()
	var mu sync.Mutex
	var retryIns []time.Duration
	results := []error{errors.New("1"), errors.New("2"), errors.New("3"), errors.New("4"), nil}
	l := &Loop{
		Pass: func(context.Context) (time.Duration, error) {
			mu.Lock()
			err := results[0]
			if len(results) > 1 {
				results = results[1:]
			}
			mu.Unlock()
			r.add("pass")
			return 0, err
		},
		Backoff: backoff, MaxBackoff: 3 * backoff,
		OnError: func(_ error, in time.Duration) {
			mu.Lock()
			retryIns = append(retryIns, in)
			mu.Unlock()
			r.add("retry")
		},
	}
	k := NewKicker()
	run(t, l, k)
	evs := r.wait(t, 9) // 4 failed passes and their retries, then a pass
	r.quiet(t, 9, 100*time.Millisecond)
	want := []time.Duration{backoff, 2 * backoff, 3 * backoff, 3 * backoff}
	mu.Lock()
	if !slices.Equal(retryIns, want) {
		t.Errorf("retried in %v, want %v", retryIns, want)
	}
	mu.Unlock()
	var passes []time.Time
	for _, e := range evs {
		if e.what == "pass" {
			passes = append(passes, e.at)
		}
	}
	for i := 1; i < len(passes); i++ {
		if gap := passes[i].Sub(passes[i-1]); gap < want[i-1] {
			t.Errorf("attempt %d came %s after the one before, want at least %s", i+1, gap, want[i-1])
		}
	}
	// Success reset the backoff: a kick whose pass fails is retried after
	// the first wait again.
	mu.Lock()
	results = []error{errors.New("5"), nil}
	mu.Unlock()
	k.Kick()
	r.wait(t, 12)
	mu.Lock()
	defer mu.Unlock()
	if got := retryIns[len(retryIns)-1]; got != backoff {
		t.Errorf("after a success the retry came in %s, want %s", got, backoff)
	}
}

// TestLoopStops: Run returns when its context ends, also in a gather.
func TestLoopStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	k := NewKicker()
	gathering := make(chan struct{})
	l := &Loop{
		Pass:   func(context.Context) (time.Duration, error) { return 0, nil },
		Gather: func(time.Duration) time.Duration { close(gathering); return time.Hour },
		Tasks:  []Task{{Every: time.Hour}},
	}
	done := make(chan struct{})
	go func() { l.Run(ctx, k); close(done) }()
	k.Kick()
	<-gathering
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
