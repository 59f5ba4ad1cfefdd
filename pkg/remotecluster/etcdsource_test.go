package remotecluster

import (
	"errors"
	"strings"
	"testing"
)

// The etcd source never connects without TLS and a CA, whatever the access
// says (defence in depth behind ParseAccessSecret).
func TestNewEtcdSourceRefusesPlainConnections(t *testing.T) {
	caPEM, keyPEM := testCA(t)
	cases := []struct {
		name       string
		access     EtcdAccess
		wantReason string
		wantInMsg  string
	}{
		{name: "http endpoint", access: EtcdAccess{Endpoints: []string{"http://198.18.0.1:2379"}, CACertPEM: caPEM},
			wantReason: "EtcdEndpointInsecure", wantInMsg: `"http://198.18.0.1:2379" is not an https:// URL`},
		{name: "no CA", access: EtcdAccess{Endpoints: []string{"https://198.18.0.1:2379"}, Username: "root", Password: "secret"},
			wantReason: "SecretKeyMissing", wantInMsg: "TLS only"},
		{name: "CA not PEM", access: EtcdAccess{Endpoints: []string{"https://198.18.0.1:2379"}, CACertPEM: []byte("not a certificate")},
			wantReason: "EtcdCertificateInvalid", wantInMsg: "etcdCACert holds no PEM certificate"},
		{name: "client certificate without its key", access: EtcdAccess{Endpoints: []string{"https://198.18.0.1:2379"}, CACertPEM: caPEM, CertPEM: caPEM, KeyPEM: keyPEM[:10]},
			wantReason: "EtcdCertificateInvalid", wantInMsg: "etcdCert/etcdKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := newEtcdSource(&tc.access)
			if err == nil {
				_ = src.close()
				t.Fatalf("newEtcdSource connected; want a refusal")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Reason != tc.wantReason || !strings.Contains(ce.Message, tc.wantInMsg) {
				t.Fatalf("newEtcdSource: %v (%T); want a *ConfigError %s with %q", err, err, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}
