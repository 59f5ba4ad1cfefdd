// Package framework runs real Kubernetes clusters on one machine for
// meshapi's end-to-end tests. A cluster is an etcd, the upstream
// kube-apiserver with the aggregation layer configured, the upstream
// kube-controller-manager (namespace, service account and token
// controllers), and a meshapi-apiserver process with its own etcd (https
// with client certificate authentication, as artifacts/deploy runs it),
// registered with the APIService v3.projectcalico.org and a real caBundle,
// authenticating and authorizing by delegation to kube-apiserver. Every
// cluster listens on loopback ports of its own, so several run side by side.
package framework

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshapi/meshapi/pkg/apiservicedirect"
	"github.com/meshapi/meshapi/pkg/embeddedetcd"
	"github.com/meshapi/meshapi/test/testport"
)

// Binaries are the executables a cluster runs.
type Binaries struct {
	// KubeAPIServer, KubeControllerManager and Kubectl are the upstream
	// binaries hack/build-tools.sh builds into bin/.
	KubeAPIServer, KubeControllerManager, Kubectl string
	// KubeScheduler is the upstream kube-scheduler in bin/; only clusters
	// with real nodes (ClusterOptions.NodeAddress) run it.
	KubeScheduler string
	// MeshapiAPIServer and MeshapiController are meshapi's binaries.
	MeshapiAPIServer, MeshapiController string
	// Etcd is upstream's etcd server ($ETCD, else bin/etcd); only clusters
	// whose meshapi etcd has several members
	// (ClusterOptions.MeshapiEtcdMembers) run it.
	Etcd string
}

// Cluster is one running cluster.
type Cluster struct {
	// Name names the cluster in logs and directories.
	Name string
	// Dir holds the cluster's certificates, kubeconfigs, data and logs.
	Dir string
	// Kubeconfig is an administrator's kubeconfig (system:masters) that
	// reaches kube-apiserver.
	Kubeconfig string
	// Config is the same administrator's client configuration.
	Config *rest.Config
	// MeshapiPort is the port meshapi-apiserver serves on, on 127.0.0.1.
	MeshapiPort int
	// MeshapiEtcdCAFile is the PEM CA of the etcd behind meshapi-apiserver:
	// it signed etcd's serving certificate and every client certificate
	// etcd accepts. That etcd serves https only and requires a client
	// certificate, as artifacts/deploy/20-etcd.yaml does.
	MeshapiEtcdCAFile string
	// MeshapiEtcdCertFile and MeshapiEtcdKeyFile are a PEM client
	// certificate and key that etcd accepts (meshapi-apiserver's own).
	MeshapiEtcdCertFile, MeshapiEtcdKeyFile string

	bins        Binaries
	opts        ClusterOptions
	pki         clusterPKI
	kubeEtcd    *embeddedetcd.Server
	meshapiEtcd *embeddedetcd.Server
	// meshapiEtcdCluster replaces meshapiEtcd when the meshapi etcd has
	// several members (etcdcluster.go).
	meshapiEtcdCluster *etcdCluster

	kubeAPIServer     *process
	controllerManager *process
	meshapi           *process
	// meshapiReplica is the second meshapi-apiserver replica, sharing
	// meshapi's port (StartMeshapiReplica); nil until started.
	meshapiReplica *process
	// meshapiReplicaServing is its serving certificate.
	meshapiReplicaServing keyPair
	controller            *process
	controllerArgs        []string // the flags StartController gives it
	scheduler             *process
	// ControllerMetrics is the address of meshapi-controller's /metrics.
	ControllerMetrics string
}

// clusterPKI are the certificates of a cluster.
type clusterPKI struct {
	ca, frontProxyCA *ca
	apiserver, admin keyPair
	frontProxyClient keyPair
	meshapi          keyPair
	saKey, saPub     string
	// etcdCA signs meshapi's etcd's serving certificate and its client.
	etcdCA                 *ca
	etcdServer, etcdClient keyPair
	// kubeletClient is kube-apiserver's client certificate towards the
	// kubelets, and scheduler kube-scheduler's (real nodes only).
	kubeletClient, scheduler keyPair
}

