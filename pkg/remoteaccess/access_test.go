package remoteaccess

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

const (
	testServer = "https://cluster-b.example.com:6443"
	testToken  = "remote-token"
)

// testCA returns a throwaway self-signed CA certificate and its key, PEM-encoded.
func testCA(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cluster-b-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// testKubeconfig is a valid kubeconfig for cluster-b: server, embedded CA
// and a token.
func testKubeconfig(caPEM []byte) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster-b"] = &clientcmdapi.Cluster{Server: testServer, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{Token: testToken}
	cfg.Contexts["cluster-b"] = &clientcmdapi.Context{Cluster: "cluster-b", AuthInfo: "remote-sync"}
	cfg.CurrentContext = "cluster-b"
	return cfg
}

func writeKubeconfig(t testing.TB, cfg *clientcmdapi.Config) []byte {
	t.Helper()
	raw, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatalf("clientcmd.Write: %v", err)
	}
	return raw
}

func accessSecret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "calico-system", Name: "remote-cluster-b"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestParseAccessSecretErrors(t *testing.T) {
	caPEM, keyPEM := testCA(t)
	kubeconfig := func(mutate func(*clientcmdapi.Config)) string {
		cfg := testKubeconfig(caPEM)
		mutate(cfg)
		return string(writeKubeconfig(t, cfg))
	}
	kube := func(kc string) map[string]string {
		return map[string]string{KeyDatastoreType: "kubernetes", KeyKubeconfig: kc}
	}
	cases := []struct {
		name       string
		data       map[string]string
		wantReason string
		// wantKey is the Secret key the message must name.
		wantKey string
		// wantInMessage are further fragments of the message.
		wantInMessage []string
	}{
		{name: "no datastoreType", data: map[string]string{KeyKubeconfig: kubeconfig(func(*clientcmdapi.Config) {})},
			wantReason: "SecretKeyMissing", wantKey: KeyDatastoreType, wantInMessage: []string{`"kubernetes"`, `"etcdv3"`}},
		{name: "blank datastoreType", data: map[string]string{KeyDatastoreType: " \n"},
			wantReason: "SecretKeyMissing", wantKey: KeyDatastoreType},
		{name: "unsupported datastoreType", data: map[string]string{KeyDatastoreType: "etcdv2"},
			wantReason: "DatastoreTypeUnsupported", wantKey: KeyDatastoreType, wantInMessage: []string{`"etcdv2"`}},
		{name: "datastoreType is case-sensitive", data: map[string]string{KeyDatastoreType: "Kubernetes"},
			wantReason: "DatastoreTypeUnsupported", wantKey: KeyDatastoreType, wantInMessage: []string{`"Kubernetes"`}},
		{name: "kubernetes without kubeconfig", data: map[string]string{KeyDatastoreType: "kubernetes"},
			wantReason: "SecretKeyMissing", wantKey: KeyKubeconfig},
		{name: "kubeconfig not YAML", data: kube("{{{ not yaml"),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{"not a kubeconfig"}},
		{name: "kubeconfig a YAML list", data: kube("- a\n- b\n"),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{"not a kubeconfig"}},
		{name: "no current-context", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.CurrentContext = "" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{"no current-context"}},
		{name: "current-context not defined", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.CurrentContext = "elsewhere" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`current-context "elsewhere"`}},
		{name: "context names a missing cluster", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.Contexts["cluster-b"].Cluster = "gone" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`cluster "gone"`}},
		{name: "cluster without server", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.Clusters["cluster-b"].Server = "" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`cluster "cluster-b" has no server`}},
		{name: "certificate-authority file", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.Clusters["cluster-b"].CertificateAuthorityData = nil
			c.Clusters["cluster-b"].CertificateAuthority = "/etc/kubernetes/pki/ca.crt"
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{"/etc/kubernetes/pki/ca.crt", "certificate-authority-data"}},
		{name: "exec plugin", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
				APIVersion: "client.authentication.k8s.io/v1", Command: "aws", Args: []string{"eks", "get-token"}, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}}
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`user "remote-sync"`, "exec or auth-provider"}},
		{name: "auth-provider plugin", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{AuthProvider: &clientcmdapi.AuthProviderConfig{Name: "oidc", Config: map[string]string{"idp-issuer-url": "https://idp"}}}
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`user "remote-sync"`, "exec or auth-provider"}},
		{name: "tokenFile", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{TokenFile: "/var/run/secrets/token"}
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`user "remote-sync" refers to files`}},
		{name: "client-certificate file", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{ClientCertificate: "/home/me/client.crt", ClientKeyData: keyPEM}
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`user "remote-sync" refers to files`}},
		{name: "client-key file", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{ClientCertificateData: caPEM, ClientKey: "/home/me/client.key"}
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`user "remote-sync" refers to files`}},
		{name: "etcdv3 without etcdEndpoints", data: map[string]string{KeyDatastoreType: "etcdv3"},
			wantReason: "SecretKeyMissing", wantKey: KeyEtcdEndpoints, wantInMessage: []string{`"etcdv3"`}},
		{name: "etcdv3 with only commas in etcdEndpoints", data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: " , ,"},
			wantReason: "SecretKeyMissing", wantKey: KeyEtcdEndpoints},
		{name: "etcdCert without etcdKey", data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379", KeyEtcdCert: string(caPEM), KeyEtcdCACert: string(caPEM)},
			wantReason: "SecretKeyMissing", wantKey: KeyEtcdCert, wantInMessage: []string{`"etcdKey"`}},
		{name: "etcdKey without etcdCert", data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379", KeyEtcdKey: string(keyPEM), KeyEtcdCACert: string(caPEM)},
			wantReason: "SecretKeyMissing", wantKey: KeyEtcdKey, wantInMessage: []string{`"etcdCert"`}},
		{name: "insecure-skip-tls-verify", data: kube(kubeconfig(func(c *clientcmdapi.Config) {
			c.Clusters["cluster-b"].CertificateAuthorityData = nil
			c.Clusters["cluster-b"].InsecureSkipTLSVerify = true
		})), wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`cluster "cluster-b" sets insecure-skip-tls-verify`, "remove it and embed", "certificate-authority-data"}},
		{name: "proxy-url", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.Clusters["cluster-b"].ProxyURL = "http://198.18.0.99:3128" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`cluster "cluster-b" sets proxy-url "http://198.18.0.99:3128"`, "remove it"}},
		{name: "http server", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.Clusters["cluster-b"].Server = "http://198.18.0.10:8080" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`server "http://198.18.0.10:8080"`, "https://"}},
		{name: "impersonation", data: kube(kubeconfig(func(c *clientcmdapi.Config) { c.AuthInfos["remote-sync"].Impersonate = "system:admin" })),
			wantReason: "KubeconfigInvalid", wantKey: KeyKubeconfig, wantInMessage: []string{`user "remote-sync" impersonates`}},
		{name: "etcd over http", data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379,http://b:2379", KeyEtcdCACert: string(caPEM)},
			wantReason: "EtcdEndpointInsecure", wantKey: KeyEtcdEndpoints, wantInMessage: []string{`endpoint "http://b:2379" is not an https:// URL`, `"etcdCACert"`}},
		{name: "etcd without a CA", data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379", KeyEtcdUsername: "root", KeyEtcdPassword: "secret"},
			wantReason: "SecretKeyMissing", wantKey: KeyEtcdCACert, wantInMessage: []string{"TLS only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret := accessSecret(tc.data)
			before := secret.DeepCopy()
			access, err := ParseAccessSecret(secret)
			if err == nil {
				t.Fatalf("ParseAccessSecret = %+v, want an error", access)
			}
			if access != nil {
				t.Errorf("access = %+v alongside error %v, want nil", access, err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
			}
			if !IsConfigError(err) {
				t.Errorf("IsConfigError(%v) = false", err)
			}
			if ce.Reason != tc.wantReason {
				t.Errorf("reason = %q, want %q (message %q)", ce.Reason, tc.wantReason, ce.Message)
			}
			if err.Error() != ce.Message {
				t.Errorf("Error() = %q, want the message %q", err.Error(), ce.Message)
			}
			for _, want := range append([]string{"Secret calico-system/remote-cluster-b", fmt.Sprintf("%q", tc.wantKey)}, tc.wantInMessage...) {
				if !strings.Contains(ce.Message, want) {
					t.Errorf("message %q does not contain %q", ce.Message, want)
				}
			}
			if !reflect.DeepEqual(secret, before) {
				t.Errorf("the Secret was changed")
			}
		})
	}
}

