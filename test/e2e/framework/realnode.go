package framework

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// RealNode is a Kubernetes node of a topology that runs Pods: a network
// namespace on the underlay in which containerd and a kubelet run (each
// with its own root, state and socket under the node's directory, the
// kubelet registered with its cluster's kube-apiserver as
// system:node:<name>), the node's pods in a cgroup of their own. Its
// agent and CNI plugin are not the framework's: the agent DaemonSet of
// artifacts/deploy runs on it as a Pod (InstallNodeAddons).
type RealNode struct {
	*TopoNode
	paths      realNodePaths
	cgroup     string
	containerd *process
	kubelet    *process
}

// AddRealNode adds a real node named <topology>-<short> at ip (in the
// underlay's /24) to cluster c, which must have been started with
// ClusterOptions.NodeAddress and had InstallNodeAddons. It returns once
// the kubelet registered the Node; Close stops the kubelet, containerd
// and every container, unmounts what they mounted, removes the node's
// cgroups, namespace and objects, and restores the sysctls the kubelet
// changed.
func (t *Topology) AddRealNode(ctx context.Context, c *Cluster, short string, ip netip.Prefix, images *NodeImages) (*RealNode, error) {
	host := t.realHosts[c]
	if host == nil || !c.HasNodes() {
		return nil, fmt.Errorf("real node %s: cluster %s has no node address or no add-ons (InstallNodeAddons)", short, c.Name)
	}
	n := &RealNode{TopoNode: &TopoNode{Cluster: c, Name: t.cfg.Name + "-" + short, IP: ip}}
	n.paths = newRealNodePaths(filepath.Join(t.dir, n.Name), host.cniBin, host.cniConf)
	n.cgroup = "meshapi-e2e-" + n.Name
	for _, d := range []string{n.paths.containerdRoot, n.paths.state, n.paths.runcRoot, n.paths.kubeletRoot, n.paths.podLogs, n.paths.certs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("real node %s: %w", n.Name, err)
		}
	}
	steps := []struct {
		what string
		fn   func(context.Context, *NodeImages) error
	}{
		{"network namespace", t.realNodeNamespace(n)},
		{"host route to the Pods", t.realNodeHostRoute(n, host.podCIDR)},
		{"cgroups", t.realNodeCgroups(n)},
		{"containerd", t.startContainerd(n)},
		{"images", n.importImages},
		{"kubelet", t.startKubelet(n)},
	}
	for _, s := range steps {
		t.logf("real node %s: %s", n.Name, s.what)
		if err := s.fn(ctx, images); err != nil {
			return nil, fmt.Errorf("real node %s: %s: %w", n.Name, s.what, err)
		}
	}
	if err := n.waitRegistered(ctx, t); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.Nodes = append(t.Nodes, n.TopoNode)
	t.mu.Unlock()
	return n, nil
}

// realNodeNamespace creates n's namespace on the underlay with a default
// route, and registers the removal of its API objects (the Kubernetes
// Node, and what the agent and the plugin took), which runs after
// everything on the node stopped.
func (t *Topology) realNodeNamespace(n *RealNode) func(context.Context, *NodeImages) error {
	return func(ctx context.Context, _ *NodeImages) error {
		node, err := t.Underlay.AddNode("m"+n.Name+"-", n.IP)
		if err != nil {
			return err
		}
		n.Node = node
		t.push("deleting node namespace "+node.NS.Name, func(context.Context) error { return node.NS.Delete() })
		if err := node.NS.IP("route", "add", "default", "via", UnderlayGateway, "dev", "eth0"); err != nil {
			return err
		}
		t.push("removing real node "+n.Name+" from the API", func(ctx context.Context) error {
			err := t.Kube[n.Cluster].CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting Kubernetes Node %s: %w", n.Name, err)
			}
			return t.forgetNode(ctx, n.TopoNode)
		})
		return nil
	}
}

// realNodeHostRoute routes podCIDR, the cluster's Pod addresses, from
// the host through n, as a control-plane machine on the Pods' network
// reaches them: kube-apiserver, which runs on the host, dials Pod
// addresses for its Pod and Service proxy (upstream's DNS e2e specs read
// their results through it) and for webhooks; without the route the
// host's default route would take them off the machine. One real node
// per cluster: a second node's route to the same addresses fails.
func (t *Topology) realNodeHostRoute(n *RealNode, podCIDR netip.Prefix) func(context.Context, *NodeImages) error {
	return func(context.Context, *NodeImages) error {
		route := []string{podCIDR.String(), "via", n.IP.Addr().String()}
		if out, err := exec.Command("ip", append([]string{"route", "add"}, route...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip route add %s: %w\n%s", strings.Join(route, " "), err, out)
		}
		t.push("removing the host route "+strings.Join(route, " "), func(context.Context) error {
			out, err := exec.Command("ip", append([]string{"route", "del"}, route...)...).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "No such process") { // gone with the host link
				return fmt.Errorf("ip route del %s: %w\n%s", strings.Join(route, " "), err, out)
			}
			return nil
		})
		return nil
	}
}

