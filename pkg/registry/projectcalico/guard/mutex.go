package guard

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// mutex is etcd's lock recipe (as go.etcd.io/etcd/client/v3/concurrency's
// Mutex): each waiter puts <key>/<lease> under its lease and holds the
// lock when no key under the prefix was created before its own. It differs
// in how it waits: it watches the predecessor from the current revision
// (see waitDelete), which etcd serves at once, where
// concurrency.Mutex watches from the revision it read, which etcd serves
// from its unsynced queue every 100ms once anything else was written.
type mutex struct {
	client *clientv3.Client
	prefix string
	myKey  string
	myRev  int64
}

// newMutex returns the mutex under prefix of the holder of lease.
func newMutex(client *clientv3.Client, prefix string, lease clientv3.LeaseID) *mutex {
	return &mutex{client: client, prefix: prefix + "/", myKey: fmt.Sprintf("%s/%x", prefix, int64(lease))}
}

// lock enqueues the mutex's key and waits until every key created before
// it is gone; on error it removes its key.
func (m *mutex) lock(ctx context.Context, lease clientv3.LeaseID) error {
	cmp := clientv3.Compare(clientv3.CreateRevision(m.myKey), "=", 0)
	put := clientv3.OpPut(m.myKey, "", clientv3.WithLease(lease))
	resp, err := m.client.Txn(ctx).If(cmp).Then(put).Else(clientv3.OpGet(m.myKey)).Commit()
	if err != nil {
		return fmt.Errorf("putting %s: %w", m.myKey, err)
	}
	m.myRev = resp.Header.Revision
	if !resp.Succeeded {
		m.myRev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	if err := m.waitPredecessors(ctx); err != nil {
		m.unlock(context.WithoutCancel(ctx))
		return err
	}
	return nil
}

// waitPredecessors waits until no key under the prefix has a lower
// create revision than the mutex's own.
func (m *mutex) waitPredecessors(ctx context.Context) error {
	opts := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(m.myRev-1))
	for {
		resp, err := m.client.Get(ctx, m.prefix, opts...)
		if err != nil {
			return fmt.Errorf("reading the holders before %s: %w", m.myKey, err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		if err := m.waitDelete(ctx, string(resp.Kvs[0].Key)); err != nil {
			return err
		}
	}
}

// waitDelete waits for key's deletion. It watches from the current
// revision, which etcd serves at once (a watch from an earlier revision is
// served from etcd's unsynced queue, every 100ms), and once the watch is
// registered checks that the key still exists: a deletion before the watch
// is seen by the check, one after by the watch.
func (m *mutex) waitDelete(ctx context.Context, key string) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := m.client.Watch(wctx, key, clientv3.WithCreatedNotify())
	if created, ok := <-wch; !ok || created.Err() != nil {
		return fmt.Errorf("watching %s for its deletion: %w", key, errors.Join(created.Err(), ctx.Err()))
	}
	resp, err := m.client.Get(ctx, key, clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	if resp.Count == 0 {
		return nil
	}
	for wr := range wch {
		if err := wr.Err(); err != nil {
			return fmt.Errorf("watching %s for its deletion: %w", key, err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for %s to be deleted: %w", key, err)
	}
	return fmt.Errorf("lost the watch of %s", key)
}

// unlock deletes the mutex's key.
func (m *mutex) unlock(ctx context.Context) error {
	if _, err := m.client.Delete(ctx, m.myKey); err != nil {
		return fmt.Errorf("deleting %s: %w", m.myKey, err)
	}
	return nil
}
