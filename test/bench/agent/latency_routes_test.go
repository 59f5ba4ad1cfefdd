//go:build linux

package agent

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// routeWatch records, from a netlink route subscription in one network
// namespace, when a route of one protocol to each destination was first
// added and first removed. Nothing polls: the kernel multicasts every
// route change to the subscription, and the receiving goroutine stamps it
// with the time it arrives.
type routeWatch struct {
	proto netlink.RouteProtocol
	done  chan struct{}

	mu      sync.Mutex
	added   map[netip.Prefix]time.Time
	removed map[netip.Prefix]time.Time
	// changes counts every addition and removal of each destination.
	changes map[routeKey]int
	waiters map[routeKey][]chan struct{}
	err     error
	// events counts the route messages received, all protocols.
	events int
}

// routeKey is a destination and the direction of the change awaited.
type routeKey struct {
	dst     netip.Prefix
	removed bool
}

// routeWatchBuffer is the subscription socket's receive buffer: large
// enough for every route message of one apply, so none is dropped
// (ENOBUFS) while the receiving goroutine is descheduled.
const routeWatchBuffer = 32 << 20

// watchRoutes subscribes to the route changes of the namespace ns and
// records those of routes tagged proto. Stop ends the subscription.
func watchRoutes(ns netns.NsHandle, proto netlink.RouteProtocol) (*routeWatch, error) {
	w := &routeWatch{
		proto: proto, done: make(chan struct{}),
		added: map[netip.Prefix]time.Time{}, removed: map[netip.Prefix]time.Time{},
		changes: map[routeKey]int{}, waiters: map[routeKey][]chan struct{}{},
	}
	ch := make(chan netlink.RouteUpdate, 4096)
	err := netlink.RouteSubscribeWithOptions(ch, w.done, netlink.RouteSubscribeOptions{
		Namespace:              &ns,
		ReceiveBufferSize:      routeWatchBuffer,
		ReceiveBufferForceSize: true,
		ErrorCallback:          w.fail,
	})
	if err != nil {
		return nil, fmt.Errorf("subscribing to route changes: %w", err)
	}
	go func() {
		for u := range ch {
			w.record(time.Now(), u)
		}
		w.fail(errors.New("the route subscription ended"))
	}()
	return w, nil
}

// Stop ends the subscription.
func (w *routeWatch) Stop() {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
}

// fail records the first error of the subscription (a lost message, a
// closed socket); Err reports it.
func (w *routeWatch) fail(err error) {
	select {
	case <-w.done:
		return // stopped on purpose
	default:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// Err returns the subscription's first error, nil if none.
func (w *routeWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *routeWatch) record(now time.Time, u netlink.RouteUpdate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	if u.Protocol != w.proto || u.Dst == nil {
		return
	}
	a, ok := netip.AddrFromSlice(u.Dst.IP)
	if !ok {
		return
	}
	ones, _ := u.Dst.Mask.Size()
	dst := netip.PrefixFrom(a.Unmap(), ones)
	var k routeKey
	switch u.Type {
	case unix.RTM_NEWROUTE:
		w.changes[routeKey{dst: dst}]++
		if _, seen := w.added[dst]; seen {
			return
		}
		w.added[dst] = now
		k = routeKey{dst: dst}
	case unix.RTM_DELROUTE:
		w.changes[routeKey{dst: dst, removed: true}]++
		if _, seen := w.removed[dst]; seen {
			return
		}
		w.removed[dst] = now
		k = routeKey{dst: dst, removed: true}
	default:
		return
	}
	for _, c := range w.waiters[k] {
		close(c)
	}
	delete(w.waiters, k)
}

// Reset forgets what was seen, so that the same destinations can be
// awaited again.
func (w *routeWatch) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.added)
	clear(w.removed)
	clear(w.changes)
}

// Changes returns how many times the route to dst was added (or removed,
// if removed) since the last Reset.
func (w *routeWatch) Changes(dst netip.Prefix, removed bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changes[routeKey{dst: dst, removed: removed}]
}

// seen returns a channel closed once the route to dst has been added (or
// removed, if removed), and when, if it already was.
func (w *routeWatch) seen(dst netip.Prefix, removed bool) (<-chan struct{}, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.added
	if removed {
		m = w.removed
	}
	if t, ok := m[dst]; ok {
		return nil, t
	}
	c := make(chan struct{})
	k := routeKey{dst: dst, removed: removed}
	w.waiters[k] = append(w.waiters[k], c)
	return c, time.Time{}
}

// When returns when the route to dst was first added (or removed, if
// removed) since the last Reset, and whether it was.
func (w *routeWatch) When(dst netip.Prefix, removed bool) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.added
	if removed {
		m = w.removed
	}
	t, ok := m[dst]
	return t, ok
}

// Wait waits until the route to every one of dsts has been added (or
// removed, if removed), the subscription fails, or timeout passes; it
// returns how many were not seen.
func (w *routeWatch) Wait(dsts []netip.Prefix, removed bool, timeout time.Duration) (missing int, err error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i, dst := range dsts {
		c, _ := w.seen(dst, removed)
		if c == nil {
			continue
		}
		select {
		case <-c:
		case <-deadline.C:
			missing = 0
			for _, d := range dsts[i:] {
				if _, ok := w.When(d, removed); !ok {
					missing++
				}
			}
			return missing, fmt.Errorf("%d of %d routes not seen within %s", missing, len(dsts), timeout)
		}
		if err := w.Err(); err != nil {
			return 0, err
		}
	}
	return 0, w.Err()
}

// percentile returns the q-quantile (0..1) of sorted by the nearest-rank
// method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
