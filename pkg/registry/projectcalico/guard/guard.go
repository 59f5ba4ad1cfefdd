// Package guard makes a check-and-write atomic across every
// meshapi-apiserver replica that shares one etcd, for invariants that span
// several objects (IPPools must not overlap).
//
// Design. The generic registry store writes each object in its own etcd
// transaction (storage/etcd3: create is "put if the key is absent", update
// is "put if the key's mod revision is unchanged"); a store has no hook to
// add a comparison on another key to that transaction. Putting the guard in
// the same transaction would mean replacing the etcd3 storage of the
// resource (encoding, encryption at rest, the watch cache above it). The
// least invasive correct design is therefore a lock in etcd around the
// whole check-and-write: an etcd lease-based mutex (etcd's lock recipe, as
// go.etcd.io/etcd/client/v3/concurrency, on a concurrency.Session's lease)
// under one key per invariant.
// Every writer, in whichever replica, takes the lock, then reads a
// consistent list (at least at the revision of the previous holder's
// write, which completed before that holder released the lock), checks,
// and writes. So two overlapping pools can never both pass the check, and
// a pool that does not overlap is never refused because of a concurrent
// writer: the loser of a race waits and then checks against what the
// winner actually stored.
//
// Lease safety. A lock held by a lease is only as good as the lease: if a
// holder lost etcd for longer than the lease's TTL, etcd would expire the
// lease and hand the lock to the next writer while the first one still
// wrote. Do therefore refreshes the lease once the lock is held and gives
// the critical section a deadline of half the TTL from that refresh, so a
// holder's own requests are abandoned long before etcd can expire its
// lease. A replica killed while holding the lock delays the others by at
// most the TTL; the lease is revoked at once on every normal release.
package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultTTL is the lease TTL of a lock: how long a replica that died
// while holding it delays the others. The critical section may last half
// of it, which leaves time for validating admission webhooks.
const DefaultTTL = 30 * time.Second

// releaseTimeout bounds unlocking and revoking after the critical section.
const releaseTimeout = 10 * time.Second

// Lock is a mutual exclusion across processes, held in etcd under Key.
type Lock struct {
	client *clientv3.Client
	key    string
	ttl    time.Duration
}

// New returns a lock under key on client's etcd, with leases of ttl
// (whole seconds, at least 2).
func New(client *clientv3.Client, key string, ttl time.Duration) (*Lock, error) {
	if client == nil {
		return nil, fmt.Errorf("guard %q: no etcd client", key)
	}
	if key == "" {
		return nil, errors.New("guard: the key must not be empty")
	}
	if ttl < 2*time.Second || ttl%time.Second != 0 {
		return nil, fmt.Errorf("guard %q: ttl %s must be whole seconds, at least 2s", key, ttl)
	}
	return &Lock{client: client, key: key, ttl: ttl}, nil
}

// Key returns the etcd key prefix the lock lives under.
func (l *Lock) Key() string { return l.key }

// Do runs fn while holding the lock, with a context that ends before the
// lock's lease could expire. fn's error is returned unchanged, so API
// status errors keep their code; errors of the lock itself are wrapped
// with the key.
func (l *Lock) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	session, err := concurrency.NewSession(l.client, concurrency.WithTTL(int(l.ttl/time.Second)), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("guard %q: starting an etcd session: %w", l.key, err)
	}
	defer session.Close()
	m := newMutex(l.client, l.key, session.Lease())
	if err := m.lock(ctx, session.Lease()); err != nil {
		return fmt.Errorf("guard %q: acquiring the lock: %w", l.key, err)
	}
	defer l.unlock(ctx, m)
	held, cancel, err := l.bound(ctx, session.Lease())
	if err != nil {
		return err
	}
	defer cancel()
	return fn(held)
}

// bound refreshes the lease and returns a context ending half a TTL after
// the refresh was sent: etcd keeps the lease (and so the lock) at least a
// TTL after it received the refresh.
func (l *Lock) bound(ctx context.Context, lease clientv3.LeaseID) (context.Context, context.CancelFunc, error) {
	sent := time.Now()
	resp, err := l.client.KeepAliveOnce(ctx, lease)
	if err != nil {
		return nil, nil, fmt.Errorf("guard %q: refreshing lease %x: %w", l.key, lease, err)
	}
	if resp.TTL <= 0 {
		return nil, nil, fmt.Errorf("guard %q: lease %x expired while acquiring the lock", l.key, lease)
	}
	held, cancel := context.WithDeadline(ctx, sent.Add(l.ttl/2))
	return held, cancel, nil
}

// unlock releases the lock even when the request's context has ended;
// closing the session then revokes the lease.
func (l *Lock) unlock(ctx context.Context, m *mutex) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	// A failed unlock is released by the lease's revocation or expiry.
	_ = m.unlock(rctx)
}
