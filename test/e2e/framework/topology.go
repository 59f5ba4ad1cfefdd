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
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// TopologyConfig describes a two-cluster network-namespace topology.
type TopologyConfig struct {
	// Name prefixes the node names ("<name>-a1", "<name>-b2"), the IP
	// pools ("<name>-pool") and the network namespaces ("m<name>-...").
	Name string
	// Nodes is the number of nodes per cluster.
	Nodes int
	// Pools are the two clusters' pod CIDRs: an IPPool each, blockSize 26,
	// vxlanMode Always, natOutgoing. Nodes get their blocks by IPAM.
	Pools [2]netip.Prefix
	// VXLANPort is the FelixConfiguration's vxlanPort in both clusters.
	VXLANPort int
	// AgentArgs are extra meshapi-agent flags.
	AgentArgs []string
	// NodeArgs, if set, returns more flags for one node's agent (by its
	// full name), after AgentArgs.
	NodeArgs func(node string) []string
	// Felix, if set, changes the FelixConfiguration "default" of both
	// clusters further (after vxlanEnabled and vxlanPort), before the
	// agents start; Close undoes the change.
	Felix func(*v3.FelixConfigurationSpec)
	// Namespaces are Kubernetes namespaces the pods need, in both
	// clusters; created first (unless they exist), so deleted last.
	Namespaces []string
	// Logf, if set, receives progress messages.
	Logf func(format string, args ...any)
	// Underlay, if set, is the underlay to build on (one made before the
	// clusters, so that it links to the host with Underlay.AddHost for
	// real nodes); the topology adds its gateway address and counter to
	// it and removes the address, but does not delete it.
	Underlay *Underlay
	// BGP builds the clusters of the seed's underlay designs: every
	// node's agent runs inside the node's namespace with --bgp, as the
	// agent's DaemonSet Pod (hostNetwork) runs, so that its BGP speaker
	// listens on and dials from the node's address; the pools are
	// vxlanMode Never and the FelixConfiguration has VXLAN off; the
	// routes waited for are those the speakers learn (protocol 84); and
	// Connect's RCCs say overlayRoutingMode Disabled. The clusters must
	// have been started for real nodes (ClusterOptions.NodeAddress), so
	// that the node namespaces reach their kube-apiserver.
	BGP bool
	// Racks, if set, put each cluster's nodes on a rack of its own
	// (cluster A's on Racks[0], B's on Racks[1]; see ToR) instead of one
	// underlay shared by both: Underlay is then unused, and the nodes'
	// default gateway is their rack's router.
	Racks [2]*Rack
}

// TopoNode is a node of a topology: a network namespace on the underlay
// running a meshapi-agent against its cluster, with meshapi-cni installed
// as the agent DaemonSet's init container installs it.
type TopoNode struct {
	// Cluster is the node's cluster.
	Cluster *Cluster
	// Name is the node's name ("<name>-a1").
	Name string
	// IP is the node's underlay address.
	IP netip.Prefix
	// Node is the node's network namespace.
	Node *Node
	// Agent is the node's running agent.
	Agent *Agent
	// Block is the node's first IPAM block, the one its agent's VXLAN
	// tunnel address allocation claimed.
	Block netip.Prefix
	cni   *cniNode
}

// Topology is two clusters (A and B) of network-namespace nodes on one
// underlay bridge, each node running its own agent, pods wired by the
// meshapi-cni plugin: the API side (controllers, the agent's RBAC, a
// FelixConfiguration with VXLAN, a natOutgoing VXLAN pool per cluster)
// and the machines. Close removes everything it created and restores what
// it changed, so the clusters end as they started.
type Topology struct {
	// A and B are the two clusters.
	A, B *Cluster
	// More are the clusters beyond A and B (AddCluster), which have
	// real nodes only.
	More []*Cluster
	// Nodes are cluster A's nodes, then cluster B's.
	Nodes []*TopoNode
	// Underlay is the nodes' shared L2 network.
	Underlay *Underlay
	// Clients are the administrators' typed clients of A and B.
	Clients map[*Cluster]versioned.Interface
	// Kube are the administrators' Kubernetes clients of A and B.
	Kube map[*Cluster]kubernetes.Interface

	cfg      TopologyConfig
	dir      string // the binaries, kubeconfigs and CNI directories
	agentBin string
	cniBin   string

	mu         sync.Mutex
	undo       []undoStep
	closed     bool
	namespaces map[*Cluster]map[string]bool
	pods       int
	// realHosts are the host paths of each cluster's real nodes
	// (InstallNodeAddons).
	realHosts map[*Cluster]*realHost
}

// undoStep is one thing Close undoes.
type undoStep struct {
	what string
	fn   func(ctx context.Context) error
}

