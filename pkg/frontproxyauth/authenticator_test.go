package frontproxyauth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"github.com/meshapi/meshapi/pkg/etcdpki"
)

// proxyName is the front proxy's allowed common name.
const proxyName = "front-proxy-client"

// pki is a front-proxy CA, a second CA, and certificates from both.
type pki struct {
	ca, other                 *etcdpki.CA
	proxy, stranger, impostor *x509.Certificate
}

func newPKI(t testing.TB) pki {
	t.Helper()
	now := time.Now()
	ca, err := etcdpki.NewCA("front-proxy-ca", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := etcdpki.NewCA("other-ca", now, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pki{ca: ca, other: other,
		proxy:    issueClientCert(t, ca, proxyName, now),
		stranger: issueClientCert(t, ca, "not-the-proxy", now),
		impostor: issueClientCert(t, other, proxyName, now),
	}
}

// issueClientCert returns a client certificate for cn signed by ca.
func issueClientCert(t testing.TB, ca *etcdpki.CA, cn string, now time.Time) *x509.Certificate {
	t.Helper()
	kp, err := ca.Issue(etcdpki.Request{CommonName: cn, Client: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.CertPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// switchableCA is a requestheader CA bundle that an operator replaces.
type switchableCA struct {
	dynamiccertificates.CAContentProvider
	current atomic.Value // of dynamiccertificates.CAContentProvider
}

func (s *switchableCA) VerifyOptions() (x509.VerifyOptions, bool) {
	return s.current.Load().(dynamiccertificates.CAContentProvider).VerifyOptions()
}

func staticCA(t testing.TB, ca *etcdpki.CA) dynamiccertificates.CAContentProvider {
	t.Helper()
	c, err := dynamiccertificates.NewStaticCAContent("front-proxy-ca", ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request is one request to authenticate.
type request struct {
	cert *x509.Certificate // nil: no TLS
	user string            // X-Remote-User, "" for none
}

func (r request) http() *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "https://meshapi-apiserver/apis", nil)
	if r.user != "" {
		req.Header.Set("X-Remote-User", r.user)
		req.Header.Add("X-Remote-Group", "team-a")
		req.Header.Set("X-Remote-Extra-Scopes", "mesh")
	}
	if r.cert != nil {
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{r.cert}}
	}
	return req
}

// outcome is what an authenticator answered, comparable across two.
type outcome struct {
	User   string
	Groups []string
	Extra  map[string][]string
	OK     bool
	Err    string
}

func answer(a authenticator.Request, r request) outcome {
	resp, ok, err := a.AuthenticateRequest(r.http())
	o := outcome{OK: ok}
	if err != nil {
		o.Err = err.Error()
	}
	if resp != nil {
		o.User, o.Groups, o.Extra = resp.User.GetName(), resp.User.GetGroups(), resp.User.GetExtra()
	}
	return o
}

// TestAuthenticatorAnswersAsUpstream: for every request the cached
// authenticator answers what the upstream chain answers alone, and
// verifies a front-proxy chain once while the CA bundle stays the same.
func TestAuthenticatorAnswersAsUpstream(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name     string
		requests []request
		// rotate replaces the CA bundle with the other CA's after the
		// first request.
		rotate          bool
		wantVerifies    int
		wantFirstUser   string
		wantFirstCached bool
	}{
		{name: "front proxy, three requests", requests: []request{{p.proxy, "alice"}, {p.proxy, "bob"}, {p.proxy, "alice"}},
			wantVerifies: 1, wantFirstUser: "alice"},
		{name: "front proxy without a user header", requests: []request{{p.proxy, ""}, {p.proxy, ""}}, wantVerifies: 1},
		{name: "name not allowed", requests: []request{{p.stranger, "alice"}, {p.stranger, "alice"}}, wantVerifies: 0},
		{name: "certificate of another CA", requests: []request{{p.impostor, "alice"}, {p.impostor, "alice"}}, wantVerifies: 2},
		{name: "no client certificate", requests: []request{{nil, "alice"}}, wantVerifies: 0},
		{name: "CA bundle replaced", rotate: true, requests: []request{{p.proxy, "alice"}, {p.proxy, "alice"}, {p.proxy, "alice"}},
			wantVerifies: 3, wantFirstUser: "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := &switchableCA{CAContentProvider: staticCA(t, p.ca)}
			ca.current.Store(staticCA(t, p.ca))
			config := &authenticatorfactory.RequestHeaderConfig{
				UsernameHeaders:     headerrequest.StaticStringSlice{"X-Remote-User"},
				UIDHeaders:          headerrequest.StaticStringSlice{"X-Remote-Uid"},
				GroupHeaders:        headerrequest.StaticStringSlice{"X-Remote-Group"},
				ExtraHeaderPrefixes: headerrequest.StaticStringSlice{"X-Remote-Extra-"},
				CAContentProvider:   ca,
				AllowedClientNames:  headerrequest.StaticStringSlice{proxyName},
			}
			upstream, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
				Anonymous:           &apiserver.AnonymousAuthConfig{Enabled: true},
				RequestHeaderConfig: config,
			}.New()
			if err != nil {
				t.Fatal(err)
			}
			a := New(upstream, config)
			verifies := 0
			a.verify = func(c *x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
				verifies++
				return c.Verify(opts)
			}
			for i, r := range tc.requests {
				if tc.rotate && i == 1 {
					ca.current.Store(staticCA(t, p.other))
				}
				got, want := answer(a, r), answer(upstream, r)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("request %d: got %+v, upstream answers %+v", i, got, want)
				}
				if i == 0 && got.User != tc.wantFirstUser && tc.wantFirstUser != "" {
					t.Errorf("request 0: user %q, want %q", got.User, tc.wantFirstUser)
				}
			}
			if verifies != tc.wantVerifies {
				t.Errorf("%d verifications, want %d", verifies, tc.wantVerifies)
			}
		})
	}
}

