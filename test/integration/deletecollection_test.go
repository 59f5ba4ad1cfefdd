package integration

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/admission/mirror"
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// A deletecollection deletes each object it selects as that object's own
// delete would (pkg/registry/projectcalico/registry deletes from the
// listed copies): an object with a finalizer is marked and kept until the
// finalizer goes, a dry run deletes nothing, an object outside the
// selector stays.
func TestDeleteCollectionDeletesEachAsItsOwnDelete(t *testing.T) {
	ctx := ctxT(t)
	weps := clientset(t).ProjectcalicoV3().WorkloadEndpoints("delete-collection")
	for i := range 12 {
		w := &v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dc-%02d", i), Labels: map[string]string{"app": "a"}},
			Spec:       v3.WorkloadEndpointSpec{Node: "node-1", IPNetworks: []string{fmt.Sprintf("198.18.51.%d/32", i+1)}},
		}
		if i >= 10 {
			w.Labels["app"] = "b"
		}
		if i == 3 {
			w.Finalizers = []string{"meshapi.test/keep"}
		}
		if _, err := weps.Create(ctx, w, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []string {
		t.Helper()
		list, err := weps.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, w := range list.Items {
			out = append(out, w.Name)
		}
		sort.Strings(out)
		return out
	}

	selectA := metav1.ListOptions{LabelSelector: "app=a"}
	if err := weps.DeleteCollection(ctx, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}, selectA); err != nil {
		t.Fatalf("dry-run delete collection: %v", err)
	}
	if got := names(); len(got) != 12 {
		t.Fatalf("after a dry run: %d objects %v, want all 12", len(got), got)
	}

	getsBefore := etcdGets(ctx, t, "workloadendpoints")
	if err := weps.DeleteCollection(ctx, metav1.DeleteOptions{}, selectA); err != nil {
		t.Fatalf("delete collection: %v", err)
	}
	// The nine plain deletes read nothing from etcd; the one with a
	// finalizer takes the generic path (a read or two). The generic
	// store's DeleteCollection reads each of the ten first.
	if gets := etcdGets(ctx, t, "workloadendpoints") - getsBefore; gets >= 9 {
		t.Errorf("the delete of 10 objects read etcd %v times, want fewer than 9", gets)
	}
	if got, want := fmt.Sprint(names()), "[dc-03 dc-10 dc-11]"; got != want {
		t.Fatalf("after the delete: %s, want %s (the finalized one and app=b)", got, want)
	}
	kept, err := weps.Get(ctx, "dc-03", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kept.DeletionTimestamp == nil {
		t.Errorf("the object with a finalizer has no deletion timestamp")
	}
	kept.Finalizers = nil
	if _, err := weps.Update(ctx, kept, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("removing the finalizer: %v", err)
	}
	if got, want := fmt.Sprint(names()), "[dc-10 dc-11]"; got != want {
		t.Errorf("after the finalizer went: %s, want %s", got, want)
	}
	if err := weps.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatalf("deleting the rest: %v", err)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("left: %v", got)
	}
}

// etcdGets is how many single-object reads of the resource the API server
// has made from etcd (its etcd_requests_total metric).
func etcdGets(ctx context.Context, t *testing.T, resource string) float64 {
	t.Helper()
	raw, err := clientset(t).RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	var n float64
	for _, line := range strings.Split(string(raw), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, "etcd_requests_total{") ||
			!strings.Contains(series, `operation="get"`) || !strings.Contains(series, `resource="`+resource+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("reading %q: %v", line, err)
		}
		n += v
	}
	return n
}

// A deletecollection runs each object's delete admission: the
// administrator, who is not the mirror writer, has the request refused
// for the mirror in the namespace, and the mirror stays.
func TestDeleteCollectionAdmitsEachDelete(t *testing.T) {
	ctx := ctxT(t)
	const ns = "delete-collection-mirror"
	cfg := rest.CopyConfig(server.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: mirror.DefaultWriters()[0], Groups: []string{user.SystemPrivilegedGroup}}
	writer, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mirrored := &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: v3.MirrorName("cluster-b", "host-1-k8s-x-eth0"), Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
		Spec:       v3.WorkloadEndpointSpec{Node: v3.RemoteName("cluster-b", "host-1"), IPNetworks: []string{"198.18.52.1/32"}},
	}
	if _, err := writer.ProjectcalicoV3().WorkloadEndpoints(ns).Create(ctx, mirrored, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a mirror as the writer: %v", err)
	}
	t.Cleanup(func() {
		_ = writer.ProjectcalicoV3().WorkloadEndpoints(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{})
	})
	admin := clientset(t).ProjectcalicoV3().WorkloadEndpoints(ns)
	err = admin.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("deleting a collection holding a mirror: got %v, want 403", err)
	}
	if _, err := admin.Get(ctx, mirrored.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the mirror after the refused delete: %v", err)
	}
}
