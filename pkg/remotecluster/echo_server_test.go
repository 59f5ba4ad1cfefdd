package remotecluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

// The Syncer drops the informer event of its own mirror write, and
// nothing it must act on: with a mirror cache that lags the API server
// (as after a restart of the local meshapi-apiserver,
// TestFaults/LocalMeshapiAPIServerKill), a remote delete reconciled before
// the echo of the mirror's create still deletes the mirror once the echo
// comes; a mirror changed behind the Syncer's back between its write and
// the echo is put back. Against a real API server on an embedded etcd.
func TestSyncerNoEcho(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, remote := startMirrorServer(ctx, t)
	pools := cs.ProjectcalicoV3().IPPools()
	mirrorName := v3.MirrorName("cluster-b", "pool-b")
	remotePool, _, err := remote.GetByKey("pool-b")
	if err != nil {
		t.Fatal(err)
	}

	// mirrors is the controller's mirror cache, which the steps below
	// bring up to date (or not) by hand.
	mirrors := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	syncer := remotecluster.NewPoolSyncer("cluster-b", remote, mirrors, cs)
	defer syncer.Stop()
	stored := func() *v3.IPPool {
		t.Helper()
		p, err := pools.Get(ctx, mirrorName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading the mirror: %v", err)
		}
		return p
	}
	// seen brings the cache up to p and hands the Syncer its event, which
	// must be reconciled if want.
	seen := func(step string, p *v3.IPPool, deleted, want bool) {
		t.Helper()
		var err error
		if deleted {
			err = mirrors.Delete(p)
		} else {
			err = mirrors.Update(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		syncer.MirrorEvent(p, deleted)
		queued := syncer.Queued()
		if got := slices.Equal(queued, []string{"pool-b"}); got != want {
			t.Fatalf("%s: queued %v, want it reconciled = %v", step, queued, want)
		}
	}

	// The mirror's create, its echo dropped.
	syncer.Reconcile(ctx, "pool-b")
	created := stored()
	seen("the echo of the create", created, false, false)

	// The remote pool changes; the mirror is changed behind the Syncer's
	// back before the echo of its update comes: the echo is dropped, the
	// change reconciled and put back.
	changed := remotePool.(*v3.IPPool).DeepCopy()
	changed.Spec.VXLANMode = v3.EncapModeCrossSubnet
	if err := remote.Update(changed); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b")
	rewritten := stored()
	edited := rewritten.DeepCopy()
	edited.Spec.VXLANMode = v3.EncapModeNever
	if edited, err = pools.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	seen("the echo of the update", rewritten, false, false)
	seen("an edit behind the Syncer's back", edited, false, true)
	syncer.Reconcile(ctx, "pool-b")
	repaired := stored()
	if repaired.Spec.VXLANMode != v3.EncapModeCrossSubnet {
		t.Fatalf("the edited mirror was not put back: %+v", repaired.Spec)
	}
	seen("the echo of the repair", repaired, false, false)

	// TestFaults/LocalMeshapiAPIServerKill: the remote pool is deleted
	// and recreated while the mirror cache lags the mirror's create.
	if err := pools.Delete(ctx, mirrorName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	seen("a delete behind the Syncer's back", repaired, true, true)
	syncer.Reconcile(ctx, "pool-b")
	recreated := stored()
	if err := remote.Delete(changed); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b") // finds no mirror in the cache: writes nothing
	if _, err := pools.Get(ctx, mirrorName, metav1.GetOptions{}); err != nil {
		t.Fatalf("the mirror before the cache caught up: %v", err)
	}
	seen("the echo of the create after the remote delete's reconcile", recreated, false, true)
	syncer.Reconcile(ctx, "pool-b")
	if _, err := pools.Get(ctx, mirrorName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the mirror of the deleted remote pool: %v, want it deleted", err)
	}
	seen("the echo of the delete", recreated, true, false)
}
