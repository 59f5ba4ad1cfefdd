package remotecluster

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
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
	// DefaultEtcdPrefix.
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

// configErrorf returns a *ConfigError.
func configErrorf(reason, format string, args ...any) error {
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
		return nil, configErrorf("SecretKeyMissing", "%s has no %q key: set it to %q or %q", where, KeyDatastoreType, v3.DatastoreTypeKubernetes, v3.DatastoreTypeEtcdV3)
	case v3.DatastoreTypeKubernetes:
		raw := secret.Data[KeyKubeconfig]
		if len(raw) == 0 {
			return nil, configErrorf("SecretKeyMissing", "%s has no %q key: it must hold the remote cluster's kubeconfig (kubectl create secret generic ... --from-file=kubeconfig=<file>)", where, KeyKubeconfig)
		}
		cfg, err := kubeconfigToRESTConfig(raw)
		if err != nil {
			return nil, configErrorf("KubeconfigInvalid", "%s key %q: %v", where, KeyKubeconfig, err)
		}
		return &Access{DatastoreType: dt, Kubernetes: cfg}, nil
	case v3.DatastoreTypeEtcdV3:
		endpoints := splitList(get(KeyEtcdEndpoints))
		if len(endpoints) == 0 {
			return nil, configErrorf("SecretKeyMissing", "%s has no %q key: datastoreType %q needs a comma-separated list of etcd URLs", where, KeyEtcdEndpoints, dt)
		}
		e := &EtcdAccess{
			Endpoints: endpoints, Username: get(KeyEtcdUsername), Password: get(KeyEtcdPassword),
			CertPEM: secret.Data[KeyEtcdCert], KeyPEM: secret.Data[KeyEtcdKey], CACertPEM: secret.Data[KeyEtcdCACert],
			Prefix: get(KeyEtcdPrefix),
		}
		if (len(e.CertPEM) == 0) != (len(e.KeyPEM) == 0) {
			return nil, configErrorf("SecretKeyMissing", "%s: %q and %q go together; only one is set", where, KeyEtcdCert, KeyEtcdKey)
		}
		return &Access{DatastoreType: dt, Etcd: e}, nil
	default:
		return nil, configErrorf("DatastoreTypeUnsupported", "%s key %q is %q: must be %q or %q", where, KeyDatastoreType, dt, v3.DatastoreTypeKubernetes, v3.DatastoreTypeEtcdV3)
	}
}

// kubeconfigToRESTConfig parses a kubeconfig and returns the client
// configuration of its current context, refusing what a controller cannot
// use: no current context, exec or auth provider plugins (they run commands on the controller's host), and
// credentials that point at files of the machine the kubeconfig was made on.
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
	if cluster.CertificateAuthority != "" {
		return nil, fmt.Errorf("cluster %q refers to the file %q: embed it as certificate-authority-data", ctx.Cluster, cluster.CertificateAuthority)
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok && ctx.AuthInfo != "" {
		return nil, fmt.Errorf("context %q names user %q, which it does not define", cfg.CurrentContext, ctx.AuthInfo)
	}
	if ok {
		switch {
		case user.Exec != nil || user.AuthProvider != nil:
			return nil, fmt.Errorf("user %q uses an exec or auth-provider plugin: use a token or a client certificate", ctx.AuthInfo)
		case user.TokenFile != "" || user.ClientCertificate != "" || user.ClientKey != "":
			return nil, fmt.Errorf("user %q refers to files: embed the token or client-certificate-data/client-key-data", ctx.AuthInfo)
		}
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	return rc, nil
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