func TestParseAccessSecretKubernetes(t *testing.T) {
	caPEM, keyPEM := testCA(t)
	cases := []struct {
		name      string
		datastore string
		mutate    func(*clientcmdapi.Config)
		check     func(t *testing.T, a *Access)
	}{
		{
			name: "token and embedded CA", datastore: "kubernetes", mutate: func(*clientcmdapi.Config) {},
			check: func(t *testing.T, a *Access) {
				if a.Kubernetes.BearerToken != testToken {
					t.Errorf("BearerToken = %q, want %q", a.Kubernetes.BearerToken, testToken)
				}
				if !bytes.Equal(a.Kubernetes.TLSClientConfig.CAData, caPEM) {
					t.Errorf("CAData = %q, want the embedded CA", a.Kubernetes.TLSClientConfig.CAData)
				}
			},
		},
		{
			// kubectl create secret --from-file keeps a trailing newline.
			name: "datastoreType with surrounding whitespace", datastore: " kubernetes\n", mutate: func(*clientcmdapi.Config) {},
			check: func(t *testing.T, a *Access) {
				if a.Kubernetes.BearerToken != testToken {
					t.Errorf("BearerToken = %q, want %q", a.Kubernetes.BearerToken, testToken)
				}
			},
		},
		{
			name: "embedded client certificate", datastore: "kubernetes",
			mutate: func(c *clientcmdapi.Config) {
				c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{ClientCertificateData: caPEM, ClientKeyData: keyPEM}
			},
			check: func(t *testing.T, a *Access) {
				if !bytes.Equal(a.Kubernetes.TLSClientConfig.CertData, caPEM) || !bytes.Equal(a.Kubernetes.TLSClientConfig.KeyData, keyPEM) {
					t.Errorf("client certificate not taken from the kubeconfig: %+v", a.Kubernetes.TLSClientConfig)
				}
				if a.Kubernetes.BearerToken != "" {
					t.Errorf("BearerToken = %q, want none", a.Kubernetes.BearerToken)
				}
			},
		},
		{
			name: "the current context is used among several", datastore: "kubernetes",
			mutate: func(c *clientcmdapi.Config) {
				c.Clusters["other"] = &clientcmdapi.Cluster{Server: "https://other:6443", CertificateAuthority: "/some/file"}
				c.AuthInfos["other"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "x", APIVersion: "client.authentication.k8s.io/v1"}}
				c.Contexts["other"] = &clientcmdapi.Context{Cluster: "other", AuthInfo: "other"}
			},
			check: func(t *testing.T, a *Access) {
				if a.Kubernetes.BearerToken != testToken {
					t.Errorf("BearerToken = %q, want %q", a.Kubernetes.BearerToken, testToken)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testKubeconfig(caPEM)
			tc.mutate(cfg)
			access, err := ParseAccessSecret(accessSecret(map[string]string{KeyDatastoreType: tc.datastore, KeyKubeconfig: string(writeKubeconfig(t, cfg))}))
			if err != nil {
				t.Fatalf("ParseAccessSecret: %v", err)
			}
			if access.DatastoreType != v3.DatastoreTypeKubernetes {
				t.Errorf("DatastoreType = %q, want kubernetes", access.DatastoreType)
			}
			if access.Etcd != nil {
				t.Errorf("Etcd = %+v, want nil", access.Etcd)
			}
			if access.Kubernetes == nil {
				t.Fatal("Kubernetes = nil")
			}
			if access.Kubernetes.Host != testServer {
				t.Errorf("Host = %q, want %q", access.Kubernetes.Host, testServer)
			}
			if access.Kubernetes.ExecProvider != nil || access.Kubernetes.AuthProvider != nil {
				t.Errorf("a plugin is configured: exec %+v, auth provider %+v", access.Kubernetes.ExecProvider, access.Kubernetes.AuthProvider)
			}
			tc.check(t, access)
		})
	}
}

