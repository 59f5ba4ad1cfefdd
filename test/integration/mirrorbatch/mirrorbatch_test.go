// Package mirrorbatch tests MirrorBatches against a meshapi-apiserver whose
// standalone administrator is the mirror writer (--mirror-writers), as
// meshapi-controller is in a cluster. Its own test binary, because the
// generic API server's feature gates are process-wide and
// test/integration already runs a server.
package mirrorbatch

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apiserver"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/integration/framework"
)

const cluster = "cluster-b"

// mirror is the mirror of endpoint i of cluster-b in namespace ns.
func mirror(ns string, i int) v3.WorkloadEndpoint {
	name := fmt.Sprintf("host-%d-k8s-pod--%d-eth0", i%4, i)
	return v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ns,
			Name:        v3.MirrorName(cluster, name),
			Labels:      map[string]string{v3.LabelCluster: cluster, "app": fmt.Sprint(i % 3)},
			Annotations: map[string]string{v3.AnnotationRemoteName: name},
		},
		Spec: v3.WorkloadEndpointSpec{
			Node: v3.RemoteName(cluster, fmt.Sprintf("host-%d", i%4)), Orchestrator: "k8s", Pod: fmt.Sprintf("pod-%d", i),
			Endpoint: "eth0", IPNetworks: []string{fmt.Sprintf("198.18.%d.%d/32", 200+i/250, i%250+1)},
		},
	}
}

func start(t *testing.T) (context.Context, *versioned.Clientset) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	srv, err := framework.StartStandalone(ctx, t.TempDir(), "--mirror-writers="+apiserver.StandaloneUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	cs, err := versioned.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, cs
}

