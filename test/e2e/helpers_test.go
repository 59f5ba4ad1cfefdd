package e2e

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshapi/meshapi/test/e2e/framework"
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

// startClustersOn starts n clusters named <name>-a, <name>-b, … side by
// side with opts, each in a directory of its own under dir, stopped when
// t ends. A free port found may be taken by another process before the
// cluster binds it: a second try takes new ports.
func startClustersOn(ctx context.Context, t *testing.T, dir, name string, bins framework.Binaries, n int, opts framework.ClusterOptions) []*framework.Cluster {
	t.Helper()
	each := make([]framework.ClusterOptions, n)
	for i := range each {
		each[i] = opts
	}
	return startClustersWith(ctx, t, dir, name, bins, each)
}

// startClustersWith is startClustersOn with options of its own for each
// cluster: len(opts) clusters.
func startClustersWith(ctx context.Context, t *testing.T, dir, name string, bins framework.Binaries, opts []framework.ClusterOptions) []*framework.Cluster {
	t.Helper()
	cs := make([]*framework.Cluster, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i := range cs {
		wg.Go(func() {
			cname := fmt.Sprintf("%s-%c", name, 'a'+i)
			for try := range 2 {
				cs[i], errs[i] = framework.StartClusterWithOptions(ctx, cname, filepath.Join(dir, fmt.Sprintf("%s-%d", cname, try)), bins, opts[i])
				if errs[i] == nil || !strings.Contains(errs[i].Error(), "address already in use") {
					break
				}
			}
		})
	}
	wg.Wait()
	for _, c := range cs {
		if c != nil {
			t.Cleanup(func() {
				if err := c.Stop(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return cs
}
