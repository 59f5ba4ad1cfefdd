// Package frontproxyauth authenticates the requests kube-apiserver's
// aggregator proxies to meshapi-apiserver without verifying the same
// front-proxy client certificate again on every request.
//
// An aggregated API server authenticates a proxied request by its
// front-proxy client certificate (the requestheader CA and allowed
// names from the extension-apiserver-authentication ConfigMap) and then
// takes the user from the X-Remote-* headers. The upstream authenticator
// (k8s.io/apiserver request/x509.Verifier) verifies the certificate chain
// on every request, although the aggregator presents the same
// certificate on every request of a long-lived connection; an ECDSA
// signature check per request was 6.5 % of meshapi-apiserver's CPU in the
// soak. Kubernetes discussed the same cache upstream
// (kubernetes/kubernetes#90533, #100902).
//
// A verification is a function of the certificate bytes, the roots, the
// key usage and the time, so Authenticator keeps successful ones: keyed
// by the SHA-256 of the presented chain, valid while the requestheader CA
// bundle is the same one (its CertPool, which the dynamic CA providers
// replace when the bundle changes) and the time is inside every
// certificate's validity. The allowed names are checked on every request.
// Failures are not kept: such a request goes to the full chain of
// authenticators unchanged, which verifies and reports as before.
package frontproxyauth

import (
	"crypto/sha256"
	"crypto/x509"
	"net/http"
	"slices"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
)

// maxEntries bounds the cache. Only chains that verified are kept, and a
// cluster has one or two front proxies; when it is full it is emptied.
const maxEntries = 64

// Authenticator authenticates front-proxy requests from its cache of
// verified chains and leaves every other request to next.
type Authenticator struct {
	config  *authenticatorfactory.RequestHeaderConfig
	headers authenticator.Request
	next    authenticator.Request
	now     func() time.Time
	// verify is x509.Certificate.Verify; tests count its calls.
	verify func(*x509.Certificate, x509.VerifyOptions) ([][]*x509.Certificate, error)

	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedChain
}

// verifiedChain is a chain that verified against roots, and when that
// answer holds.
type verifiedChain struct {
	roots               *x509.CertPool
	notBefore, notAfter time.Time
}

// New returns an authenticator that tries the front proxy of config
// first, from its cache, and otherwise next: the server's whole
// authenticator, whose own front-proxy step then verifies as before.
func New(next authenticator.Request, config *authenticatorfactory.RequestHeaderConfig) *Authenticator {
	return &Authenticator{
		config: config,
		headers: group.NewAuthenticatedGroupAdder(headerrequest.NewDynamic(
			config.UsernameHeaders, config.UIDHeaders, config.GroupHeaders, config.ExtraHeaderPrefixes)),
		next:     next,
		now:      time.Now,
		verify:   (*x509.Certificate).Verify,
		verified: map[[sha256.Size]byte]verifiedChain{},
	}
}

// AuthenticateRequest takes the user from the request's headers when the
// request came through a front proxy whose certificate verified and whose
// name is allowed; otherwise it asks next.
func (a *Authenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if !a.frontProxy(req) {
		return a.next.AuthenticateRequest(req)
	}
	resp, ok, err := a.headers.AuthenticateRequest(req)
	if ok || err != nil {
		return resp, ok, err
	}
	// A front proxy without a user header: the rest of the chain (a
	// client certificate or a token) decides, as upstream.
	return a.next.AuthenticateRequest(req)
}

// frontProxy reports whether req presents a front-proxy certificate
// chain that verifies against the requestheader CA, with an allowed name.
func (a *Authenticator) frontProxy(req *http.Request) bool {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return false
	}
	opts, ok := a.config.CAContentProvider.VerifyOptions()
	if !ok || !a.allowedName(req.TLS.PeerCertificates[0].Subject.CommonName) {
		return false
	}
	chain := req.TLS.PeerCertificates
	key := chainKey(chain)
	now := a.now()
	a.mu.Lock()
	v, hit := a.verified[key]
	a.mu.Unlock()
	if hit && v.roots == opts.Roots && !now.Before(v.notBefore) && !now.After(v.notAfter) {
		return true
	}
	if opts.Intermediates == nil && len(chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	opts.CurrentTime = now
	verifiedChains, err := a.verify(chain[0], opts)
	if err != nil || len(verifiedChains) == 0 {
		return false
	}
	// The answer holds while every certificate of the chain it found,
	// root included, is valid.
	v = verifiedChain{roots: opts.Roots, notBefore: chain[0].NotBefore, notAfter: chain[0].NotAfter}
	for _, c := range verifiedChains[0] {
		v.notBefore = laterOf(v.notBefore, c.NotBefore)
		v.notAfter = earlierOf(v.notAfter, c.NotAfter)
	}
	a.mu.Lock()
	if len(a.verified) >= maxEntries {
		clear(a.verified)
	}
	a.verified[key] = v
	a.mu.Unlock()
	return true
}

// allowedName reports whether cn may act as a front proxy: any name when
// the list is empty, as upstream.
func (a *Authenticator) allowedName(cn string) bool {
	names := a.config.AllowedClientNames.Value()
	return len(names) == 0 || slices.Contains(names, cn)
}

// chainKey identifies a presented chain by its bytes.
func chainKey(chain []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlierOf(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
