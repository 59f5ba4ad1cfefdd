package apiservicedirect

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
)

func apiService(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v3.projectcalico.org"},
		"spec":     spec,
	}}
}

func TestServiceOf(t *testing.T) {
	ca := base64.StdEncoding.EncodeToString([]byte("PEM"))
	svc := map[string]any{"namespace": "meshapi-system", "name": "meshapi-apiserver", "port": int64(8443)}
	for _, tc := range []struct {
		name    string
		spec    map[string]any
		want    Service
		notDir  bool
		wantErr string
	}{
		{name: "service and CA", spec: map[string]any{"service": svc, "caBundle": ca},
			want: Service{APIService: "v3.projectcalico.org", Namespace: "meshapi-system", Name: "meshapi-apiserver", Port: 8443, CABundle: []byte("PEM")}},
		{name: "port defaults to 443", spec: map[string]any{"service": map[string]any{"namespace": "ns", "name": "n"}, "caBundle": ca},
			want: Service{APIService: "v3.projectcalico.org", Namespace: "ns", Name: "n", Port: 443, CABundle: []byte("PEM")}},
		{name: "served by kube-apiserver", spec: map[string]any{"group": "projectcalico.org"}, notDir: true, wantErr: "no spec.service"},
		{name: "insecureSkipTLSVerify", spec: map[string]any{"service": svc, "insecureSkipTLSVerify": true}, notDir: true, wantErr: "insecureSkipTLSVerify"},
		{name: "no caBundle", spec: map[string]any{"service": svc}, notDir: true, wantErr: "no spec.caBundle"},
		{name: "caBundle not base64", spec: map[string]any{"service": svc, "caBundle": "%%%"}, wantErr: "spec.caBundle"},
		{name: "service without name", spec: map[string]any{"service": map[string]any{"namespace": "ns"}, "caBundle": ca}, wantErr: `has "ns"/""`},
		{name: "port out of range", spec: map[string]any{"service": map[string]any{"namespace": "ns", "name": "n", "port": int64(70000)}, "caBundle": ca}, wantErr: "port 70000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ServiceOf(apiService(tc.spec))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotDirect) != tc.notDir {
					t.Fatalf("errors.Is(%v, ErrNotDirect) = %t, want %t", err, !tc.notDir, tc.notDir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	service := func(typ corev1.ServiceType, clusterIP, externalName string, ports ...int32) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "n"},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, ExternalName: externalName}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p})
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		svc     *corev1.Service
		want    string
		wantErr string
	}{
		{name: "cluster IP", svc: service(corev1.ServiceTypeClusterIP, "198.18.0.10", "", 80, 443), want: "198.18.0.10:443"},
		{name: "cluster IP, IPv6", svc: service(corev1.ServiceTypeClusterIP, "fd00::10", "", 443), want: "[fd00::10]:443"},
		{name: "node port uses the cluster IP", svc: service(corev1.ServiceTypeNodePort, "198.18.0.10", "", 443), want: "198.18.0.10:443"},
		{name: "external name", svc: service(corev1.ServiceTypeExternalName, "", "localhost"), want: "localhost:443"},
		{name: "headless", svc: service(corev1.ServiceTypeClusterIP, "None", "", 443), wantErr: "no cluster IP"},
		{name: "port missing", svc: service(corev1.ServiceTypeClusterIP, "198.18.0.10", "", 80), wantErr: "no port 443"},
		{name: "external name empty", svc: service(corev1.ServiceTypeExternalName, "", ""), wantErr: "no spec.externalName"},
		{name: "unknown type", svc: service("Other", "198.18.0.10", "", 443), wantErr: `type "Other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Address(tc.svc, 443)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// tlsServer serves HTTPS with a certificate for name, signed by a CA of
// its own, and records each request's SNI and Authorization header.
type tlsServer struct {
	*httptest.Server
	ca []byte

	mu   sync.Mutex
	seen []string
}

func newTLSServer(t *testing.T, name string) *tlsServer {
	t.Helper()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The chain is the server's certificate, then its CA's.
	_, rest := pem.Decode(certPEM)
	s := &tlsServer{ca: rest}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.TLS.ServerName+" "+r.Header.Get("Authorization"))
		s.mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestConfig(t *testing.T) {
	const serverName = "meshapi-apiserver.meshapi-system.svc"
	server := newTLSServer(t, serverName)
	other := newTLSServer(t, serverName)
	addr := strings.TrimPrefix(server.URL, "https://")
	// base reaches kube-apiserver: another host and CA, which must not be
	// used, and the credentials, which must.
	base := &rest.Config{Host: "https://kube-apiserver.example:6443", BearerToken: "token-of-the-controller",
		TLSClientConfig: rest.TLSClientConfig{CAFile: "/nonexistent/ca.crt", ServerName: "kubernetes"}}
	for _, tc := range []struct {
		name     string
		ca       []byte
		resolve  Resolver
		wantErr  string
		wantSeen string
	}{
		{name: "resolved, verified, authenticated", ca: server.ca,
			resolve:  func(context.Context) (string, error) { return addr, nil },
			wantSeen: serverName + " Bearer token-of-the-controller"},
		{name: "another CA", ca: other.ca,
			resolve: func(context.Context) (string, error) { return addr, nil }, wantErr: "certificate signed by unknown authority"},
		{name: "resolution fails", ca: server.ca,
			resolve: func(context.Context) (string, error) {
				return "", errors.New("Service meshapi-system/meshapi-apiserver has no port 443")
			},
			wantErr: "has no port 443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server.mu.Lock()
			server.seen = nil
			server.mu.Unlock()
			s := Service{APIService: "v3.projectcalico.org", Namespace: "meshapi-system", Name: "meshapi-apiserver", Port: 443, CABundle: tc.ca}
			cfg := Config(base, s, tc.resolve)
			if base.Host != "https://kube-apiserver.example:6443" || base.CAFile == "" {
				t.Fatalf("Config changed its base: %+v", base)
			}
			client, err := rest.HTTPClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/apis/projectcalico.org/v3", nil)
			resp, err := client.Do(req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			server.mu.Lock()
			defer server.mu.Unlock()
			if len(server.seen) != 1 || server.seen[0] != tc.wantSeen {
				t.Fatalf("server saw %q, want [%q]", server.seen, tc.wantSeen)
			}
		})
	}
}

func TestWaitChanged(t *testing.T) {
	s := Service{APIService: "v3.projectcalico.org", Namespace: "ns", Name: "n", Port: 443, CABundle: []byte("A")}
	rotated := s
	rotated.CABundle = []byte("B")
	moved := s
	moved.Port = 8443
	unavailable := errors.New("connection refused")
	gone := fmt.Errorf("APIService v3.projectcalico.org does not exist: %w", ErrNotDirect)
	type answer struct {
		s   Service
		err error
	}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    Service
		wantErr error
	}{
		{name: "CA rotated after two reads", answers: []answer{{s: s}, {s: s}, {s: rotated}}, want: rotated},
		{name: "port changed, after kube-apiserver was unavailable", answers: []answer{{err: unavailable}, {err: unavailable}, {s: moved}}, want: moved},
		{name: "no longer direct", answers: []answer{{s: s}, {err: gone}}, wantErr: ErrNotDirect},
		{name: "unchanged until the context ends", answers: []answer{{s: s}}, wantErr: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			i := 0
			lookup := func(context.Context) (Service, error) {
				a := tc.answers[min(i, len(tc.answers)-1)]
				i++
				return a.s, a.err
			}
			got, err := waitChanged(ctx, lookup, s, time.Millisecond)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && !got.Equal(tc.want)) {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
