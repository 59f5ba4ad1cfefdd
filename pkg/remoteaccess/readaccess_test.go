package remoteaccess

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestInlineConfig(t *testing.T) {
	caPEM, _ := testCA(t)
	valid := string(writeKubeconfig(t, testKubeconfig(caPEM)))
	execCfg := testKubeconfig(caPEM)
	execCfg.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "aws", APIVersion: "client.authentication.k8s.io/v1"}}
	withExec := string(writeKubeconfig(t, execCfg))

	dir := t.TempDir()
	path := filepath.Join(dir, "cluster-b.kubeconfig")
	if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.kubeconfig")

	type want struct {
		host, token string
		insecure    bool
		caFile      string
	}
	cases := []struct {
		name       string
		spec       v3.RemoteClusterConfigurationSpec
		want       *want
		wantReason string
		wantInMsg  []string
	}{
		{name: "kubeconfigInline", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: valid}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfigInline with datastoreType kubernetes", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes, KubeConfig: v3.KubeConfig{KubeconfigInline: valid}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfigInline wins over k8sAPIEndpoint", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: valid, K8sAPIEndpoint: "https://other:6443"}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfigInline not YAML", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: "{{{"}},
			wantReason: "KubeconfigInvalid", wantInMsg: []string{"spec.kubeconfigInline", "not a kubeconfig"}},
		{name: "kubeconfigInline with exec plugin", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: withExec}},
			wantReason: "KubeconfigInvalid", wantInMsg: []string{"spec.kubeconfigInline", "exec or auth-provider"}},
		{name: "kubeconfig file", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{Kubeconfig: path}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfig file missing", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{Kubeconfig: missing}},
			wantReason: "KubeconfigInvalid", wantInMsg: []string{"spec.kubeconfig", missing}},
		{name: "k8sAPIEndpoint with token, insecure", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{
			K8sAPIEndpoint: "https://10.0.0.1:6443", K8sAPIToken: "tok", K8sInsecureSkipTLSVerify: true}},
			wantReason: "ConnectionInsecure", wantInMsg: []string{"spec.k8sInsecureSkipTLSVerify is not honoured"}},
		{name: "k8sAPIEndpoint with CA file", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{
			K8sAPIEndpoint: "https://10.0.0.1:6443", K8sCAFile: "/etc/remote/ca.crt"}},
			want: &want{host: "https://10.0.0.1:6443", caFile: "/etc/remote/ca.crt"}},
		{name: "etcdv3", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeEtcdV3, EtcdConfig: v3.EtcdConfig{EtcdEndpoints: "https://a:2379"}},
			wantReason: "DatastoreTypeUnsupported", wantInMsg: []string{`"etcdv3"`, "spec.clusterAccessSecret"}},
		{name: "etcdv3 wins over an inline kubeconfig", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeEtcdV3, KubeConfig: v3.KubeConfig{KubeconfigInline: valid}},
			wantReason: "DatastoreTypeUnsupported"},
		{name: "nothing set", spec: v3.RemoteClusterConfigurationSpec{},
			wantReason: "ConnectionMissing", wantInMsg: []string{"spec.clusterAccessSecret"}},
		{name: "only kubernetes datastoreType", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes},
			wantReason: "ConnectionMissing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"}, Spec: tc.spec}
			cfg, err := inlineConfig(rcc)
			if tc.want == nil {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("inlineConfig = %+v, %v; want a *ConfigError", cfg, err)
				}
				if cfg != nil {
					t.Errorf("config %+v returned with error %v", cfg, err)
				}
				if ce.Reason != tc.wantReason {
					t.Errorf("reason = %q, want %q (message %q)", ce.Reason, tc.wantReason, ce.Message)
				}
				for _, s := range tc.wantInMsg {
					if !strings.Contains(ce.Message, s) {
						t.Errorf("message %q does not contain %q", ce.Message, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("inlineConfig: %v", err)
			}
			if cfg.Host != tc.want.host || cfg.BearerToken != tc.want.token || cfg.Insecure != tc.want.insecure || cfg.CAFile != tc.want.caFile {
				t.Errorf("config host %q token %q insecure %v caFile %q, want %+v", cfg.Host, cfg.BearerToken, cfg.Insecure, cfg.CAFile, *tc.want)
			}
		})
	}
}

