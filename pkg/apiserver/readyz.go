package apiserver

import (
	"fmt"
	"net/http"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
)

// caLoadedCheck is a readyz check that fails until a CA bundle has content.
// Delegated authentication reads the client CA and the front-proxy CA from
// kube-system/extension-apiserver-authentication after the server starts
// serving; until they arrive, requests the aggregator proxies would be
// treated as anonymous and refused. Holding readiness back until then keeps
// a (re)started server out of rotation instead of answering 403.
type caLoadedCheck struct {
	name     string
	provider dynamiccertificates.CAContentProvider
}

var _ healthz.HealthChecker = caLoadedCheck{}

// Name names the check in /readyz?verbose.
func (c caLoadedCheck) Name() string { return c.name }

// Check reports whether the CA bundle has been loaded.
func (c caLoadedCheck) Check(*http.Request) error {
	if len(c.provider.CurrentCABundleContent()) == 0 {
		return fmt.Errorf("%s not loaded yet", c.provider.Name())
	}
	return nil
}

// authenticationReadyChecks returns a check per CA bundle delegated
// authentication depends on.
func authenticationReadyChecks(c *Config) []healthz.HealthChecker {
	auth := c.GenericConfig.Authentication
	var checks []healthz.HealthChecker
	if s := c.GenericConfig.SecureServing; s != nil && s.ClientCA != nil {
		checks = append(checks, caLoadedCheck{name: "client-ca-loaded", provider: s.ClientCA})
	}
	if auth.RequestHeaderConfig != nil && auth.RequestHeaderConfig.CAContentProvider != nil {
		checks = append(checks, caLoadedCheck{name: "requestheader-client-ca-loaded", provider: auth.RequestHeaderConfig.CAContentProvider})
	}
	return checks
}
