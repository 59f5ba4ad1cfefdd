package remoteclusterconfiguration

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

const (
	controllerUser = "system:serviceaccount:calico-system:calico-typha"
	inlineToken    = "hunter2-token"
)

// as returns a cluster-scoped request context of user name.
func as(ctx context.Context, name string) context.Context {
	return genericapirequest.WithUser(genericapirequest.WithNamespace(ctx, metav1.NamespaceNone), &user.DefaultInfo{Name: name})
}

// inlineRCC is an RCC with an inline token (admitted with AllowInline).
func inlineRCC(name string) *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.RemoteClusterConfigurationSpec{
			DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig:    v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sAPIToken: inlineToken, K8sCAFile: "/etc/remote/ca.crt"},
			SyncOptions:   v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeDisabled},
		},
	}
}

// newCredentialREST returns an RCC store with policy on the etcd at url.
func newCredentialREST(t *testing.T, url, prefix string, policy CredentialPolicy) *REST {
	t.Helper()
	pools, felix := testStores(t, url, prefix)
	scheme, opts := testOptions(t, url, prefix)
	rccs, _, err := NewREST(scheme, opts, &OverlayDefaulter{Pools: pools, Felix: felix}, policy)
	if err != nil {
		t.Fatalf("remoteclusterconfiguration store: %v", err)
	}
	t.Cleanup(rccs.Destroy)
	return rccs
}

// Without the opt-in, an inline token is refused naming the field; with
// it, it is stored.
func TestRESTInlineCredentialsNeedOptIn(t *testing.T) {
	url := startEtcd(t)
	for _, tc := range []struct {
		name    string
		allow   bool
		wantErr string
	}{
		{name: "default refuses", wantErr: "spec.k8sAPIToken: Forbidden: an inline credential"},
		{name: "opted in stores", allow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rccs := newCredentialREST(t, url, "/optin-"+strings.ReplaceAll(tc.name, " ", "-"), CredentialPolicy{AllowInline: tc.allow, Readers: []string{controllerUser}})
			_, err := rccs.Create(as(t.Context(), "admin"), inlineRCC("cluster-b"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("create: %v", err)
			case tc.wantErr != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("create: %v, want Invalid with %q", err, tc.wantErr)
			}
		})
	}
}

// Only the readers see inline credentials, through every verb that returns
// the object; another user's write without them keeps them.
func TestRESTStripsInlineCredentials(t *testing.T) {
	url := startEtcd(t)
	rccs := newCredentialREST(t, url, "/strip", CredentialPolicy{AllowInline: true, Readers: []string{controllerUser}})
	admin, controller := as(t.Context(), "admin"), as(t.Context(), controllerUser)

	created, err := rccs.Create(admin, inlineRCC("cluster-b"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	token := func(obj any) string { return obj.(*v3.RemoteClusterConfiguration).Spec.K8sAPIToken }
	if got := token(created); got != "" {
		t.Errorf("create returned the token %q to the admin", got)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{name: "admin", ctx: admin, want: ""},
		{name: "remote identity", ctx: as(t.Context(), "system:serviceaccount:calico-system:tigera-federation-remote-cluster"), want: ""},
		{name: "anonymous", ctx: genericapirequest.WithNamespace(t.Context(), metav1.NamespaceNone), want: ""},
		{name: "controller", ctx: controller, want: inlineToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rccs.Get(tc.ctx, "cluster-b", &metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if token(got) != tc.want {
				t.Errorf("get: token %q, want %q", token(got), tc.want)
			}
			list, err := rccs.List(tc.ctx, &metainternalversion.ListOptions{})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if items := list.(*v3.RemoteClusterConfigurationList).Items; len(items) != 1 || items[0].Spec.K8sAPIToken != tc.want {
				t.Errorf("list: %+v, want one item with token %q", items, tc.want)
			}
			w, err := rccs.Watch(tc.ctx, &metainternalversion.ListOptions{ResourceVersion: "0"})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()
			ev := <-w.ResultChan()
			if ev.Type != watch.Added || token(ev.Object) != tc.want {
				t.Errorf("watch: %s with token %q, want ADDED with %q", ev.Type, token(ev.Object), tc.want)
			}
		})
	}

	// The admin writes back what it read (no token): the token stays.
	read, err := rccs.Get(admin, "cluster-b", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := read.(*v3.RemoteClusterConfiguration).DeepCopy()
	next.Labels = map[string]string{"team": "net"}
	updated, _, err := rccs.Update(admin, "cluster-b", rest.DefaultUpdatedObjectInfo(next), rest.ValidateAllObjectFunc,
		rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if got := token(updated); got != "" {
		t.Errorf("update returned the token %q to the admin", got)
	}
	stored, err := rccs.Get(controller, "cluster-b", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := token(stored); got != inlineToken {
		t.Errorf("after the admin's update the stored token is %q, want it kept", got)
	}
	// Delete returns a Status unless the store is told to return the
	// object; either way, no token.
	deleted, _, err := rccs.Delete(admin, "cluster-b", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if r, ok := deleted.(*v3.RemoteClusterConfiguration); ok && r.Spec.K8sAPIToken != "" {
		t.Errorf("delete returned the token %q to the admin", r.Spec.K8sAPIToken)
	}
}
