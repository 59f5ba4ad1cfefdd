// Package runloop runs a reconcile pass the way meshapi's agents and
// controllers do: at once, then whenever it is kicked (after gathering the
// kicks that usually come in a burst), when a pass asks to run again, after
// a failure with capped exponential backoff, and beside periodic tasks,
// all on one goroutine, until its context ends.
package runloop

import (
	"context"
	"time"
)

// Default backoff after a failed pass.
const (
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// Loop is a run loop's configuration. Pass is required.
type Loop struct {
	// Pass does one pass. again > 0 asks for another pass after again
	// (a kick may bring it sooner); an error asks for one after the
	// backoff.
	Pass func(ctx context.Context) (again time.Duration, err error)
	// Gather returns how long a kick waits, absorbing the kicks that
	// follow it, before its pass, given how long the last pass took; nil
	// runs the pass at once.
	Gather func(lastPass time.Duration) time.Duration
	// Backoff is the wait after a failed pass (default DefaultBackoff),
	// doubled after each failure in a row up to MaxBackoff (default
	// DefaultMaxBackoff); a pass that succeeds resets it.
	Backoff, MaxBackoff time.Duration
	// OnError, if set, is told of each failed pass and when the next is
	// due.
	OnError func(err error, retryIn time.Duration)
	// Tasks run on their own periods, between passes.
	Tasks []Task
}

// Task is periodic work beside the passes.
type Task struct {
	// Every is the task's period; the first run is one period after the
	// loop starts. A task with a period of 0 or less never runs.
	Every time.Duration
	// Do is the task's work; nil for none.
	Do func(ctx context.Context)
	// ThenPass runs a pass right after Do.
	ThenPass bool
}

// Run runs the loop until ctx ends: a pass at once, then as Loop says,
// and a pass (after Gather) whenever kicks delivers.
func (l *Loop) Run(ctx context.Context, kicks <-chan struct{}) {
	s := schedule{passAt: time.Now(), tasks: make([]time.Time, len(l.Tasks))}
	for i, t := range l.Tasks {
		if t.Every > 0 {
			s.tasks[i] = s.passAt.Add(t.Every)
		}
	}
	backoff := l.firstBackoff()
	var last time.Duration // the last pass's
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if at, ok := s.next(); ok {
			timer.Reset(max(time.Until(at), 0))
		} else {
			timer.Stop()
		}
		pass := false
		select {
		case <-ctx.Done():
			return
		case <-kicks:
			if !l.gather(ctx, kicks, last) {
				return
			}
			pass = true
		case <-timer.C:
			pass = l.due(ctx, time.Now(), &s)
		}
		if !pass || ctx.Err() != nil {
			continue
		}
		start := time.Now()
		again, err := l.Pass(ctx)
		last = time.Since(start)
		if ctx.Err() != nil {
			return
		}
		s.passAt = time.Time{}
		switch {
		case err != nil:
			s.passAt = time.Now().Add(backoff)
			if l.OnError != nil {
				l.OnError(err, backoff)
			}
			backoff = min(2*backoff, l.maxBackoff())
		case again > 0:
			backoff = l.firstBackoff()
			s.passAt = time.Now().Add(again)
		default:
			backoff = l.firstBackoff()
		}
	}
}

// schedule is when the next pass (zero: none asked) and each task (zero:
// never) are due.
type schedule struct {
	passAt time.Time
	tasks  []time.Time
}

// next returns the earliest time something is due, false if nothing is.
func (s *schedule) next() (time.Time, bool) {
	at := s.passAt
	for _, t := range s.tasks {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at, !at.IsZero()
}

// due runs the tasks due at now, schedules their next runs, and reports
// whether a pass is due (asked for, or after a task).
func (l *Loop) due(ctx context.Context, now time.Time, s *schedule) bool {
	pass := !s.passAt.IsZero() && !now.Before(s.passAt)
	for i, t := range l.Tasks {
		if s.tasks[i].IsZero() || now.Before(s.tasks[i]) {
			continue
		}
		s.tasks[i] = now.Add(t.Every)
		if t.Do != nil {
			t.Do(ctx)
		}
		pass = pass || t.ThenPass
	}
	return pass
}

// gather waits Gather(last) after a kick, absorbing further kicks; false
// if ctx ended first.
func (l *Loop) gather(ctx context.Context, kicks <-chan struct{}, last time.Duration) bool {
	if l.Gather == nil {
		return true
	}
	t := time.NewTimer(l.Gather(last))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-kicks:
		case <-t.C:
			return true
		}
	}
}

func (l *Loop) firstBackoff() time.Duration {
	if l.Backoff > 0 {
		return l.Backoff
	}
	return DefaultBackoff
}

func (l *Loop) maxBackoff() time.Duration {
	if l.MaxBackoff > 0 {
		return l.MaxBackoff
	}
	return DefaultMaxBackoff
}

// Kicker asks a loop for a pass: Kick never blocks, and the kicks made
// before the loop takes one count as one.
type Kicker chan struct{}

// NewKicker returns a Kicker.
func NewKicker() Kicker { return make(Kicker, 1) }

// Kick asks for a pass.
func (k Kicker) Kick() {
	select {
	case k <- struct{}{}:
	default:
	}
}
