package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshapi/meshapi/pkg/embeddedetcd"
	"github.com/meshapi/meshapi/pkg/meshctl"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// meshctl install-certs, the README's install step, against a real
// cluster: it writes the Secrets artifacts/deploy mounts; an etcd serving
// the server Secret with client certificate authentication accepts the
// client Secret for the Service's name; re-running renews the certificates
// under the same CA and rolls only meshapi-apiserver; --new-ca replaces
// the CA and rolls etcd too.
func TestInstallCerts(t *testing.T) {
	c := clusters[1]
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	// etcd's StatefulSet exists (no controller runs its pods here); the
	// Deployment is not applied, since its Service would replace the one
	// that routes the aggregator to this cluster's meshapi-apiserver.
	etcdManifest := filepath.Join(framework.ArtifactsDir(), "deploy", "20-etcd.yaml")
	kubectl(t, c, "", "apply", "-f", etcdManifest)
	defer kubectl(t, c, "", "delete", "-f", etcdManifest, "--ignore-not-found")
	defer kubectl(t, c, "", "delete", "secret", "-n", framework.MeshapiNamespace, "--ignore-not-found",
		meshctl.EtcdCASecret, meshctl.EtcdServerSecret, meshctl.EtcdClientSecret)

	first := installCerts(t, c)
	if first.CA != "created" || len(first.Secrets) != 3 || len(first.Restarted) != 1 || len(first.Absent) != 1 {
		t.Fatalf("first install-certs: %+v; want a created CA, 3 Secrets, etcd restarted, meshapi-apiserver absent", first)
	}
	ca1, server1, client1 := readCertSecrets(t, kube)
	serveAndConnect(t, server1, client1)
	stamp1 := etcdStamp(t, kube)

	second := installCerts(t, c)
	ca2, server2, client2 := readCertSecrets(t, kube)
	if second.CA != "kept" || !bytes.Equal(ca1.Data["tls.crt"], ca2.Data["tls.crt"]) {
		t.Fatalf("re-run: CA %s; want the same CA kept", second.CA)
	}
	if bytes.Equal(server1.Data["tls.crt"], server2.Data["tls.crt"]) || bytes.Equal(client1.Data["tls.key"], client2.Data["tls.key"]) {
		t.Fatal("re-run did not renew the serving and client certificates")
	}
	if len(second.Restarted) != 0 || etcdStamp(t, kube) != stamp1 {
		t.Fatalf("re-run under the same CA restarted %v; etcd reloads its certificate itself", second.Restarted)
	}
	// The old serving certificate and the new client one share the CA: a
	// rotation needs no restart of etcd.
	serveAndConnect(t, server1, client2)

	third := installCerts(t, c, "--new-ca")
	ca3, server3, client3 := readCertSecrets(t, kube)
	if third.CA != "replaced" || bytes.Equal(ca1.Data["tls.crt"], ca3.Data["tls.crt"]) || etcdStamp(t, kube) == stamp1 {
		t.Fatalf("--new-ca: %+v; want a replaced CA and etcd restarted", third)
	}
	serveAndConnect(t, server3, client3)
}

// installCerts runs meshctl install-certs against c and returns its result.
func installCerts(t *testing.T, c *framework.Cluster, args ...string) meshctl.CertsResult {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := meshctl.NewNamedCommand("meshctl", &out, &errOut)
	cmd.SetArgs(append([]string{"install-certs", "--kubeconfig", c.Kubeconfig, "-o", "json"}, args...))
	if err := cmd.ExecuteContext(ctxT(t)); err != nil {
		t.Fatalf("meshctl install-certs %v: %v\n%s", args, err, errOut.String())
	}
	var res meshctl.CertsResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("install-certs output %q: %v", out.String(), err)
	}
	return res
}

func readCertSecrets(t *testing.T, kube kubernetes.Interface) (ca, server, client *corev1.Secret) {
	t.Helper()
	var got []*corev1.Secret
	for _, name := range []string{meshctl.EtcdCASecret, meshctl.EtcdServerSecret, meshctl.EtcdClientSecret} {
		s, err := kube.CoreV1().Secrets(framework.MeshapiNamespace).Get(ctxT(t), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	return got[0], got[1], got[2]
}

func etcdStamp(t *testing.T, kube kubernetes.Interface) string {
	t.Helper()
	sts, err := kube.AppsV1().StatefulSets(framework.MeshapiNamespace).Get(ctxT(t), "meshapi-etcd", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sts.Spec.Template.Annotations[meshctl.CertsAnnotation]
}

// serveAndConnect runs an etcd with the server Secret's files and client
// certificate authentication, and writes to it with the client Secret,
// verifying etcd's certificate for the member name meshapi-apiserver uses
// (30-apiserver.yaml).
func serveAndConnect(t *testing.T, server, client *corev1.Secret) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"ca.crt": server.Data["ca.crt"], "tls.crt": server.Data["tls.crt"], "tls.key": server.Data["tls.key"]}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	etcd, err := embeddedetcd.StartWithOptions(ctxT(t), embeddedetcd.Options{
		DataDir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "etcd.log"),
		TLS: &embeddedetcd.TLS{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), TrustedCAFile: filepath.Join(dir, "ca.crt")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Stop()
	cert, err := tls.X509KeyPair(client.Data["tls.crt"], client.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(client.Data["ca.crt"])
	// etcd's client verifies for the endpoint's host, 127.0.0.1 here: verify
	// for the Service name instead, fully, in VerifyConnection.
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.ClientURL}, DialTimeout: 30 * time.Second, TLS: &tls.Config{
		Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // VerifyConnection verifies the chain and the name.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("etcd presented no certificate")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: roots, DNSName: "meshapi-etcd-0.meshapi-etcd.meshapi-system.svc",
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			return err
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
	defer cancel()
	if _, err := cli.Put(ctx, "/registry/install-certs", "ok"); err != nil {
		t.Fatalf("writing to etcd with the client Secret: %v", err)
	}
}
