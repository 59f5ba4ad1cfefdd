package remotecluster

import (
	"testing"
	"time"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestStaleClock(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ttl := time.Minute
	type step struct {
		at    time.Duration // since t0
		state v3.RemoteClusterSyncState
	}
	for _, tc := range []struct {
		name        string
		steps       []step
		ttl         *time.Duration
		expired     bool // the clock's mirror was already removed
		now         time.Duration
		wantExpire  bool
		wantRecheck time.Duration
	}{
		{name: "in sync: nothing to do", ttl: &ttl, steps: []step{{0, v3.SyncStateInSync}}, now: time.Hour},
		{name: "no TTL keeps the last known state forever", steps: []step{{0, v3.SyncStateConnectionFailed}}, now: 24 * time.Hour},
		{name: "down for less than the TTL: check again when it runs out", ttl: &ttl,
			steps: []step{{0, v3.SyncStateConnectionFailed}, {20 * time.Second, v3.SyncStateConnectionFailed}},
			now:   30 * time.Second, wantRecheck: 30 * time.Second},
		{name: "down for the TTL without a break", ttl: &ttl,
			steps: []step{{0, v3.SyncStateConnectionFailed}, {30 * time.Second, v3.SyncStateConnecting}, {40 * time.Second, v3.SyncStateConnectionFailed}},
			now:   time.Minute, wantExpire: true},
		{name: "a config that cannot be used counts as down", ttl: &ttl,
			steps: []step{{0, v3.SyncStateConfigIncomplete}}, now: 2 * time.Minute, wantExpire: true},
		{name: "a reconnect within the TTL resets the clock (flap damping)", ttl: &ttl,
			steps: []step{{0, v3.SyncStateConnectionFailed}, {50 * time.Second, v3.SyncStateInSync}, {55 * time.Second, v3.SyncStateConnectionFailed}},
			now:   70 * time.Second, wantRecheck: 45 * time.Second},
		{name: "the list of a reconnect counts as up", ttl: &ttl,
			steps: []step{{0, v3.SyncStateConnectionFailed}, {50 * time.Second, v3.SyncStateResyncInProgress}},
			now:   2 * time.Minute},
		{name: "connecting alone never starts the clock", ttl: &ttl, steps: []step{{0, v3.SyncStateConnecting}}, now: time.Hour},
		{name: "removed once, not again while still down", ttl: &ttl, expired: true,
			steps: []step{{0, v3.SyncStateConnectionFailed}}, now: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c staleClock
			for _, s := range tc.steps {
				c = c.observe(s.state, t0.Add(s.at))
			}
			c.expired = c.expired || tc.expired
			expire, recheck := c.due(tc.ttl, t0.Add(tc.now))
			if expire != tc.wantExpire || recheck != tc.wantRecheck {
				t.Errorf("due = %v, %v; want %v, %v (clock %+v)", expire, recheck, tc.wantExpire, tc.wantRecheck, c)
			}
		})
	}
}

func TestStaleClockResetAfterExpiry(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ttl := time.Minute
	c := staleClock{}.observe(v3.SyncStateConnectionFailed, t0)
	c.expired = true
	c = c.observe(v3.SyncStateInSync, t0.Add(time.Hour))
	if c.expired || !c.downSince.IsZero() {
		t.Fatalf("after a reconnect the clock must start over: %+v", c)
	}
	c = c.observe(v3.SyncStateConnectionFailed, t0.Add(2*time.Hour))
	if expire, recheck := c.due(&ttl, t0.Add(2*time.Hour+30*time.Second)); expire || recheck != 30*time.Second {
		t.Errorf("second outage: due = %v, %v; want false, 30s", expire, recheck)
	}
}
