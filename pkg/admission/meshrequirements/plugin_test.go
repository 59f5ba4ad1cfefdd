package meshrequirements

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// The Secret is read only for a user the authorizer allows; every refusal
// has the same text, which names the Secret and nothing about it.
func TestMayReadSecret(t *testing.T) {
	masters := authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)
	admin := &user.DefaultInfo{Name: "admin", Groups: []string{user.SystemPrivilegedGroup}}
	eve := &user.DefaultInfo{Name: "eve", Groups: []string{user.AllAuthenticated}}
	const refusal = "you may not get Secret calico-system/remote-cluster-secret-b, which spec.clusterAccessSecret names, so meshapi-apiserver did not read it"
	for _, tc := range []struct {
		name      string
		authz     authorizer.Authorizer
		requester user.Info
		wantErr   string
	}{
		{name: "allowed", authz: masters, requester: admin},
		{name: "denied", authz: masters, requester: eve, wantErr: refusal},
		{name: "no authorizer", requester: admin, wantErr: refusal},
		{name: "no requester", authz: masters, wantErr: refusal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New()
			if tc.authz != nil {
				p.SetAuthorizer(tc.authz)
			}
			err := p.mayReadSecret(context.Background(), tc.requester, "calico-system", "remote-cluster-secret-b")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("mayReadSecret: %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("mayReadSecret: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// Files of the controller's host are never opened by the API server, and
// an access Secret is never read for a user who may not read it.
func TestFetchRefusesBeforeReading(t *testing.T) {
	eve := &user.DefaultInfo{Name: "eve"}
	for _, tc := range []struct {
		name    string
		spec    v3.RemoteClusterConfigurationSpec
		wantErr string
	}{
		{name: "kubeconfig file", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig: v3.KubeConfig{Kubeconfig: "/etc/kubernetes/admin.conf"}}, wantErr: "meshapi-apiserver does not read"},
		{name: "CA file", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig: v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sCAFile: "/etc/ca.crt"}}, wantErr: "meshapi-apiserver does not read"},
		{name: "secret in standalone mode", spec: v3.RemoteClusterConfigurationSpec{
			ClusterAccessSecret: &corev1.ObjectReference{Namespace: "calico-system", Name: "remote-cluster-secret-b"}}, wantErr: "standalone mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New()
			p.SetAuthorizer(authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup))
			_, err := p.fetch(context.Background(), &v3.RemoteClusterConfiguration{Spec: tc.spec}, eve)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("fetch: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
