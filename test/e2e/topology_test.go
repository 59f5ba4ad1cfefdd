package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// topologyConfig describes a two-cluster network-namespace topology.
type topologyConfig struct {
	// name prefixes the node names ("<name>-a1", "<name>-b2"), the IP pools
	// ("<name>-pool") and the network namespaces ("m<name>-...").
	name string
	// nodes is the number of nodes per cluster.
	nodes int
	// pools are the two clusters' pod CIDRs, /24s; node i of a cluster gets
	// its i-th /26 as its block.
	pools [2]netip.Prefix
	// vxlanPort is the FelixConfiguration's vxlanPort in both clusters.
	vxlanPort int
	// agentArgs are extra meshapi-agent flags.
	agentArgs []string
	// nodeArgs, if set, returns more flags for one node's agent (by its
	// full name), after agentArgs.
	nodeArgs func(node string) []string
	// felix, if set, changes the FelixConfiguration "default" of both
	// clusters further (after vxlanEnabled and vxlanPort), before the
	// agents start; the change is undone at cleanup.
	felix func(*v3.FelixConfigurationSpec)
	// namespaces are Kubernetes namespaces the pods need, in both
	// clusters; created first (unless they exist), so deleted last.
	namespaces []string
}

// topoNode is a node of a topology: a network namespace on the underlay
// running a meshapi-agent against its cluster.
type topoNode struct {
	cluster *framework.Cluster
	name    string
	ip      netip.Prefix
	block   netip.Prefix
	node    *framework.Node
	agent   *framework.Agent
	pods    int
}

// topoPod is a pod of a topology: a network namespace behind its node.
type topoPod struct {
	*framework.Pod
	name, namespace string
	node            *topoNode
}

// topology is two clusters (clusters[0] and clusters[1]) of network
// namespace nodes on one underlay bridge, each node running its own agent:
// the API side (controllers, the agent's RBAC, FelixConfiguration with
// VXLAN, a natOutgoing VXLAN pool, a block per node) and the machines.
// Everything it creates is removed by t.Cleanup, and what it changed is
// restored, so the clusters end as they started.
type topology struct {
	t        *testing.T
	cfg      topologyConfig
	a, b     *framework.Cluster
	cs       map[*framework.Cluster]versioned.Interface
	underlay *framework.Underlay
	nodes    []*topoNode // cluster a's, then cluster b's

	mu         sync.Mutex
	namespaces map[*framework.Cluster]map[string]bool
	bin        string // the meshapi-agent binary
}

// startAgent starts n's agent with the topology's flags and extra ones.
// The cleanup newTopology registered stops whichever agent n has then.
func (topo *topology) startAgent(n *topoNode, extra ...string) {
	t := topo.t
	t.Helper()
	args := append([]string(nil), topo.cfg.agentArgs...)
	if topo.cfg.nodeArgs != nil {
		args = append(args, topo.cfg.nodeArgs(n.name)...)
	}
	var err error
	if n.agent, err = n.cluster.StartAgent(ctxT(t), topo.bin, n.name, n.ip.String(), n.node.NS.Path(), append(args, extra...)...); err != nil {
		t.Fatal(err)
	}
}

// restartAgent stops n's agent and starts it again with extra flags.
func (topo *topology) restartAgent(n *topoNode, extra ...string) {
	t := topo.t
	t.Helper()
	if err := n.agent.Stop(); err != nil {
		t.Fatal(err)
	}
	topo.startAgent(n, extra...)
}