// NewTopology builds the topology on clusters a and b and waits until
// each cluster's nodes route each other's blocks. The clusters are not
// connected yet (Connect). On error what was built is undone.
func NewTopology(ctx context.Context, a, b *Cluster, cfg TopologyConfig) (*Topology, error) {
	t := &Topology{A: a, B: b, cfg: cfg, Clients: map[*Cluster]versioned.Interface{}, Kube: map[*Cluster]kubernetes.Interface{},
		namespaces: map[*Cluster]map[string]bool{a: {}, b: {}}, realHosts: map[*Cluster]*realHost{}}
	if err := t.build(ctx); err != nil {
		return nil, errors.Join(err, t.Close())
	}
	return t, nil
}

// build runs NewTopology's steps.
func (t *Topology) build(ctx context.Context) error {
	if err := t.prepare(ctx); err != nil {
		return err
	}
	for _, ns := range t.cfg.Namespaces {
		for _, c := range []*Cluster{t.A, t.B} {
			if err := t.namespace(ctx, c, ns); err != nil {
				return err
			}
		}
	}
	for ci, c := range []*Cluster{t.A, t.B} {
		if err := t.apiSide(ctx, c, t.cfg.Pools[ci]); err != nil {
			return err
		}
	}
	if err := t.machines(ctx); err != nil {
		return err
	}
	for _, n := range t.Nodes {
		if err := t.waitBlock(ctx, n); err != nil {
			return err
		}
	}
	return t.waitRoutes(ctx, func(from, to *TopoNode) bool { return from.Cluster == to.Cluster })
}

// prepare makes the temporary directory, builds the binaries, the clients
// and the node list.
func (t *Topology) prepare(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "meshapi-topo-"+t.cfg.Name+"-")
	if err != nil {
		return fmt.Errorf("topology %s: temporary directory: %w", t.cfg.Name, err)
	}
	t.dir = dir
	t.push("removing "+dir, func(context.Context) error { return os.RemoveAll(dir) })
	t.logf("topology %s: building meshapi-agent and meshapi-cni into %s", t.cfg.Name, dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/meshapi-agent", "./cmd/meshapi-cni")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building meshapi-agent and meshapi-cni: %w\n%s", err, out)
	}
	t.agentBin, t.cniBin = filepath.Join(dir, "meshapi-agent"), filepath.Join(dir, "meshapi-cni")
	for _, c := range []*Cluster{t.A, t.B} {
		if t.Clients[c], err = versioned.NewForConfig(c.Config); err != nil {
			return fmt.Errorf("client of %s: %w", c.Name, err)
		}
		if t.Kube[c], err = kubernetes.NewForConfig(c.Config); err != nil {
			return fmt.Errorf("kubernetes client of %s: %w", c.Name, err)
		}
	}
	for ci, c := range []*Cluster{t.A, t.B} {
		for i := range t.cfg.Nodes {
			ip := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(1 + ci*t.cfg.Nodes + i)}), 24)
			if r := t.cfg.Racks[ci]; r != nil {
				ip = r.NodeIP(i)
			}
			t.Nodes = append(t.Nodes, &TopoNode{Cluster: c, Name: fmt.Sprintf("%s-%c%d", t.cfg.Name, 'a'+ci, i+1), IP: ip})
		}
	}
	return nil
}

// machines creates the underlay, the nodes, installs the plugin on each
// and starts their agents.
func (t *Topology) machines(ctx context.Context) error {
	if t.cfg.Racks == [2]*Rack{} {
		if err := t.sharedUnderlay(); err != nil {
			return err
		}
	}
	prefix := "m" + t.cfg.Name + "-"
	for _, n := range t.Nodes {
		// Registered before the agent starts, so it runs after the agent
		// stopped: a running agent would register its Node again.
		t.push("removing node "+n.Name+" from the API", func(ctx context.Context) error { return t.forgetNode(ctx, n) })
		u, gateway := t.placement(n)
		var err error
		if n.Node, err = u.AddNode(prefix+n.Name[len(t.cfg.Name)+1:]+"-", n.IP); err != nil {
			return err
		}
		nsNode := n.Node
		t.push("deleting node namespace "+nsNode.NS.Name, func(context.Context) error { return nsNode.NS.Delete() })
		if err := nsNode.NS.IP("route", "add", "default", "via", gateway, "dev", "eth0"); err != nil {
			return err
		}
		if err := t.installCNI(ctx, n); err != nil {
			return err
		}
		if err := t.StartAgent(ctx, n); err != nil {
			return err
		}
		t.push("stopping the agent of "+n.Name, func(context.Context) error {
			if n.Agent == nil {
				return nil
			}
			return n.Agent.Stop()
		})
	}
	for _, u := range t.Underlays() {
		if err := u.CountUDP(uint16(t.cfg.VXLANPort)); err != nil {
			return err
		}
	}
	return nil
}

