package remoteaccess

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// Keys of an access Secret, as the original product documents them.
const (
	KeyDatastoreType = "datastoreType"
	KeyKubeconfig    = "kubeconfig"
	KeyEtcdEndpoints = "etcdEndpoints"
	KeyEtcdUsername  = "etcdUsername"
	KeyEtcdPassword  = "etcdPassword"
	KeyEtcdCert      = "etcdCert"
	KeyEtcdKey       = "etcdKey"
	KeyEtcdCACert    = "etcdCACert"
	// KeyEtcdPrefix is meshapi's addition: the remote meshapi-apiserver's
	// --etcd-prefix, when not the default.
	KeyEtcdPrefix = "etcdPrefix"
)

// Access is how to reach a remote cluster, read from its access Secret.
type Access struct {
	// DatastoreType is kubernetes or etcdv3.
	DatastoreType v3.DatastoreType
	// Kubernetes is the client configuration for a kubernetes datastore.
	Kubernetes *rest.Config
	// Etcd is the connection for an etcdv3 datastore.
	Etcd *EtcdAccess
}

// EtcdAccess is an etcd v3 connection.
type EtcdAccess struct {
	// Endpoints are the etcd URLs.
	Endpoints []string
	// Username and Password authenticate, when set.
	Username, Password string
	// CertPEM, KeyPEM and CACertPEM configure TLS, when set.
	CertPEM, KeyPEM, CACertPEM []byte
	// Prefix is the remote meshapi-apiserver's etcd prefix; empty means
	// its default, /registry/projectcalico.org.
	Prefix string
}

// ConfigError is a problem with the configuration of a remote cluster (its
// RemoteClusterConfiguration or access Secret) that no retry can fix; the
// status says ConfigIncomplete until the user changes it.
type ConfigError struct {
	// Reason is a CamelCase reason for conditions, e.g. "SecretKeyMissing".
	Reason string
	// Message says what is wrong and how to fix it.
	Message string
}

func (e *ConfigError) Error() string { return e.Message }

