package cni

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// IPAMLockFile is the file whose lock serializes the address changes of the
// plugins of one host, as Calico's plugin does with
// /var/run/calico/ipam.lock: the concurrent ADDs of one node allocate from
// the same block, and without the lock they lose compare-and-swaps to each
// other, each loss costing another round trip to the API server.
const IPAMLockFile = "/var/run/meshapi/ipam.lock"

// lockedIPAM holds the host's IPAM lock around every call that changes
// allocations.
type lockedIPAM struct {
	IPAM
	path string
}

func (l lockedIPAM) Assign(ctx context.Context, req AssignRequest) ([]netip.Addr, error) {
	unlock, err := lockFile(ctx, l.path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return l.IPAM.Assign(ctx, req)
}

func (l lockedIPAM) ReleaseByHandle(ctx context.Context, handle string) ([]netip.Addr, error) {
	unlock, err := lockFile(ctx, l.path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return l.IPAM.ReleaseByHandle(ctx, handle)
}

// lockFile takes an exclusive flock on path (created if missing), polling
// until ctx ends; the returned func releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory of the IPAM lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the IPAM lock %s: %w", path, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the IPAM lock %s: %w", path, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}
