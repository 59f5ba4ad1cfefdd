package meshctl

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshapi/meshapi/pkg/etcdpki"
)

func material(t *testing.T, ca *etcdpki.CA) etcdpki.Material {
	t.Helper()
	m, err := etcdpki.Issue(ca, etcdpki.Site{Service: "meshapi-etcd", Namespace: "meshapi-system", ClusterDomain: "cluster.local"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Each Secret holds what the manifest that mounts it reads, as a key pair
// that loads, and the server and client Secrets trust the CA that signed
// them.
func TestCertSecrets(t *testing.T) {
	ca, err := etcdpki.NewCA("meshapi-etcd-ca", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	secrets := CertSecrets("meshapi-system", material(t, ca))
	for _, tc := range []struct {
		name      string
		host      string
		usage     x509.ExtKeyUsage
		wantCAKey bool
	}{
		{name: EtcdCASecret},
		{name: EtcdServerSecret, host: "meshapi-etcd-0.meshapi-etcd.meshapi-system.svc", usage: x509.ExtKeyUsageServerAuth, wantCAKey: true},
		{name: EtcdClientSecret, usage: x509.ExtKeyUsageClientAuth, wantCAKey: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *corev1.Secret
			for _, c := range secrets {
				if c.Name == tc.name {
					s = c
				}
			}
			if s == nil || s.Namespace != "meshapi-system" || s.Type != corev1.SecretTypeTLS {
				t.Fatalf("Secret %s: %+v", tc.name, s)
			}
			if _, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]); err != nil {
				t.Fatalf("Secret %s: tls.crt and tls.key do not load: %v", tc.name, err)
			}
			if !tc.wantCAKey {
				if _, ok := s.Data[caKey]; ok {
					t.Fatalf("Secret %s has %s", tc.name, caKey)
				}
				return
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(s.Data[caKey]) {
				t.Fatalf("Secret %s: no CA in %s", tc.name, caKey)
			}
			block, _ := pem.Decode(s.Data[corev1.TLSCertKey])
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
				t.Fatalf("Secret %s: certificate does not verify against its %s: %v", tc.name, caKey, err)
			}
		})
	}
}

// The stamp that rolls the pods changes with every issue, also under the
// same CA, and is a valid annotation value of fixed length.
func TestCertsStamp(t *testing.T) {
	ca, err := etcdpki.NewCA("meshapi-etcd-ca", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := certsStamp(material(t, ca)), certsStamp(material(t, ca))
	if a == b || len(a) != 16 || len(b) != 16 {
		t.Fatalf("stamps %q and %q: want two different 16-character stamps", a, b)
	}
}

// install-certs writes the Secrets that artifacts/deploy mounts, for the
// workloads it names, and the defaults are the manifests' names.
func TestCertsMatchManifests(t *testing.T) {
	co := DefaultCertsOptions()
	for _, tc := range []struct {
		file, kind, name, secret string
	}{
		{"20-etcd.yaml", "StatefulSet", co.Service, EtcdServerSecret},
		{"30-apiserver.yaml", "Deployment", co.APIServer, EtcdClientSecret},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "deploy", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, doc := range strings.Split(string(raw), "\n---\n") {
				var obj struct {
					Kind     string            `json:"kind"`
					Metadata metav1.ObjectMeta `json:"metadata"`
					Spec     struct {
						Template corev1.PodTemplateSpec `json:"template"`
					} `json:"spec"`
				}
				if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
					t.Fatalf("%s: %v", tc.file, err)
				}
				if obj.Kind != tc.kind {
					continue
				}
				found = true
				if obj.Metadata.Name != tc.name || obj.Metadata.Namespace != co.Namespace {
					t.Errorf("%s %s/%s, want %s/%s", tc.kind, obj.Metadata.Namespace, obj.Metadata.Name, co.Namespace, tc.name)
				}
				var mounted bool
				for _, v := range obj.Spec.Template.Spec.Volumes {
					mounted = mounted || (v.Secret != nil && v.Secret.SecretName == tc.secret)
				}
				if !mounted {
					t.Errorf("%s %s does not mount Secret %s", tc.kind, tc.name, tc.secret)
				}
			}
			if !found {
				t.Fatalf("%s has no %s", tc.file, tc.kind)
			}
		})
	}
	if !co.Restart || co.NewCA || co.Validity != etcdpki.DefaultValidity {
		t.Errorf("DefaultCertsOptions() = %+v: want restart, same CA, a year", co)
	}
}