// ConfigErrorf returns a *ConfigError with reason and a formatted message.
func ConfigErrorf(reason, format string, args ...any) error {
	return &ConfigError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// IsConfigError reports whether err is (or wraps) a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// ParseAccessSecret reads the connection data of a remote cluster from its
// access Secret. Every problem is a *ConfigError naming the Secret and the
// key.
func ParseAccessSecret(secret *corev1.Secret) (*Access, error) {
	where := fmt.Sprintf("Secret %s/%s", secret.Namespace, secret.Name)
	get := func(key string) string { return strings.TrimSpace(string(secret.Data[key])) }
	dt := v3.DatastoreType(get(KeyDatastoreType))
	switch dt {
	case "":
		return nil, ConfigErrorf("SecretKeyMissing", "%s has no %q key: set it to %q or %q", where, KeyDatastoreType, v3.DatastoreTypeKubernetes, v3.DatastoreTypeEtcdV3)
	case v3.DatastoreTypeKubernetes:
		raw := secret.Data[KeyKubeconfig]
		if len(raw) == 0 {
			return nil, ConfigErrorf("SecretKeyMissing", "%s has no %q key: it must hold the remote cluster's kubeconfig (kubectl create secret generic ... --from-file=kubeconfig=<file>)", where, KeyKubeconfig)
		}
		cfg, err := kubeconfigToRESTConfig(raw)
		if err != nil {
			return nil, ConfigErrorf("KubeconfigInvalid", "%s key %q: %v", where, KeyKubeconfig, err)
		}
		return &Access{DatastoreType: dt, Kubernetes: cfg}, nil
	case v3.DatastoreTypeEtcdV3:
		endpoints := splitList(get(KeyEtcdEndpoints))
		if len(endpoints) == 0 {
			return nil, ConfigErrorf("SecretKeyMissing", "%s has no %q key: datastoreType %q needs a comma-separated list of etcd URLs", where, KeyEtcdEndpoints, dt)
		}
		e := &EtcdAccess{
			Endpoints: endpoints, Username: get(KeyEtcdUsername), Password: get(KeyEtcdPassword),
			CertPEM: secret.Data[KeyEtcdCert], KeyPEM: secret.Data[KeyEtcdKey], CACertPEM: secret.Data[KeyEtcdCACert],
			Prefix: get(KeyEtcdPrefix),
		}
		if err := CheckEtcdAccess(where, e); err != nil {
			return nil, err
		}
		return &Access{DatastoreType: dt, Etcd: e}, nil
	default:
		return nil, ConfigErrorf("DatastoreTypeUnsupported", "%s key %q is %q: must be %q or %q", where, KeyDatastoreType, dt, v3.DatastoreTypeKubernetes, v3.DatastoreTypeEtcdV3)
	}
}

// CheckEtcdAccess refuses an etcd connection that is not TLS with a CA:
// plain http:// endpoints, no etcdCACert, half a client certificate.
func CheckEtcdAccess(where string, e *EtcdAccess) error {
	for _, ep := range e.Endpoints {
		if u, err := url.Parse(ep); err != nil || u.Scheme != "https" || u.Host == "" {
			return ConfigErrorf("EtcdEndpointInsecure", "%s key %q: endpoint %q is not an https:// URL: etcd is reached over TLS only (the password and every object would travel in clear); use https:// and put the etcd CA in %q",
				where, KeyEtcdEndpoints, ep, KeyEtcdCACert)
		}
	}
	if len(e.CACertPEM) == 0 {
		return ConfigErrorf("SecretKeyMissing", "%s has no %q key: etcd is reached over TLS only and the controller verifies it against this CA (PEM)", where, KeyEtcdCACert)
	}
	if (len(e.CertPEM) == 0) != (len(e.KeyPEM) == 0) {
		return ConfigErrorf("SecretKeyMissing", "%s: %q and %q go together; only one is set", where, KeyEtcdCert, KeyEtcdKey)
	}
	return nil
}

// kubeconfigToRESTConfig parses a kubeconfig and returns the client
// configuration of its current context, refusing what a controller cannot
// use or must not trust: no current context, exec or auth provider plugins
// (they run commands on the controller's host), credentials that point at
// files of the machine the kubeconfig was made on, insecure-skip-tls-verify
// (anyone on the path could read the credentials) and proxy-url (it would
// send them through a third party), and servers that are not https://.
func kubeconfigToRESTConfig(raw []byte) (*rest.Config, error) {
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("not a kubeconfig: %w", err)
	}
	if cfg.CurrentContext == "" {
		return nil, fmt.Errorf("no current-context")
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("current-context %q is not among its contexts", cfg.CurrentContext)
	}
	cluster, ok := cfg.Clusters[ctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which it does not define", cfg.CurrentContext, ctx.Cluster)
	}
	if cluster.Server == "" {
		return nil, fmt.Errorf("cluster %q has no server", ctx.Cluster)
	}
	if err := checkCluster(ctx.Cluster, cluster); err != nil {
		return nil, err
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok && ctx.AuthInfo != "" {
		return nil, fmt.Errorf("context %q names user %q, which it does not define", cfg.CurrentContext, ctx.AuthInfo)
	}
	if ok {
		if err := checkUser(ctx.AuthInfo, user); err != nil {
			return nil, err
		}
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// checkCluster refuses a kubeconfig cluster entry that reads files or
// weakens TLS.
func checkCluster(name string, c *clientcmdapi.Cluster) error {
	switch {
	case c.CertificateAuthority != "":
		return fmt.Errorf("cluster %q refers to the file %q: embed it as certificate-authority-data", name, c.CertificateAuthority)
	case c.InsecureSkipTLSVerify:
		return fmt.Errorf("cluster %q sets insecure-skip-tls-verify, so anyone on the path could read the credentials: remove it and embed the remote API server's CA as certificate-authority-data", name)
	case c.ProxyURL != "":
		return fmt.Errorf("cluster %q sets proxy-url %q, which would pass the credentials through a third party: remove it; the controller connects to the server directly", name, c.ProxyURL)
	}
	if u, err := url.Parse(c.Server); err != nil || u.Scheme != "https" {
		return fmt.Errorf("cluster %q has server %q, which is not an https:// URL: the credentials would travel in clear", name, c.Server)
	}
	return nil
}

// checkUser refuses a kubeconfig user entry that runs commands or reads
// files on the controller's host.
func checkUser(name string, u *clientcmdapi.AuthInfo) error {
	switch {
	case u.Exec != nil || u.AuthProvider != nil:
		return fmt.Errorf("user %q uses an exec or auth-provider plugin: use a token or a client certificate", name)
	case u.TokenFile != "" || u.ClientCertificate != "" || u.ClientKey != "":
		return fmt.Errorf("user %q refers to files: embed the token or client-certificate-data/client-key-data", name)
	case u.Impersonate != "" || len(u.ImpersonateGroups) > 0 || u.ImpersonateUID != "":
		return fmt.Errorf("user %q impersonates another identity: use the remote identity's own token", name)
	}
	return nil
}

// KubeconfigFileToRESTConfig reads the kubeconfig file of spec.kubeconfig
// (a file on the controller's host) and applies the checks of the access
// Secret's kubeconfig.
func KubeconfigFileToRESTConfig(path string) (*rest.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig file: %w", err)
	}
	return kubeconfigToRESTConfig(raw)
}

// EndpointToRESTConfig builds the client configuration of an inline
// k8sAPIEndpoint: https:// only, a bearer token and a CA file at most. The
// client certificate and key files and k8sInsecureSkipTLSVerify are not
// honoured (validation refuses them; objects stored before it did are
// refused here).
func EndpointToRESTConfig(s *v3.KubeConfig) (*rest.Config, error) {
	switch {
	case s.K8sCertFile != "" || s.K8sKeyFile != "":
		return nil, fmt.Errorf("spec.k8sCertFile and spec.k8sKeyFile are not honoured: put a kubeconfig with client-certificate-data and client-key-data in the access Secret")
	case s.K8sInsecureSkipTLSVerify:
		return nil, fmt.Errorf("spec.k8sInsecureSkipTLSVerify is not honoured: give the remote API server's CA instead")
	}
	if u, err := url.Parse(s.K8sAPIEndpoint); err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("spec.k8sAPIEndpoint %q is not an https:// URL: the token would travel in clear", s.K8sAPIEndpoint)
	}
	return &rest.Config{Host: s.K8sAPIEndpoint, BearerToken: s.K8sAPIToken, TLSClientConfig: rest.TLSClientConfig{CAFile: s.K8sCAFile}}, nil
}

// splitList splits a comma-separated list, dropping empty elements.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Fingerprint identifies what an Access was read from: the RCC's
// generation and, with an access Secret, the Secret's UID and
// resourceVersion. Whatever reads the Access again must reconnect when
// it changes.
type Fingerprint struct {
	// Generation is the RCC's metadata.generation.
	Generation int64
	// SecretUID is the access Secret's UID, empty without a Secret.
	SecretUID types.UID
	// SecretResourceVersion is the access Secret's resourceVersion,
	// empty without a Secret.
	SecretResourceVersion string
}

// ReadAccess reads how to reach the remote cluster of rcc: its access
// Secret through kube, or its inline fields. The fingerprint is also
// returned with a *ConfigError when the Secret was read but refused.
// Configuration problems are *ConfigError.
func ReadAccess(ctx context.Context, kube kubernetes.Interface, rcc *v3.RemoteClusterConfiguration) (*Access, Fingerprint, error) {
	fingerprint := Fingerprint{Generation: rcc.Generation}
	ref := rcc.Spec.ClusterAccessSecret
	if ref == nil {
		cfg, err := inlineConfig(rcc)
		return &Access{DatastoreType: v3.DatastoreTypeKubernetes, Kubernetes: cfg}, fingerprint, err
	}
	secret, err := kube.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fingerprint, ConfigErrorf("SecretMissing", "Secret %s/%s named by spec.clusterAccessSecret does not exist", ref.Namespace, ref.Name)
	case apierrors.IsForbidden(err):
		return nil, fingerprint, ConfigErrorf("SecretForbidden", "the controller may not read Secret %s/%s: create the Role and RoleBinding that grant it get, list and watch on secrets there: %v", ref.Namespace, ref.Name, err)
	case err != nil:
		return nil, fingerprint, fmt.Errorf("reading Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	fingerprint.SecretUID, fingerprint.SecretResourceVersion = secret.UID, secret.ResourceVersion
	access, err := ParseAccessSecret(secret)
	return access, fingerprint, err
}

// inlineConfig builds a client configuration from the inline connection
// fields of an RCC (files are on the controller's host).
func inlineConfig(rcc *v3.RemoteClusterConfiguration) (*rest.Config, error) {
	s := rcc.Spec
	switch {
	case s.DatastoreType == v3.DatastoreTypeEtcdV3:
		return nil, ConfigErrorf("DatastoreTypeUnsupported", "inline datastoreType %q: put the etcd connection in an access Secret (spec.clusterAccessSecret)", s.DatastoreType)
	case s.KubeconfigInline != "":
		cfg, err := kubeconfigToRESTConfig([]byte(s.KubeconfigInline))
		if err != nil {
			return nil, ConfigErrorf("KubeconfigInvalid", "spec.kubeconfigInline: %v", err)
		}
		return cfg, nil
	case s.Kubeconfig != "":
		cfg, err := KubeconfigFileToRESTConfig(s.Kubeconfig)
		if err != nil {
			return nil, ConfigErrorf("KubeconfigInvalid", "spec.kubeconfig %q: %v", s.Kubeconfig, err)
		}
		return cfg, nil
	case s.K8sAPIEndpoint != "":
		cfg, err := EndpointToRESTConfig(&s.KubeConfig)
		if err != nil {
			return nil, ConfigErrorf("ConnectionInsecure", "%v", err)
		}
		return cfg, nil
	}
	return nil, ConfigErrorf("ConnectionMissing", "set spec.clusterAccessSecret, or an inline kubeconfig or k8sAPIEndpoint")
}

// Client builds the client of a remote cluster with a kubernetes
// datastore.
func (access *Access) Client() (versioned.Interface, error) {
	if access.DatastoreType != v3.DatastoreTypeKubernetes {
		return nil, ConfigErrorf("DatastoreTypeUnsupported", "datastoreType %q has no Kubernetes API client: it is read from etcd by the syncer only", access.DatastoreType)
	}
	return versioned.NewForConfig(access.RESTConfig())
}

// RESTConfig is the client configuration for a remote cluster with a
// kubernetes datastore: meshapi-controller's user agent and rate limits,
// and requests made WithoutCompression asking for no compression.
func (access *Access) RESTConfig() *rest.Config {
	cfg := rest.CopyConfig(access.Kubernetes)
	cfg.UserAgent = "meshapi-controller/remote-sync"
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return compressionChooser{next: rt} })
	return cfg
}