// newTopology builds the topology and waits until each cluster's nodes
// route each other's blocks. The clusters are not connected yet (connect).
func newTopology(t *testing.T, cfg topologyConfig) *topology {
	t.Helper()
	ctx := ctxT(t)
	a, b := clusters[0], clusters[1]
	topo := &topology{t: t, cfg: cfg, a: a, b: b,
		cs:         map[*framework.Cluster]versioned.Interface{a: clientFor(t, a), b: clientFor(t, b)},
		namespaces: map[*framework.Cluster]map[string]bool{a: {}, b: {}}}
	bin, err := framework.BuildAgent(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range cfg.namespaces {
		topo.namespace(a, ns)
		topo.namespace(b, ns)
	}
	for ci, c := range []*framework.Cluster{a, b} {
		pool := cfg.pools[ci]
		for i := range cfg.nodes {
			blk := netip.PrefixFrom(pool.Addr(), 26)
			for range i {
				blk = netip.PrefixFrom(addrAdd(blk.Addr(), 64), 26)
			}
			topo.nodes = append(topo.nodes, &topoNode{cluster: c, name: fmt.Sprintf("%s-%c%d", cfg.name, 'a'+ci, i+1),
				ip: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(1 + ci*cfg.nodes + i)}), 24), block: blk})
		}
	}

	// The API side.
	for ci, c := range []*framework.Cluster{a, b} {
		if err := c.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		agentManifest := filepath.Join(framework.ArtifactsDir(), "deploy", "60-agent.yaml")
		kubectl(t, c, "", "apply", "-f", agentManifest)
		t.Cleanup(func() { kubectl(t, c, "", "delete", "-f", agentManifest, "--ignore-not-found") })
		topo.felixVXLAN(c)
		kubectl(t, c, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: %s-pool
spec:
  cidr: %s
  vxlanMode: Always
  natOutgoing: true
  blockSize: 26
`, cfg.name, cfg.pools[ci]), "apply", "-f", "-")
		t.Cleanup(func() { kubectl(t, c, "", "delete", "ippool", cfg.name+"-pool", "--ignore-not-found") })
	}
	for _, n := range topo.nodes {
		cs := topo.cs[n.cluster].ProjectcalicoV3()
		blockName := strings.NewReplacer(".", "-", "/", "-").Replace(n.block.String())
		affinity := "host:" + n.name
		if _, err := cs.IPAMBlocks().Create(ctx, &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: blockName},
			Spec: v3.IPAMBlockSpec{CIDR: n.block.String(), Affinity: &affinity, StrictAffinity: true}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Registered before the agent starts, so it runs after the agent
		// stopped: a running agent would register its Node again.
		t.Cleanup(func() {
			for _, err := range []error{
				cs.IPAMBlocks().Delete(context.Background(), blockName, metav1.DeleteOptions{}),
				cs.Nodes().Delete(context.Background(), n.name, metav1.DeleteOptions{}),
			} {
				if err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("cleaning up node %s: %v", n.name, err)
				}
			}
		})
	}

	// The machines: underlay, nodes, an agent per node.
	prefix := "m" + cfg.name + "-"
	if topo.underlay, err = framework.NewUnderlay(prefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.underlay.NS.Delete(); err != nil {
			t.Error(err)
		}
	})
	for _, n := range topo.nodes {
		if n.node, err = topo.underlay.AddNode(prefix+n.name[len(cfg.name)+1:]+"-", n.ip); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.node.NS.Delete(); err != nil {
				t.Error(err)
			}
		})
		topo.bin = bin
		topo.startAgent(n)
		t.Cleanup(func() {
			if err := n.agent.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	if err := topo.underlay.CountUDP(uint16(cfg.vxlanPort)); err != nil {
		t.Fatal(err)
	}
	for _, from := range topo.nodes {
		for _, to := range topo.nodes {
			if from != to && from.cluster == to.cluster {
				topo.eventually(fmt.Sprintf("%s routes %s's block", from.name, to.name), func() (bool, string) { return topo.routed(from, to.block) })
			}
		}
	}
	return topo
}

// addrAdd returns a plus n.
func addrAdd(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// felixVXLAN turns VXLAN on at the configured port in c's FelixConfiguration
// "default", and restores it (or deletes it) at cleanup.
func (topo *topology) felixVXLAN(c *framework.Cluster) {
	t := topo.t
	t.Helper()
	ctx := ctxT(t)
	felix := topo.cs[c].ProjectcalicoV3().FelixConfigurations()
	old, err := felix.Get(ctx, "default", metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	on, port := true, topo.cfg.vxlanPort
	if apierrors.IsNotFound(err) {
		spec := v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANPort: &port}
		if topo.cfg.felix != nil {
			topo.cfg.felix(&spec)
		}
		_, err = felix.Create(ctx, &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: spec}, metav1.CreateOptions{})
		t.Cleanup(func() { kubectl(t, c, "", "delete", "felixconfiguration", "default", "--ignore-not-found") })
	} else {
		saved := *old.Spec.DeepCopy()
		old.Spec.VXLANEnabled, old.Spec.VXLANPort = &on, &port
		if topo.cfg.felix != nil {
			topo.cfg.felix(&old.Spec)
		}
		_, err = felix.Update(ctx, old, metav1.UpdateOptions{})
		t.Cleanup(func() {
			cur, err := felix.Get(context.Background(), "default", metav1.GetOptions{})
			if err == nil {
				cur.Spec = saved
				_, err = felix.Update(context.Background(), cur, metav1.UpdateOptions{})
			}
			if err != nil {
				t.Errorf("restoring FelixConfiguration default of %s: %v", c.Name, err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// connect connects the clusters both ways with overlay routing Enabled,
// with the seed's steps, and waits until every node routes every other
// cluster's node's block. Cleanup deletes the RCCs, waits for the mirrors
// of the topology's nodes to go, and removes the access Secrets, and the
// Role and RoleBinding unless they were there before.
func (topo *topology) connect() {
	t := topo.t
	t.Helper()
	ctx := ctxT(t)
	a, b := topo.a, topo.b
	for _, c := range []*framework.Cluster{a, b} {
		remote := topo.remote(c)
		kube, err := kubernetes.NewForConfig(c.Config)
		if err != nil {
			t.Fatal(err)
		}
		_, roleErr := kube.RbacV1().Roles("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
		_, bindingErr := kube.RbacV1().RoleBindings("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
		t.Cleanup(func() {
			kubectl(t, c, "", "delete", "secret", "remote-cluster-secret-"+remote.Name, "-n", "calico-system", "--ignore-not-found")
			if apierrors.IsNotFound(bindingErr) {
				kubectl(t, c, "", "delete", "rolebinding", "remote-cluster-secret-access", "-n", "calico-system", "--ignore-not-found")
			}
			if apierrors.IsNotFound(roleErr) {
				kubectl(t, c, "", "delete", "role", "remote-cluster-secret-access", "-n", "calico-system", "--ignore-not-found")
			}
		})
	}
	kubeconfigs := map[*framework.Cluster]string{a: remoteKubeconfig(t, a), b: remoteKubeconfig(t, b)}
	t.Cleanup(func() {
		for _, c := range []*framework.Cluster{a, b} {
			kubectl(t, c, "", "delete", "remoteclusterconfigurations", "--all")
		}
		// The controller removes the mirrors of a deleted RCC.
		deadline := time.Now().Add(time.Minute)
		for _, n := range topo.nodes {
			local := topo.remote(n.cluster)
			name := n.cluster.Name + "." + n.name
			for {
				_, err := topo.cs[local].ProjectcalicoV3().Nodes().Get(context.Background(), name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("the mirror %s of node %s is still in %s: %v", name, n.name, local.Name, err)
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	})
	connect(t, a, b.Name, kubeconfigs[b])
	connect(t, b, a.Name, kubeconfigs[a])
	waitSyncState(t, a, topo.cs[a], b.Name, v3.SyncStateInSync, time.Minute)
	waitSyncState(t, b, topo.cs[b], a.Name, v3.SyncStateInSync, time.Minute)
	for _, from := range topo.nodes {
		for _, to := range topo.nodes {
			if from.cluster != to.cluster {
				topo.eventually(fmt.Sprintf("%s routes %s's block", from.name, to.name), func() (bool, string) { return topo.routed(from, to.block) })
			}
		}
	}
}

// remote is the other cluster.
func (topo *topology) remote(c *framework.Cluster) *framework.Cluster {
	if c == topo.a {
		return topo.b
	}
	return topo.a
}

// node returns the topology's node of that name.
func (topo *topology) node(name string) *topoNode {
	for _, n := range topo.nodes {
		if n.name == cfgName(topo, name) {
			return n
		}
	}
	topo.t.Fatalf("no node %s", name)
	return nil
}

// cfgName completes a short node name ("a1") with the topology's name.
func cfgName(topo *topology, name string) string {
	if strings.HasPrefix(name, topo.cfg.name+"-") {
		return name
	}
	return topo.cfg.name + "-" + name
}

// namespace creates the Kubernetes namespace ns in c unless it exists,
// deleting what it created at cleanup (and waiting until it is gone, so
// that a later test may create it again).
func (topo *topology) namespace(c *framework.Cluster, ns string) {
	t := topo.t
	t.Helper()
	topo.mu.Lock()
	done := topo.namespaces[c][ns]
	topo.namespaces[c][ns] = true
	topo.mu.Unlock()
	if done {
		return
	}
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Get(ctxT(t), ns, metav1.GetOptions{}); err == nil {
		return // not ours
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	kubectl(t, c, "", "create", "namespace", ns)
	t.Cleanup(func() {
		if _, err := c.Kubectl(context.Background(), "", "delete", "namespace", ns, "--ignore-not-found", "--timeout=90s"); err != nil {
			t.Errorf("deleting namespace %s of %s: %v", ns, c.Name, err)
		}
	})
}

// addNetnsPod creates a pod's network namespace behind node n, at the
// node's next address (block + 10, + 11, ...), with the veth name the
// original's CNI gives pod name in namespace ns. It creates no API object.
func (topo *topology) addNetnsPod(n *topoNode, ns, name string) *topoPod {
	t := topo.t
	t.Helper()
	ip := addrAdd(n.block.Addr(), 10+n.pods)
	n.pods++
	p, err := n.node.AddPodVeth(fmt.Sprintf("m%s-%s%d-", topo.cfg.name, n.name[len(topo.cfg.name)+1:], n.pods), ip, podendpoints.InterfaceName(ns, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.NS.Delete(); err != nil {
			t.Error(err)
		}
	})
	return &topoPod{Pod: p, name: name, namespace: ns, node: n}
}

// addPod creates a pod behind node n and its WorkloadEndpoint, in
// namespace ns (created if needed) of n's cluster, as a CNI plugin would:
// spec.interfaceName the pod's veth on the node, its labels, its address.
func (topo *topology) addPod(n *topoNode, ns, name string, labels map[string]string) *topoPod {
	t := topo.t
	t.Helper()
	topo.namespace(n.cluster, ns)
	p := topo.addNetnsPod(n, ns, name)
	weps := topo.cs[n.cluster].ProjectcalicoV3().WorkloadEndpoints(ns)
	if _, err := weps.Create(ctxT(t), &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: p.wepName(), Labels: labels},
		Spec: v3.WorkloadEndpointSpec{Node: n.name, Orchestrator: "k8s", Pod: name, Endpoint: "eth0",
			InterfaceName: p.Veth, IPNetworks: []string{p.IP.String() + "/32"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := weps.Delete(context.Background(), p.wepName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting the WorkloadEndpoint of %s: %v", name, err)
		}
	})
	return p
}

// wepName is the pod's WorkloadEndpoint name.
func (p *topoPod) wepName() string { return podendpoints.EndpointName(p.node.name, p.name) }

// routed reports whether node n has an agent route (protocol 82) to dst.
func (topo *topology) routed(n *topoNode, dst netip.Prefix) (bool, string) {
	out, err := n.node.NS.IPOutput("route", "show", "proto", "82")
	if err != nil {
		return false, err.Error()
	}
	return strings.Contains(out, dst.String()+" via "), out
}

// agentLogs returns the end of every agent's log, for failures.
func (topo *topology) agentLogs() string {
	var s strings.Builder
	for _, n := range topo.nodes {
		s.WriteString(n.agent.Log(15) + "\n")
	}
	return s.String()
}

// dump shows what the agents programmed, for failures.
func (topo *topology) dump() string {
	var s strings.Builder
	for _, n := range topo.nodes {
		for _, args := range [][]string{{"-d", "link", "show", "vxlan.calico"}, {"addr", "show", "vxlan.calico"}, {"route"}, {"neigh", "show", "dev", "vxlan.calico"}} {
			out, err := n.node.NS.IPOutput(args...)
			fmt.Fprintf(&s, "%s: ip %s: %s%v\n", n.name, strings.Join(args, " "), out, err)
		}
	}
	return s.String()
}

// eventually polls cond every 250 ms for up to a minute, failing the test
// with the agents' and the controller's logs if it never holds.
func (topo *topology) eventually(what string, cond func() (bool, string)) {
	topo.t.Helper()
	topo.eventuallyWithin(time.Minute, what, cond)
}

// eventuallyWithin is eventually with another timeout.
func (topo *topology) eventuallyWithin(timeout time.Duration, what string, cond func() (bool, string)) {
	t := topo.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	log := topo.a.ControllerLog()
	t.Fatalf("%s: not within %s; last seen: %s\n%s\n%s", what, timeout, last, topo.agentLogs(), log[max(0, len(log)-3000):])
}