// hostDirsNodesCreate are the host directories a kubelet or containerd's
// shims create whatever their configuration (the kubelet's container log
// links; the shims' sockets), children first.
var hostDirsNodesCreate = []string{"/var/log/containers", "/run/containerd/s", "/run/containerd"}

// realNodeCgroups creates n's cgroup (the kubelet's cgroupRoot) and its
// runtime child (containerd and its shims), and registers the cleanup
// that kills whatever still runs in them, unmounts everything under the
// node's directory, removes the cgroups, the shims' sockets and the
// kubelet's links in /var/log/containers.
func (t *Topology) realNodeCgroups(n *RealNode) func(context.Context, *NodeImages) error {
	return func(context.Context, *NodeImages) error {
		var missing []string
		for _, d := range hostDirsNodesCreate {
			if _, err := os.Stat(d); os.IsNotExist(err) {
				missing = append(missing, d)
			}
		}
		t.push("removing the host directories "+n.Name+"'s kubelet and shims created", func(context.Context) error {
			for _, d := range missing {
				_ = os.Remove(d) // only once empty: another node may still use it
			}
			return nil
		})
		t.push("cleaning up real node "+n.Name, func(context.Context) error {
			return errors.Join(killCgroup(n.cgroup, 30*time.Second), removeShimSockets(n.paths.state),
				removeContainerLogLinks(n.paths.podLogs), unmountUnder(n.paths.dir), removeCgroup(n.cgroup))
		})
		if err := makeCgroup(n.cgroup); err != nil {
			return err
		}
		return makeCgroup(n.cgroup + "/runtime")
	}
}

// inNodeProcess is a process of n: bin run by nsenter in n's network
// namespace only (the mount namespace stays the host's, so that the
// kubelet's volume mounts and containerd's are the same), with bin/'s
// directory first in PATH (containerd finds its shim there).
func (n *RealNode) inNodeProcess(name, bin, log string, args ...string) *process {
	path := "PATH=" + filepath.Dir(bin) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	return &process{name: name + " " + n.Name, path: "/usr/bin/env", log: log,
		args: append([]string{path, "nsenter", "--net=" + n.Node.NS.Path(), "--", bin}, args...)}
}

// startContainerd writes n's containerd configuration, starts it in n's
// runtime cgroup and waits until it answers.
func (t *Topology) startContainerd(n *RealNode) func(context.Context, *NodeImages) error {
	return func(ctx context.Context, images *NodeImages) error {
		if err := os.WriteFile(n.paths.containerdConfig, []byte(n.paths.containerdConfigTOML(images.Pause)), 0o644); err != nil {
			return err
		}
		n.containerd = n.inNodeProcess("containerd", filepath.Join(RepoRoot(), "bin", "containerd"), n.paths.containerdLog,
			"--config", n.paths.containerdConfig, "--log-level", "warn")
		if err := n.containerd.start(); err != nil {
			return err
		}
		t.push("stopping containerd of "+n.Name, func(context.Context) error { return n.containerd.stop(15 * time.Second) })
		if err := joinCgroup(n.cgroup+"/runtime", n.containerd.cmd.Process.Pid); err != nil {
			return err
		}
		return Poll(ctx, 30*time.Second, "containerd of "+n.Name+" answering", func() (bool, string) {
			if done, err := n.containerd.exited(); done {
				return false, fmt.Sprintf("exited: %v\n%s", err, n.containerd.tail(20))
			}
			out, err := n.ctr(ctx, "version")
			return err == nil, out + fmt.Sprint(err)
		})
	}
}

