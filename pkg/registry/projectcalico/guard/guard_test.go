package guard

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/meshapi/meshapi/pkg/embeddedetcd"
)

func TestNewChecksArguments(t *testing.T) {
	client := &clientv3.Client{}
	for _, tc := range []struct {
		name    string
		client  *clientv3.Client
		key     string
		ttl     time.Duration
		wantErr string
	}{
		{name: "valid", client: client, key: "/locks/a", ttl: 30 * time.Second},
		{name: "no client", key: "/locks/a", ttl: 30 * time.Second, wantErr: `guard "/locks/a": no etcd client`},
		{name: "empty key", client: client, ttl: 30 * time.Second, wantErr: "the key must not be empty"},
		{name: "ttl too short", client: client, key: "/locks/a", ttl: time.Second, wantErr: "ttl 1s must be whole seconds"},
		{name: "ttl not whole seconds", client: client, key: "/locks/a", ttl: 2500 * time.Millisecond, wantErr: "ttl 2.5s must be whole seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.client, tc.key, tc.ttl)
			if tc.wantErr == "" {
				if err != nil || l.Key() != tc.key {
					t.Fatalf("New: %v, %v; want a lock under %q", l, err, tc.key)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewClientChecksTransport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  storagebackend.TransportConfig
		wantErr string
	}{
		{name: "no servers", wantErr: "empty list"},
		{name: "missing CA file", config: storagebackend.TransportConfig{ServerList: []string{"https://127.0.0.1:1"}, TrustedCAFile: "/nonexistent/ca.crt"},
			wantErr: `CA "/nonexistent/ca.crt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.config)
			if err == nil {
				c.Close()
				t.Fatalf("NewClient(%+v) succeeded; want an error containing %q", tc.config, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewClient: %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// startEtcd starts a real etcd for the test and returns two clients of it,
// standing for two API server replicas.
func startEtcd(t *testing.T) [2]*clientv3.Client {
	t.Helper()
	dir := t.TempDir()
	etcd, err := embeddedetcd.Start(context.Background(), filepath.Join(dir, "etcd"), filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	var clients [2]*clientv3.Client
	for i := range clients {
		c, err := NewClient(storagebackend.TransportConfig{ServerList: []string{etcd.ClientURL}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	return clients
}

// Read-modify-write of one counter from two clients' locks: without
// mutual exclusion increments are lost.
func TestDoExcludesAcrossClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clients := startEtcd(t)
	const key, counter, writers, each = "/locks/counter", "/counter", 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		lock, err := New(clients[w%2], key, DefaultTTL)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- lock.Do(ctx, func(ctx context.Context) error { return increment(ctx, clients[w%2], counter) })
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := read(ctx, clients[0], counter)
	if err != nil {
		t.Fatal(err)
	}
	if got != writers*each {
		t.Fatalf("counter = %d after %d locked increments; want %d", got, writers*each, writers*each)
	}
}

// increment reads the counter and writes it back plus one, in two requests.
func increment(ctx context.Context, c *clientv3.Client, key string) error {
	n, err := read(ctx, c, key)
	if err != nil {
		return err
	}
	_, err = c.Put(ctx, key, strconv.Itoa(n+1))
	return err
}

func read(ctx context.Context, c *clientv3.Client, key string) (int, error) {
	resp, err := c.Get(ctx, key)
	if err != nil || len(resp.Kvs) == 0 {
		return 0, err
	}
	n, err := strconv.Atoi(string(resp.Kvs[0].Value))
	if err != nil {
		return 0, fmt.Errorf("counter %q: %w", resp.Kvs[0].Value, err)
	}
	return n, nil
}

// fn's error comes back unchanged, fn's context has a deadline within half
// the TTL, and the lock is free again afterwards.
func TestDoReturnsErrorAndReleases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clients := startEtcd(t)
	lock, err := New(clients[0], "/locks/release", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sentinel := errors.New("refused")
	err = lock.Do(ctx, func(ctx context.Context) error {
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline) > 5*time.Second {
			return fmt.Errorf("critical section deadline %v (set %v); want within 5s", deadline, ok)
		}
		return sentinel
	})
	if err != sentinel {
		t.Fatalf("Do returned %v; want fn's error unchanged", err)
	}
	resp, err := clients[1].Get(ctx, "/locks/release", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 0 {
		t.Fatalf("%d lock keys left under /locks/release after Do; want 0", len(resp.Kvs))
	}
}

// BenchmarkDo is the cost the lock adds to a write: session, lock, lease
// refresh, unlock and revoke on a local etcd, with an empty section.
func BenchmarkDo(b *testing.B) {
	dir := b.TempDir()
	etcd, err := embeddedetcd.Start(context.Background(), filepath.Join(dir, "etcd"), filepath.Join(dir, "etcd.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer etcd.Stop()
	c, err := NewClient(storagebackend.TransportConfig{ServerList: []string{etcd.ClientURL}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	lock, err := New(c, "/locks/bench", DefaultTTL)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := lock.Do(ctx, func(context.Context) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
