package e2e

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// topology is framework.Topology on clusters[0] and clusters[1] for one
// test: errors fail the test, Close runs at cleanup.
type topology struct {
	*framework.Topology
	t        *testing.T
	a, b     *framework.Cluster
	cs       map[*framework.Cluster]versioned.Interface
	underlay *framework.Underlay
	nodes    []*framework.TopoNode
}

// newTopology builds the topology (framework.NewTopology) on the shared
// clusters[0] and clusters[1] and registers its Close as a cleanup. The
// clusters are not connected yet (connect).
func newTopology(t *testing.T, cfg framework.TopologyConfig) *topology {
	t.Helper()
	return newTopologyOn(t, clusters[0], clusters[1], cfg)
}

// newTopologyOn is newTopology on clusters a and b.
func newTopologyOn(t *testing.T, a, b *framework.Cluster, cfg framework.TopologyConfig) *topology {
	t.Helper()
	cfg.Logf = t.Logf
	topo, err := framework.NewTopology(ctxT(t), a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Error(err)
		}
	})
	return &topology{Topology: topo, t: t, a: topo.A, b: topo.B, cs: topo.Clients, underlay: topo.Underlay, nodes: topo.Nodes}
}

// connect connects the clusters (framework.Topology.Connect).
func (topo *topology) connect() {
	topo.t.Helper()
	if err := topo.Connect(ctxT(topo.t)); err != nil {
		topo.t.Fatal(err)
	}
}

// node returns the topology's node of that name ("a1" or full).
func (topo *topology) node(name string) *framework.TopoNode {
	topo.t.Helper()
	n, err := topo.NodeNamed(name)
	if err != nil {
		topo.t.Fatal(err)
	}
	return n
}

// addPod creates a pod on node n through the CNI plugin
// (framework.Topology.AddPod).
func (topo *topology) addPod(n *framework.TopoNode, ns, name string, labels map[string]string) *framework.TopoPod {
	topo.t.Helper()
	p, err := topo.AddPod(ctxT(topo.t), n, ns, name, labels)
	if err != nil {
		topo.t.Fatalf("%v\n%s", err, topo.AgentLogs())
	}
	return p
}

// deletePod deletes pod p (framework.Topology.DeletePod).
func (topo *topology) deletePod(p *framework.TopoPod) {
	topo.t.Helper()
	if err := topo.DeletePod(ctxT(topo.t), p); err != nil {
		topo.t.Fatal(err)
	}
}

// restartAgent restarts n's agent with extra flags.
func (topo *topology) restartAgent(n *framework.TopoNode, extra ...string) {
	topo.t.Helper()
	if err := topo.RestartAgent(ctxT(topo.t), n, extra...); err != nil {
		topo.t.Fatal(err)
	}
}

// routed reports whether node n has an agent route to dst.
func (topo *topology) routed(n *framework.TopoNode, dst netip.Prefix) (bool, string) {
	return topo.Routed(n, dst)
}

// dump shows what the agents programmed, for failures.
func (topo *topology) dump() string { return topo.Dump() }

// agentLogs returns the end of every agent's log, for failures.
func (topo *topology) agentLogs() string { return topo.AgentLogs() }

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
	if err := framework.Poll(context.Background(), timeout, what, cond); err != nil {
		log := topo.a.ControllerLog()
		t.Fatalf("%v\n%s\n%s", err, topo.AgentLogs(), log[max(0, len(log)-3000):])
	}
}
