package integration

import (
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