// Meshapi's names in the cluster, as in artifacts/deploy.
const (
	MeshapiNamespace      = "meshapi-system"
	MeshapiServiceAccount = "meshapi-apiserver"
	MeshapiService        = "meshapi-apiserver"
	APIServiceName        = "v3.projectcalico.org"
)

// StartCluster starts a cluster with its files under dir and waits until
// the APIService v3.projectcalico.org is Available. On error everything
// started is stopped again.
func StartCluster(ctx context.Context, name, dir string, bins Binaries) (*Cluster, error) {
	return StartClusterWithOptions(ctx, name, dir, bins, ClusterOptions{})
}

// StartClusterWithOptions is StartCluster with options; the zero options
// are StartCluster's cluster.
func StartClusterWithOptions(ctx context.Context, name, dir string, bins Binaries, opts ClusterOptions) (c *Cluster, err error) {
	c = &Cluster{Name: name, Dir: dir, bins: bins, opts: opts}
	defer func() {
		if err != nil {
			err = fmt.Errorf("cluster %s: %w\n%s", name, err, c.Logs(40))
			_ = c.Stop()
			c = nil
		}
	}()
	for _, sub := range []string{"pki", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return c, err
		}
	}
	if err := c.makePKI(); err != nil {
		return c, err
	}
	if c.kubeEtcd, err = embeddedetcd.Start(ctx, filepath.Join(dir, "kube-etcd"), filepath.Join(dir, "logs", "kube-etcd.log")); err != nil {
		return c, err
	}
	if err := c.startMeshapiEtcd(ctx); err != nil {
		return c, err
	}
	kubePort, err := testport.Free()
	if err != nil {
		return c, err
	}
	if c.MeshapiPort, err = testport.Free(); err != nil {
		return c, err
	}
	c.kubeAPIServer = &process{name: "kube-apiserver", path: bins.KubeAPIServer, log: filepath.Join(dir, "logs", "kube-apiserver.log"),
		args: c.kubeAPIServerArgs(kubePort)}
	if err := c.kubeAPIServer.start(); err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.apiServerURL(kubePort), c.pki.ca.CertFile, &clientcmdapi.AuthInfo{
		ClientCertificate: c.pki.admin.CertFile, ClientKey: c.pki.admin.KeyFile,
	}); err != nil {
		return c, err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return c, err
	}
	// The certificate in memory, not as files: client-go reloads a
	// client certificate given as files from a goroutine that lives as
	// long as the process, and logs an error every few seconds once a
	// stopped cluster's directory is gone.
	if err := rest.LoadTLSFiles(c.Config); err != nil {
		return c, fmt.Errorf("loading the admin kubeconfig's certificates: %w", err)
	}
	if err := c.WaitKubeAPIServerReady(ctx, 90*time.Second); err != nil {
		return c, err
	}

	c.controllerManager = &process{name: "kube-controller-manager", path: bins.KubeControllerManager,
		log: filepath.Join(dir, "logs", "kube-controller-manager.log"), args: c.controllerManagerArgs()}
	if err := c.controllerManager.start(); err != nil {
		return c, err
	}
	if err := c.startScheduler(); err != nil {
		return c, err
	}

	if err := c.installMeshapi(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// startMeshapiEtcd starts the etcd behind meshapi-apiserver: in-process,
// or as etcd processes when ClusterOptions.MeshapiEtcdMembers asks for
// several members.
func (c *Cluster) startMeshapiEtcd(ctx context.Context) error {
	var err error
	if c.opts.MeshapiEtcdMembers > 1 {
		c.meshapiEtcdCluster, err = c.startEtcdCluster(ctx, c.opts.MeshapiEtcdMembers)
		return err
	}
	c.meshapiEtcd, err = embeddedetcd.StartWithOptions(ctx, embeddedetcd.Options{
		DataDir: filepath.Join(c.Dir, "meshapi-etcd"), LogFile: filepath.Join(c.Dir, "logs", "meshapi-etcd.log"),
		TLS: &embeddedetcd.TLS{CertFile: c.pki.etcdServer.CertFile, KeyFile: c.pki.etcdServer.KeyFile, TrustedCAFile: c.pki.etcdCA.CertFile},
	})
	return err
}

func (c *Cluster) makePKI() error {
	dir := filepath.Join(c.Dir, "pki")
	var err error
	p := &c.pki
	if p.ca, err = newCA(dir, "ca", c.Name+"-ca"); err != nil {
		return err
	}
	if p.frontProxyCA, err = newCA(dir, "front-proxy-ca", c.Name+"-front-proxy-ca"); err != nil {
		return err
	}
	// meshapi's etcd has a CA of its own, as the install step makes it:
	// etcd trusts every client certificate that CA signs.
	if p.etcdCA, err = newCA(dir, "meshapi-etcd-ca", c.Name+"-meshapi-etcd-ca"); err != nil {
		return err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	apiserverIPs := append(append([]net.IP(nil), loopback...), c.nodeAPIServerIPs()...)
	for _, s := range []struct {
		dst *keyPair
		by  *ca
		req certRequest
	}{
		{&p.apiserver, p.ca, certRequest{file: "apiserver", commonName: "kube-apiserver", server: true, ips: apiserverIPs,
			dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}}},
		{&p.admin, p.ca, certRequest{file: "admin", commonName: "e2e-admin", organizations: []string{"system:masters"}, client: true}},
		{&p.frontProxyClient, p.frontProxyCA, certRequest{file: "front-proxy-client", commonName: "front-proxy-client", client: true}},
		// The aggregator verifies meshapi's certificate for the name
		// <service>.<namespace>.svc of the APIService's service.
		{&p.meshapi, p.ca, certRequest{file: "meshapi-apiserver", commonName: MeshapiService, server: true, ips: loopback,
			dnsNames: []string{MeshapiService + "." + MeshapiNamespace + ".svc", "localhost"}}},
		{&p.etcdServer, p.etcdCA, certRequest{file: "meshapi-etcd-server", commonName: "meshapi-etcd", server: true, ips: loopback,
			dnsNames: []string{"localhost"}}},
		{&p.etcdClient, p.etcdCA, certRequest{file: "meshapi-etcd-client", commonName: MeshapiService, client: true}},
	} {
		if *s.dst, err = s.by.sign(dir, s.req); err != nil {
			return err
		}
	}
	c.MeshapiEtcdCAFile, c.MeshapiEtcdCertFile, c.MeshapiEtcdKeyFile = p.etcdCA.CertFile, p.etcdClient.CertFile, p.etcdClient.KeyFile
	if p.saKey, p.saPub, err = writeServiceAccountKey(dir); err != nil {
		return err
	}
	return c.makeNodePKI()
}

func (c *Cluster) kubeAPIServerArgs(port int) []string {
	p := c.pki
	return c.nodeAPIServerArgs([]string{
		"--etcd-servers=" + c.kubeEtcd.ClientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The "kubernetes" Service cannot have loopback endpoints.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + p.apiserver.CertFile,
		"--tls-private-key-file=" + p.apiserver.KeyFile,
		"--client-ca-file=" + p.ca.CertFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		// No service traffic is ever routed; the range only has to exist.
		"--service-cluster-ip-range=198.19.255.0/24",
		// The aggregation layer.
		"--requestheader-client-ca-file=" + p.frontProxyCA.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.frontProxyClient.CertFile,
		"--proxy-client-key-file=" + p.frontProxyClient.KeyFile,
		"--enable-aggregator-routing=false",
		"--v=1",
	})
}

func (c *Cluster) controllerManagerArgs() []string {
	return c.nodeControllerManagerArgs([]string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--controllers=namespace-controller,serviceaccount-controller,serviceaccount-token-controller,garbage-collector-controller,endpointslice-controller",
		"--service-account-private-key-file=" + c.pki.saKey,
		"--root-ca-file=" + c.pki.ca.CertFile,
		// Each controller as its own service account, as kubeadm runs it.
		"--use-service-account-credentials=true",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--v=1",
	})
}

