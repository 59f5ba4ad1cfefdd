package framework

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// realHost are the host paths the DaemonSets of a cluster's real nodes
// mount (hostPath): the DaemonSet is the cluster's, so every real node of
// a cluster shares them, as if the nodes shared one disk. Use one real
// node per cluster.
type realHost struct {
	cniBin, cniConf, meshapiLib string
	// meshapiRun holds the agent's IPAM service socket (the DaemonSet's
	// /var/run/meshapi): one per cluster, since the nodes of both
	// clusters share the host's mount namespace and two agents on one
	// socket path would take it from each other.
	meshapiRun string
	// podCIDR is the cluster's Pod addresses (kube-proxy's cluster CIDR,
	// the cluster's pool), which the host routes through its real node.
	podCIDR netip.Prefix
}

// ipamSocket is the host path of the agent's IPAM service socket, which
// the conflist names (the plugin runs on the host, outside the agent's
// container).
func (h *realHost) ipamSocket() string { return filepath.Join(h.meshapiRun, "ipam.sock") }

// TestdataDir is test/e2e/testdata: the upstream add-ons' manifests.
func TestdataDir() string { return filepath.Join(RepoRoot(), "test", "e2e", "testdata") }

// InstallNodeAddons installs, as a user would, what c's real nodes run as
// Pods: kube-proxy (DaemonSet, nftables mode, pointed at the API server's
// address as kubeadm points it at the control-plane endpoint), CoreDNS
// (Deployment and the Service kube-dns at the kubelets' clusterDNS), and
// the meshapi-agent DaemonSet of artifacts/deploy/60-agent.yaml, which
// the topology applied, patched for this machine: its hostPath volumes
// (/opt/cni/bin, /etc/cni/net.d, /var/lib/meshapi, /var/run/meshapi)
// moved to directories of the test (so are the conflist's kubeconfig
// path, --host-conf-dir, and IPAM socket, --ipam-socket),
// and the images, which no registry serves here, used as imported
// (imagePullPolicy IfNotPresent instead of the default Always of a
// :latest tag). clusterCIDR is kube-proxy's (the cluster's pool). Close
// deletes the objects.
func (t *Topology) InstallNodeAddons(ctx context.Context, c *Cluster, images *NodeImages, clusterCIDR netip.Prefix) error {
	return t.InstallNodeAddonsWith(ctx, c, images, clusterCIDR, NodeAddonOptions{})
}

// NodeAddonOptions change what InstallNodeAddonsWith installs; the zero
// value is InstallNodeAddons'.
type NodeAddonOptions struct {
	// ClustersetDNS has CoreDNS answer clusterset.local (Multi-Cluster
	// Services, KEP-1645) as README's "clusterset.local DNS" says to set
	// it up: the CRDs of artifacts/mcs and artifacts/mcs/coredns/rbac.yaml
	// first, then CoreDNS with the Corefile of
	// artifacts/mcs/coredns/corefile.yaml instead of kubeadm's.
	ClustersetDNS bool
}

// InstallNodeAddonsWith is InstallNodeAddons with options.
func (t *Topology) InstallNodeAddonsWith(ctx context.Context, c *Cluster, images *NodeImages, clusterCIDR netip.Prefix, opts NodeAddonOptions) error {
	base := filepath.Join(t.dir, c.Name+"-host")
	h := &realHost{cniBin: filepath.Join(base, "opt/cni/bin"), cniConf: filepath.Join(base, "etc/cni/net.d"), meshapiLib: filepath.Join(base, "var/lib/meshapi"),
		meshapiRun: filepath.Join(base, "var/run/meshapi"), podCIDR: clusterCIDR}
	for _, d := range []string{h.cniBin, h.cniConf, h.meshapiLib, h.meshapiRun} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("host directories of %s: %w", c.Name, err)
		}
	}
	t.mu.Lock()
	t.realHosts[c] = h
	t.mu.Unlock()
	if _, err := c.Kubectl(ctx, "", "-n", MeshapiNamespace, "patch", "daemonset", "meshapi-agent", "--type=strategic", "-p", agentPatch(h)); err != nil {
		return err
	}
	// meshapi-controller runs as a process of the framework
	// (StartController), standing in for this Deployment of
	// artifacts/deploy/50-controller.yaml, which would otherwise run a
	// second one on the real nodes.
	if _, err := c.Kubectl(ctx, "", "-n", "calico-system", "scale", "deployment", "calico-typha", "--replicas=0"); err != nil {
		return err
	}
	if opts.ClustersetDNS {
		if err := t.installMCSDNSPrerequisites(ctx, c); err != nil {
			return err
		}
	}
	for _, file := range []string{"kube-proxy.yaml", "coredns.yaml"} {
		if err := t.applyAddon(ctx, c, images, clusterCIDR, file); err != nil {
			return err
		}
	}
	if opts.ClustersetDNS {
		// The ConfigMap coredns replaced before any node runs CoreDNS.
		return t.applyArtifact(ctx, c, filepath.Join(ArtifactsDir(), "mcs", "coredns", "corefile.yaml"))
	}
	return nil
}