// ctr runs bin/ctr against n's containerd, in the k8s.io namespace.
func (n *RealNode) ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(RepoRoot(), "bin", "ctr"), append([]string{"--address", n.paths.socket, "--namespace", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// importImages imports every image tarball into n's containerd.
func (n *RealNode) importImages(ctx context.Context, images *NodeImages) error {
	for _, tar := range images.Tarballs {
		if _, err := n.ctr(ctx, "images", "import", tar); err != nil {
			return err
		}
	}
	return nil
}

// startKubelet signs n's certificates, writes its kubeconfig and
// configuration, saves the host sysctls a kubelet changes (restored by
// Close) and starts it.
func (t *Topology) startKubelet(n *RealNode) func(context.Context, *NodeImages) error {
	return func(ctx context.Context, _ *NodeImages) error {
		c := n.Cluster
		client, serving, err := c.signNodeCerts(n.paths.certs, n.Name, n.IP.Addr())
		if err != nil {
			return err
		}
		if err := writeKubeconfig(n.paths.kubeletKubeconfig, c.Config.Host, c.CAFile(), &clientcmdapi.AuthInfo{
			ClientCertificate: client.CertFile, ClientKey: client.KeyFile}); err != nil {
			return err
		}
		files := map[string]string{
			n.paths.kubeletConfig: n.paths.kubeletConfigYAML(n.IP.Addr().String(), n.cgroup, c.CAFile(), serving),
			// Names outside the cluster go to the underlay's gateway,
			// which answers nothing: no query leaves the test's network.
			n.paths.resolv: "nameserver " + UnderlayGateway + "\n",
		}
		for path, body := range files {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				return err
			}
		}
		restore, err := saveSysctls(kubeletSysctls)
		if err != nil {
			return err
		}
		t.push("restoring the host sysctls the kubelet of "+n.Name+" set", func(context.Context) error { return restore() })
		n.kubelet = n.inNodeProcess("kubelet", filepath.Join(RepoRoot(), "bin", "kubelet"), n.paths.kubeletLg,
			"--config="+n.paths.kubeletConfig, "--kubeconfig="+n.paths.kubeletKubeconfig, "--root-dir="+n.paths.kubeletRoot,
			"--cert-dir="+n.paths.certs, "--node-ip="+n.IP.Addr().String(), "--hostname-override="+n.Name, "--v=1")
		if err := n.kubelet.start(); err != nil {
			return err
		}
		t.push("stopping the kubelet of "+n.Name, func(context.Context) error { return n.kubelet.stop(15 * time.Second) })
		t.push("draining "+n.Name, func(ctx context.Context) error { return t.drain(ctx, n) })
		return nil
	}
}

// drain cordons n and deletes its Pods on the pod network, waiting until
// they are gone, so that the kubelet tears their sandboxes down through
// the CNI plugin (which frees their addresses) while it still runs.
// hostNetwork Pods (the DaemonSets') stay until the node stops.
func (t *Topology) drain(ctx context.Context, n *RealNode) error {
	kube := t.Kube[n.Cluster]
	if _, err := kube.CoreV1().Nodes().Patch(ctx, n.Name, ktypes.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning %s: %w", n.Name, err)
	}
	onPodNetwork := func() ([]corev1.Pod, error) {
		pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
		if err != nil {
			return nil, err
		}
		var out []corev1.Pod
		for _, p := range pods.Items {
			if !p.Spec.HostNetwork {
				out = append(out, p)
			}
		}
		return out, nil
	}
	// Each round deletes what is not yet terminating: a controller's
	// replacement for a deleted Pod can still land on n when the
	// scheduler has not seen the cordon yet (after its API server
	// restarted, its watches take a while to come back).
	err := Poll(ctx, 90*time.Second, "the pods of "+n.Name+" gone", func() (bool, string) {
		pods, err := onPodNetwork()
		if err != nil {
			return false, fmt.Sprintf("pods of %s: %v", n.Name, err)
		}
		var still strings.Builder
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				if err := kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					fmt.Fprintf(&still, "deleting pod %s/%s: %v\n", p.Namespace, p.Name, err)
				}
			}
			still.WriteString(describePod(&p))
		}
		return len(pods) == 0, fmt.Sprintf("%d pods left\n%s", len(pods), still.String())
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, n.Problems(20))
	}
	return nil
}

// waitRegistered waits until the kubelet registered n's Node.
func (n *RealNode) waitRegistered(ctx context.Context, t *Topology) error {
	return Poll(ctx, time.Minute, "the kubelet of "+n.Name+" registering its Node", func() (bool, string) {
		if done, err := n.kubelet.exited(); done {
			return false, fmt.Sprintf("kubelet exited: %v\n%s", err, n.kubelet.tail(30))
		}
		_, err := t.Kube[n.Cluster].CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err, "\n", n.kubelet.tail(10))
	})
}

// Logs returns the end of n's kubelet and containerd logs, for failures.
func (n *RealNode) Logs(lines int) string {
	var s strings.Builder
	for _, p := range []*process{n.kubelet, n.containerd} {
		if p != nil {
			s.WriteString(p.tail(lines) + "\n")
		}
	}
	return s.String()
}
