package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// dpNode is a node of the dataplane test: its cluster, underlay address,
// block and pod.
type dpNode struct {
	cluster *framework.Cluster
	name    string
	ip      netip.Prefix
	block   netip.Prefix
	podIP   netip.Addr

	node  *framework.Node
	pod   *framework.Pod
	agent *framework.Agent
}

const dpVXLANPort = 4799 // not the default, to prove the FelixConfiguration is used

// Two clusters of two nodes each, every node a network namespace on a
// shared underlay bridge (in a namespace of its own) running its own
// meshapi-agent against its cluster's API, every pod a network namespace
// behind its node. Real traffic proves overlay routing Enabled (VXLAN on
// the configured port, no NAT), Disabled (no overlay routes: the underlay
// must route), switching live, and the removal of a deleted RCC's routes.
func TestAgentDataplane(t *testing.T) {
	ctx := ctxT(t)
	a, b := clusters[0], clusters[1]
	cs := map[*framework.Cluster]versioned.Interface{a: clientFor(t, a), b: clientFor(t, b)}
	bin, err := framework.BuildAgent(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*dpNode{
		{cluster: a, name: "dp-a1", ip: netip.MustParsePrefix("198.18.0.1/24"), block: netip.MustParsePrefix("198.18.64.0/26"), podIP: netip.MustParseAddr("198.18.64.10")},
		{cluster: a, name: "dp-a2", ip: netip.MustParsePrefix("198.18.0.2/24"), block: netip.MustParsePrefix("198.18.64.64/26"), podIP: netip.MustParseAddr("198.18.64.74")},
		{cluster: b, name: "dp-b1", ip: netip.MustParsePrefix("198.18.0.3/24"), block: netip.MustParsePrefix("198.18.65.0/26"), podIP: netip.MustParseAddr("198.18.65.10")},
		{cluster: b, name: "dp-b2", ip: netip.MustParsePrefix("198.18.0.4/24"), block: netip.MustParsePrefix("198.18.65.64/26"), podIP: netip.MustParseAddr("198.18.65.74")},
	}
	a1, a2, b1, b2 := nodes[0], nodes[1], nodes[2], nodes[3]
	pools := map[*framework.Cluster]string{a: "198.18.64.0/24", b: "198.18.65.0/24"}

	// The API side: controllers, the agent's RBAC, a FelixConfiguration
	// with VXLAN on a port of our choosing (the same in both clusters, as
	// the mesh requires), a natOutgoing VXLAN pool, a block per node and a
	// WorkloadEndpoint per pod.
	for _, c := range []*framework.Cluster{a, b} {
		if err := c.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		agentManifest := filepath.Join(framework.ArtifactsDir(), "deploy", "60-agent.yaml")
		kubectl(t, c, "", "apply", "-f", agentManifest)
		t.Cleanup(func() { kubectl(t, c, "", "delete", "-f", agentManifest, "--ignore-not-found") })

		felix := cs[c].ProjectcalicoV3().FelixConfigurations()
		old, err := felix.Get(ctx, "default", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		on, port := true, dpVXLANPort
		if apierrors.IsNotFound(err) {
			_, err = felix.Create(ctx, &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
				Spec: v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANPort: &port}}, metav1.CreateOptions{})
			t.Cleanup(func() { kubectl(t, c, "", "delete", "felixconfiguration", "default", "--ignore-not-found") })
		} else {
			saved := old.Spec
			old.Spec.VXLANEnabled, old.Spec.VXLANPort = &on, &port
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
		kubectl(t, c, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: dp-pool
spec:
  cidr: %s
  vxlanMode: Always
  natOutgoing: true
  blockSize: 26
`, pools[c]), "apply", "-f", "-")
		t.Cleanup(func() { kubectl(t, c, "", "delete", "ippool", "dp-pool", "--ignore-not-found") })
		kubectl(t, c, "", "create", "namespace", "dataplane-e2e")
		t.Cleanup(func() {
			kubectl(t, c, "", "delete", "namespace", "dataplane-e2e", "--ignore-not-found", "--wait=false")
		})
	}
	for _, n := range nodes {
		blockName := strings.NewReplacer(".", "-", "/", "-").Replace(n.block.String())
		affinity := "host:" + n.name
		if _, err := cs[n.cluster].ProjectcalicoV3().IPAMBlocks().Create(ctx, &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: blockName},
			Spec: v3.IPAMBlockSpec{CIDR: n.block.String(), Affinity: &affinity, StrictAffinity: true}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cs[n.cluster].ProjectcalicoV3().WorkloadEndpoints("dataplane-e2e").Delete(context.Background(), n.name+"-k8s-pod-eth0", metav1.DeleteOptions{})
			_ = cs[n.cluster].ProjectcalicoV3().IPAMBlocks().Delete(context.Background(), blockName, metav1.DeleteOptions{})
			_ = cs[n.cluster].ProjectcalicoV3().Nodes().Delete(context.Background(), n.name, metav1.DeleteOptions{})
		})
		if _, err := cs[n.cluster].ProjectcalicoV3().WorkloadEndpoints("dataplane-e2e").Create(ctx, &v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Name: n.name + "-k8s-pod-eth0", Labels: map[string]string{"app": "dp"}},
			Spec: v3.WorkloadEndpointSpec{Node: n.name, Orchestrator: "k8s", Pod: "pod", Endpoint: "eth0",
				IPNetworks: []string{n.podIP.String() + "/32"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// The machines: underlay, nodes, pods; an agent per node.
	underlay, err := framework.NewUnderlay("mdp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := underlay.NS.Delete(); err != nil {
			t.Error(err)
		}
	})
	for _, n := range nodes {
		if n.node, err = underlay.AddNode("mdp-"+n.name[3:]+"-", n.ip); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.node.NS.Delete(); err != nil {
				t.Error(err)
			}
		})
		if n.pod, err = n.node.AddPod("mdp-"+n.name[3:]+"p-", n.podIP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.pod.NS.Delete(); err != nil {
				t.Error(err)
			}
		})
		if n.agent, err = n.cluster.StartAgent(ctx, bin, n.name, n.ip.String(), n.node.NS.Path()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := n.agent.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	if err := underlay.CountUDP(dpVXLANPort); err != nil {
		t.Fatal(err)
	}
	agentLogs := func() string {
		var s strings.Builder
		for _, n := range nodes {
			s.WriteString(n.agent.Log(15) + "\n")
		}
		return s.String()
	}
	eventually := func(what string, cond func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		last := ""
		for time.Now().Before(deadline) {
			ok, state := cond()
			if ok {
				return
			}
			last = state
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("%s: not within a minute; last seen: %s\n%s\n%s", what, last, agentLogs(), a.ControllerLog()[max(0, len(a.ControllerLog())-3000):])
	}
	// routed reports whether node n has an agent route (protocol 82) to dst.
	routed := func(n *dpNode, dst netip.Prefix) (bool, string) {
		out, err := n.node.NS.IPOutput("route", "show", "proto", "82")
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(out, dst.String()+" via "), out
	}

	// dump shows what the agents programmed, for failures.
	dump := func() string {
		var s strings.Builder
		for _, n := range nodes {
			for _, args := range [][]string{{"-d", "link", "show", "vxlan.calico"}, {"addr", "show", "vxlan.calico"}, {"route"}, {"neigh", "show", "dev", "vxlan.calico"}} {
				out, err := n.node.NS.IPOutput(args...)
				fmt.Fprintf(&s, "%s: ip %s: %s%v\n", n.name, strings.Join(args, " "), out, err)
			}
		}
		return s.String()
	}

	// Each cluster's nodes form an overlay already, before any RCC.
	eventually("a1 routes a2's block", func() (bool, string) { return routed(a1, a2.block) })
	eventually("a2 routes a1's block", func() (bool, string) { return routed(a2, a1.block) })
	if got, err := a1.pod.Ping(a2.podIP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping within cluster-a: %d replies, %v\n%s\n%s", got, err, dump(), agentLogs())
	}

	// Connect the clusters with overlay routing Enabled. What connecting
	// creates here (access Secrets; the Role and RoleBinding if they were
	// not there yet) goes again at the end, so later tests start clean.
	for _, c := range []*framework.Cluster{a, b} {
		remote := map[*framework.Cluster]string{a: b.Name, b: a.Name}[c]
		kube, err := kubernetes.NewForConfig(c.Config)
		if err != nil {
			t.Fatal(err)
		}
		_, roleErr := kube.RbacV1().Roles("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
		_, bindingErr := kube.RbacV1().RoleBindings("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
		t.Cleanup(func() {
			kubectl(t, c, "", "delete", "secret", "remote-cluster-secret-"+remote, "-n", "calico-system", "--ignore-not-found")
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
	})
	connect(t, a, b.Name, kubeconfigs[b])
	connect(t, b, a.Name, kubeconfigs[a])
	waitSyncState(t, a, cs[a], b.Name, v3.SyncStateInSync, time.Minute)
	waitSyncState(t, b, cs[b], a.Name, v3.SyncStateInSync, time.Minute)
	for _, pair := range [][2]*dpNode{{a1, b1}, {a1, b2}, {a2, b1}, {b1, a1}, {b2, a2}} {
		eventually(fmt.Sprintf("%s routes %s's block", pair[0].name, pair[1].name), func() (bool, string) { return routed(pair[0], pair[1].block) })
	}

	// Ping and TCP from cluster-a's pod to cluster-b's pod: the server sees
	// the client's own IP, and the packets crossed the underlay as VXLAN on
	// the configured port.
	server, err := b1.pod.ServeSourceAddress(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	before, err := underlay.UDPCount()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a1.pod.Ping(b1.podIP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping %s -> %s with overlay Enabled: %d replies, %v\n%s\n%s", a1.podIP, b1.podIP, got, err, dump(), agentLogs())
	}
	if seen, err := a1.pod.SourceSeen(netip.AddrPortFrom(b1.podIP, 8080), 5*time.Second); err != nil || seen != a1.podIP.String() {
		t.Fatalf("TCP %s -> %s: server saw %q, want the client's own %s (no NAT); %v", a1.podIP, b1.podIP, seen, a1.podIP, err)
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
	metrics := httpGet(t, "http://"+a1.agent.Metrics+"/metrics")
	for _, want := range []string{`meshapi_agent_remote_cluster_routes{remote_cluster_name="cluster-b"} 2`, "meshapi_agent_routes_programmed 3",
		`meshapi_agent_apply_duration_seconds_count{component="dataplane"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("agent metrics lack %s", want)
		}
	}
	if got := httpGet(t, "http://"+a1.agent.Metrics+"/healthz"); got != "ok" {
		t.Errorf("/healthz: %q", got)
	}

	// Overlay routing Disabled: the routes go, traffic fails until the
	// underlay routes the pod CIDRs; then it flows unencapsulated, still
	// without NAT (the remote endpoints are mesh destinations).
	for _, c := range []*framework.Cluster{a, b} {
		remote := map[*framework.Cluster]string{a: b.Name, b: a.Name}[c]
		kubectl(t, c, "", "patch", "rcc", remote, "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Disabled"}}}`)
	}
	for _, pair := range [][2]*dpNode{{a1, b1}, {a1, b2}, {a2, b1}, {b1, a1}, {b2, a2}} {
		eventually(fmt.Sprintf("%s's route to %s's block gone", pair[0].name, pair[1].name), func() (bool, string) {
			ok, state := routed(pair[0], pair[1].block)
			return !ok, state
		})
	}
	eventually("a1 still routes a2's block", func() (bool, string) { return routed(a1, a2.block) })
	if got, err := a1.pod.Ping(b1.podIP, 2, time.Second); err != nil || got != 0 {
		t.Fatalf("ping %s -> %s with overlay Disabled and no underlay route: %d replies, %v", a1.podIP, b1.podIP, got, err)
	}
	underlayRoutes := [][2]*dpNode{{a1, b1}, {b1, a1}}
	for _, r := range underlayRoutes {
		if err := r[0].node.NS.IP("route", "add", r[1].block.String(), "via", r[1].ip.Addr().String(), "proto", "static"); err != nil {
			t.Fatal(err)
		}
	}
	before, err = underlay.UDPCount()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a1.pod.Ping(b1.podIP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping %s -> %s with overlay Disabled over underlay routes: %d replies, %v", a1.podIP, b1.podIP, got, err)
	}
	if seen, err := a1.pod.SourceSeen(netip.AddrPortFrom(b1.podIP, 8080), 5*time.Second); err != nil || seen != a1.podIP.String() {
		t.Fatalf("TCP over the underlay: server saw %q, want the client's own %s (no NAT); %v", seen, a1.podIP, err)
	}
	if after, err := underlay.UDPCount(); err != nil || after != before {
		t.Errorf("VXLAN packets with overlay Disabled: %d, want none (%v)", after-before, err)
	}
	for _, r := range underlayRoutes {
		if err := r[0].node.NS.IP("route", "del", r[1].block.String(), "via", r[1].ip.Addr().String(), "proto", "static"); err != nil {
			t.Fatal(err)
		}
	}

	// Enabled again: the routes are back and traffic flows over VXLAN.
	for _, c := range []*framework.Cluster{a, b} {
		remote := map[*framework.Cluster]string{a: b.Name, b: a.Name}[c]
		kubectl(t, c, "", "patch", "rcc", remote, "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Enabled"}}}`)
	}
	for _, pair := range [][2]*dpNode{{a1, b1}, {b1, a1}} {
		eventually(fmt.Sprintf("%s routes %s's block again", pair[0].name, pair[1].name), func() (bool, string) { return routed(pair[0], pair[1].block) })
	}
	if got, err := a1.pod.Ping(b1.podIP, 3, time.Second); err != nil || got == 0 {
		t.Fatalf("ping after re-enabling the overlay: %d replies, %v\n%s", got, err, agentLogs())
	}

	// Deleting the RCC removes cluster-b's routes from cluster-a's nodes,
	// and the remote cluster from their status.
	kubectl(t, a, "", "delete", "rcc", b.Name)
	for _, pair := range [][2]*dpNode{{a1, b1}, {a1, b2}, {a2, b1}, {a2, b2}} {
		eventually(fmt.Sprintf("%s's route to %s's block gone after the RCC's deletion", pair[0].name, pair[1].name), func() (bool, string) {
			ok, state := routed(pair[0], pair[1].block)
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
	eventually("a1 still routes a2's block", func() (bool, string) { return routed(a1, a2.block) })
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
