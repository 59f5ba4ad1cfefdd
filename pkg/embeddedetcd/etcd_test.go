package embeddedetcd

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meshapi/meshapi/pkg/etcdpki"
)

// pki is the certificate material of one test, on disk.
type pki struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	// foreign is a client key pair signed by another CA.
	foreign etcdpki.KeyPair
	ca      *etcdpki.CA
	client  etcdpki.KeyPair
}

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	now := time.Now()
	ca, err := etcdpki.NewCA("embedded-etcd-test-ca", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := etcdpki.Issue(ca, etcdpki.Site{Service: "etcd", Namespace: "test", ExtraIPs: []net.IP{net.ParseIP("127.0.0.1")}}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := etcdpki.NewCA("other-ca", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(etcdpki.Request{CommonName: etcdpki.ClientCommonName, Client: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	p := pki{ca: ca, client: m.Client, foreign: foreign}
	for path, data := range map[*string][]byte{
		&p.caFile: ca.CertPEM, &p.serverCert: m.Server.CertPEM, &p.serverKey: m.Server.KeyPEM,
		&p.clientCert: m.Client.CertPEM, &p.clientKey: m.Client.KeyPEM,
	} {
		f, err := os.CreateTemp(dir, "pki-*.pem")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		*path = f.Name()
	}
	return p
}

// A TLS embedded etcd serves a client that presents a certificate of its
// CA, over etcd's own client as meshapi-apiserver uses it, and refuses
// every other client: none, another CA's, plain http.
func TestTLSRequiresClientCertificate(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	srv, err := StartWithOptions(t.Context(), Options{
		DataDir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "etcd.log"),
		TLS: &TLS{CertFile: p.serverCert, KeyFile: p.serverKey, TrustedCAFile: p.caFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if !strings.HasPrefix(srv.ClientURL, "https://127.0.0.1:") {
		t.Fatalf("ClientURL %q, want https on loopback", srv.ClientURL)
	}

	// Accepted: etcd's client with the client certificate writes and reads.
	cert, err := tls.X509KeyPair(p.client.CertPEM, p.client.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.ca.CertPEM)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{srv.ClientURL}, DialTimeout: 30 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(t.Context(), "/registry/probe", "with-cert"); err != nil {
		t.Fatalf("Put with a client certificate: %v", err)
	}
	got, err := cli.Get(t.Context(), "/registry/probe")
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "with-cert" {
		t.Fatalf("Get with a client certificate = %v, %v", got, err)
	}

	foreign, err := tls.X509KeyPair(p.foreign.CertPEM, p.foreign.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	httpURL := strings.Replace(srv.ClientURL, "https://", "http://", 1)
	for _, tc := range []struct {
		name   string
		url    string
		certs  []tls.Certificate
		wantOK bool
		// wantErr is part of the refusal, when it is stable.
		wantErr string
	}{
		{name: "own CA's client certificate", url: srv.ClientURL, certs: []tls.Certificate{cert}, wantOK: true},
		{name: "no client certificate", url: srv.ClientURL, wantErr: "certificate required"},
		{name: "another CA's client certificate", url: srv.ClientURL, certs: []tls.Certificate{foreign}, wantErr: "unknown certificate authority"},
		{name: "plain http", url: httpURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value, err := rangeOverGateway(t, tc.url, roots, tc.certs)
			if tc.wantOK {
				// The gateway returns values base64 encoded: d2l0aC1jZXJ0 is "with-cert".
				if err != nil || !strings.Contains(value, "d2l0aC1jZXJ0") {
					t.Fatalf("range with %s = %q, %v; want the value written", tc.name, value, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("range with %s = %q, %v; want a refused connection (%q)", tc.name, value, err, tc.wantErr)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// rangeOverGateway reads /registry/probe through etcd's JSON gateway on url
// with the given client certificates.
func rangeOverGateway(t *testing.T, url string, roots *x509.CertPool, certs []tls.Certificate) (string, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if len(certs) > 0 {
		// Present the certificate even when the server's list of acceptable
		// CAs does not name its issuer, as a hostile client would.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()
	// {"key": base64("/registry/probe")}
	body := bytes.NewBufferString(`{"key":"L3JlZ2lzdHJ5L3Byb2Jl"}`)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v3/kv/range", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), &statusError{code: resp.StatusCode}
	}
	return string(b), nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

func TestTLSOptionsChecked(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	for _, tc := range []struct {
		name string
		tls  TLS
		want string
	}{
		{"no trusted CA", TLS{CertFile: p.serverCert, KeyFile: p.serverKey}, "TrustedCAFile is empty"},
		{"no key", TLS{CertFile: p.serverCert, TrustedCAFile: p.caFile}, "KeyFile is empty"},
		{"missing certificate", TLS{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: p.serverKey, TrustedCAFile: p.caFile}, `CertFile "` + filepath.Join(dir, "nope.crt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StartWithOptions(t.Context(), Options{DataDir: filepath.Join(dir, "data-"+strings.ReplaceAll(tc.name, " ", "-")), TLS: &tc.tls})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("StartWithOptions = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestStartOnFreePortsRetriesTakenPorts: when a picked port is taken
// before etcd binds it, etcd is started again on new ports; an error
// other than a taken port, or a port taken on every attempt, is returned.
func TestStartOnFreePortsRetriesTakenPorts(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := &url.URL{Scheme: "http", Host: held.Addr().String()}
	for _, tc := range []struct {
		name string
		// takenPicks is how many picks return the held port first.
		takenPicks int
		wantErr    string
	}{
		{name: "client port taken once", takenPicks: 1},
		{name: "both ports taken once", takenPicks: 2},
		{name: "taken on every attempt", takenPicks: 2 * portAttempts, wantErr: "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			picks := 0
			pick := func() (*url.URL, error) {
				picks++
				if picks <= tc.takenPicks {
					u := *taken
					return &u, nil
				}
				return loopbackURL()
			}
			e, clientURL, err := startOnFreePorts(Options{DataDir: t.TempDir()}, pick)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), taken.Host) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, taken.Host, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			select {
			case <-e.Server.ReadyNotify():
			case <-time.After(30 * time.Second):
				t.Fatal("etcd not ready within 30s")
			}
			if clientURL.Host == taken.Host {
				t.Fatalf("etcd serves clients on the taken port %s", clientURL.Host)
			}
			resp, err := http.Get(clientURL.String() + "/health")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/health on %s: %s", clientURL, resp.Status)
			}
		})
	}
}
