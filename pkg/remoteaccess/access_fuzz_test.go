package remoteaccess

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// fuzzPassword is the etcd password of every fuzzed Secret; no error may
// repeat it.
const fuzzPassword = "fuzz-etcd-password-8c1f"

// FuzzParseAccessSecret parses access Secrets built from fuzzed keys: it
// must not panic; every error is a *ConfigError with a reason whose
// message names the Secret and one of its keys and never the password;
// an accepted Secret yields a connection over https:// only.
func FuzzParseAccessSecret(f *testing.F) {
	caPEM, keyPEM := testCA(f)
	good := writeKubeconfig(f, testKubeconfig(caPEM))
	f.Add("kubernetes", good, "", []byte(nil), []byte(nil), []byte(nil))
	f.Add("kubernetes", []byte("{{{ not yaml"), "", []byte(nil), []byte(nil), []byte(nil))
	f.Add("kubernetes", []byte("apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'http://198.18.0.1'}}]\nusers: [{name: u, user: {exec: {command: sh}}}]\n"), "", []byte(nil), []byte(nil), []byte(nil))
	f.Add("etcdv3", []byte(nil), "https://198.18.0.1:2379, https://198.18.0.2:2379", caPEM, caPEM, keyPEM)
	f.Add("etcdv3", []byte(nil), "http://198.18.0.1:2379", caPEM, []byte(nil), []byte(nil))
	f.Add("etcdv3", []byte(nil), "https://[::1", []byte(nil), caPEM, []byte(nil))
	f.Add("", []byte(nil), "", []byte(nil), []byte(nil), []byte(nil))
	f.Add("etcdv2", []byte(nil), "", []byte(nil), []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, datastoreType string, kubeconfig []byte, endpoints string, ca, cert, key []byte) {
		s := accessSecret(map[string]string{
			KeyDatastoreType: datastoreType, KeyKubeconfig: string(kubeconfig), KeyEtcdEndpoints: endpoints,
			KeyEtcdCACert: string(ca), KeyEtcdCert: string(cert), KeyEtcdKey: string(key),
			KeyEtcdUsername: "fuzz", KeyEtcdPassword: fuzzPassword,
		})
		access, err := ParseAccessSecret(s)
		if err != nil {
			checkAccessError(t, err)
			return
		}
		if err := checkAccess(access); err != nil {
			t.Fatalf("accepted Secret (datastoreType %q): %v", datastoreType, err)
		}
	})
}

// checkAccessError asserts the shape of an error of ParseAccessSecret.
func checkAccessError(t *testing.T, err error) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %q (%T) is not a *ConfigError", err, err)
	}
	msg := err.Error()
	switch {
	case ce.Reason == "":
		t.Fatalf("error %q has no reason", msg)
	case !strings.Contains(msg, "Secret calico-system/remote-cluster-b"):
		t.Fatalf("error %q does not name the Secret", msg)
	case strings.Contains(msg, fuzzPassword):
		t.Fatalf("error %q repeats the etcd password", msg)
	}
	// The keys an error may name.
	for _, k := range []string{
		KeyDatastoreType, KeyKubeconfig, KeyEtcdEndpoints, KeyEtcdUsername, KeyEtcdPassword,
		KeyEtcdCert, KeyEtcdKey, KeyEtcdCACert, KeyEtcdPrefix,
	} {
		if strings.Contains(msg, fmt.Sprintf("%q", k)) {
			return
		}
	}
	t.Fatalf("error %q names none of the Secret's keys", msg)
}

// checkAccess reports what is wrong with an accepted connection: it must
// be of its datastore type and over https:// only.
func checkAccess(a *Access) error {
	switch a.DatastoreType {
	case v3.DatastoreTypeKubernetes:
		if a.Kubernetes == nil || a.Etcd != nil {
			return fmt.Errorf("kubernetes access without (only) a client configuration: %+v", a)
		}
		if u, err := url.Parse(a.Kubernetes.Host); err != nil || u.Scheme != "https" {
			return fmt.Errorf("kubernetes host %q is not https://", a.Kubernetes.Host)
		}
	case v3.DatastoreTypeEtcdV3:
		if a.Etcd == nil || a.Kubernetes != nil || len(a.Etcd.Endpoints) == 0 || len(a.Etcd.CACertPEM) == 0 {
			return fmt.Errorf("etcdv3 access without endpoints and a CA: %+v", a)
		}
		for _, ep := range a.Etcd.Endpoints {
			if u, err := url.Parse(ep); err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("etcd endpoint %q is not https://", ep)
			}
		}
		if (len(a.Etcd.CertPEM) == 0) != (len(a.Etcd.KeyPEM) == 0) {
			return fmt.Errorf("etcd access with half a client certificate")
		}
	default:
		return fmt.Errorf("datastore type %q", a.DatastoreType)
	}
	return nil
}

// FuzzEndpointToRESTConfig checks the inline kubernetes connection of a
// RemoteClusterConfiguration: no panic, every error names the spec field,
// and an accepted one is https://.
func FuzzEndpointToRESTConfig(f *testing.F) {
	f.Add("https://198.18.0.1:6443", "token", "", "", "", false)
	f.Add("http://198.18.0.1:6443", "", "/ca.pem", "", "", false)
	f.Add("https://198.18.0.1:6443", "", "", "/cert", "/key", true)
	f.Add("%zz", "", "", "", "", false)
	f.Fuzz(func(t *testing.T, endpoint, token, caFile, certFile, keyFile string, insecure bool) {
		kc := &v3.KubeConfig{
			K8sAPIEndpoint: endpoint, K8sAPIToken: token, K8sCAFile: caFile,
			K8sCertFile: certFile, K8sKeyFile: keyFile, K8sInsecureSkipTLSVerify: insecure,
		}
		rc, err := EndpointToRESTConfig(kc)
		if err != nil {
			if !strings.Contains(err.Error(), "spec.k8s") {
				t.Fatalf("error %q names no spec field", err)
			}
			return
		}
		if u, perr := url.Parse(rc.Host); perr != nil || u.Scheme != "https" {
			t.Fatalf("accepted endpoint %q: host %q is not https://", endpoint, rc.Host)
		}
	})
}