// meshapiArgs are the flags of artifacts/deploy/30-apiserver.yaml, with the
// cluster's addresses, plus the kubeconfigs a process outside the cluster
// needs in place of the in-cluster service account, for a replica with
// its own serving certificate and data directory. Every replica binds
// the cluster's one port with SO_REUSEPORT (--permit-port-sharing): the
// kernel spreads new connections over the replicas that listen, as a
// Service's load balancing would, and a replica that dies stops
// receiving them at once.
func (c *Cluster) meshapiArgs(kubeconfig string, serving keyPair, dataDir string) []string {
	return []string{
		"--etcd-servers=" + c.MeshapiEtcdURL(),
		"--etcd-cafile=" + c.pki.etcdCA.CertFile,
		"--etcd-certfile=" + c.pki.etcdClient.CertFile,
		"--etcd-keyfile=" + c.pki.etcdClient.KeyFile,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.MeshapiPort),
		"--permit-port-sharing",
		"--tls-cert-file=" + serving.CertFile,
		"--tls-private-key-file=" + serving.KeyFile,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--data-dir=" + dataDir,
		"--v=1",
	}
}

// installMeshapi applies artifacts/deploy (namespace, RBAC), gives the
// meshapi-apiserver process the service account's token, starts it, and
// registers the APIService with the cluster CA as caBundle.
func (c *Cluster) installMeshapi(ctx context.Context) error {
	for _, f := range []string{"00-namespace.yaml", "10-apiserver-rbac.yaml"} {
		if _, err := c.Kubectl(ctx, "", "apply", "-f", filepath.Join(ArtifactsDir(), "deploy", f)); err != nil {
			return err
		}
	}
	token, err := c.Kubectl(ctx, "", "create", "token", MeshapiServiceAccount, "-n", MeshapiNamespace, "--duration=24h")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(c.Dir, "meshapi-apiserver.kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
		return err
	}
	c.meshapi = &process{name: "meshapi-apiserver", path: c.bins.MeshapiAPIServer,
		log:  filepath.Join(c.Dir, "logs", "meshapi-apiserver.log"),
		args: c.meshapiArgs(kubeconfig, c.pki.meshapi, filepath.Join(c.Dir, "meshapi-data"))}
	if err := c.meshapi.start(); err != nil {
		return err
	}
	if err := c.waitMeshapiReady(ctx, 90*time.Second); err != nil {
		return err
	}

	caPEM, err := os.ReadFile(c.pki.ca.CertFile)
	if err != nil {
		return err
	}
	apiservice, err := os.ReadFile(filepath.Join(ArtifactsDir(), "deploy", "40-apiservice.yaml"))
	if err != nil {
		return err
	}
	manifest := strings.Replace(string(apiservice), "caBundle: CA_BUNDLE", "caBundle: "+base64.StdEncoding.EncodeToString(caPEM), 1)
	manifest = strings.Replace(manifest, "port: 443", "port: "+strconv.Itoa(c.MeshapiPort), 1)
	// There is no kube-proxy to route a ClusterIP: the Service points at the
	// process on loopback by name, which the aggregator resolves directly.
	manifest += fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
spec:
  type: ExternalName
  externalName: localhost
  ports:
    - name: https
      port: %d
`, MeshapiService, MeshapiNamespace, c.MeshapiPort)
	if _, err := c.Kubectl(ctx, manifest, "apply", "-f", "-"); err != nil {
		return err
	}
	return c.WaitAPIServiceAvailable(ctx, 2*time.Minute)
}

// StartController applies artifacts/deploy/50-controller.yaml's RBAC and
// runs meshapi-controller as its service account, calico-system/calico-typha,
// with the flags of that manifest. It does nothing if it already runs.
func (c *Cluster) StartController(ctx context.Context) error {
	if c.controller == nil {
		if _, err := c.Kubectl(ctx, "", "apply", "-f", filepath.Join(ArtifactsDir(), "deploy", "50-controller.yaml")); err != nil {
			return err
		}
		token, err := c.Kubectl(ctx, "", "create", "token", "calico-typha", "-n", "calico-system", "--duration=24h")
		if err != nil {
			return err
		}
		kubeconfig := filepath.Join(c.Dir, "meshapi-controller.kubeconfig")
		if err := writeKubeconfig(kubeconfig, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
			return err
		}
		port, err := testport.Free()
		if err != nil {
			return err
		}
		c.ControllerMetrics = "127.0.0.1:" + strconv.Itoa(port)
		// The periodic read of access Secrets is only a safety net: with
		// it at 10m, every Secret change the tests make (the fault
		// suite's, meshctl's) must be seen through the Secret's watch.
		c.controllerArgs = []string{"--kubeconfig=" + kubeconfig, "--leader-elect", "--leader-election-namespace=calico-system",
			"--metrics-bind-address=" + c.ControllerMetrics, "--profiling", "--secret-resync-period=10m", "--v=2"}
		c.controller = &process{name: "meshapi-controller", path: c.bins.MeshapiController,
			log: filepath.Join(c.Dir, "logs", "meshapi-controller.log"), args: c.controllerArgs}
	}
	if ended, _ := c.controller.exited(); !ended {
		return nil // already running
	}
	return c.controller.start()
}

// StopController stops meshapi-controller.
func (c *Cluster) StopController() error {
	if c.controller == nil {
		return nil
	}
	return c.controller.stop(30 * time.Second)
}

// ControllerLog returns meshapi-controller's whole log.
func (c *Cluster) ControllerLog() string {
	if c.controller == nil {
		return ""
	}
	b, _ := os.ReadFile(c.controller.log)
	return string(b)
}

// WaitAPIServiceAvailable waits for v3.projectcalico.org to be Available.
func (c *Cluster) WaitAPIServiceAvailable(ctx context.Context, timeout time.Duration) error {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	gvr := apiservicedirect.APIServices
	deadline := time.Now().Add(timeout)
	last := "not read yet"
	for time.Now().Before(deadline) {
		if done, err := c.meshapi.exited(); done {
			return fmt.Errorf("meshapi-apiserver exited: %v", err)
		}
		obj, err := dyn.Resource(gvr).Get(ctx, APIServiceName, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Available" {
					if m["status"] == "True" {
						return nil
					}
					last = fmt.Sprintf("%v: %v", m["reason"], m["message"])
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("APIService %s not Available after %s: %s", APIServiceName, timeout, last)
}

// WaitKubeAPIServerReady waits until kube-apiserver's /readyz answers ok.
func (c *Cluster) WaitKubeAPIServerReady(ctx context.Context, timeout time.Duration) error {
	return waitReadyz(ctx, c.Config, c.kubeAPIServer, timeout)
}

// waitReadyz waits until the /readyz of the server cfg reaches answers ok,
// failing early if its process p exits.
func waitReadyz(ctx context.Context, cfg *rest.Config, p *process, timeout time.Duration) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if done, err := p.exited(); done {
			return fmt.Errorf("%s exited: %v", p.name, err)
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		last = fmt.Errorf("%s: %w", body, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s: %v", p.name, timeout, last)
}

// MeshapiEtcdURL is the client URL of the etcd behind meshapi-apiserver
// (every member's, comma-separated, when it has several), for remote
// clusters that sync with datastoreType etcdv3: https, reached with
// MeshapiEtcdCAFile and the client certificate MeshapiEtcdCertFile,
// MeshapiEtcdKeyFile.
func (c *Cluster) MeshapiEtcdURL() string {
	if c.meshapiEtcdCluster != nil {
		return strings.Join(c.meshapiEtcdCluster.clientURLs(), ",")
	}
	return c.meshapiEtcd.ClientURL
}

// StopKubeAPIServer stops kube-apiserver, leaving the rest running.
func (c *Cluster) StopKubeAPIServer() error { return c.kubeAPIServer.stop(30 * time.Second) }

// StartKubeAPIServer starts kube-apiserver again with the same flags and
// waits until it is ready.
func (c *Cluster) StartKubeAPIServer(ctx context.Context) error {
	if err := c.kubeAPIServer.start(); err != nil {
		return err
	}
	return c.WaitKubeAPIServerReady(ctx, 90*time.Second)
}

// StopMeshapiAPIServer stops meshapi-apiserver, leaving the rest running.
func (c *Cluster) StopMeshapiAPIServer() error { return c.meshapi.stop(30 * time.Second) }

// StartMeshapiAPIServer starts meshapi-apiserver again and waits until it
// is ready and the APIService is Available.
func (c *Cluster) StartMeshapiAPIServer(ctx context.Context) error {
	if err := c.meshapi.start(); err != nil {
		return err
	}
	if err := c.waitMeshapiReady(ctx, 90*time.Second); err != nil {
		return err
	}
	return c.WaitAPIServiceAvailable(ctx, 2*time.Minute)
}

// waitMeshapiReady waits until meshapi-apiserver's own /readyz answers ok,
// asked directly (the APIService's condition may still describe the
// previous process) and of the first replica (the port is shared with
// the second, if it runs: MeshapiReplicaConfig picks the replica).
func (c *Cluster) waitMeshapiReady(ctx context.Context, timeout time.Duration) error {
	cfg, err := c.MeshapiReplicaConfig(1)
	if err != nil {
		return err
	}
	return waitReadyz(ctx, cfg, c.meshapi, timeout)
}

// Stop stops every process and etcd of the cluster.
func (c *Cluster) Stop() error {
	var errs []string
	// kube-controller-manager before meshapi-apiserver: its garbage
	// collector watches meshapi's resources through kube-apiserver, and
	// both API servers would wait (30 s, then SIGKILL) for those watches.
	for _, p := range []*process{c.controller, c.scheduler, c.controllerManager, c.meshapiReplica, c.meshapi, c.kubeAPIServer} {
		if p == nil {
			continue
		}
		if err := p.stop(30 * time.Second); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if c.meshapiEtcdCluster != nil {
		errs = append(errs, c.meshapiEtcdCluster.stop()...)
	}
	for _, e := range []*embeddedetcd.Server{c.meshapiEtcd, c.kubeEtcd} {
		if e != nil {
			e.Stop()
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stopping cluster %s: %s", c.Name, strings.Join(errs, "; "))
	}
	return nil
}

// Logs returns the last n lines of each process's log.
func (c *Cluster) Logs(n int) string {
	var b strings.Builder
	for _, p := range []*process{c.kubeAPIServer, c.controllerManager, c.scheduler, c.meshapi, c.meshapiReplica, c.controller} {
		if p != nil {
			b.WriteString(p.tail(n))
			b.WriteString("\n")
		}
	}
	return b.String()
}

// writeKubeconfig writes a kubeconfig for server (a port on 127.0.0.1 or
// a URL) trusting caFile, with the given credentials.
func writeKubeconfig(path string, server any, caFile string, auth *clientcmdapi.AuthInfo) error {
	url := fmt.Sprint(server)
	if port, ok := server.(int); ok {
		url = "https://127.0.0.1:" + strconv.Itoa(port)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: ca}
	cfg.AuthInfos["e2e"] = auth
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e"}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}