func TestParseAccessSecretEtcd(t *testing.T) {
	caPEM, keyPEM := testCA(t)
	cases := []struct {
		name string
		data map[string]string
		want EtcdAccess
	}{
		{
			name: "two endpoints",
			data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379, https://b:2379", KeyEtcdCACert: string(caPEM)},
			want: EtcdAccess{Endpoints: []string{"https://a:2379", "https://b:2379"}, CACertPEM: caPEM},
		},
		{
			name: "empty elements dropped",
			data: map[string]string{KeyDatastoreType: "etcdv3\n", KeyEtcdEndpoints: ",https://a:2379,, \n", KeyEtcdCACert: string(caPEM)},
			want: EtcdAccess{Endpoints: []string{"https://a:2379"}, CACertPEM: caPEM},
		},
		{
			name: "credentials and TLS",
			data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379",
				KeyEtcdUsername: "root\n", KeyEtcdPassword: " secret ", KeyEtcdCert: string(caPEM), KeyEtcdKey: string(keyPEM), KeyEtcdCACert: string(caPEM)},
			want: EtcdAccess{Endpoints: []string{"https://a:2379"}, Username: "root", Password: "secret", CertPEM: caPEM, KeyPEM: keyPEM, CACertPEM: caPEM},
		},
		{
			name: "CA certificate alone",
			data: map[string]string{KeyDatastoreType: "etcdv3", KeyEtcdEndpoints: "https://a:2379", KeyEtcdCACert: string(caPEM)},
			want: EtcdAccess{Endpoints: []string{"https://a:2379"}, CACertPEM: caPEM},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			access, err := ParseAccessSecret(accessSecret(tc.data))
			if err != nil {
				t.Fatalf("ParseAccessSecret: %v", err)
			}
			if access.DatastoreType != v3.DatastoreTypeEtcdV3 || access.Kubernetes != nil || access.Etcd == nil {
				t.Fatalf("access = %+v, want etcdv3 only", access)
			}
			// A nil and an empty PEM are the same here: not set.
			got := *access.Etcd
			for _, b := range []*[]byte{&got.CertPEM, &got.KeyPEM, &got.CACertPEM} {
				if len(*b) == 0 {
					*b = nil
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("etcd access =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestIsConfigError(t *testing.T) {
	ce := &ConfigError{Reason: "SecretMissing", Message: "Secret a/b does not exist"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "plain error", err: errors.New("boom"), want: false},
		{name: "config error", err: ce, want: true},
		{name: "made by ConfigErrorf", err: ConfigErrorf("R", "m %d", 1), want: true},
		{name: "wrapped", err: fmt.Errorf("reconciling cluster-b: %w", ce), want: true},
		{name: "wrapped twice", err: fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", ce)), want: true},
		{name: "joined", err: errors.Join(errors.New("other"), ce), want: true},
		{name: "formatted with %v, not wrapped", err: fmt.Errorf("reconciling: %v", ce), want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsConfigError(tc.err); got != tc.want {
				t.Errorf("IsConfigError(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if got := ConfigErrorf("KubeconfigInvalid", "key %q: %v", "kubeconfig", "bad"); got.Error() != `key "kubeconfig": bad` || got.(*ConfigError).Reason != "KubeconfigInvalid" {
		t.Errorf("configErrorf = %#v", got)
	}
}

func TestSplitList(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: " , ,", want: nil},
		{in: "a", want: []string{"a"}},
		{in: "https://a:2379, https://b:2379", want: []string{"https://a:2379", "https://b:2379"}},
		{in: "a,,b,", want: []string{"a", "b"}},
	}
	for _, tc := range cases {
		if got := splitList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitList(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

// spec.kubeconfig files get the access Secret's refusals.
func TestKubeconfigFileToRESTConfig(t *testing.T) {
	caPEM, _ := testCA(t)
	dir := t.TempDir()
	write := func(name string, mutate func(*clientcmdapi.Config)) string {
		cfg := testKubeconfig(caPEM)
		mutate(cfg)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, writeKubeconfig(t, cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cases := []struct {
		name, path, wantErr string
	}{
		{name: "valid", path: write("valid", func(*clientcmdapi.Config) {})},
		{name: "exec plugin", path: write("exec", func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "aws", APIVersion: "client.authentication.k8s.io/v1"}}
		}), wantErr: "exec or auth-provider"},
		{name: "tokenFile", path: write("tokenfile", func(c *clientcmdapi.Config) {
			c.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{TokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token"}
		}), wantErr: "refers to files"},
		{name: "insecure-skip-tls-verify", path: write("insecure", func(c *clientcmdapi.Config) {
			c.Clusters["cluster-b"].CertificateAuthorityData = nil
			c.Clusters["cluster-b"].InsecureSkipTLSVerify = true
		}), wantErr: "insecure-skip-tls-verify"},
		{name: "proxy-url", path: write("proxy", func(c *clientcmdapi.Config) { c.Clusters["cluster-b"].ProxyURL = "http://198.18.0.99:3128" }), wantErr: "proxy-url"},
		{name: "missing file", path: filepath.Join(dir, "missing"), wantErr: "reading the kubeconfig file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := KubeconfigFileToRESTConfig(tc.path)
			if tc.wantErr == "" {
				if err != nil || cfg.Host != testServer || cfg.BearerToken != testToken {
					t.Fatalf("KubeconfigFileToRESTConfig = %+v, %v; want host %q with the token", cfg, err, testServer)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("KubeconfigFileToRESTConfig = %+v, %v; want an error with %q", cfg, err, tc.wantErr)
			}
		})
	}
}

// An inline k8sAPIEndpoint is https:// with a token and a CA file at most.
func TestEndpointToRESTConfig(t *testing.T) {
	base := v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.10:6443", K8sAPIToken: "tok", K8sCAFile: "/etc/remote/ca.crt"}
	cases := []struct {
		name    string
		mut     func(*v3.KubeConfig)
		wantErr string
	}{
		{name: "token and CA file", mut: func(*v3.KubeConfig) {}},
		{name: "client certificate file", mut: func(k *v3.KubeConfig) { k.K8sCertFile = "/etc/c.crt" }, wantErr: "spec.k8sCertFile and spec.k8sKeyFile are not honoured"},
		{name: "client key file", mut: func(k *v3.KubeConfig) { k.K8sKeyFile = "/etc/c.key" }, wantErr: "spec.k8sCertFile and spec.k8sKeyFile are not honoured"},
		{name: "insecure", mut: func(k *v3.KubeConfig) { k.K8sInsecureSkipTLSVerify = true }, wantErr: "spec.k8sInsecureSkipTLSVerify is not honoured"},
		{name: "http", mut: func(k *v3.KubeConfig) { k.K8sAPIEndpoint = "http://198.18.0.10:8080" }, wantErr: `spec.k8sAPIEndpoint "http://198.18.0.10:8080" is not an https:// URL`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := base
			tc.mut(&k)
			cfg, err := EndpointToRESTConfig(&k)
			if tc.wantErr == "" {
				if err != nil || cfg.Host != k.K8sAPIEndpoint || cfg.BearerToken != "tok" || cfg.CAFile != k.K8sCAFile || cfg.Insecure || cfg.CertFile != "" {
					t.Fatalf("EndpointToRESTConfig = %+v, %v", cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("EndpointToRESTConfig = %+v, %v; want an error with %q", cfg, err, tc.wantErr)
			}
		})
	}
}

// TestAccessSecretParses reads back what AccessSecret builds: the builder
// and the parser of the access Secret's format agree.
func TestAccessSecretParses(t *testing.T) {
	caPEM, _ := testCA(t)
	raw := writeKubeconfig(t, testKubeconfig(caPEM))
	secret := AccessSecret("calico-system", "cluster-b", raw)
	access, err := ParseAccessSecret(secret)
	if err != nil {
		t.Fatalf("ParseAccessSecret(AccessSecret(...)): %v", err)
	}
	if access.DatastoreType != v3.DatastoreTypeKubernetes || access.Kubernetes == nil {
		t.Fatalf("access = %+v, want a kubernetes datastore", access)
	}
	if access.Kubernetes.Host != testServer || access.Kubernetes.BearerToken != testToken || !bytes.Equal(access.Kubernetes.CAData, caPEM) {
		t.Errorf("config host %q token %q CA %d bytes, want %q %q and the test CA", access.Kubernetes.Host, access.Kubernetes.BearerToken, len(access.Kubernetes.CAData), testServer, testToken)
	}
}
