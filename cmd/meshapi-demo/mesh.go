package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// The demo's addresses: the underlay's nodes in 198.18.0.0/24, and a /24
// pool per cluster, a /26 block of it per node.
var (
	underlayNet = netip.MustParsePrefix("198.18.0.0/24")
	pools       = [2]netip.Prefix{netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("198.18.20.0/24")}
)

// clusterNames are the two clusters, also their kubeconfig contexts.
var clusterNames = [2]string{"cluster-a", "cluster-b"}

// nodesPerCluster is the number of network-namespace nodes of each cluster.
const nodesPerCluster = 2

// node is a network namespace on the underlay with a meshapi-agent.
type node struct {
	ci    int // the cluster's index
	name  string
	ip    netip.Prefix
	block netip.Prefix
	n     *framework.Node
	agent *framework.Agent
	pods  int
}

// mesh is the demo's two clusters, their nodes and pods.
type mesh struct {
	dir, runDir, binDir string
	st                  *state
	out                 io.Writer
	started             time.Time

	bins       framework.Binaries
	agentBin   string
	meshctlBin string
	kubeconfig string

	clusters [2]*framework.Cluster
	cs       [2]versioned.Interface
	kube     [2]kubernetes.Interface
	underlay *framework.Underlay
	nodes    []*node
	pods     []*pod
}

// newMesh plans the mesh under dir; up starts it.
func newMesh(dir string, st *state, out io.Writer) *mesh {
	m := &mesh{dir: dir, runDir: filepath.Join(dir, "run"), binDir: filepath.Join(dir, "bin"), st: st, out: out,
		kubeconfig: filepath.Join(dir, "kubeconfig")}
	for ci := range clusterNames {
		for i := range nodesPerCluster {
			m.nodes = append(m.nodes, &node{ci: ci, name: fmt.Sprintf("node-%c%d", 'a'+ci, i+1),
				ip:    netip.PrefixFrom(addrAdd(underlayNet.Addr(), 1+ci*nodesPerCluster+i), underlayNet.Bits()),
				block: netip.PrefixFrom(addrAdd(pools[ci].Addr(), 64*i), 26)})
		}
	}
	return m
}

