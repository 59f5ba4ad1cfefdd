package meshctl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/meshapi/meshapi/pkg/etcdpki"
)

// The Secrets install-certs writes, as artifacts/deploy mounts them.
const (
	// EtcdCASecret holds the CA (tls.crt, tls.key); no pod mounts it.
	EtcdCASecret = "meshapi-etcd-ca"
	// EtcdServerSecret holds etcd's serving certificate (tls.crt, tls.key)
	// and the CA (ca.crt); 20-etcd.yaml mounts it.
	EtcdServerSecret = "meshapi-etcd-server"
	// EtcdClientSecret holds meshapi-apiserver's client certificate
	// (tls.crt, tls.key) and the CA (ca.crt); 30-apiserver.yaml mounts it.
	EtcdClientSecret = "meshapi-etcd-client"
	// CertsAnnotation on a pod template names the certificates its pods
	// started with; install-certs changes it to roll the pods.
	CertsAnnotation = "meshapi.projectcalico.org/etcd-certificates"
	// caKey is the Secret key of the CA in the server and client Secrets.
	caKey = "ca.crt"
)

// CertsOptions are install-certs' flags.
type CertsOptions struct {
	// Namespace holds etcd, meshapi-apiserver and the Secrets.
	Namespace string
	// Service is etcd's headless Service and StatefulSet.
	Service string
	// APIServer is meshapi-apiserver's Deployment.
	APIServer string
	// ClusterDomain is the cluster's DNS domain.
	ClusterDomain string
	// Validity is the lifetime of the serving and client certificates.
	Validity time.Duration
	// NewCA replaces the CA too.
	NewCA bool
	// Restart rolls the pods that must load the new certificates.
	Restart bool
}

// DefaultCertsOptions are the names of artifacts/deploy.
func DefaultCertsOptions() CertsOptions {
	return CertsOptions{Namespace: "meshapi-system", Service: "meshapi-etcd", APIServer: "meshapi-apiserver",
		ClusterDomain: "cluster.local", Validity: etcdpki.DefaultValidity, Restart: true}
}

// CertsResult is what install-certs did, printed with -o yaml|json.
type CertsResult struct {
	// Context is the cluster.
	Context string `json:"context"`
	// CA is "created", "kept" or "replaced".
	CA string `json:"ca"`
	// CAExpires is when the CA expires.
	CAExpires time.Time `json:"caExpires"`
	// Expires is when the serving and client certificates expire.
	Expires time.Time `json:"expires"`
	// Secrets are the Secrets written, namespace/name.
	Secrets []string `json:"secrets"`
	// Restarted are the workloads rolled; Absent those not installed yet.
	Restarted []string `json:"restarted,omitempty"`
	// Absent are the workloads not found, which will start with the new
	// Secrets when applied.
	Absent []string `json:"absent,omitempty"`
}

