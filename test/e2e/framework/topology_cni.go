package framework

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshapi/meshapi/pkg/cni/install"
	"github.com/meshapi/meshapi/pkg/podendpoints"
)

// cniNode is the plugin as installed on a node: its /opt/cni/bin and
// /etc/cni/net.d, and the conflist the install step wrote.
type cniNode struct {
	binDir, confDir string
	conflist        *libcni.NetworkConfigList
	cni             *libcni.CNIConfig
}

// TopoPod is a pod of a topology: a Pod object, and a network namespace
// behind its node wired by meshapi-cni. The embedded Pod carries the
// namespace (NS), the address the plugin gave (IP) and the host side of
// the veth (Veth); it pings and connects.
type TopoPod struct {
	*Pod
	// Name and Namespace are the Pod object's.
	Name, Namespace string
	// Node is the pod's node.
	Node *TopoNode
	// ContainerID is the sandbox's ID in the runtime's CNI calls.
	ContainerID string
	// Result is the plugin's ADD result.
	Result  *current.Result
	deleted bool
}

// installCNI installs meshapi-cni on n as the agent DaemonSet's init
// container does, its conflist naming the socket of the IPAM service of
// n's agent (Cluster.AgentIPAMSocket) and, as Calico's does, a kubeconfig
// of the agent's ServiceAccount (which the plugin does not use: it makes
// no API call of its own).
func (t *Topology) installCNI(ctx context.Context, n *TopoNode) error {
	c := n.Cluster
	token, err := c.Kubectl(ctx, "", "create", "token", "meshapi-agent", "-n", MeshapiNamespace, "--duration=24h")
	if err != nil {
		return err
	}
	dir := filepath.Join(t.dir, n.Name)
	cn := &cniNode{binDir: filepath.Join(dir, "bin"), confDir: filepath.Join(dir, "net.d")}
	for _, d := range []string{cn.binDir, cn.confDir, filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("CNI directory of %s: %w", n.Name, err)
		}
	}
	kubeconfig := filepath.Join(cn.confDir, install.KubeconfigName)
	if err := writeKubeconfig(kubeconfig, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
		return fmt.Errorf("the CNI kubeconfig of %s: %w", n.Name, err)
	}
	if err := install.Install(install.Options{Binary: t.cniBin, BinDir: cn.binDir, ConfDir: cn.confDir,
		Kubeconfig: kubeconfig, NodeName: n.Name, IPAMSocket: c.AgentIPAMSocket(n.Name)}, io.Discard); err != nil {
		return fmt.Errorf("installing meshapi-cni on %s: %w", n.Name, err)
	}
	if cn.conflist, err = libcni.ConfListFromFile(filepath.Join(cn.confDir, install.ConflistName)); err != nil {
		return fmt.Errorf("parsing the conflist installed on %s: %w", n.Name, err)
	}
	cn.cni = libcni.NewCNIConfigWithCacheDir([]string{cn.binDir}, filepath.Join(dir, "cache"), nil)
	n.cni = cn
	return nil
}

// cniRetryFor is how long the framework, as the kubelet does, retries an
// invocation that failed with CNI error 11 (try again later): the node's
// agent, whose IPAM service the plugin asks, is starting or restarting.
const cniRetryFor = time.Minute

// inNodeRetrying runs f in n's namespace (inNode), again while it fails
// with CNI error 11, for at most cniRetryFor.
func (n *TopoNode) inNodeRetrying(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(cniRetryFor)
	for {
		err := n.inNode(f)
		var te *types.Error
		if err == nil || !errors.As(err, &te) || te.Code != types.ErrTryAgainLater || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runtimeConf is the runtime configuration of a pod's sandbox, with the
// CNI_ARGS a Kubernetes runtime passes.
func runtimeConf(containerID, netnsPath, namespace, pod string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: containerID,
		NetNS:       netnsPath,
		IfName:      "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", namespace},
			{"K8S_POD_NAME", pod},
			{"K8S_POD_INFRA_CONTAINER_ID", containerID},
		},
	}
}

// RuntimeConf is the runtime configuration of p's sandbox.
func (p *TopoPod) RuntimeConf() *libcni.RuntimeConf {
	return runtimeConf(p.ContainerID, p.NS.Path(), p.Namespace, p.Name)
}

