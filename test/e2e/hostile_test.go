package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

const hrVXLANPort = 4797

// hostileObject is an object the test writes into the remote cluster,
// and the name its mirror would have in the local one.
type hostileObject struct {
	kind, namespace, name string
}

// TestHostileRemote: a remote cluster whose API serves objects that claim
// what it does not own — blocks of 0.0.0.0/1, 169.254.169.254/32, a local
// pod's address and a CIDR inside the local pool, endpoints with a local
// node's and a local pod's address, nodes with the local node's VTEP and
// MAC — changes nothing on the local node (routes, rules, neighbours, FDB,
// nftables), is refused with an Event and the MirrorRefused condition on
// the RCC, and leaves the local agent healthy.
func TestHostileRemote(t *testing.T) {
	ctx := ctxT(t)
	topo := newTopology(t, framework.TopologyConfig{Name: "hr", Nodes: 1, VXLANPort: hrVXLANPort, Namespaces: []string{"hostile-e2e"},
		Pools: [2]netip.Prefix{netip.MustParsePrefix("198.18.76.0/24"), netip.MustParsePrefix("198.18.77.0/24")}})
	a, b := topo.a, topo.b
	a1, b1 := topo.node("a1"), topo.node("b1")
	podA := topo.addPod(a1, "hostile-e2e", "pod", map[string]string{"app": "hr"})
	topo.addPod(b1, "hostile-e2e", "pod", map[string]string{"app": "hr"})
	topo.connect()

	local, err := topo.cs[a].ProjectcalicoV3().Nodes().Get(ctx, a1.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if local.Spec.IPv4VXLANTunnelAddr == "" || local.Spec.VXLANTunnelMACAddr == "" {
		t.Fatalf("node %s publishes no VTEP: %+v", a1.Name, local.Spec)
	}
	before := nodeState(t, a1)

	hostile := writeHostile(t, topo, b1, local, podA.IP)
	// A benign block written last: once a1 routes it, the agent has seen
	// the mirror after every hostile object was processed.
	canary := netip.MustParsePrefix("198.18.77.128/26")
	createBlock(t, topo, b, "hr-canary", canary, b1.Name)
	topo.eventually("a1 routes the canary block", func() (bool, string) { return topo.routed(a1, canary) })

	rcc := waitRefusals(t, topo, hostile)
	t.Logf("MirrorRefused: %s", meta.FindStatusCondition(rcc.Status.Conditions, v3.RemoteClusterConditionMirrorRefused).Message)
	checkRefusalEvents(t, topo, len(hostile))
	for _, h := range hostile {
		if err := getMirror(ctx, topo, h); !apierrors.IsNotFound(err) {
			t.Errorf("the mirror of %s %s exists in %s (err %v)", h.kind, h.name, a.Name, err)
		}
	}

	// The canary goes; the node is then as it was before the hostile
	// objects, to the byte (less packet counters).
	if err := topo.cs[b].ProjectcalicoV3().IPAMBlocks().Delete(ctx, "hr-canary", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	topo.eventually("a1 drops the canary block", func() (bool, string) { ok, s := topo.routed(a1, canary); return !ok, s })
	after := nodeState(t, a1)
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if before[k] != after[k] {
			t.Errorf("%s on %s changed:\nbefore:\n%s\nafter:\n%s", k, a1.Name, before[k], after[k])
		}
	}
	if got := httpGet(t, "http://"+a1.Agent.Metrics+"/healthz"); got != "ok" {
		t.Errorf("a1 /healthz: %q", got)
	}
	if got := httpGet(t, "http://"+a1.Agent.Metrics+"/metrics"); !strings.Contains(got, "meshapi_agent_remote_objects_refused 0") {
		t.Errorf("a1 saw refused mirrors, the controller should have kept them out:\n%s", grepLines(got, "refused"))
	}
	foreignRouteConflict(t, topo, a1, b1)
}

// foreignRouteConflict: a legitimate remote block whose destination a
// route of another owner holds on a1 is skipped and reported (metric,
// status.dataplane), the foreign route stays, and a1 stays healthy.
func foreignRouteConflict(t *testing.T, topo *topology, a1, b1 *framework.TopoNode) {
	t.Helper()
	contested := netip.MustParsePrefix("198.18.77.192/26")
	if err := a1.Node.NS.IP("route", "add", contested.String(), "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	createBlock(t, topo, topo.b, "hr-contested", contested, b1.Name)
	topo.eventually("a1 reports the route conflict", func() (bool, string) {
		n, err := topo.cs[topo.a].ProjectcalicoV3().Nodes().Get(ctxT(t), a1.Name, metav1.GetOptions{})
		if err != nil || n.Status.Dataplane == nil {
			return false, fmt.Sprint(err)
		}
		return strings.Contains(n.Status.Dataplane.LastError, contested.String()), n.Status.Dataplane.LastError
	})
	if got := httpGet(t, "http://"+a1.Agent.Metrics+"/metrics"); !strings.Contains(got, "meshapi_agent_route_conflicts 1") {
		t.Errorf("a1 metrics:\n%s", grepLines(got, "conflicts"))
	}
	if got := httpGet(t, "http://"+a1.Agent.Metrics+"/healthz"); got != "ok" {
		t.Errorf("a1 /healthz with a route conflict: %q", got)
	}
	out, err := a1.Node.NS.IPOutput("route", "show", contested.String())
	if err != nil || !strings.Contains(out, "dev eth0") || strings.Contains(out, "proto 82") {
		t.Errorf("the foreign route to %s changed: %q, %v", contested, out, err)
	}
}

// writeHostile writes the hostile objects into cluster b, affine to (or
// on) its node b1, and deletes them at cleanup.
func writeHostile(t *testing.T, topo *topology, b1 *framework.TopoNode, local *v3.Node, podIP netip.Addr) []hostileObject {
	t.Helper()
	ctx := ctxT(t)
	b := topo.b
	cs := topo.cs[b].ProjectcalicoV3()
	var out []hostileObject
	for name, cidr := range map[string]string{
		"hr-evil-half": "0.0.0.0/1", "hr-evil-metadata": "169.254.169.254/32",
		"hr-evil-pod": podIP.String() + "/32", "hr-evil-inpool": "198.18.76.128/26",
	} {
		createBlock(t, topo, b, name, netip.MustParsePrefix(cidr), b1.Name)
		out = append(out, hostileObject{kind: "IPAMBlock", name: name})
	}
	for pod, ip := range map[string]string{"evil-nodeaddr": "198.18.0.1/32", "evil-podip": podIP.String() + "/32"} {
		name := podendpoints.EndpointName(b1.Name, pod)
		weps := cs.WorkloadEndpoints("hostile-e2e")
		if _, err := weps.Create(ctx, &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v3.WorkloadEndpointSpec{Node: b1.Name, Orchestrator: "k8s", Pod: pod, Endpoint: "eth0", IPNetworks: []string{ip}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = weps.Delete(context.Background(), name, metav1.DeleteOptions{}) })
		out = append(out, hostileObject{kind: "WorkloadEndpoint", namespace: "hostile-e2e", name: name})
	}
	for name, spec := range map[string]v3.NodeSpec{
		"hr-evil-vtep": {BGP: &v3.NodeBGPSpec{IPv4Address: "198.18.0.50/24"},
			IPv4VXLANTunnelAddr: local.Spec.IPv4VXLANTunnelAddr, VXLANTunnelMACAddr: local.Spec.VXLANTunnelMACAddr},
		"hr-evil-mac": {BGP: &v3.NodeBGPSpec{IPv4Address: "198.18.0.51/24"},
			IPv4VXLANTunnelAddr: "198.18.77.200", VXLANTunnelMACAddr: local.Spec.VXLANTunnelMACAddr},
	} {
		if _, err := cs.Nodes().Create(ctx, &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		out = append(out, hostileObject{kind: "Node", name: name})
	}
	return out
}

// createBlock creates an IPAMBlock in c affine to node, deleted at cleanup.
func createBlock(t *testing.T, topo *topology, c *framework.Cluster, name string, cidr netip.Prefix, node string) {
	t.Helper()
	cs := topo.cs[c].ProjectcalicoV3()
	affinity := "host:" + node
	if _, err := cs.IPAMBlocks().Create(ctxT(t), &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.IPAMBlockSpec{CIDR: cidr.String(), Affinity: &affinity}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating IPAMBlock %s %s: %v", name, cidr, err)
	}
	t.Cleanup(func() {
		if err := cs.IPAMBlocks().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting IPAMBlock %s: %v", name, err)
		}
	})
}

// waitRefusals waits until cluster a's RCC for b has MirrorRefused True
// naming every hostile object.
func waitRefusals(t *testing.T, topo *topology, hostile []hostileObject) *v3.RemoteClusterConfiguration {
	t.Helper()
	var rcc *v3.RemoteClusterConfiguration
	topo.eventually("MirrorRefused names every hostile object", func() (bool, string) {
		var err error
		rcc, err = topo.cs[topo.a].ProjectcalicoV3().RemoteClusterConfigurations().Get(ctxT(t), topo.b.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(rcc.Status.Conditions, v3.RemoteClusterConditionMirrorRefused)
		if c == nil || c.Status != metav1.ConditionTrue {
			return false, fmt.Sprintf("conditions %+v", rcc.Status.Conditions)
		}
		if !strings.HasPrefix(c.Message, fmt.Sprintf("%d remote object(s)", len(hostile))) {
			return false, c.Message
		}
		return true, ""
	})
	return rcc
}

// checkRefusalEvents waits for a Warning Event MirrorRefused on the RCC
// per refused object.
func checkRefusalEvents(t *testing.T, topo *topology, n int) {
	t.Helper()
	kube, err := kubernetes.NewForConfig(topo.a.Config)
	if err != nil {
		t.Fatal(err)
	}
	topo.eventually(fmt.Sprintf("%d MirrorRefused Events", n), func() (bool, string) {
		evs, err := kube.CoreV1().Events(metav1.NamespaceDefault).List(ctxT(t), metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + topo.b.Name + ",reason=MirrorRefused"})
		if err != nil {
			return false, err.Error()
		}
		var msgs []string
		for _, e := range evs.Items {
			if e.Type == "Warning" && e.InvolvedObject.Kind == "RemoteClusterConfiguration" {
				msgs = append(msgs, e.Message)
			}
		}
		return len(msgs) >= n, strings.Join(msgs, "\n")
	})
}

// getMirror reads the local mirror of a hostile object.
func getMirror(ctx context.Context, topo *topology, h hostileObject) error {
	cs := topo.cs[topo.a].ProjectcalicoV3()
	name := v3.MirrorName(topo.b.Name, h.name)
	var err error
	switch h.kind {
	case "IPAMBlock":
		_, err = cs.IPAMBlocks().Get(ctx, name, metav1.GetOptions{})
	case "WorkloadEndpoint":
		_, err = cs.WorkloadEndpoints(h.namespace).Get(ctx, name, metav1.GetOptions{})
	case "Node":
		_, err = cs.Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	return err
}

// counters are what changes in nftables output with traffic alone.
var counters = regexp.MustCompile(`counter packets \d+ bytes \d+|expires \S+`)

// nodeState is what the agent programs on node n: routes of every table,
// rules, permanent neighbours, the VXLAN device's FDB and nftables.
func nodeState(t *testing.T, n *framework.TopoNode) map[string]string {
	t.Helper()
	state := map[string]string{}
	for key, args := range map[string][]string{
		"routes":     {"route", "show", "table", "all"},
		"rules":      {"rule", "show"},
		"neighbours": {"neigh", "show", "nud", "permanent"},
	} {
		out, err := n.Node.NS.IPOutput(args...)
		if err != nil {
			t.Fatalf("%s: ip %s: %v", n.Name, strings.Join(args, " "), err)
		}
		state[key] = out
	}
	for key, args := range map[string][]string{
		"fdb":      {"bridge", "fdb", "show", "dev", "vxlan.calico"},
		"nftables": {"nft", "list", "ruleset"},
	} {
		out, err := exec.Command("ip", append([]string{"netns", "exec", n.Node.NS.Name}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %s: %v\n%s", n.Name, strings.Join(args, " "), err, out)
		}
		state[key] = counters.ReplaceAllString(string(out), "")
	}
	return state
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
