package soak

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// eventKey names what a mirror shows of an event: the cluster it was
// written in, its sequence number, and whether it was a delete.
type eventKey struct {
	origin string
	seq    uint64
	del    bool
}

// pendingEvent is an event written and not yet seen in every other
// cluster.
type pendingEvent struct {
	sent, returned time.Time
	// seen is when each other cluster's watch first showed it.
	seen map[string]time.Time
}

// windowStats are the propagation latencies of the events sent in one
// sample window.
type windowStats struct {
	// fromReturn is from the write call's return to the mirror's event,
	// one per receiving cluster (0 if the mirror showed before the call
	// returned); fromSend is from just before the call.
	fromReturn, fromSend []time.Duration
}

// recorder matches the events written with the mirror events the watches
// see. The clock starts at start; window i holds the events sent in
// [start+i*sample, start+(i+1)*sample).
type recorder struct {
	start     time.Time
	sample    time.Duration
	receivers int

	mu      sync.Mutex
	pending map[eventKey]*pendingEvent
	windows map[int]*windowStats
}

// newRecorder returns a recorder whose events are each seen by receivers
// clusters.
func newRecorder(start time.Time, sample time.Duration, receivers int) *recorder {
	return &recorder{start: start, sample: sample, receivers: receivers,
		pending: map[eventKey]*pendingEvent{}, windows: map[int]*windowStats{}}
}

// window returns the index of the window holding t.
func (r *recorder) window(t time.Time) int { return int(t.Sub(r.start) / r.sample) }

// expect registers an event about to be written.
func (r *recorder) expect(k eventKey, sent time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[k] = &pendingEvent{sent: sent, seen: map[string]time.Time{}}
}

// written records that the write of k returned at t, ok if it succeeded;
// a failed write is forgotten.
func (r *recorder) written(k eventKey, t time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[k]
	if p == nil {
		return
	}
	if !ok {
		delete(r.pending, k)
		return
	}
	p.returned = t
	r.settle(k, p)
}

// seen records that receiver's watch showed k at t. Events not expected
// (the initial load's, or a second event of one mirror) are ignored.
func (r *recorder) seen(receiver string, k eventKey, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[k]
	if p == nil {
		return
	}
	if _, dup := p.seen[receiver]; !dup {
		p.seen[receiver] = t
	}
	r.settle(k, p)
}

// settle moves k's latencies to its window once its write returned and
// every receiver saw it. r.mu is held.
func (r *recorder) settle(k eventKey, p *pendingEvent) {
	if p.returned.IsZero() || len(p.seen) < r.receivers {
		return
	}
	w := r.windows[r.window(p.sent)]
	if w == nil {
		w = &windowStats{}
		r.windows[r.window(p.sent)] = w
	}
	for _, t := range p.seen {
		w.fromReturn = append(w.fromReturn, max(t.Sub(p.returned), 0))
		w.fromSend = append(w.fromSend, t.Sub(p.sent))
	}
	delete(r.pending, k)
}

// stats returns a copy of window i's latencies, sorted.
func (r *recorder) stats(i int) windowStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.windows[i]
	if w == nil {
		return windowStats{}
	}
	out := windowStats{fromReturn: slices.Clone(w.fromReturn), fromSend: slices.Clone(w.fromSend)}
	slices.Sort(out.fromReturn)
	slices.Sort(out.fromSend)
	return out
}

// unseen counts the events written that some cluster has not shown
// (superseded by a later event of the same endpoint before the
// controller mirrored it, or lost).
func (r *recorder) unseen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.pending {
		if !p.returned.IsZero() {
			n++
		}
	}
	return n
}

// watchMirrors feeds rec every mirror event of the benchmark's endpoints
// in mb's cluster until ctx ends, resuming after a closed watch from the
// last resourceVersion seen (or now, if that has expired). It returns how
// many times the watch had to be opened again.
func watchMirrors(ctx context.Context, mb *member, rec *recorder) (restarts int) {
	weps := mb.client.ProjectcalicoV3().WorkloadEndpoints("")
	selector := seqLabel + "," + v3.LabelCluster
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			l, err := weps.List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
			if err != nil {
				restarts++
				sleepCtx(ctx, time.Second)
				continue
			}
			rv = l.ResourceVersion
		}
		w, err := weps.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			restarts++
			sleepCtx(ctx, time.Second)
			continue
		}
		rv = consume(w, mb.name(), rec, rv)
		w.Stop()
		if ctx.Err() == nil {
			restarts++
		}
	}
	return restarts
}

// consume feeds rec the events of w until it closes, and returns the last
// resourceVersion seen ("" after an error event: it has expired).
func consume(w watch.Interface, receiver string, rec *recorder, rv string) string {
	for ev := range w.ResultChan() {
		now := time.Now()
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			wep, ok := ev.Object.(*v3.WorkloadEndpoint)
			if !ok {
				continue
			}
			rv = wep.ResourceVersion
			seq, err := strconv.ParseUint(wep.Labels[seqLabel], 10, 64)
			if err != nil {
				continue
			}
			rec.seen(receiver, eventKey{origin: wep.Labels[v3.LabelCluster], seq: seq, del: ev.Type == watch.Deleted}, now)
		case watch.Bookmark:
			if wep, ok := ev.Object.(*v3.WorkloadEndpoint); ok {
				rv = wep.ResourceVersion
			}
		case watch.Error:
			if st := apierrors.FromObject(ev.Object); apierrors.IsResourceExpired(st) || apierrors.IsGone(st) {
				return ""
			}
		}
	}
	return rv
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