// inNode runs f with the calling thread in n's namespace, so that the
// plugins libcni executes run there, as on the node.
func (n *TopoNode) inNode(f func() error) error { return n.Node.NS.Do(f) }

// CNIAdd is the runtime's ADD on node n.
func (n *TopoNode) CNIAdd(ctx context.Context, rt *libcni.RuntimeConf) (*current.Result, error) {
	var res types.Result
	if err := n.inNodeRetrying(ctx, func() (err error) {
		res, err = n.cni.cni.AddNetworkList(ctx, n.cni.conflist, rt)
		return err
	}); err != nil {
		return nil, fmt.Errorf("CNI ADD of container %s on %s: %w", rt.ContainerID, n.Name, err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("CNI ADD of container %s on %s: result: %w", rt.ContainerID, n.Name, err)
	}
	return r, nil
}

// CNICheck is the runtime's CHECK on node n.
func (n *TopoNode) CNICheck(ctx context.Context, rt *libcni.RuntimeConf) error {
	if err := n.inNode(func() error { return n.cni.cni.CheckNetworkList(ctx, n.cni.conflist, rt) }); err != nil {
		return fmt.Errorf("CNI CHECK of container %s on %s: %w", rt.ContainerID, n.Name, err)
	}
	return nil
}

// CNIDel is the runtime's DEL on node n.
func (n *TopoNode) CNIDel(ctx context.Context, rt *libcni.RuntimeConf) error {
	if err := n.inNodeRetrying(ctx, func() error { return n.cni.cni.DelNetworkList(ctx, n.cni.conflist, rt) }); err != nil {
		return fmt.Errorf("CNI DEL of container %s on %s: %w", rt.ContainerID, n.Name, err)
	}
	return nil
}

// CNIGC is the runtime's GC on node n with these attachments still valid.
func (n *TopoNode) CNIGC(ctx context.Context, valid ...*libcni.RuntimeConf) error {
	args := &libcni.GCArgs{}
	for _, rt := range valid {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: rt.ContainerID, IfName: rt.IfName})
	}
	if err := n.inNode(func() error { return n.cni.cni.GCNetworkList(ctx, n.cni.conflist, args) }); err != nil {
		return fmt.Errorf("CNI GC on %s: %w", n.Name, err)
	}
	return nil
}

// AddPod creates pod name in namespace ns (created if needed) of n's
// cluster, bound to n (spec.nodeName, so the podendpoints controller
// derives its WorkloadEndpoint), and wires it as a container runtime
// does: a new network namespace, meshapi-cni ADD through libcni with the
// installed conflist, then the Pod's status.podIPs from the result. It
// returns once the pod's WorkloadEndpoint carries the plugin's interface
// and address. Close deletes the pod unless DeletePod did.
func (t *Topology) AddPod(ctx context.Context, n *TopoNode, ns, name string, labels map[string]string) (*TopoPod, error) {
	return t.AddPodObject(ctx, n, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}})
}

// AddPodObject is AddPod with the whole Pod object (its name, namespace,
// labels and containers; spec.nodeName is set to n).
func (t *Topology) AddPodObject(ctx context.Context, n *TopoNode, pod *corev1.Pod) (*TopoPod, error) {
	ns, name := pod.Namespace, pod.Name
	if err := t.namespace(ctx, n.Cluster, ns); err != nil {
		return nil, err
	}
	if err := t.createPodObject(ctx, n, pod); err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.pods++
	seq := t.pods
	t.mu.Unlock()
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	p := &TopoPod{Pod: &Pod{Node: n.Node}, Name: name, Namespace: ns, Node: n, ContainerID: "ctr-" + hex.EncodeToString(id)}
	var err error
	if p.NS, err = NewNetNS(fmt.Sprintf("m%s-p%d-", t.cfg.Name, seq)); err != nil {
		return nil, errors.Join(err, t.deletePodObject(ctx, p))
	}
	t.push("deleting pod "+ns+"/"+name, func(ctx context.Context) error { return t.DeletePod(ctx, p) })
	if p.Result, err = n.CNIAdd(ctx, p.RuntimeConf()); err != nil {
		return nil, err
	}
	if err := p.fromResult(); err != nil {
		return nil, err
	}
	if err := t.reportPodIP(ctx, p); err != nil {
		return nil, err
	}
	return p, t.waitEndpoint(ctx, p)
}

