package cni

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestLockFileExcludes takes the lock, sees a second taker wait until its
// context ends, and take it once the first releases it.
func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "ipam.lock")
	unlock, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: err = %v, want the context's deadline", err)
	}
	unlock()
	unlock2, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}
