package integration

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Without --allow-inline-remote-credentials the server refuses inline
// credentials and controller-host files, naming the field and pointing at
// spec.clusterAccessSecret; plain http and insecure TLS are refused
// always. Each refusal stores nothing.
func TestInlineRemoteCredentialsRefused(t *testing.T) {
	ctx := ctxT(t)
	rccs := clientset(t).ProjectcalicoV3().RemoteClusterConfigurations()
	kube := func(k v3.KubeConfig) v3.RemoteClusterConfigurationSpec {
		return v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes, KubeConfig: k}
	}
	cases := []struct {
		name     string
		spec     v3.RemoteClusterConfigurationSpec
		wantMsgs []string
	}{
		{name: "creds-token", spec: kube(v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sAPIToken: "hunter2"}),
			wantMsgs: []string{"spec.k8sAPIToken: Forbidden: an inline credential", "spec.clusterAccessSecret", "--allow-inline-remote-credentials"}},
		{name: "creds-inline-kubeconfig", spec: kube(v3.KubeConfig{KubeconfigInline: "apiVersion: v1\nkind: Config\n"}),
			wantMsgs: []string{"spec.kubeconfigInline: Forbidden"}},
		{name: "creds-kubeconfig-file", spec: kube(v3.KubeConfig{Kubeconfig: "/etc/kubernetes/admin.conf"}),
			wantMsgs: []string{"spec.kubeconfig: Forbidden: names a file on meshapi-controller's host"}},
		{name: "creds-insecure", spec: kube(v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sInsecureSkipTLSVerify: true}),
			wantMsgs: []string{"spec.k8sInsecureSkipTLSVerify: Forbidden"}},
		{name: "creds-key-file", spec: kube(v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sKeyFile: "/etc/k.key", K8sCertFile: "/etc/k.crt"}),
			wantMsgs: []string{"spec.k8sKeyFile: Forbidden", "spec.k8sCertFile: Forbidden"}},
		{name: "creds-http", spec: kube(v3.KubeConfig{K8sAPIEndpoint: "http://198.18.0.10:8080"}),
			wantMsgs: []string{`spec.k8sAPIEndpoint: Invalid value: "http://198.18.0.10:8080": plain http://`}},
		{name: "creds-etcd-http", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeEtcdV3,
			EtcdConfig: v3.EtcdConfig{EtcdEndpoints: "http://198.18.0.20:2379", EtcdPassword: "hunter2"}},
			wantMsgs: []string{`spec.etcdEndpoints: Invalid value: "http://198.18.0.20:2379"`, "spec.etcdPassword: Forbidden", "spec.etcdCACertFile: Required value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rccs.Create(ctx, &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: tc.spec}, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				rccs.Delete(ctx, tc.name, metav1.DeleteOptions{})
				t.Fatalf("create: %v, want 422 Invalid", err)
			}
			for _, m := range tc.wantMsgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err.Error(), m)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error echoes the credential: %s", err)
			}
			if _, err := rccs.Get(ctx, tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("after the refusal, get: %v, want NotFound", err)
			}
		})
	}

	// The Secret reference is what the messages point at, and is admitted.
	ok := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "creds-secret"}, Spec: v3.RemoteClusterConfigurationSpec{
		ClusterAccessSecret: &corev1.ObjectReference{Kind: "Secret", Namespace: "calico-system", Name: "remote-cluster-secret-creds"},
		SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeDisabled},
	}}
	if _, err := rccs.Create(ctx, ok, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the RCC with clusterAccessSecret: %v", err)
	}
	t.Cleanup(func() { rccs.Delete(ctxT(t), ok.Name, metav1.DeleteOptions{}) })
}