// A batch stores each mirror it may, as a create of it alone would (the
// same object, its own resourceVersion, an ADDED event), without managed
// fields; each one it may not store has the reason a create of it alone
// would have answered, and is not stored.
func TestMirrorBatchStoresEachMirrorOrSaysWhyNot(t *testing.T) {
	ctx, cs := start(t)
	weps := func(ns string) interface {
		Get(context.Context, string, metav1.GetOptions) (*v3.WorkloadEndpoint, error)
	} {
		return cs.ProjectcalicoV3().WorkloadEndpoints(ns)
	}
	existing := mirror("ns-a", 99)
	if _, err := cs.ProjectcalicoV3().WorkloadEndpoints("ns-a").Create(ctx, &existing, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a mirror on its own: %v", err)
	}
	w, err := cs.ProjectcalicoV3().WorkloadEndpoints("").Watch(ctx, metav1.ListOptions{LabelSelector: v3.LabelCluster + "=" + cluster, ResourceVersion: existingRV(ctx, t, cs)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	var items []v3.WorkloadEndpoint
	for i := range 40 {
		items = append(items, mirror([]string{"ns-a", "ns-b"}[i%2], i))
	}
	invalid := mirror("ns-a", 40)
	invalid.Spec.IPNetworks = []string{"198.18.200.0/24"}
	otherCluster := mirror("ns-a", 41)
	otherCluster.Labels[v3.LabelCluster] = "cluster-c"
	unprefixed := mirror("ns-a", 42)
	unprefixed.Name = "host-2-k8s-pod--42-eth0"
	noNamespace := mirror("", 43)
	items = append(items, invalid, otherCluster, unprefixed, noNamespace, mirror("ns-a", 99))
	want := map[int]struct {
		code    int32
		message string
	}{
		40: {http.StatusUnprocessableEntity, "spec.ipNetworks[0]"},
		41: {http.StatusUnprocessableEntity, "metadata.labels[projectcalico.org/cluster]"},
		42: {http.StatusUnprocessableEntity, "metadata.name"},
		43: {http.StatusUnprocessableEntity, "metadata.namespace"},
		44: {http.StatusConflict, "already exists"},
	}

	got, err := cs.ProjectcalicoV3().MirrorBatches().Create(ctx, &v3.MirrorBatch{Spec: v3.MirrorBatchSpec{Cluster: cluster, WorkloadEndpoints: items}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the batch: %v", err)
	}
	if len(got.Status.Results) != len(items) {
		t.Fatalf("%d results for %d mirrors", len(got.Status.Results), len(items))
	}
	stored := map[string]string{} // name → resourceVersion
	for i, res := range got.Status.Results {
		if res.Name != items[i].Name || res.Namespace != items[i].Namespace {
			t.Errorf("result %d is for %s/%s, want %s/%s", i, res.Namespace, res.Name, items[i].Namespace, items[i].Name)
		}
		if w, bad := want[i]; bad {
			if res.Code != w.code || !strings.Contains(res.Message, w.message) || res.ResourceVersion != "" {
				t.Errorf("result %d = %+v, want code %d and a message naming %q", i, res, w.code, w.message)
			}
			continue
		}
		if res.Code != http.StatusCreated || res.ResourceVersion == "" || res.UID == "" {
			t.Errorf("result %d = %+v, want 201 with a resourceVersion and UID", i, res)
			continue
		}
		stored[res.Name] = res.ResourceVersion
		ep, err := weps(res.Namespace).Get(ctx, res.Name, metav1.GetOptions{})
		switch {
		case err != nil:
			t.Errorf("reading stored mirror %s/%s: %v", res.Namespace, res.Name, err)
		case ep.ResourceVersion != res.ResourceVersion || ep.UID != res.UID:
			t.Errorf("%s: stored resourceVersion %s UID %s, result says %s %s", res.Name, ep.ResourceVersion, ep.UID, res.ResourceVersion, res.UID)
		case len(ep.ManagedFields) != 0:
			t.Errorf("%s: managed fields %v, want none", res.Name, ep.ManagedFields)
		case ep.Spec.IPNetworks[0] != items[i].Spec.IPNetworks[0] || ep.Labels["app"] != items[i].Labels["app"]:
			t.Errorf("%s: stored %v %v, sent %v %v", res.Name, ep.Spec.IPNetworks, ep.Labels, items[i].Spec.IPNetworks, items[i].Labels)
		}
	}
	for i, bad := range []v3.WorkloadEndpoint{invalid, otherCluster, unprefixed} {
		if _, err := weps(bad.Namespace).Get(ctx, bad.Name, metav1.GetOptions{}); err == nil {
			t.Errorf("refused mirror %d (%s) was stored", 40+i, bad.Name)
		}
	}
	seenAdded(ctx, t, w, stored)
}

// existingRV is the resourceVersion of the endpoints' list now.
func existingRV(ctx context.Context, t *testing.T, cs *versioned.Clientset) string {
	t.Helper()
	l, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.ResourceVersion
}

// seenAdded waits for an ADDED event of each mirror in want (name →
// resourceVersion) at that resourceVersion.
func seenAdded(ctx context.Context, t *testing.T, w watch.Interface, want map[string]string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed with %d mirrors unseen", len(want))
			}
			ep, isEP := ev.Object.(*v3.WorkloadEndpoint)
			if !isEP || ev.Type != watch.Added {
				continue
			}
			if rv, ok := want[ep.Name]; ok && rv == ep.ResourceVersion {
				delete(want, ep.Name)
			}
		case <-timeout:
			t.Fatalf("no ADDED event at the result's resourceVersion for %d mirrors, e.g. %v", len(want), want)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// A malformed batch is refused whole, naming the field; a dry run stores
// nothing.
func TestMirrorBatchRefusedWholeOrDryRun(t *testing.T) {
	ctx, cs := start(t)
	batches := cs.ProjectcalicoV3().MirrorBatches()
	tooMany := make([]v3.WorkloadEndpoint, v3.MaxMirrorBatchItems+1)
	for i := range tooMany {
		tooMany[i] = mirror("ns-a", i)
	}
	for _, tc := range []struct {
		name  string
		batch v3.MirrorBatchSpec
		want  string
	}{
		{"no cluster", v3.MirrorBatchSpec{WorkloadEndpoints: []v3.WorkloadEndpoint{mirror("ns-a", 1)}}, "spec.cluster"},
		{"cluster not a DNS label", v3.MirrorBatchSpec{Cluster: "Cluster_B", WorkloadEndpoints: []v3.WorkloadEndpoint{mirror("ns-a", 1)}}, "spec.cluster"},
		{"too many", v3.MirrorBatchSpec{Cluster: cluster, WorkloadEndpoints: tooMany}, "spec.workloadEndpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := batches.Create(ctx, &v3.MirrorBatch{Spec: tc.batch}, metav1.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if l, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("after refused batches: %d endpoints stored (%v), want 0", len(l.Items), err)
	}

	got, err := batches.Create(ctx, &v3.MirrorBatch{Spec: v3.MirrorBatchSpec{Cluster: cluster, WorkloadEndpoints: tooMany[:5]}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	for i, res := range got.Status.Results {
		if res.Code != http.StatusCreated {
			t.Errorf("dry-run result %d = %+v, want 201", i, res)
		}
	}
	if l, err := cs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("after a dry run: %d endpoints stored (%v), want 0", len(l.Items), err)
	}
}
