package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

const dpVXLANPort = 4799 // not the default, to prove the FelixConfiguration is used

// Two clusters of two nodes each, every node a network namespace on a
// shared underlay bridge (in a namespace of its own) running its own
// meshapi-agent against its cluster's API, every pod a network namespace
// behind its node. Real traffic proves overlay routing Enabled (VXLAN on
// the configured port, no NAT), Disabled (no overlay routes: the underlay
// must route), switching live, and the removal of a deleted RCC's routes.
func TestAgentDataplane(t *testing.T) {
	ctx := ctxT(t)
	// The API side: controllers, the agent's RBAC, a FelixConfiguration
	// with VXLAN on a port of our choosing (the same in both clusters, as
	// the mesh requires), a natOutgoing VXLAN pool, a block per node; the
	// machines: underlay, nodes, an agent per node; a pod per node with its
	// WorkloadEndpoint.
	pools := [2]netip.Prefix{netip.MustParsePrefix("198.18.64.0/24"), netip.MustParsePrefix("198.18.65.0/24")}
	topo := newTopology(t, framework.TopologyConfig{Name: "dp", Nodes: 2, VXLANPort: dpVXLANPort, Namespaces: []string{"dataplane-e2e"}, Pools: pools})
	a, b := topo.a, topo.b
	cs := topo.cs
	underlay := topo.underlay
	a1, a2, b1, b2 := topo.node("a1"), topo.node("a2"), topo.node("b1"), topo.node("b2")
	pods := map[*framework.TopoNode]*framework.TopoPod{}
	for _, n := range topo.nodes {
		pods[n] = topo.addPod(n, "dataplane-e2e", "pod-"+n.Name, map[string]string{"app": "dp"})
	}
	// Blocks by IPAM from each cluster's pool, pod addresses by the plugin
	// from their node's block.
	for _, n := range topo.nodes {
		pool := pools[0]
		if n.Cluster == b {
			pool = pools[1]
		}
		if n.Block.Bits() != 26 || !pool.Contains(n.Block.Addr()) || !n.Block.Contains(pods[n].IP) {
			t.Fatalf("topology addresses: %s (%s) block %s, pod %s, pool %s", n.Name, n.IP, n.Block, pods[n].IP, pool)
		}
	}
	if a1.IP.String() != "198.18.0.1/24" {
		t.Fatalf("a1's underlay address %s", a1.IP)
	}
	routed, dump, agentLogs, eventually := topo.routed, topo.dump, topo.agentLogs, topo.eventually

	// Each cluster's nodes form an overlay already, before any RCC.
	eventually("a1 routes a2's block", func() (bool, string) { return routed(a1, a2.Block) })
	eventually("a2 routes a1's block", func() (bool, string) { return routed(a2, a1.Block) })
	if got, err := pods[a1].Ping(pods[a2].IP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping within cluster-a: %d replies, %v\n%s\n%s", got, err, dump(), agentLogs())
	}

	// Connect the clusters with overlay routing Enabled. What connecting
	// creates here (access Secrets; the Role and RoleBinding if they were
	// not there yet) goes again at the end, so later tests start clean.
	topo.connect()

	// Ping and TCP from cluster-a's pod to cluster-b's pod: the server sees
	// the client's own IP, and the packets crossed the underlay as VXLAN on
	// the configured port.
	server, err := pods[b1].ServeSourceAddress(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	before, err := underlay.UDPCount()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pods[a1].Ping(pods[b1].IP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping %s -> %s with overlay Enabled: %d replies, %v\n%s\n%s", pods[a1].IP, pods[b1].IP, got, err, dump(), agentLogs())
	}
	if seen, err := pods[a1].SourceSeen(netip.AddrPortFrom(pods[b1].IP, 8080), 5*time.Second); err != nil || seen != pods[a1].IP.String() {
		t.Fatalf("TCP %s -> %s: server saw %q, want the client's own %s (no NAT); %v", pods[a1].IP, pods[b1].IP, seen, pods[a1].IP, err)
	}
	after, err := underlay.UDPCount()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 6 {
		t.Errorf("VXLAN packets to UDP port %d on the underlay during ping and TCP: %d, want at least 6", dpVXLANPort, after-before)
	}
	t.Logf("overlay Enabled: %d VXLAN packets on UDP %d crossed the underlay bridge", after-before, dpVXLANPort)

	// The node's status and the agent's metrics tell the same.
	eventually("dp-a1 status.dataplane", func() (bool, string) {
		n, err := cs[a].ProjectcalicoV3().Nodes().Get(ctx, "dp-a1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		d := n.Status.Dataplane
		if d == nil {
			return false, "no status.dataplane"
		}
		for _, rc := range d.RemoteClusters {
			if rc.Cluster == b.Name {
				return rc.OverlayRoutingMode == "Enabled" && rc.Nodes == 2 && rc.Routes == 2 && d.VXLANDevice == "vxlan.calico" &&
					d.LastError == "" && d.LastApplyTime != nil, fmt.Sprintf("%+v", *d)
			}
		}
		return false, fmt.Sprintf("%+v", *d)
	})
	n, err := cs[a].ProjectcalicoV3().Nodes().Get(ctx, "dp-a1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Spec.IPv4VXLANTunnelAddr != "198.18.64.0" || n.Spec.VXLANTunnelMACAddr == "" || n.Spec.BGP == nil || n.Spec.BGP.IPv4Address != "198.18.0.1/24" {
		t.Errorf("registered Node dp-a1: %+v", n.Spec)
	}
	metrics := httpGet(t, "http://"+a1.Agent.Metrics+"/metrics")
	for _, want := range []string{`meshapi_agent_remote_cluster_routes{remote_cluster_name="cluster-b"} 2`, "meshapi_agent_routes_programmed 3",
		`meshapi_agent_apply_duration_seconds_count{component="dataplane"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("agent metrics lack %s", want)
		}
	}
	if got := httpGet(t, "http://"+a1.Agent.Metrics+"/healthz"); got != "ok" {
		t.Errorf("/healthz: %q", got)
	}

	// Overlay routing Disabled: the routes go, traffic fails until the
	// underlay routes the pod CIDRs; then it flows unencapsulated, still
	// without NAT (the remote endpoints are mesh destinations).
	for _, c := range []*framework.Cluster{a, b} {
		remote := map[*framework.Cluster]string{a: b.Name, b: a.Name}[c]
		kubectl(t, c, "", "patch", "rcc", remote, "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Disabled"}}}`)
	}
	for _, pair := range [][2]*framework.TopoNode{{a1, b1}, {a1, b2}, {a2, b1}, {b1, a1}, {b2, a2}} {
		eventually(fmt.Sprintf("%s's route to %s's block gone", pair[0].Name, pair[1].Name), func() (bool, string) {
			ok, state := routed(pair[0], pair[1].Block)
			return !ok, state
		})
	}
	eventually("a1 still routes a2's block", func() (bool, string) { return routed(a1, a2.Block) })
	if got, err := pods[a1].Ping(pods[b1].IP, 2, time.Second); err != nil || got != 0 {
		t.Fatalf("ping %s -> %s with overlay Disabled and no underlay route: %d replies, %v", pods[a1].IP, pods[b1].IP, got, err)
	}
	underlayRoutes := [][2]*framework.TopoNode{{a1, b1}, {b1, a1}}
	for _, r := range underlayRoutes {
		if err := r[0].Node.NS.IP("route", "add", r[1].Block.String(), "via", r[1].IP.Addr().String(), "proto", "static"); err != nil {
			t.Fatal(err)
		}
	}
	before, err = underlay.UDPCount()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pods[a1].Ping(pods[b1].IP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping %s -> %s with overlay Disabled over underlay routes: %d replies, %v", pods[a1].IP, pods[b1].IP, got, err)
	}
	if seen, err := pods[a1].SourceSeen(netip.AddrPortFrom(pods[b1].IP, 8080), 5*time.Second); err != nil || seen != pods[a1].IP.String() {
		t.Fatalf("TCP over the underlay: server saw %q, want the client's own %s (no NAT); %v", seen, pods[a1].IP, err)
	}
	if after, err := underlay.UDPCount(); err != nil || after != before {
		t.Errorf("VXLAN packets with overlay Disabled: %d, want none (%v)", after-before, err)
	}
	for _, r := range underlayRoutes {
		if err := r[0].Node.NS.IP("route", "del", r[1].Block.String(), "via", r[1].IP.Addr().String(), "proto", "static"); err != nil {
			t.Fatal(err)
		}
	}

	// Enabled again: the routes are back and traffic flows over VXLAN.
	for _, c := range []*framework.Cluster{a, b} {
		remote := map[*framework.Cluster]string{a: b.Name, b: a.Name}[c]
		kubectl(t, c, "", "patch", "rcc", remote, "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Enabled"}}}`)
	}
	for _, pair := range [][2]*framework.TopoNode{{a1, b1}, {b1, a1}} {
		eventually(fmt.Sprintf("%s routes %s's block again", pair[0].Name, pair[1].Name), func() (bool, string) { return routed(pair[0], pair[1].Block) })
	}
	if got, err := pods[a1].Ping(pods[b1].IP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping after re-enabling the overlay: %d replies, %v\n%s", got, err, agentLogs())
	}

	// Deleting the RCC removes cluster-b's routes from cluster-a's nodes,
	// and the remote cluster from their status.
	kubectl(t, a, "", "delete", "rcc", b.Name)
	for _, pair := range [][2]*framework.TopoNode{{a1, b1}, {a1, b2}, {a2, b1}, {a2, b2}} {
		eventually(fmt.Sprintf("%s's route to %s's block gone after the RCC's deletion", pair[0].Name, pair[1].Name), func() (bool, string) {
			ok, state := routed(pair[0], pair[1].Block)
			return !ok, state
		})
	}
	eventually("dp-a1 status without cluster-b", func() (bool, string) {
		n, err := cs[a].ProjectcalicoV3().Nodes().Get(ctx, "dp-a1", metav1.GetOptions{})
		if err != nil || n.Status.Dataplane == nil {
			return false, fmt.Sprint(err)
		}
		return len(n.Status.Dataplane.RemoteClusters) == 0, fmt.Sprintf("%+v", n.Status.Dataplane.RemoteClusters)
	})
	eventually("a1 still routes a2's block", func() (bool, string) { return routed(a1, a2.Block) })
}

// httpGet returns the body of a GET.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
