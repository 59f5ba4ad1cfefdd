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
// nothing it must act on; it reconciles against its own last write while
// the mirror cache lags the API server (under churn, and after a restart
// of the local meshapi-apiserver, TestFaults/LocalMeshapiAPIServerKill):
// a second change before the echo of the first is written without a
// Conflict, a remote delete before the echo of the mirror's create
// deletes the mirror; a mirror changed behind the Syncer's back between
// its write and the echo is put back. Against a real API server on an
// embedded etcd.
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

	// Under churn the remote pool changes again before the echo of the
	// mirror's last update: the update is made from the Syncer's own
	// write, not refused for the cache's older resourceVersion, and both
	// echoes are dropped.
	changed.Spec.VXLANMode = v3.EncapModeAlways
	if err := remote.Update(changed); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b")
	first := stored()
	changed.Spec.VXLANMode = v3.EncapModeCrossSubnet
	if err := remote.Update(changed); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b")
	second := stored()
	if second.Spec.VXLANMode != v3.EncapModeCrossSubnet || second.ResourceVersion == first.ResourceVersion {
		t.Fatalf("the second change before the first's echo was not written: %s at %s, after %s",
			second.Spec.VXLANMode, second.ResourceVersion, first.ResourceVersion)
	}
	seen("the echo of the overtaken update", first, false, false)
	seen("the echo of the second update", second, false, false)

	// TestFaults/LocalMeshapiAPIServerKill: the remote pool is deleted
	// and recreated while the mirror cache lags the mirror's create.
	if err := pools.Delete(ctx, mirrorName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	seen("a delete behind the Syncer's back", second, true, true)
	syncer.Reconcile(ctx, "pool-b")
	recreated := stored()
	if err := remote.Delete(changed); err != nil {
		t.Fatal(err)
	}
	// The cache has no mirror yet; the Syncer deletes the one it created.
	syncer.Reconcile(ctx, "pool-b")
	if _, err := pools.Get(ctx, mirrorName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the mirror of the deleted remote pool: %v, want it deleted", err)
	}
	seen("the echo of the create, overtaken by the delete", recreated, false, false)
	seen("the echo of the delete", recreated, true, false)

	// A mirror changed behind the Syncer's back before the echo of its
	// write: the next reconcile, made from that write, is refused, and
	// its retry reads the cache.
	if err := remote.Add(remotePool); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b")
	again := stored()
	edited = again.DeepCopy()
	edited.Spec.VXLANMode = v3.EncapModeNever
	if edited, err = pools.Update(ctx, edited, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	changed = remotePool.(*v3.IPPool).DeepCopy()
	changed.Spec.VXLANMode = v3.EncapModeAlways
	if err := remote.Update(changed); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b")
	if got := syncer.StaleRetries(); got != 1 {
		t.Fatalf("stale cache retries after a write from an overtaken record = %v, want 1", got)
	}
	seen("the echo of the create", again, false, true) // the record was forgotten with the refusal
	if err := mirrors.Update(edited); err != nil {
		t.Fatal(err)
	}
	syncer.Reconcile(ctx, "pool-b")
	if repaired := stored(); repaired.Spec.VXLANMode != v3.EncapModeAlways {
		t.Fatalf("the mirror after the retry: %s, want %s", repaired.Spec.VXLANMode, v3.EncapModeAlways)
	}
}
