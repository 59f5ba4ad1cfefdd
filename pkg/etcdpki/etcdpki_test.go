package etcdpki

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func mustCA(t *testing.T, cn string) *CA {
	t.Helper()
	ca, err := NewCA(cn, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestIssueRefuses(t *testing.T) {
	ca := mustCA(t, "etcd-ca")
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"no common name", Request{Server: true}, "common name is empty"},
		{"no usage", Request{CommonName: "x"}, `"x": neither server nor client`},
		{"outlives the CA", Request{CommonName: "x", Client: true, Validity: 20 * DefaultCAValidity}, `CA "etcd-ca" expires before`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.Issue(tc.req, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Issue(%+v) = %v, want an error with %q", tc.req, err, tc.want)
			}
		})
	}
}

func TestLoadCARefuses(t *testing.T) {
	ca, other := mustCA(t, "etcd-ca"), mustCA(t, "other-ca")
	leaf, err := ca.Issue(Request{CommonName: "leaf", Client: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		certPEM, key  []byte
		want          string
		wantSubjectCN string
	}{
		{name: "matching", certPEM: ca.CertPEM, key: ca.KeyPEM, wantSubjectCN: "etcd-ca"},
		{name: "another CA's key", certPEM: ca.CertPEM, key: other.KeyPEM, want: `key of CA "etcd-ca" does not match`},
		{name: "not a CA", certPEM: leaf.CertPEM, key: leaf.KeyPEM, want: `"leaf" is not a CA`},
		{name: "not PEM", certPEM: []byte("junk"), key: ca.KeyPEM, want: "no PEM CERTIFICATE block"},
		{name: "key not PEM", certPEM: ca.CertPEM, key: []byte("junk"), want: "no PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadCA(tc.certPEM, tc.key)
			if tc.want == "" {
				if err != nil || got.Certificate().Subject.CommonName != tc.wantSubjectCN {
					t.Fatalf("LoadCA = %v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadCA = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// The serving certificate verifies for every name a client of the Service
// or of one member uses, for server and client (peer) use; the client
// certificate only as a client; neither under another CA.
func TestIssueVerifies(t *testing.T) {
	ca, other := mustCA(t, "etcd-ca"), mustCA(t, "other-ca")
	m, err := Issue(ca, Site{Service: "meshapi-etcd", Namespace: "meshapi-system", ClusterDomain: "cluster.local"}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		pair   KeyPair
		roots  *CA
		host   string
		usage  x509.ExtKeyUsage
		wantOK bool
	}{
		{"service", m.Server, ca, "meshapi-etcd.meshapi-system.svc", x509.ExtKeyUsageServerAuth, true},
		{"service fqdn", m.Server, ca, "meshapi-etcd.meshapi-system.svc.cluster.local", x509.ExtKeyUsageServerAuth, true},
		{"member", m.Server, ca, "meshapi-etcd-0.meshapi-etcd.meshapi-system.svc", x509.ExtKeyUsageServerAuth, true},
		{"member fqdn", m.Server, ca, "meshapi-etcd-2.meshapi-etcd.meshapi-system.svc.cluster.local", x509.ExtKeyUsageServerAuth, true},
		{"peer as client", m.Server, ca, "", x509.ExtKeyUsageClientAuth, true},
		{"another service", m.Server, ca, "kube-etcd.meshapi-system.svc", x509.ExtKeyUsageServerAuth, false},
		{"apiserver client", m.Client, ca, "", x509.ExtKeyUsageClientAuth, true},
		{"client cannot serve", m.Client, ca, "", x509.ExtKeyUsageServerAuth, false},
		{"other CA", m.Client, other, "", x509.ExtKeyUsageClientAuth, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := parseCert(tc.pair.CertPEM)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(tc.roots.Certificate())
			_, err = cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.host, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
			if (err == nil) != tc.wantOK {
				t.Fatalf("Verify(%s, %v) = %v, want ok=%v", tc.host, tc.usage, err, tc.wantOK)
			}
		})
	}
	if cn := mustParse(t, m.Client.CertPEM).Subject.CommonName; cn != ClientCommonName {
		t.Errorf("client certificate CN %q, want %q", cn, ClientCommonName)
	}
}

func TestIssueNeedsSite(t *testing.T) {
	for _, site := range []Site{{Service: "meshapi-etcd"}, {Namespace: "meshapi-system"}} {
		if _, err := Issue(mustCA(t, "ca"), site, now, 0); err == nil || !strings.Contains(err.Error(), "must both be set") {
			t.Errorf("Issue(%+v) = %v, want a refusal", site, err)
		}
	}
}

func mustParse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