// TestAuthenticatorVerifiesAgainOutsideValidity: a cached chain is
// verified again once the time is outside its validity, and then fails.
func TestAuthenticatorVerifiesAgainOutsideValidity(t *testing.T) {
	p := newPKI(t)
	ca := staticCA(t, p.ca)
	config := &authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders: headerrequest.StaticStringSlice{"X-Remote-User"}, UIDHeaders: headerrequest.StaticStringSlice{},
		GroupHeaders: headerrequest.StaticStringSlice{}, ExtraHeaderPrefixes: headerrequest.StaticStringSlice{},
		CAContentProvider: ca, AllowedClientNames: headerrequest.StaticStringSlice{},
	}
	// The rest of the chain: upstream's client-certificate authenticator,
	// trusting only the other CA, so it refuses the proxy's certificate
	// and the answer is the cache's alone.
	rest, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		ClientCertificateCAContentProvider: staticCA(t, p.other),
	}.New()
	if err != nil {
		t.Fatal(err)
	}
	a := New(rest, config)
	verifies := 0
	a.verify = func(c *x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
		verifies++
		return c.Verify(opts)
	}
	now := time.Now()
	for _, step := range []struct {
		at           time.Time
		wantUser     string
		wantVerifies int
	}{
		{at: now, wantUser: "alice", wantVerifies: 1},
		{at: now.Add(time.Hour), wantUser: "alice", wantVerifies: 1},
		{at: p.proxy.NotAfter.Add(time.Second), wantUser: "", wantVerifies: 2},
		{at: p.proxy.NotBefore.Add(-time.Hour), wantUser: "", wantVerifies: 3},
	} {
		a.now = func() time.Time { return step.at }
		got := answer(a, request{p.proxy, "alice"})
		if got.User != step.wantUser || verifies != step.wantVerifies {
			t.Errorf("at %s: user %q (%s), %d verifications; want %q, %d", step.at.Format(time.RFC3339), got.User, got.Err, verifies, step.wantUser, step.wantVerifies)
		}
	}
}

// BenchmarkAuthenticateRequest compares a front-proxied request's
// authentication by the upstream chain and by Authenticator.
func BenchmarkAuthenticateRequest(b *testing.B) {
	p := newPKI(b)
	cert, static := p.proxy, staticCA(b, p.ca)
	config := &authenticatorfactory.RequestHeaderConfig{
		UsernameHeaders: headerrequest.StaticStringSlice{"X-Remote-User"}, UIDHeaders: headerrequest.StaticStringSlice{"X-Remote-Uid"},
		GroupHeaders: headerrequest.StaticStringSlice{"X-Remote-Group"}, ExtraHeaderPrefixes: headerrequest.StaticStringSlice{"X-Remote-Extra-"},
		CAContentProvider: static, AllowedClientNames: headerrequest.StaticStringSlice{proxyName},
	}
	upstream, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous: &apiserver.AnonymousAuthConfig{Enabled: true}, RequestHeaderConfig: config,
	}.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		a    authenticator.Request
	}{{"upstream", upstream}, {"cached", New(upstream, config)}} {
		b.Run(bc.name, func(b *testing.B) {
			r := request{cert, "system:serviceaccount:calico-system:calico-typha"}
			for b.Loop() {
				if _, ok, err := bc.a.AuthenticateRequest(r.http()); !ok || err != nil {
					b.Fatalf("not authenticated: %v", err)
				}
			}
		})
	}
}