// sharedUnderlay creates the underlay of both clusters (or takes
// cfg.Underlay) and gives it the gateway address.
func (t *Topology) sharedUnderlay() error {
	u := t.cfg.Underlay
	if u == nil {
		var err error
		if u, err = NewUnderlay("m" + t.cfg.Name + "-"); err != nil {
			return err
		}
		t.push("deleting the underlay", func(context.Context) error { return u.NS.Delete() })
	} else {
		t.push("removing the underlay's gateway address", func(context.Context) error {
			return u.NS.IP("addr", "del", UnderlayGateway+"/24", "dev", "br0")
		})
	}
	t.Underlay = u
	// The underlay's gateway (it forwards nothing): every node has a
	// default route, as a real node has.
	return u.NS.IP("addr", "add", UnderlayGateway+"/24", "dev", "br0")
}

// placement returns the underlay node n sits on and its default gateway:
// UnderlayGateway on the shared underlay, its rack's router otherwise.
// (The plugin's pods reach their gateway 169.254.1.1 by proxy ARP on the
// node's end of their veth, which answers only for addresses the node
// routes through another interface: a node needs a default route.)
func (t *Topology) placement(n *TopoNode) (*Underlay, string) {
	r := t.cfg.Racks[0]
	if n.Cluster == t.B {
		r = t.cfg.Racks[1]
	}
	if r == nil {
		return t.Underlay, UnderlayGateway
	}
	return r.Underlay, r.Gateway.Addr().String()
}

// Underlays are the underlays the nodes sit on: the shared one, or the
// racks'. Each counts the UDP packets to the VXLAN port it forwards.
func (t *Topology) Underlays() []*Underlay {
	if t.Underlay != nil {
		return []*Underlay{t.Underlay}
	}
	var out []*Underlay
	for _, r := range t.cfg.Racks {
		if r != nil {
			out = append(out, r.Underlay)
		}
	}
	return out
}

// UnderlayGateway is the underlay's address in the nodes' default route.
// It forwards nothing: traffic nothing else routes ends there.
const UnderlayGateway = "198.18.0.254"

// StartAgent starts n's agent with the topology's flags and extra ones.
// Close stops whichever agent n has then.
func (t *Topology) StartAgent(ctx context.Context, n *TopoNode, extra ...string) error {
	args := append([]string(nil), t.cfg.AgentArgs...)
	if t.cfg.NodeArgs != nil {
		args = append(args, t.cfg.NodeArgs(n.Name)...)
	}
	args = append(args, extra...)
	start := func() (*Agent, error) {
		return n.Cluster.StartAgent(ctx, t.agentBin, n.Name, n.IP.String(), n.Node.NS.Path(), args...)
	}
	if t.cfg.BGP {
		start = func() (*Agent, error) {
			return n.Cluster.StartAgentInNamespace(ctx, t.agentBin, n.Name, n.IP.String(), n.Node.NS.Name, append([]string{"--bgp"}, args...)...)
		}
	}
	a, err := start()
	if err != nil {
		return fmt.Errorf("starting the agent of %s: %w", n.Name, err)
	}
	n.Agent = a
	return nil
}

// RestartAgent stops n's agent and starts it again with extra flags.
func (t *Topology) RestartAgent(ctx context.Context, n *TopoNode, extra ...string) error {
	if err := n.Agent.Stop(); err != nil {
		return fmt.Errorf("stopping the agent of %s: %w", n.Name, err)
	}
	return t.StartAgent(ctx, n, extra...)
}

// Clusters are A, B and More, in that order.
func (t *Topology) Clusters() []*Cluster {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Cluster{t.A, t.B}, t.More...)
}

// others are the topology's clusters other than c.
func (t *Topology) others(c *Cluster) []*Cluster {
	var out []*Cluster
	for _, o := range t.Clusters() {
		if o != c {
			out = append(out, o)
		}
	}
	return out
}

// Remote is the other cluster of a topology of two (A's is B, any
// other's A).
func (t *Topology) Remote(c *Cluster) *Cluster {
	if c == t.A {
		return t.B
	}
	return t.A
}

// NodeNamed returns the topology's node of that name, full ("<name>-a1")
// or short ("a1").
func (t *Topology) NodeNamed(name string) (*TopoNode, error) {
	if !strings.HasPrefix(name, t.cfg.Name+"-") {
		name = t.cfg.Name + "-" + name
	}
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("topology %s: no node %q", t.cfg.Name, name)
}

// push records an undo step.
func (t *Topology) push(what string, fn func(ctx context.Context) error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.undo = append(t.undo, undoStep{what: what, fn: fn})
}

// logf reports progress to cfg.Logf.
func (t *Topology) logf(format string, args ...any) {
	if t.cfg.Logf != nil {
		t.cfg.Logf(format, args...)
	}
}

// Close undoes everything the topology created and restores what it
// changed, in reverse order, and reports every step that failed. Calling
// it again does nothing.
func (t *Topology) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	steps := t.undo
	t.undo = nil
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("topology %s: %s: %w", t.cfg.Name, steps[i].what, err))
		}
	}
	return errors.Join(errs...)
}

// Poll calls cond every 250 ms until it holds, ctx ends or timeout
// passes; the error names what and the last state cond reported.
func Poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) error {
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
			return fmt.Errorf("%s: %w; last seen: %s", what, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