// applyAddon applies the add-on manifest file of TestdataDir with the
// cluster's values filled in; Close deletes it.
func (t *Topology) applyAddon(ctx context.Context, c *Cluster, images *NodeImages, clusterCIDR netip.Prefix, file string) error {
	b, err := os.ReadFile(filepath.Join(TestdataDir(), file))
	if err != nil {
		return err
	}
	manifest := strings.NewReplacer(
		"API_SERVER", c.Config.Host,
		"CLUSTER_CIDR", clusterCIDR.String(),
		"KUBE_PROXY_IMAGE", images.KubeProxy,
		"COREDNS_IMAGE", images.CoreDNS,
		"DNS_SERVICE_IP", KubeDNSServiceIP,
	).Replace(string(b))
	if _, err := c.Kubectl(ctx, manifest, "apply", "-f", "-"); err != nil {
		return err
	}
	t.push("deleting "+file+" from "+c.Name, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, manifest, "delete", "-f", "-", "--ignore-not-found", "--wait=false")
		return err
	})
	return nil
}

// installMCSDNSPrerequisites applies the MCS CRDs of artifacts/mcs, waits
// until they are Established, and applies the ServiceImport RBAC of
// artifacts/mcs/coredns/rbac.yaml: CoreDNS with the multicluster option
// is ready only once it can list ServiceImports.
func (t *Topology) installMCSDNSPrerequisites(ctx context.Context, c *Cluster) error {
	if err := t.applyArtifact(ctx, c, filepath.Join(ArtifactsDir(), "mcs")); err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, "", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/serviceexports.multicluster.x-k8s.io", "crd/serviceimports.multicluster.x-k8s.io", "crd/clusterproperties.about.k8s.io"); err != nil {
		return err
	}
	return t.applyArtifact(ctx, c, filepath.Join(ArtifactsDir(), "mcs", "coredns", "rbac.yaml"))
}

// applyArtifact applies path (a file or a directory's manifests) in c;
// Close deletes what it applied.
func (t *Topology) applyArtifact(ctx context.Context, c *Cluster, path string) error {
	if _, err := c.Kubectl(ctx, "", "apply", "-f", path); err != nil {
		return err
	}
	t.push("deleting "+path+" from "+c.Name, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, "", "delete", "-f", path, "--ignore-not-found", "--wait=false")
		return err
	})
	return nil
}

// agentPatch is the strategic merge patch of the agent DaemonSet for the
// host paths h.
func agentPatch(h *realHost) string {
	return fmt.Sprintf(`{"spec":{"template":{"spec":{
"initContainers":[{"name":"install-cni","imagePullPolicy":"IfNotPresent","command":["meshapi-cni","install","--kubeconfig-from-serviceaccount","--bin-dir=/host/opt/cni/bin","--conf-dir=/host/etc/cni/net.d","--host-conf-dir=%s","--ipam-socket=%s"]}],
"containers":[{"name":"meshapi-agent","imagePullPolicy":"IfNotPresent"}],
"volumes":[{"name":"cni-bin-dir","hostPath":{"path":%q}},{"name":"cni-net-dir","hostPath":{"path":%q}},{"name":"wireguard-key","hostPath":{"path":%q}},{"name":"ipam-socket-dir","hostPath":{"path":%q}}]}}}}`,
		h.cniConf, h.ipamSocket(), h.cniBin, h.cniConf, h.meshapiLib, h.meshapiRun)
}

// WaitRealNodeReady waits until n's Node is Ready, every Pod on n is
// Running and Ready (kube-proxy, the agent, CoreDNS when it landed there)
// and the agent claimed n's first IPAM block (recorded as n.Block).
func (t *Topology) WaitRealNodeReady(ctx context.Context, n *RealNode, timeout time.Duration) error {
	kube := t.Kube[n.Cluster]
	err := Poll(ctx, timeout, "real node "+n.Name+" Ready with its Pods", func() (bool, string) {
		node, err := kube.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if !conditionTrue(node.Status.Conditions, corev1.NodeReady) {
			return false, fmt.Sprintf("Node not Ready: %+v", node.Status.Conditions)
		}
		pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
		if err != nil {
			return false, err.Error()
		}
		var notReady []string
		apps := map[string]bool{}
		for _, p := range pods.Items {
			apps[p.Namespace+"/"+strings.SplitN(p.Name, "-", 2)[0]] = true
			if p.Status.Phase != corev1.PodRunning || !podReady(&p) {
				notReady = append(notReady, fmt.Sprintf("%s/%s %s", p.Namespace, p.Name, p.Status.Phase))
			}
		}
		if !apps["kube-system/kube"] || !apps[MeshapiNamespace+"/meshapi"] {
			return false, fmt.Sprintf("kube-proxy or the agent not on the node yet: %v", apps)
		}
		if len(notReady) > 0 {
			return false, fmt.Sprintf("not ready: %v", notReady)
		}
		blocks, err := t.NodeBlocks(ctx, n.TopoNode)
		if err != nil || len(blocks) == 0 {
			return false, fmt.Sprint("no IPAM block yet ", err)
		}
		n.Block = blocks[0]
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, n.Logs(20))
	}
	return nil
}

// conditionTrue reports whether the node condition typ is True.
func conditionTrue(conds []corev1.NodeCondition, typ corev1.NodeConditionType) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podReady reports whether p's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
