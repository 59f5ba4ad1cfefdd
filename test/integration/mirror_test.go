package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Only meshapi-controller may mark objects as mirrored from a remote
// cluster; the standalone administrator is not it.
func TestUsersCannotForgeMirrors(t *testing.T) {
	ctx := ctxT(t)
	weps := clientset(t).ProjectcalicoV3().WorkloadEndpoints("forge")
	_, err := weps.Create(ctx, &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.host-1-k8s-x-eth0", Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
		Spec:       v3.WorkloadEndpointSpec{Node: "cluster-b/host-1"},
	}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "metadata.labels[projectcalico.org/cluster]") {
		t.Fatalf("creating a forged mirror: got %v, want 403 naming the label", err)
	}
	created, err := weps.Create(ctx, &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "host-1-k8s-x-eth0"},
		Spec:       v3.WorkloadEndpointSpec{Node: "host-1"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer weps.Delete(ctx, created.Name, metav1.DeleteOptions{})
	created.Labels = map[string]string{v3.LabelCluster: "cluster-b"}
	if _, err := weps.Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("labelling a local object as mirrored: got %v, want 403", err)
	}
}

// A MirrorBatch is no way around the mirror protection: each of its
// mirrors is admitted as its own create would be, so the administrator,
// who is not the mirror writer, has every one refused and none stored.
func TestMirrorBatchAdmitsEachMirror(t *testing.T) {
	ctx := ctxT(t)
	cs := clientset(t)
	var items []v3.WorkloadEndpoint
	for i := range 3 {
		items = append(items, v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Namespace: "forge-batch", Name: fmt.Sprintf("cluster-b.host-1-k8s-p%d-eth0", i), Labels: map[string]string{v3.LabelCluster: "cluster-b"}},
			Spec:       v3.WorkloadEndpointSpec{Node: "cluster-b/host-1"},
		})
	}
	got, err := cs.ProjectcalicoV3().MirrorBatches().Create(ctx, &v3.MirrorBatch{Spec: v3.MirrorBatchSpec{Cluster: "cluster-b", WorkloadEndpoints: items}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the batch: %v", err)
	}
	for i, res := range got.Status.Results {
		if res.Code != http.StatusForbidden || !strings.Contains(res.Message, "metadata.labels[projectcalico.org/cluster]") {
			t.Errorf("result %d = %+v, want 403 naming the label", i, res)
		}
	}
	if l, err := cs.ProjectcalicoV3().WorkloadEndpoints("forge-batch").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("%d forged mirrors stored (%v), want none", len(l.Items), err)
	}
}
