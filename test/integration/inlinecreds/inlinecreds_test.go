// Package inlinecreds tests a meshapi-apiserver started with
// --allow-inline-remote-credentials: it stores inline credentials of
// RemoteClusterConfigurations but returns them to no one but the mirror
// writers. Its own test binary, because the generic API server's feature
// gates are process-wide and test/integration already runs a server.
package inlinecreds

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/integration/framework"
)

const token = "hunter2-inline-token"

// The standalone administrator is not the controller (the default
// --mirror-writers): every read and write it makes returns the object
// without the token, kubectl included, and writing back what it read
// keeps the token stored.
func TestInlineCredentialsStrippedForOtherUsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := framework.StartStandalone(ctx, t.TempDir(), "--allow-inline-remote-credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cs, err := versioned.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	rccs := cs.ProjectcalicoV3().RemoteClusterConfigurations()
	rcc := &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"},
		Spec: v3.RemoteClusterConfigurationSpec{
			DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig:    v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sAPIToken: token, K8sCAFile: "/etc/remote/ca.crt"},
			SyncOptions:   v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeDisabled},
		},
	}
	w, err := rccs.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	created, err := rccs.Create(ctx, rcc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with the opt-in: %v", err)
	}
	check := func(verb string, got *v3.RemoteClusterConfiguration) {
		t.Helper()
		if got.Spec.K8sAPIToken != "" {
			t.Errorf("%s returned the token %q to the administrator", verb, got.Spec.K8sAPIToken)
		}
		if got.Spec.K8sAPIEndpoint != rcc.Spec.K8sAPIEndpoint {
			t.Errorf("%s: k8sAPIEndpoint %q, want %q kept", verb, got.Spec.K8sAPIEndpoint, rcc.Spec.K8sAPIEndpoint)
		}
	}
	check("create", created)
	got, err := rccs.Get(ctx, rcc.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check("get", got)
	list, err := rccs.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	check("list", &list.Items[0])
	ev := <-w.ResultChan()
	if ev.Type != watch.Added {
		t.Fatalf("watch: %s %v", ev.Type, ev.Object)
	}
	check("watch", ev.Object.(*v3.RemoteClusterConfiguration))
	out, err := framework.Kubectl(srv.Kubeconfig, "", "get", "rcc", rcc.Name, "-o", "yaml")
	if err != nil || !strings.Contains(out, "k8sAPIEndpoint") || strings.Contains(out, token) {
		t.Errorf("kubectl get -o yaml: %v\n%s", err, out)
	}

	// Writing back the object as read (no token) is admitted: validation
	// sees the stored token, which is kept.
	got.Labels = map[string]string{"team": "net"}
	updated, err := rccs.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update of what was read: %v", err)
	}
	check("update", updated)
	if updated.Labels["team"] != "net" {
		t.Errorf("update lost the label: %v", updated.Labels)
	}
}