// addrAdd returns a plus n.
func addrAdd(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// step is one timed step of up.
type step struct {
	what string
	fn   func(context.Context) error
}

// up starts everything, step by step, showing the time each took.
func (m *mesh) up(ctx context.Context) error {
	m.started = time.Now()
	steps := []step{
		{"building meshapi-apiserver, meshapi-controller, meshapi-agent and meshctl", m.build},
		{"starting cluster-a and cluster-b: etcd, kube-apiserver, kube-controller-manager, meshapi-apiserver behind its APIService", m.startClusters},
		{"starting meshapi-controller; VXLAN, an IP pool per cluster, a block per node", m.controlPlane},
		{"creating two network-namespace nodes per cluster, a meshapi-agent on each", m.startNodes},
		{"deploying bookinfo (productpage, reviews-v1 in A; reviews-v2, -v3 in B), the federated reviews Service, default.app-to-db", m.deployBookinfo},
		{"connecting the clusters: meshctl connect --context cluster-a --context cluster-b", m.connect},
		{"waiting for cross-cluster routes, reviews' federated endpoints and a ping from A to B", m.waitMesh},
	}
	for i, s := range steps {
		fmt.Fprintf(m.out, "[%d/%d] %s\n", i+1, len(steps), s.what)
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.what, err)
		}
		fmt.Fprintf(m.out, "      done in %s\n", time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// build checks the upstream binaries and builds meshapi's into binDir.
func (m *mesh) build(ctx context.Context) error {
	var err error
	if m.bins, err = framework.FindBinaries(ctx, m.binDir); err != nil {
		return err
	}
	if m.agentBin, err = framework.BuildAgent(ctx, m.binDir); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", m.binDir+"/", "./cmd/meshctl")
	cmd.Dir = framework.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building meshctl: %w\n%s", err, out)
	}
	m.meshctlBin = filepath.Join(m.binDir, "meshctl")
	return nil
}

// startClusters starts both clusters side by side.
func (m *mesh) startClusters(ctx context.Context) error {
	if err := m.st.addDir(m.runDir); err != nil {
		return err
	}
	if err := os.MkdirAll(m.runDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", m.runDir, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(clusterNames))
	for i, name := range clusterNames {
		wg.Go(func() {
			m.clusters[i], errs[i] = framework.StartCluster(ctx, name, filepath.Join(m.runDir, name), m.bins)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, c := range m.clusters {
		var err error
		if m.cs[i], err = versioned.NewForConfig(c.Config); err != nil {
			return fmt.Errorf("client of %s: %w", c.Name, err)
		}
		if m.kube[i], err = kubernetes.NewForConfig(c.Config); err != nil {
			return fmt.Errorf("client of %s: %w", c.Name, err)
		}
	}
	return m.st.recordChildren(m.runDir)
}

// controlPlane starts each cluster's meshapi-controller and writes what
// the agents need: their RBAC, FelixConfiguration "default" with VXLAN,
// the cluster's IP pool, a block per node, and a Kubernetes Node per node
// (the EndpointSlice controller skips pods on nodes it does not know).
func (m *mesh) controlPlane(ctx context.Context) error {
	for ci, c := range m.clusters {
		if err := c.StartController(ctx); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		if _, err := c.Kubectl(ctx, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "deploy", "60-agent.yaml")); err != nil {
			return err
		}
		on, port := true, v3.DefaultVXLANPort
		if _, err := m.cs[ci].ProjectcalicoV3().FelixConfigurations().Create(ctx, &v3.FelixConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "default"},
			Spec:       v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANPort: &port},
		}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: FelixConfiguration default: %w", c.Name, err)
		}
		if _, err := c.Kubectl(ctx, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: %s-pool
spec:
  cidr: %s
  vxlanMode: Always
  natOutgoing: true
  blockSize: 26
`, c.Name, pools[ci]), "apply", "-f", "-"); err != nil {
			return err
		}
	}
	for _, n := range m.nodes {
		if err := m.registerNode(ctx, n); err != nil {
			return err
		}
	}
	return m.st.recordChildren(m.runDir)
}

// registerNode writes node n's IPAM block and Kubernetes Node.
func (m *mesh) registerNode(ctx context.Context, n *node) error {
	blockName := strings.NewReplacer(".", "-", "/", "-").Replace(n.block.String())
	affinity := "host:" + n.name
	if _, err := m.cs[n.ci].ProjectcalicoV3().IPAMBlocks().Create(ctx, &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: blockName},
		Spec: v3.IPAMBlockSpec{CIDR: n.block.String(), Affinity: &affinity, StrictAffinity: true}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("%s: IPAMBlock %s of node %s: %w", clusterNames[n.ci], blockName, n.name, err)
	}
	if _, err := m.kube[n.ci].CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("%s: Kubernetes Node %s: %w", clusterNames[n.ci], n.name, err)
	}
	return nil
}

// startNodes creates the underlay and the nodes, starts an agent on each,
// and waits until each cluster's nodes route each other's blocks.
func (m *mesh) startNodes(ctx context.Context) error {
	var err error
	if m.underlay, err = framework.NewUnderlay(netnsPrefix); err != nil {
		return err
	}
	if err := m.st.addNetns(m.underlay.NS.Name); err != nil {
		return err
	}
	for _, n := range m.nodes {
		if n.n, err = m.underlay.AddNode(netnsPrefix+n.name+"-", n.ip); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
		if err := m.st.addNetns(n.n.NS.Name); err != nil {
			return err
		}
		if n.agent, err = m.clusters[n.ci].StartAgent(ctx, m.agentBin, n.name, n.ip.String(), n.n.NS.Path()); err != nil {
			return fmt.Errorf("meshapi-agent of %s: %w", n.name, err)
		}
		if err := m.st.recordChildren(m.runDir); err != nil {
			return err
		}
	}
	return m.waitRoutes(ctx, func(from, to *node) bool { return from.ci == to.ci })
}

// waitRoutes waits until every node routes the block of every other node
// that pair selects, with an agent route (protocol 82) via the overlay.
func (m *mesh) waitRoutes(ctx context.Context, pair func(from, to *node) bool) error {
	for _, from := range m.nodes {
		for _, to := range m.nodes {
			if from == to || !pair(from, to) {
				continue
			}
			if err := waitFor(ctx, 2*time.Minute, fmt.Sprintf("%s routes %s's block %s", from.name, to.name, to.block), func() (bool, string) {
				out, err := from.n.NS.IPOutput("route", "show", "proto", "82")
				if err != nil {
					return false, err.Error()
				}
				return strings.Contains(out, to.block.String()+" via "), out
			}); err != nil {
				return fmt.Errorf("%w\n%s", err, from.agent.Log(20))
			}
		}
	}
	return nil
}

// waitFor polls cond every 250 ms until it holds, ctx ends, or timeout
// passes; the error names what it waited for and the last state seen.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		last = state
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s; last seen: %s", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// teardown stops the controllers first (each watches the other cluster,
// which would otherwise hold up both sides' shutdown), then the agents and
// the clusters, side by side; it deletes every network namespace the demo
// created, and removes its run directory, kubeconfig and state file.
func (m *mesh) teardown() error {
	errs := m.stopAll(func(c *framework.Cluster) error { return c.StopController() }, func(*node) error { return nil })
	errs = append(errs, m.stopAll((*framework.Cluster).Stop, func(n *node) error { return n.agent.Stop() })...)
	m.st.mu.Lock()
	names := append([]string(nil), m.st.Netns...)
	m.st.mu.Unlock()
	for i := len(names) - 1; i >= 0; i-- {
		if exists(filepath.Join(netnsDir, names[i])) {
			errs = append(errs, deleteNetns(names[i]))
		}
	}
	for _, path := range []string{m.runDir, m.kubeconfig} {
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", path, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err // the state file stays, for the next run to finish
	}
	return m.st.finish()
}

// stopAll runs stopCluster on every started cluster and stopNode on every
// node with an agent, all at once, and returns their errors.
func (m *mesh) stopAll(stopCluster func(*framework.Cluster) error, stopNode func(*node) error) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	collect := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for _, c := range m.clusters {
		if c != nil {
			wg.Go(func() { collect(stopCluster(c)) })
		}
	}
	for _, n := range m.nodes {
		if n.agent != nil {
			wg.Go(func() { collect(stopNode(n)) })
		}
	}
	wg.Wait()
	return errs
}