func newInstallCertsCommand(o *options) *cobra.Command {
	co := DefaultCertsOptions()
	cmd := &cobra.Command{
		Use:   "install-certs",
		Short: "Create or rotate the certificates of meshapi's etcd (TLS, client certificate authentication)",
		Long: `install-certs makes the certificates that protect meshapi's etcd
(artifacts/deploy/20-etcd.yaml) in the cluster of --context:

  1. a CA of meshapi's etcd, in the Secret meshapi-etcd-ca, which no pod
     mounts; an existing one is kept unless --new-ca is given;
  2. etcd's serving (and peer) certificate for its Service's names, in the
     Secret meshapi-etcd-server, with the CA as ca.crt;
  3. meshapi-apiserver's client certificate, in meshapi-etcd-client.

etcd accepts any client certificate this CA signed, so the CA signs nothing
else. Run it after applying 00-namespace.yaml and before the rest of
artifacts/deploy. Re-running it rotates: new keys and certificates under
the same CA, then a rolling restart of meshapi-apiserver (etcd reloads its
serving certificate on each new connection). With --new-ca the CA is
replaced as well and etcd is restarted too, a short pause of the storage.`,
		Example: `  kubectl apply -f artifacts/deploy/00-namespace.yaml
  meshctl install-certs
  kubectl apply -f artifacts/deploy/
  meshctl install-certs --context cluster-a --new-ca`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, err := o.clusters()
			if err != nil {
				return err
			}
			if len(cs) != 1 {
				return fmt.Errorf("install-certs works on one cluster: give at most one --context, not %d", len(cs))
			}
			res, err := InstallCerts(cmd.Context(), cs[0].kube, co, time.Now())
			if err != nil {
				return fmt.Errorf("context %q: %w", cs[0].context, err)
			}
			res.Context = cs[0].context
			return printCertsResult(o, res)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&co.Namespace, "namespace", "n", co.Namespace, "Namespace of etcd, meshapi-apiserver and the Secrets.")
	f.StringVar(&co.Service, "service", co.Service, "etcd's headless Service (and StatefulSet); the serving certificate names it and its members.")
	f.StringVar(&co.APIServer, "apiserver-deployment", co.APIServer, "meshapi-apiserver's Deployment, restarted to load its new client certificate.")
	f.StringVar(&co.ClusterDomain, "cluster-domain", co.ClusterDomain, "The cluster's DNS domain, for the fully qualified Service names.")
	f.DurationVar(&co.Validity, "validity", co.Validity, "Lifetime of the serving and client certificates.")
	f.BoolVar(&co.NewCA, "new-ca", false, "Replace the CA as well (etcd restarts).")
	f.BoolVar(&co.Restart, "restart", true, "Roll the pods that must load the new certificates.")
	return cmd
}

func printCertsResult(o *options, res *CertsResult) error {
	if done, err := o.printStructured(res); done {
		return err
	}
	w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "CA\t%s (expires %s)\n", res.CA, res.CAExpires.UTC().Format(time.RFC3339))
	for _, s := range res.Secrets {
		fmt.Fprintf(w, "wrote\tSecret %s\n", s)
	}
	fmt.Fprintf(w, "expires\t%s (re-run install-certs before then)\n", res.Expires.UTC().Format(time.RFC3339))
	for _, r := range res.Restarted {
		fmt.Fprintf(w, "restarted\t%s\n", r)
	}
	for _, a := range res.Absent {
		fmt.Fprintf(w, "not installed yet\t%s (starts with the new certificates when applied)\n", a)
	}
	return w.Flush()
}

// InstallCerts creates or rotates the etcd certificates in kube as co says,
// valid from now, and rolls the workloads that must load them.
func InstallCerts(ctx context.Context, kube kubernetes.Interface, co CertsOptions, now time.Time) (*CertsResult, error) {
	ca, state, err := loadOrCreateCA(ctx, kube, co, now)
	if err != nil {
		return nil, err
	}
	m, err := etcdpki.Issue(ca, etcdpki.Site{Service: co.Service, Namespace: co.Namespace, ClusterDomain: co.ClusterDomain}, now, co.Validity)
	if err != nil {
		return nil, fmt.Errorf("%w (give --new-ca to replace the CA, or a shorter --validity)", err)
	}
	res := &CertsResult{CA: state, CAExpires: ca.Certificate().NotAfter, Expires: now.Add(co.Validity)}
	for _, s := range CertSecrets(co.Namespace, m) {
		if err := writeCertSecret(ctx, kube, s); err != nil {
			return nil, err
		}
		res.Secrets = append(res.Secrets, s.Namespace+"/"+s.Name)
	}
	if !co.Restart {
		return res, nil
	}
	stamp := certsStamp(m)
	targets := []workload{{kind: "Deployment", name: co.APIServer}}
	if state != "kept" {
		// etcd loads its trusted CA once, at start.
		targets = append(targets, workload{kind: "StatefulSet", name: co.Service})
	}
	for _, t := range targets {
		rolled, err := restart(ctx, kube, co.Namespace, t, stamp)
		if err != nil {
			return nil, err
		}
		if rolled {
			res.Restarted = append(res.Restarted, t.kind+" "+co.Namespace+"/"+t.name)
		} else {
			res.Absent = append(res.Absent, t.kind+" "+co.Namespace+"/"+t.name)
		}
	}
	return res, nil
}

