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
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// pools are the clusters' pod CIDRs; nodes get /26 blocks of them by IPAM.
var pools = [2]netip.Prefix{netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("198.18.20.0/24")}

// clusterNames are the two clusters, also their kubeconfig contexts.
var clusterNames = [2]string{"cluster-a", "cluster-b"}

// topologyName names the demo's topology: its nodes are demo-a1, demo-a2,
// demo-b1, demo-b2, its network namespaces start with netnsPrefix.
const topologyName = "demo"

// nodesPerCluster is the number of network-namespace nodes of each cluster.
const nodesPerCluster = 2

// mesh is the demo's two clusters, their nodes and pods.
type mesh struct {
	dir, runDir, binDir string
	st                  *state
	out                 io.Writer
	started             time.Time

	bins       framework.Binaries
	meshctlBin string
	kubeconfig string

	clusters [2]*framework.Cluster
	topo     *framework.Topology
	pods     []*pod
}

// newMesh plans the mesh under dir; up starts it.
func newMesh(dir string, st *state, out io.Writer) *mesh {
	return &mesh{dir: dir, runDir: filepath.Join(dir, "run"), binDir: filepath.Join(dir, "bin"), st: st, out: out,
		kubeconfig: filepath.Join(dir, "kubeconfig")}
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
		{"building meshapi-apiserver, meshapi-controller and meshctl", m.build},
		{"starting cluster-a and cluster-b: etcd, kube-apiserver, kube-controller-manager, meshapi-apiserver behind its APIService", m.startClusters},
		{"two network-namespace nodes per cluster: meshapi-controller, VXLAN, an IP pool per cluster, a meshapi-agent and meshapi-cni per node", m.startNodes},
		{"deploying bookinfo (productpage, reviews-v1 in A; reviews-v2, -v3 in B; pods wired by meshapi-cni), the federated reviews Service, default.app-to-db", m.deployBookinfo},
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
	cmd := exec.CommandContext(ctx, "go", "build", "-o", m.binDir+"/", "./cmd/meshctl")
	cmd.Dir = framework.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building meshctl: %w\n%s", err, out)
	}
	m.meshctlBin = filepath.Join(m.binDir, "meshctl")
	return nil
}

// startClusters starts both clusters side by side. Temporary files (the
// topology's binaries and CNI directories) go under the run directory too,
// so that everything the demo writes is in one place.
func (m *mesh) startClusters(ctx context.Context) error {
	if err := m.st.addDir(m.runDir); err != nil {
		return err
	}
	tmp := filepath.Join(m.runDir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	if err := os.Setenv("TMPDIR", tmp); err != nil {
		return fmt.Errorf("TMPDIR=%s: %w", tmp, err)
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
	return m.st.recordChildren(m.runDir)
}

// startNodes builds the framework's two-cluster topology (controllers,
// VXLAN, pools, the underlay, nodes with an agent and meshapi-cni each),
// records its network namespaces, and gives each node a Kubernetes Node
// (the EndpointSlice controller skips pods on nodes it does not know).
func (m *mesh) startNodes(ctx context.Context) error {
	topo, err := framework.NewTopology(ctx, m.clusters[0], m.clusters[1], framework.TopologyConfig{
		Name: topologyName, Nodes: nodesPerCluster, Pools: pools, VXLANPort: v3.DefaultVXLANPort,
		Namespaces: []string{"bookinfo", "myapp"},
		Logf:       func(format string, args ...any) { fmt.Fprintf(m.out, "      · "+format+"\n", args...) },
	})
	if err := errors.Join(err, m.recordNetns(), m.st.recordChildren(m.runDir)); err != nil {
		return err
	}
	m.topo = topo
	for _, n := range topo.Nodes {
		if _, err := topo.Kube[n.Cluster].CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: Kubernetes Node %s: %w", n.Cluster.Name, n.Name, err)
		}
	}
	return nil
}

// recordNetns records every network namespace of the demo's prefix.
func (m *mesh) recordNetns() error {
	names, err := netnsWithPrefix(netnsPrefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		m.st.mu.Lock()
		known := slices.Contains(m.st.Netns, n)
		m.st.mu.Unlock()
		if !known {
			if err := m.st.addNetns(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitRoutes waits until every node routes the block of every other node
// that pair selects, with an agent route (protocol 82) via the overlay.
func (m *mesh) waitRoutes(ctx context.Context, pair func(from, to *framework.TopoNode) bool) error {
	for _, from := range m.topo.Nodes {
		for _, to := range m.topo.Nodes {
			if from == to || !pair(from, to) {
				continue
			}
			if err := framework.Poll(ctx, 2*time.Minute, fmt.Sprintf("%s routes %s's block %s", from.Name, to.Name, to.Block),
				func() (bool, string) { return m.topo.Routed(from, to.Block) }); err != nil {
				return fmt.Errorf("%w\n%s", err, m.topo.AgentLogs())
			}
		}
	}
	return nil
}

// teardown stops the agents, the controllers (each watches the other
// cluster, which would otherwise hold up both sides' shutdown), then the
// clusters side by side; it deletes every network namespace the demo
// created and removes its run directory (clusters, logs, the topology's
// files), kubeconfig and state file. It does not undo the topology's API
// objects one by one (Topology.Close): the clusters are discarded whole,
// and that undo takes 20 s and leaves the API servers slow to stop.
// The topology's API relays end with the process, which exits next.
func (m *mesh) teardown() error {
	var errs []error
	if m.topo != nil {
		errs = append(errs, m.timed("stopping the agents", func() error { return m.stopAgents() }))
	}
	errs = append(errs, m.timed("stopping meshapi-controller", func() error { return errors.Join(m.stopClusters((*framework.Cluster).StopController)...) }))
	errs = append(errs, m.timed("stopping the clusters", func() error { return errors.Join(m.stopClusters((*framework.Cluster).Stop)...) }))
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

// stopAgents stops every node's agent at once.
func (m *mesh) stopAgents() error {
	var wg sync.WaitGroup
	errs := make([]error, len(m.topo.Nodes))
	for i, n := range m.topo.Nodes {
		if n.Agent != nil {
			wg.Go(func() { errs[i] = n.Agent.Stop() })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// timed runs fn, saying what it does and how long it took.
func (m *mesh) timed(what string, fn func() error) error {
	start := time.Now()
	err := fn()
	fmt.Fprintf(m.out, "      %s: %s\n", what, time.Since(start).Round(100*time.Millisecond))
	return err
}

// stopClusters runs stop on every started cluster at once and returns
// the errors.
func (m *mesh) stopClusters(stop func(*framework.Cluster) error) []error {
	var wg sync.WaitGroup
	errs := make([]error, len(m.clusters))
	for i, c := range m.clusters {
		if c != nil {
			wg.Go(func() { errs[i] = stop(c) })
		}
	}
	wg.Wait()
	return errs
}
