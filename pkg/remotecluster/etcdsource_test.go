package remotecluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// The etcd source never connects without TLS and a CA, whatever the access
// says (defence in depth behind ParseAccessSecret).
func TestNewEtcdSourceRefusesPlainConnections(t *testing.T) {
	caPEM, keyPEM := testCA(t)
	cases := []struct {
		name       string
		access     remoteaccess.EtcdAccess
		wantReason string
		wantInMsg  string
	}{
		{name: "http endpoint", access: remoteaccess.EtcdAccess{Endpoints: []string{"http://198.18.0.1:2379"}, CACertPEM: caPEM},
			wantReason: "EtcdEndpointInsecure", wantInMsg: `"http://198.18.0.1:2379" is not an https:// URL`},
		{name: "no CA", access: remoteaccess.EtcdAccess{Endpoints: []string{"https://198.18.0.1:2379"}, Username: "root", Password: "secret"},
			wantReason: "SecretKeyMissing", wantInMsg: "TLS only"},
		{name: "CA not PEM", access: remoteaccess.EtcdAccess{Endpoints: []string{"https://198.18.0.1:2379"}, CACertPEM: []byte("not a certificate")},
			wantReason: "EtcdCertificateInvalid", wantInMsg: "etcdCACert holds no PEM certificate"},
		{name: "client certificate without its key", access: remoteaccess.EtcdAccess{Endpoints: []string{"https://198.18.0.1:2379"}, CACertPEM: caPEM, CertPEM: caPEM, KeyPEM: keyPEM[:10]},
			wantReason: "EtcdCertificateInvalid", wantInMsg: "etcdCert/etcdKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := newEtcdSource(&tc.access)
			if err == nil {
				_ = src.close()
				t.Fatalf("newEtcdSource connected; want a refusal")
			}
			var ce *remoteaccess.ConfigError
			if !errors.As(err, &ce) || ce.Reason != tc.wantReason || !strings.Contains(ce.Message, tc.wantInMsg) {
				t.Fatalf("newEtcdSource: %v (%T); want a *remoteaccess.ConfigError %s with %q", err, err, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}

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