// loadOrCreateCA returns the CA of the Secret, or a new one when there is
// none or co.NewCA, and whether it was "kept", "created" or "replaced".
func loadOrCreateCA(ctx context.Context, kube kubernetes.Interface, co CertsOptions, now time.Time) (*etcdpki.CA, string, error) {
	secret, err := kube.CoreV1().Secrets(co.Namespace).Get(ctx, EtcdCASecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		ca, err := etcdpki.NewCA(co.Service+"-ca", now, 0)
		return ca, "created", err
	case err != nil:
		return nil, "", fmt.Errorf("reading Secret %s/%s: %w", co.Namespace, EtcdCASecret, err)
	case co.NewCA:
		ca, err := etcdpki.NewCA(co.Service+"-ca", now, 0)
		return ca, "replaced", err
	}
	ca, err := etcdpki.LoadCA(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, "", fmt.Errorf("Secret %s/%s: %w (give --new-ca to replace it)", co.Namespace, EtcdCASecret, err)
	}
	return ca, "kept", nil
}

// CertSecrets are the three Secrets of m in namespace: the CA, etcd's
// serving certificate and meshapi-apiserver's client certificate.
func CertSecrets(namespace string, m etcdpki.Material) []*corev1.Secret {
	secret := func(name, role string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
				"app.kubernetes.io/part-of": "meshapi", "app.kubernetes.io/component": role,
			}},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
	}
	return []*corev1.Secret{
		secret(EtcdCASecret, "etcd-ca", map[string][]byte{corev1.TLSCertKey: m.CA.CertPEM, corev1.TLSPrivateKeyKey: m.CA.KeyPEM}),
		secret(EtcdServerSecret, "etcd-server", map[string][]byte{
			corev1.TLSCertKey: m.Server.CertPEM, corev1.TLSPrivateKeyKey: m.Server.KeyPEM, caKey: m.CA.CertPEM,
		}),
		secret(EtcdClientSecret, "etcd-client", map[string][]byte{
			corev1.TLSCertKey: m.Client.CertPEM, corev1.TLSPrivateKeyKey: m.Client.KeyPEM, caKey: m.CA.CertPEM,
		}),
	}
}

// writeCertSecret creates s or replaces the data, type and labels of the
// existing one.
func writeCertSecret(ctx context.Context, kube kubernetes.Interface, s *corev1.Secret) error {
	secrets := kube.CoreV1().Secrets(s.Namespace)
	old, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.Name, err)
	case old.Type != s.Type:
		return fmt.Errorf("Secret %s/%s has type %q, not %q: delete it and re-run install-certs", s.Namespace, s.Name, old.Type, s.Type)
	}
	old.Data = s.Data
	if old.Labels == nil {
		old.Labels = map[string]string{}
	}
	for k, v := range s.Labels {
		old.Labels[k] = v
	}
	if _, err := secrets.Update(ctx, old, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// certsStamp names the certificates of m, for the pod template annotation.
func certsStamp(m etcdpki.Material) string {
	h := sha256.New()
	for _, b := range [][]byte{m.CA.CertPEM, m.Server.CertPEM, m.Client.CertPEM} {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// workload is a Deployment or StatefulSet to roll.
type workload struct{ kind, name string }

// restart sets CertsAnnotation on w's pod template to stamp, which rolls
// its pods, and reports false when w does not exist.
func restart(ctx context.Context, kube kubernetes.Interface, namespace string, w workload, stamp string) (bool, error) {
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, CertsAnnotation, stamp)
	var err error
	switch w.kind {
	case "Deployment":
		_, err = kube.AppsV1().Deployments(namespace).Patch(ctx, w.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	case "StatefulSet":
		_, err = kube.AppsV1().StatefulSets(namespace).Patch(ctx, w.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	default:
		return false, fmt.Errorf("restarting %s %s/%s: not a Deployment or StatefulSet", w.kind, namespace, w.name)
	}
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restarting %s %s/%s: %w", w.kind, namespace, w.name, err)
	}
	return true, nil
}
