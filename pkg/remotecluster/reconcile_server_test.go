package remotecluster_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
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
	cs, err := versioned.NewForConfig(startMirrorServerConfig(ctx, t))
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

// Endpoint mirrors are created through MirrorBatches: a new one is stored
// as the batch's answer says (and without managed fields, which only the
// batch path skips); a local endpoint of the mirror's name that is not a
// mirror comes back from the batch as AlreadyExists and is reported as
// the conflict it is, left as it was. Against a real API server.
func TestReconcileCreatesEndpointsInBatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, _ := startMirrorServer(ctx, t)
	remote := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, name := range []string{"host-1-k8s-a-eth0", "host-1-k8s-b-eth0"} {
		if err := remote.Add(&v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: name},
			Spec: v3.WorkloadEndpointSpec{Node: "host-1", Orchestrator: "k8s", Pod: name[11:12], Endpoint: "eth0", IPNetworks: []string{"198.18.230.1/32"}}}); err != nil {
			t.Fatal(err)
		}
	}
	weps := cs.ProjectcalicoV3().WorkloadEndpoints("ns-a")
	foreign := &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: v3.MirrorName("cluster-b", "host-1-k8s-b-eth0")}, Spec: v3.WorkloadEndpointSpec{Node: "host-9"}}
	if _, err := weps.Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	emptyLocal := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})

	if err := remotecluster.ReconcileMirror(ctx, "WorkloadEndpoint", "cluster-b", "ns-a/host-1-k8s-a-eth0", remote, emptyLocal, cs); err != nil {
		t.Fatalf("Reconcile of a new endpoint: %v", err)
	}
	got, err := weps.Get(ctx, v3.MirrorName("cluster-b", "host-1-k8s-a-eth0"), metav1.GetOptions{})
	switch {
	case err != nil:
		t.Fatalf("the mirror was not stored: %v", err)
	case got.Spec.Node != "cluster-b/host-1" || got.Labels[v3.LabelCluster] != "cluster-b":
		t.Errorf("stored mirror %+v %v, want node cluster-b/host-1 labelled cluster-b", got.Spec, got.Labels)
	case len(got.ManagedFields) != 0:
		t.Errorf("managed fields %v: the mirror was not created through a MirrorBatch", got.ManagedFields)
	}

	err = remotecluster.ReconcileMirror(ctx, "WorkloadEndpoint", "cluster-b", "ns-a/host-1-k8s-b-eth0", remote, emptyLocal, cs)
	if want := "exists and is not a mirror"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Reconcile over a local endpoint: %v, want an error containing %q", err, want)
	}
	if got, err := weps.Get(ctx, foreign.Name, metav1.GetOptions{}); err != nil || got.Spec.Node != "host-9" {
		t.Errorf("the local endpoint changed: %+v, %v", got, err)
	}
}

// Concurrent endpoint creates go to the API server together: 300 creates
// from 300 goroutines take far fewer requests than 300, and each create
// returns its own mirror as stored (its UID and resourceVersion), or, for
// one that the server refuses, the error a create of it alone would have
// returned. Against a real API server; the requests counted at the
// client's transport.
func TestMirrorBatcherCoalescesCreates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := startMirrorServerConfig(ctx, t)
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var batches atomic.Int64
	counted := countingClient(t, cfg, &batches)

	const n = 300
	eps := make([]*v3.WorkloadEndpoint, n)
	for i := range eps {
		name := fmt.Sprintf("host-1-k8s-p%d-eth0", i)
		eps[i] = &v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i%3), Name: v3.MirrorName("cluster-b", name),
				Labels: map[string]string{v3.LabelCluster: "cluster-b"}, Annotations: map[string]string{v3.AnnotationRemoteName: name}},
			Spec: v3.WorkloadEndpointSpec{Node: "cluster-b/host-1", IPNetworks: []string{fmt.Sprintf("198.18.231.%d/32", i%250+1)}},
		}
	}
	eps[7].Spec.IPNetworks = []string{"198.18.231.0/24"} // refused: not a single address
	created, errs := remotecluster.CreateMirrorsInBatches(ctx, counted, "cluster-b", eps)
	list, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]*v3.WorkloadEndpoint{}
	for i := range list.Items {
		stored[list.Items[i].Namespace+"/"+list.Items[i].Name] = &list.Items[i]
	}
	if len(stored) != n-1 {
		t.Errorf("%d endpoints stored, want %d", len(stored), n-1)
	}
	for i := range eps {
		if i == 7 {
			if !apierrors.IsInvalid(errs[i]) || !strings.Contains(errs[i].Error(), "spec.ipNetworks[0]") {
				t.Errorf("create 7: %v, want Invalid naming spec.ipNetworks[0]", errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("create %d: %v", i, errs[i])
			continue
		}
		got := stored[eps[i].Namespace+"/"+eps[i].Name]
		if got == nil || got.ResourceVersion != created[i].ResourceVersion || got.UID != created[i].UID {
			t.Errorf("create %d returned resourceVersion %s UID %s; stored: %+v", i, created[i].ResourceVersion, created[i].UID, got)
		}
	}
	if b := batches.Load(); b < 1 || b > n/4 {
		t.Errorf("%d MirrorBatch requests for %d concurrent creates, want between 1 and %d", b, n, n/4)
	}
	t.Logf("%d creates in %d MirrorBatch requests", n, batches.Load())
}

// startMirrorServerConfig starts an API server whose administrator is the
// mirror writer and returns its configuration.
func startMirrorServerConfig(ctx context.Context, t *testing.T) *rest.Config {
	t.Helper()
	srv, err := framework.StartStandalone(ctx, t.TempDir(), "--mirror-writers=meshapi-admin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv.Config
}

// countingClient is a client of server with every MirrorBatch POST counted
// in batches.
func countingClient(t *testing.T, server *rest.Config, batches *atomic.Int64) versioned.Interface {
	t.Helper()
	cfg := rest.CopyConfig(server)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/mirrorbatches") {
				batches.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
