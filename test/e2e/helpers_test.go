package e2e

import (
	"bytes"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// syncBuffer is a bytes.Buffer that a background command writes while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func isForbidden(err error) bool { return apierrors.IsForbidden(err) }