// createPodObject creates the Pod object on n, retrying while the
// namespace's default ServiceAccount does not exist yet. Two minutes,
// because after an earlier test restarted the kube-apiserver the
// controller manager's informers relist with a backoff of up to 30 s
// before the ServiceAccount controller sees a new namespace.
func (t *Topology) createPodObject(ctx context.Context, n *TopoNode, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	pod.Spec.NodeName = n.Name
	return Poll(ctx, 2*time.Minute, fmt.Sprintf("creating pod %s/%s in %s", pod.Namespace, pod.Name, n.Cluster.Name), func() (bool, string) {
		_, err := t.Kube[n.Cluster].CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

// deletePodObject deletes p's Pod object, if it exists.
func (t *Topology) deletePodObject(ctx context.Context, p *TopoPod) error {
	zero := int64(0)
	if err := t.Kube[p.Node.Cluster].CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// fromResult takes the pod's address and host-side interface from the
// ADD result.
func (p *TopoPod) fromResult() error {
	for _, ifc := range p.Result.Interfaces {
		if ifc.Sandbox == "" {
			p.Veth = ifc.Name
		}
	}
	if len(p.Result.IPs) == 0 || p.Veth == "" {
		return fmt.Errorf("CNI ADD of %s/%s: result without an address or a host interface: %v", p.Namespace, p.Name, p.Result)
	}
	ip, ok := netip.AddrFromSlice(p.Result.IPs[0].Address.IP)
	if !ok {
		return fmt.Errorf("CNI ADD of %s/%s: address %v", p.Namespace, p.Name, p.Result.IPs[0].Address)
	}
	p.IP = ip.Unmap()
	return nil
}

// reportPodIP sets the Pod's status.podIPs (phase Running, Ready) to the
// plugin's addresses. In a real cluster the kubelet does this after the
// runtime's ADD; no kubelet runs here, so the framework patches the
// status exactly as the kubelet would.
func (t *Topology) reportPodIP(ctx context.Context, p *TopoPod) error {
	var ips []string
	for _, ipc := range p.Result.IPs {
		ips = append(ips, fmt.Sprintf(`{"ip":%q}`, ipc.Address.IP))
	}
	patch := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[%s],"conditions":[{"type":"Ready","status":"True"}]}}`, p.Result.IPs[0].Address.IP, strings.Join(ips, ","))
	if _, err := t.Kube[p.Node.Cluster].CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, ktypes.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patching status.podIPs of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// EndpointName is the name of p's WorkloadEndpoint.
func (p *TopoPod) EndpointName() string { return podendpoints.EndpointName(p.Node.Name, p.Name) }

// waitEndpoint waits until the podendpoints controller derived p's
// WorkloadEndpoint with the plugin's interface name and address.
func (t *Topology) waitEndpoint(ctx context.Context, p *TopoPod) error {
	weps := t.Clients[p.Node.Cluster].ProjectcalicoV3().WorkloadEndpoints(p.Namespace)
	return Poll(ctx, time.Minute, fmt.Sprintf("the WorkloadEndpoint of pod %s/%s", p.Namespace, p.Name), func() (bool, string) {
		w, err := weps.Get(ctx, p.EndpointName(), metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return w.Spec.InterfaceName == p.Veth && len(w.Spec.IPNetworks) == 1 && w.Spec.IPNetworks[0] == p.IP.String()+"/32",
			fmt.Sprintf("%+v", w.Spec)
	})
}

// DeletePod is the runtime's and the API's end of pod p: CNI DEL, the Pod
// object deleted, the network namespace removed. It does nothing for a
// pod already deleted.
func (t *Topology) DeletePod(ctx context.Context, p *TopoPod) error {
	t.mu.Lock()
	done := p.deleted
	p.deleted = true
	t.mu.Unlock()
	if done {
		return nil
	}
	if p.Node.cni != nil {
		if err := p.Node.CNIDel(ctx, p.RuntimeConf()); err != nil {
			return err
		}
	}
	if err := t.deletePodObject(ctx, p); err != nil {
		return err
	}
	return p.NS.Delete()
}
