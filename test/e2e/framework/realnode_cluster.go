package framework

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ClusterOptions change how a cluster runs; the zero value is the
// loopback-only cluster of StartCluster.
type ClusterOptions struct {
	// NodeAddress, if valid, makes the cluster able to run real kubelet
	// nodes (RealNode): kube-apiserver listens and advertises on this
	// address (the host's end of the nodes' underlay, Underlay.AddHost,
	// which must exist before the cluster starts) instead of loopback, so
	// that kubelets, kube-proxy and in-cluster Pods reach it; it
	// authorizes with Node,RBAC and admits with NodeRestriction, and
	// reaches kubelets with a client certificate; kube-controller-manager
	// also runs the controllers Pods need (DaemonSets, Deployments, the
	// kube-root-ca.crt publisher, and the node lifecycle controller that
	// lifts the not-ready taint a kubelet registers its Node with);
	// kube-scheduler runs.
	NodeAddress netip.Addr
	// MeshapiEtcdMembers, if over 1, runs meshapi's etcd as that many
	// etcd processes (bin/etcd, etcdcluster.go) instead of in-process.
	MeshapiEtcdMembers int
}

// The Service addresses of a cluster with real nodes: the range of
// kube-apiserver's --service-cluster-ip-range, the ClusterIP of the
// "kubernetes" Service (the first address of the range, which
// kube-apiserver allocates itself) and the one the kube-dns Service asks
// for (the kubelets' clusterDNS).
const (
	ServiceCIDR      = "198.19.255.0/24"
	KubernetesSvcIP  = "198.19.255.1"
	KubeDNSServiceIP = "198.19.255.10"
)

// HasNodes reports whether the cluster was started for real nodes.
func (c *Cluster) HasNodes() bool { return c.opts.NodeAddress.IsValid() }

// apiServerURL is kube-apiserver's URL for port.
func (c *Cluster) apiServerURL(port int) string {
	host := "127.0.0.1"
	if c.HasNodes() {
		host = c.opts.NodeAddress.String()
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// nodeAPIServerIPs are the addresses kube-apiserver's serving certificate
// needs beyond loopback: the node address and the "kubernetes" Service's
// ClusterIP, which in-cluster clients dial.
func (c *Cluster) nodeAPIServerIPs() []net.IP {
	if !c.HasNodes() {
		return nil
	}
	return []net.IP{c.opts.NodeAddress.AsSlice(), net.ParseIP(KubernetesSvcIP)}
}

// makeNodePKI signs kube-apiserver's kubelet client certificate (in
// system:masters, as kubeadm's apiserver-kubelet-client) and
// kube-scheduler's (system:kube-scheduler, bound by the bootstrap RBAC).
func (c *Cluster) makeNodePKI() error {
	if !c.HasNodes() {
		return nil
	}
	dir := filepath.Join(c.Dir, "pki")
	var err error
	if c.pki.kubeletClient, err = c.pki.ca.sign(dir, certRequest{file: "apiserver-kubelet-client", commonName: "kube-apiserver-kubelet-client",
		organizations: []string{"system:masters"}, client: true}); err != nil {
		return err
	}
	c.pki.scheduler, err = c.pki.ca.sign(dir, certRequest{file: "kube-scheduler", commonName: "system:kube-scheduler", client: true})
	return err
}

// nodeAPIServerArgs turns the loopback-only flags into those of a cluster
// with real nodes.
func (c *Cluster) nodeAPIServerArgs(args []string) []string {
	if !c.HasNodes() {
		return args
	}
	addr := c.opts.NodeAddress.String()
	var out []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--bind-address="):
			a = "--bind-address=" + addr
		case strings.HasPrefix(a, "--advertise-address="):
			a = "--advertise-address=" + addr
		case strings.HasPrefix(a, "--endpoint-reconciler-type="):
			// The default (lease) keeps the "kubernetes" Service's
			// endpoint at the advertised address, which nodes reach.
			continue
		case strings.HasPrefix(a, "--authorization-mode="):
			a = "--authorization-mode=Node,RBAC"
		case strings.HasPrefix(a, "--service-cluster-ip-range="):
			a = "--service-cluster-ip-range=" + ServiceCIDR
		}
		out = append(out, a)
	}
	return append(out,
		"--enable-admission-plugins=NodeRestriction",
		"--kubelet-client-certificate="+c.pki.kubeletClient.CertFile,
		"--kubelet-client-key="+c.pki.kubeletClient.KeyFile,
		// The kubelets' serving certificates are signed by the cluster CA
		// (RealNode), so kube-apiserver verifies them for exec and logs.
		"--kubelet-certificate-authority="+c.pki.ca.CertFile,
		"--kubelet-preferred-address-types=InternalIP",
		"--allow-privileged=true",
	)
}

// nodeControllerManagerArgs adds the controllers Pods on real nodes need,
// and those of the workloads and endpoints upstream's e2e suites create
// (ReplicationControllers, StatefulSets, Jobs, Endpoints and mirrored
// EndpointSlices of selectorless Services).
func (c *Cluster) nodeControllerManagerArgs(args []string) []string {
	if !c.HasNodes() {
		return args
	}
	for i, a := range args {
		if strings.HasPrefix(a, "--controllers=") {
			args[i] = a + ",root-ca-certificate-publisher-controller,daemonset-controller,deployment-controller,replicaset-controller,pod-garbage-collector-controller,node-lifecycle-controller" +
				",replicationcontroller-controller,statefulset-controller,job-controller,endpoints-controller,endpointslice-mirroring-controller"
		}
	}
	return args
}

// startScheduler starts kube-scheduler as system:kube-scheduler, for a
// cluster with real nodes.
func (c *Cluster) startScheduler() error {
	if !c.HasNodes() {
		return nil
	}
	path := c.bins.KubeScheduler
	if path == "" {
		path = filepath.Join(RepoRoot(), "bin", "kube-scheduler")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("kube-scheduler is missing: run hack/build-tools.sh (make tools): %w", err)
	}
	kubeconfig := filepath.Join(c.Dir, "kube-scheduler.kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{
		ClientCertificate: c.pki.scheduler.CertFile, ClientKey: c.pki.scheduler.KeyFile,
	}); err != nil {
		return err
	}
	c.scheduler = &process{name: "kube-scheduler", path: path, log: filepath.Join(c.Dir, "logs", "kube-scheduler.log"),
		args: []string{"--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
			"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0", "--v=1"}}
	return c.scheduler.start()
}

// CAFile is the cluster CA's PEM certificate: it signed kube-apiserver's
// serving certificate and the client certificates it accepts.
func (c *Cluster) CAFile() string { return c.pki.ca.CertFile }

// signNodeCerts signs a kubelet's client certificate (system:node:<name>
// in system:nodes, as the Node authorizer and NodeRestriction expect) and
// its serving certificate for ip, into dir.
func (c *Cluster) signNodeCerts(dir, name string, ip netip.Addr) (client, serving keyPair, err error) {
	if client, err = c.pki.ca.sign(dir, certRequest{file: "kubelet-client", commonName: "system:node:" + name,
		organizations: []string{"system:nodes"}, client: true}); err != nil {
		return
	}
	serving, err = c.pki.ca.sign(dir, certRequest{file: "kubelet-serving", commonName: "system:node:" + name, server: true,
		ips: []net.IP{ip.AsSlice()}, dnsNames: []string{name}})
	return
}