// TestReadAccess reads access Secrets through a client-go fake of the
// Kubernetes API (the Secrets are core Kubernetes objects, not meshapi's).
func TestReadAccess(t *testing.T) {
	caPEM, _ := testCA(t)
	kubeconfig := string(writeKubeconfig(t, testKubeconfig(caPEM)))
	secret := accessSecret(map[string]string{KeyDatastoreType: "kubernetes", KeyKubeconfig: kubeconfig})
	secret.UID, secret.ResourceVersion = "secret-uid", "17"
	ref := &corev1.ObjectReference{Namespace: "calico-system", Name: "remote-cluster-b"}

	cases := []struct {
		name            string
		objects         []runtime.Object
		reactor         k8stesting.ReactionFunc
		spec            v3.RemoteClusterConfigurationSpec
		wantFingerprint Fingerprint
		wantHost        string
		wantReason      string
		wantOtherErr    bool
	}{
		{name: "inline", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{K8sAPIEndpoint: "https://10.0.0.1:6443"}},
			wantFingerprint: Fingerprint{Generation: 3}, wantHost: "https://10.0.0.1:6443"},
		{name: "inline, incomplete", spec: v3.RemoteClusterConfigurationSpec{}, wantReason: "ConnectionMissing"},
		{name: "secret", objects: []runtime.Object{secret}, spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref},
			wantFingerprint: Fingerprint{Generation: 3, SecretUID: "secret-uid", SecretResourceVersion: "17"}, wantHost: testServer},
		{name: "secret missing", spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref}, wantReason: "SecretMissing"},
		{name: "secret forbidden", spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref},
			reactor: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "remote-cluster-b", errors.New("RBAC"))
			}, wantReason: "SecretForbidden"},
		{name: "secret unreadable for another reason", spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref},
			reactor: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("etcd down")
			}, wantOtherErr: true},
		{name: "secret incomplete", objects: []runtime.Object{accessSecret(map[string]string{KeyDatastoreType: "kubernetes"})},
			spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref}, wantReason: "SecretKeyMissing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset(tc.objects...)
			if tc.reactor != nil {
				kube.PrependReactor("get", "secrets", tc.reactor)
			}
			rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b", Generation: 3}, Spec: tc.spec}
			access, fingerprint, err := ReadAccess(context.Background(), kube, rcc)
			switch {
			case tc.wantReason != "":
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Reason != tc.wantReason {
					t.Fatalf("access error = %v, want a *ConfigError with reason %q", err, tc.wantReason)
				}
				if !strings.Contains(ce.Message, "calico-system/remote-cluster-b") && tc.spec.ClusterAccessSecret != nil {
					t.Errorf("message %q does not name the Secret", ce.Message)
				}
			case tc.wantOtherErr:
				if err == nil || IsConfigError(err) {
					t.Fatalf("access error = %v, want a retryable error", err)
				}
				if !apierrors.IsServiceUnavailable(err) {
					t.Errorf("access error %v does not wrap the API error", err)
				}
			default:
				if err != nil {
					t.Fatalf("access: %v", err)
				}
				if fingerprint != tc.wantFingerprint {
					t.Errorf("fingerprint = %+v, want %+v", fingerprint, tc.wantFingerprint)
				}
				if access.DatastoreType != v3.DatastoreTypeKubernetes || access.Kubernetes == nil || access.Kubernetes.Host != tc.wantHost {
					t.Errorf("access = %+v, want kubernetes at %q", access, tc.wantHost)
				}
			}
		})
	}
}

func TestAccessClient(t *testing.T) {
	t.Run("etcdv3 unsupported", func(t *testing.T) {
		cs, err := (&Access{DatastoreType: v3.DatastoreTypeEtcdV3, Etcd: &EtcdAccess{Endpoints: []string{"https://a:2379"}}}).Client()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Reason != "DatastoreTypeUnsupported" {
			t.Fatalf("remoteClient = %v, %v; want a DatastoreTypeUnsupported *ConfigError", cs, err)
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://10.0.0.1:6443", BearerToken: "tok", UserAgent: "mine"}
		before := *cfg
		cs, err := (&Access{DatastoreType: v3.DatastoreTypeKubernetes, Kubernetes: cfg}).Client()
		if err != nil || cs == nil {
			t.Fatalf("remoteClient = %v, %v", cs, err)
		}
		if !reflect.DeepEqual(*cfg, before) {
			t.Errorf("the access configuration was changed: %+v, was %+v", *cfg, before)
		}
	})
	t.Run("kubernetes with an unusable CA", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://10.0.0.1:6443", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("not a certificate")}}
		if cs, err := (&Access{DatastoreType: v3.DatastoreTypeKubernetes, Kubernetes: cfg}).Client(); err == nil {
			t.Fatalf("remoteClient = %v, want an error for the CA", cs)
		}
	})
}
