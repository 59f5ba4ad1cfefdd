package remotecluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remotecluster"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// A mirror the local cache has not seen yet (the controller created it a
// moment ago) is recognised as ours when the create finds it, and updated;
// a local object of the same name that is not a mirror is reported as a
// conflict. Against a real API server on an embedded etcd.
func TestReconcileCreateFindsExistingObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, remote := startMirrorServer(ctx, t)
	pools := cs.ProjectcalicoV3().IPPools()
	mirrorName := v3.MirrorName("cluster-b", "pool-b")

	emptyLocal := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})

	cases := []struct {
		name string
		// existing is what is stored under the mirror's name before the
		// reconcile, which the (empty) local cache does not know.
		existing *v3.IPPool
		wantErr  string
		// wantCIDR is the stored pool's CIDR afterwards.
		wantCIDR string
	}{
		{
			name: "our own mirror, stale", wantCIDR: "198.19.0.0/16",
			existing: &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: mirrorName, Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
				Spec: v3.IPPoolSpec{CIDR: "198.19.0.0/16", VXLANMode: v3.EncapModeNever, Disabled: true}},
		},
		{
			name: "our own mirror, current", wantCIDR: "198.19.0.0/16",
			existing: &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: mirrorName, Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
				Spec: v3.IPPoolSpec{CIDR: "198.19.0.0/16", VXLANMode: v3.EncapModeAlways, Disabled: true}},
		},
		{
			name: "a local pool of that name", wantCIDR: "198.19.0.0/18",
			existing: &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: mirrorName}, Spec: v3.IPPoolSpec{CIDR: "198.19.0.0/18"}},
			wantErr:  `a local IPPool named "` + mirrorName + `" exists and is not a mirror`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pools.Create(ctx, tc.existing, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = pools.Delete(ctx, mirrorName, metav1.DeleteOptions{}) }()
			err := remotecluster.ReconcileMirror(ctx, "IPPool", "cluster-b", "pool-b", remote, emptyLocal, cs)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Reconcile: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Reconcile error %v, want one containing %q", err, tc.wantErr)
			}
			got, err := pools.Get(ctx, mirrorName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.CIDR != tc.wantCIDR {
				t.Errorf("stored CIDR %s, want %s", got.Spec.CIDR, tc.wantCIDR)
			}
			if tc.wantErr == "" && (!got.Spec.Disabled || got.Spec.VXLANMode != v3.EncapModeAlways) {
				t.Errorf("the mirror is not the remote pool's, disabled: %+v", got.Spec)
			}
		})
	}
}

// A mirror write computed from a local cache that is behind the API
// server (the mirror deleted, or changed, since the cache saw it) is
// refused as NotFound or Conflict and marked stale, which the syncer
// retries without counting an error; once the cache has caught up the
// write succeeds. Against a real API server on an embedded etcd.
func TestReconcileStaleCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, remote := startMirrorServer(ctx, t)
	pools := cs.ProjectcalicoV3().IPPools()
	mirrorName := v3.MirrorName("cluster-b", "pool-b")
	reconcile := func(local ...*v3.IPPool) error {
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		for _, p := range local {
			if err := idx.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		return remotecluster.ReconcileMirror(ctx, "IPPool", "cluster-b", "pool-b", remote, idx, cs)
	}
	// cached returns what a cache that saw p holds, differing from the
	// remote pool's mirror so that the reconcile writes.
	cached := func(p *v3.IPPool) *v3.IPPool {
		p = p.DeepCopy()
		p.Spec.VXLANMode = v3.EncapModeNever
		return p
	}
	if err := reconcile(); err != nil {
		t.Fatalf("creating the mirror: %v", err)
	}
	seen, err := pools.Get(ctx, mirrorName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Changed since the cache saw it: Conflict.
	changed := seen.DeepCopy()
	changed.Annotations = map[string]string{"e2e/changed": "yes"}
	if _, err := pools.Update(ctx, changed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(cached(seen)); err == nil || !remotecluster.IsStaleCache(err) || !strings.Contains(err.Error(), "the object has been modified") {
		t.Fatalf("reconcile from a cache behind an update: %v, want a stale-cache Conflict", err)
	}
	// Deleted since the cache saw it: NotFound.
	if err := pools.Delete(ctx, mirrorName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(cached(seen)); err == nil || !remotecluster.IsStaleCache(err) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("reconcile from a cache behind a delete: %v, want a stale-cache NotFound", err)
	}
	// The cache caught up: the mirror is created again.
	if err := reconcile(); err != nil {
		t.Fatalf("reconcile from a current cache: %v", err)
	}
	if _, err := pools.Get(ctx, mirrorName, metav1.GetOptions{}); err != nil {
		t.Fatalf("the mirror after the cache caught up: %v", err)
	}
	// A refusal that is not about the cache is not stale.
	if err := pools.Delete(ctx, mirrorName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pools.Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: mirrorName}, Spec: v3.IPPoolSpec{CIDR: "198.19.0.0/18"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := reconcile(); err == nil || remotecluster.IsStaleCache(err) {
		t.Fatalf("reconcile onto a local pool that is not a mirror: %v, want an error that is not stale", err)
	}
}

// startMirrorServer starts a meshapi-apiserver on an embedded etcd that
// takes mirror writes from the test's client, stopped when the test ends,
// and returns its client and a remote cache holding IPPool pool-b
// (198.19.0.0/16, VXLAN).
func startMirrorServer(ctx context.Context, t *testing.T) (versioned.Interface, cache.Indexer) {
	t.Helper()
	srv, err := framework.StartStandalone(ctx, t.TempDir(), "--mirror-writers=meshapi-admin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	cs, err := versioned.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	remote := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := remote.Add(&v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool-b"},
		Spec: v3.IPPoolSpec{CIDR: "198.19.0.0/16", VXLANMode: v3.EncapModeAlways}}); err != nil {
		t.Fatal(err)
	}
	return cs, remote
}
