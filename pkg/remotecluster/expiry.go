package remotecluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Stale state with a bound (spec.syncOptions.disconnectedTTL): by default
// the mirror of a remote cluster that cannot be reached is kept as it was
// last known, however long the outage lasts, as in the original product.
// With a TTL, a remote cluster disconnected without a break for longer
// than the TTL loses its mirror here; a reconnect before resets the clock.

// connection is what a sync state says of the connection to the remote
// cluster, for the TTL's clock.
type connection int

const (
	// connectionUnknown (Connecting, or no state yet) neither starts nor
	// resets the clock: a syncer that restarts has not reconnected yet.
	connectionUnknown connection = iota
	// connectionUp: the remote answered (ResyncInProgress, InSync).
	connectionUp
	// connectionDown: ConnectionFailed or ConfigIncomplete.
	connectionDown
)

// connectionOf classifies a sync state.
func connectionOf(state v3.RemoteClusterSyncState) connection {
	switch state {
	case v3.SyncStateInSync, v3.SyncStateResyncInProgress:
		return connectionUp
	case v3.SyncStateConnectionFailed, v3.SyncStateConfigIncomplete:
		return connectionDown
	}
	return connectionUnknown
}

// staleClock is when one remote cluster's connection went down, and
// whether its mirror was removed for it since.
type staleClock struct {
	downSince time.Time // zero while up
	expired   bool
}

// observe advances the clock with a state seen at now.
func (s staleClock) observe(state v3.RemoteClusterSyncState, now time.Time) staleClock {
	switch connectionOf(state) {
	case connectionUp:
		return staleClock{}
	case connectionDown:
		if s.downSince.IsZero() {
			s.downSince = now
		}
	}
	return s
}

// due tells whether the mirror must be removed now with this TTL (nil: no
// bound), and otherwise how long until it must be checked again (0: no
// need).
func (s staleClock) due(ttl *time.Duration, now time.Time) (expire bool, recheck time.Duration) {
	if ttl == nil || s.downSince.IsZero() || s.expired {
		return false, 0
	}
	if left := s.downSince.Add(*ttl).Sub(now); left > 0 {
		return false, left
	}
	return true, 0
}

// disconnectedTTL is rcc's bound, nil if it has none.
func disconnectedTTL(rcc *v3.RemoteClusterConfiguration) *time.Duration {
	if rcc.Spec.SyncOptions.DisconnectedTTL == nil {
		return nil
	}
	d := rcc.Spec.SyncOptions.DisconnectedTTL.Duration
	return &d
}

// noteConnection advances name's clock with the state it is in and, if
// its TTL will run out, schedules a reconcile for then.
func (c *Controller) noteConnection(rcc *v3.RemoteClusterConfiguration, state v3.RemoteClusterSyncState) {
	now := time.Now()
	c.mu.Lock()
	clock := c.stale[rcc.Name].observe(state, now)
	c.stale[rcc.Name] = clock
	c.mu.Unlock()
	if expire, recheck := clock.due(disconnectedTTL(rcc), now); expire {
		c.queue.Add(rcc.Name)
	} else if recheck > 0 {
		c.queue.AddAfter(rcc.Name, recheck)
	}
}

// expireStale removes the mirror of rcc's cluster if it has been
// disconnected for longer than its TTL. The syncer is restarted first: its
// cache holds the remote objects as last known, which its resync would
// write back; the new one starts empty and mirrors again once the remote
// answers. It reports whether it removed the mirror.
func (c *Controller) expireStale(ctx context.Context, rcc *v3.RemoteClusterConfiguration) (bool, error) {
	c.mu.Lock()
	clock := c.stale[rcc.Name]
	c.mu.Unlock()
	ttl := disconnectedTTL(rcc)
	if expire, _ := clock.due(ttl, time.Now()); !expire {
		return false, nil
	}
	c.stop(rcc.Name)
	if err := c.deleteMirror(ctx, rcc.Name); err != nil {
		return false, fmt.Errorf("removing the mirror of %s, disconnected for longer than its disconnectedTTL %s: %w", rcc.Name, ttl, err)
	}
	c.mu.Lock()
	clock.expired = true
	c.stale[rcc.Name] = clock
	c.mu.Unlock()
	// Federated Services drop the cluster's endpoints now (RemoteServices
	// reports it Expired).
	if c.servicesChanged != nil {
		c.servicesChanged(rcc.Name)
	}
	msg := fmt.Sprintf("disconnected since %s, longer than spec.syncOptions.disconnectedTTL %s: removed its mirrored objects; they come back when it reconnects",
		clock.downSince.UTC().Format(time.RFC3339), ttl)
	klog.FromContext(ctx).Info("Remote cluster disconnected for longer than its disconnectedTTL; removed its mirror", "remoteCluster", rcc.Name,
		"since", clock.downSince, "disconnectedTTL", ttl)
	c.recorder.Event(rcc, corev1.EventTypeWarning, "MirrorExpired", msg)
	return true, nil
}
