package remotecluster

import (
	"context"
	"errors"

	"k8s.io/client-go/tools/cache"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// ReconcileMirror runs the mirroring of one remote object of the kind
// named kind, for the tests of package remotecluster_test (which may import
// the in-process API server, itself an importer of this package).
func ReconcileMirror(ctx context.Context, kind, cluster, remoteKey string, remote, local cache.Indexer, cs versioned.Interface) error {
	for _, k := range mirrorKinds() {
		if k.Name() == kind {
			_, err := k.Reconcile(ctx, cluster, remoteKey, remote, local, cs)
			return err
		}
	}
	panic("no mirror kind " + kind)
}

// IsStaleCache reports whether err is a mirror write refused for a stale
// local cache, which the syncer retries without counting an error.
func IsStaleCache(err error) bool {
	var stale *staleCacheError
	return errors.As(err, &stale)
}
