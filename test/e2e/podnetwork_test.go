package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/cni"
	"github.com/meshapi/meshapi/pkg/cni/install"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/meshctl"
	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// podNetNamespace is the Kubernetes namespace of TestPodNetworkCNI's pods.
const podNetNamespace = "podnet-e2e"

// meshapi is the pod network (issue 15): two clusters of two nodes each,
// every pod wired by meshapi-cni through libcni with the conflist its
// install step writes, its address from IPAM, its WorkloadEndpoint
// derived from the Pod by the controller. Pods reach each other on the
// same node, across nodes and across clusters, seeing each other's own
// addresses; DEL releases the address; CNI GC releases a leaked
// allocation and keeps the valid ones; a deleted node's blocks are freed
// by the IPAM garbage collector.
func TestPodNetworkCNI(t *testing.T) {
	pools := [2]netip.Prefix{netip.MustParsePrefix("198.18.76.0/24"), netip.MustParsePrefix("198.18.77.0/24")}
	topo := newTopology(t, framework.TopologyConfig{Name: "pn", Nodes: 2, VXLANPort: dpVXLANPort, Namespaces: []string{podNetNamespace}, Pools: pools})
	a1, a2, b2 := topo.node("a1"), topo.node("a2"), topo.node("b2")
	pods := map[string]*framework.TopoPod{}
	for _, n := range topo.nodes {
		short := n.Name[len("pn-"):]
		pods[short] = topo.addPod(n, podNetNamespace, "web-"+short, map[string]string{"app": "web"})
	}
	pods["a1b"] = topo.addPod(a1, podNetNamespace, "web-a1b", map[string]string{"app": "web"})
	for name, p := range pods {
		checkPodWiring(t, topo, p, pools)
		t.Logf("pod %s on %s: %s via %s (block %s)", name, p.Node.Name, p.IP, p.Veth, p.Node.Block)
	}
	servers := map[string]bool{"a1": true, "a2": true, "b1": true, "b2": true}
	for name := range servers {
		ln, err := pods[name].ServeSourceAddress(8080)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}

	// Local traffic: same node, other node; then across clusters.
	checkTraffic(t, topo, pods["a1b"], pods["a1"], "same node")
	checkTraffic(t, topo, pods["a1"], pods["a2"], "other node of cluster-a")
	checkTraffic(t, topo, pods["b2"], pods["b1"], "other node of cluster-b")
	topo.connect()
	checkTraffic(t, topo, pods["a1"], pods["b1"], "cluster-a to cluster-b")
	checkTraffic(t, topo, pods["b2"], pods["a2"], "cluster-b to cluster-a")

	checkDelReleases(t, topo, pods["a1b"])
	checkGCReleasesLeak(t, topo, a2, pods["a2"])
	env := newMeshctlEnv(t)
	for _, c := range []*framework.Cluster{topo.a, topo.b} {
		if problems := podNetIPAMProblems(t, env, c, pools); len(problems) > 0 {
			t.Errorf("meshctl ipam check in %s: %v", c.Name, problems)
		}
	}
	checkNodeDeletionFreesBlocks(t, topo, b2, pods["b2"])
}

// checkPodWiring checks what the plugin gave p: an address in its node's
// block of its cluster's pool, a CHECK that passes, the host interface
// pkg/podendpoints names, and a WorkloadEndpoint with exactly that
// interface and address.
func checkPodWiring(t *testing.T, topo *topology, p *framework.TopoPod, pools [2]netip.Prefix) {
	t.Helper()
	ctx := ctxT(t)
	pool := pools[0]
	if p.Node.Cluster == topo.b {
		pool = pools[1]
	}
	if !pool.Contains(p.IP) || !p.Node.Block.Contains(p.IP) {
		t.Errorf("pod %s: address %s not in its node's block %s of pool %s", p.Name, p.IP, p.Node.Block, pool)
	}
	if err := p.Node.CNICheck(ctx, p.RuntimeConf()); err != nil {
		t.Errorf("pod %s: %v", p.Name, err)
	}
	if want := podendpoints.InterfaceName(p.Namespace, p.Name); p.Veth != want {
		t.Errorf("pod %s: the plugin's host interface %q, pkg/podendpoints names %q", p.Name, p.Veth, want)
	}
	w, err := topo.cs[p.Node.Cluster].ProjectcalicoV3().WorkloadEndpoints(p.Namespace).Get(ctx, p.EndpointName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pod %s: WorkloadEndpoint: %v", p.Name, err)
	}
	if w.Spec.InterfaceName != p.Veth || len(w.Spec.IPNetworks) != 1 || w.Spec.IPNetworks[0] != p.IP.String()+"/32" || w.Spec.Node != p.Node.Name {
		t.Errorf("pod %s: WorkloadEndpoint %s: interface %q, networks %v, node %q; the plugin gave %s, %s/32 on %s",
			p.Name, w.Name, w.Spec.InterfaceName, w.Spec.IPNetworks, w.Spec.Node, p.Veth, p.IP, p.Node.Name)
	}
	handle := cni.Handle(install.NetworkName, p.ContainerID)
	addrs, err := ipam.NewClient(topo.cs[p.Node.Cluster]).AddressesByHandle(ctx, handle)
	if err != nil || len(addrs) != 1 || addrs[0] != p.IP {
		t.Errorf("pod %s: handle %s holds %v (%v), want [%s]", p.Name, handle, addrs, err, p.IP)
	}
}

// checkTraffic pings server from client and connects over TCP: the
// server must see the client's own address.
func checkTraffic(t *testing.T, topo *topology, client, server *framework.TopoPod, what string) {
	t.Helper()
	topo.eventually(fmt.Sprintf("%s: %s pings %s", what, client.Name, server.Name), func() (bool, string) {
		n, err := client.Ping(server.IP, 1, time.Second)
		return n == 1, fmt.Sprint(n, " replies ", err)
	})
	seen, err := client.SourceSeen(netip.AddrPortFrom(server.IP, 8080), 5*time.Second)
	if err != nil || seen != client.IP.String() {
		t.Fatalf("%s: %s (%s) -> %s (%s) over TCP: the server saw %q, want the client's own address; %v\n%s",
			what, client.Name, client.IP, server.Name, server.IP, seen, err, topo.dump())
	}
}

// checkDelReleases deletes p (CNI DEL, the Pod, its namespace): its
// handle holds nothing any more and its WorkloadEndpoint goes.
func checkDelReleases(t *testing.T, topo *topology, p *framework.TopoPod) {
	t.Helper()
	ctx := ctxT(t)
	topo.deletePod(p)
	handle := cni.Handle(install.NetworkName, p.ContainerID)
	if addrs, err := ipam.NewClient(topo.cs[p.Node.Cluster]).AddressesByHandle(ctx, handle); err != nil || len(addrs) != 0 {
		t.Errorf("after DEL of %s, handle %s still holds %v (%v)", p.Name, handle, addrs, err)
	}
	if err := p.Node.CNIDel(ctx, p.RuntimeConf()); err != nil {
		t.Errorf("a second DEL of %s (idempotent): %v", p.Name, err)
	}
	topo.eventually(p.Name+"'s WorkloadEndpoint gone", func() (bool, string) {
		_, err := topo.cs[p.Node.Cluster].ProjectcalicoV3().WorkloadEndpoints(p.Namespace).Get(ctx, p.EndpointName(), metav1.GetOptions{})
		return err != nil, fmt.Sprint(err)
	})
}

// checkGCReleasesLeak leaks an allocation on node n (an address the
// plugin's IPAM wrote for a sandbox the runtime never recorded, as when
// the plugin dies between the allocation and the wiring) and runs the
// runtime's CNI GC with n's live pod as the valid attachment: the leak
// is released, the live pod keeps its address.
func checkGCReleasesLeak(t *testing.T, topo *topology, n *framework.TopoNode, live *framework.TopoPod) {
	t.Helper()
	ctx := ctxT(t)
	client := ipam.NewClient(topo.cs[n.Cluster])
	leak := cni.Handle(install.NetworkName, "ctr-leaked-"+n.Name)
	addrs, err := client.Assign(ctx, ipam.AssignArgs{Handle: leak, Node: n.Name,
		Attrs: map[string]string{ipam.AttrNamespace: podNetNamespace, ipam.AttrPod: "leaked-0"}})
	if err != nil || len(addrs) != 1 {
		t.Fatalf("leaking an allocation on %s: %v %v", n.Name, addrs, err)
	}
	t.Cleanup(func() {
		if _, err := client.ReleaseByHandle(context.Background(), leak); err != nil {
			t.Errorf("releasing the leaked handle %s: %v", leak, err)
		}
	})
	if err := n.CNIGC(ctx, live.RuntimeConf()); err != nil {
		t.Fatal(err)
	}
	if held, err := client.AddressesByHandle(ctx, leak); err != nil || len(held) != 0 {
		t.Errorf("CNI GC on %s left the leaked handle %s holding %v (%v)", n.Name, leak, held, err)
	}
	liveHandle := cni.Handle(install.NetworkName, live.ContainerID)
	if held, err := client.AddressesByHandle(ctx, liveHandle); err != nil || len(held) != 1 || held[0] != live.IP {
		t.Errorf("CNI GC on %s: the valid attachment %s holds %v (%v), want [%s]", n.Name, liveHandle, held, err, live.IP)
	}
	if err := n.CNICheck(ctx, live.RuntimeConf()); err != nil {
		t.Errorf("after CNI GC: %v", err)
	}
}

// podNetIPAMProblems runs meshctl ipam check -o json on c and returns the
// problems in the test's pools.
func podNetIPAMProblems(t *testing.T, env *meshctlEnv, c *framework.Cluster, pools [2]netip.Prefix) []string {
	t.Helper()
	out, errOut, _ := env.run(t, "--context", c.Name, "ipam", "check", "-o", "json")
	var all []meshctl.IPAMProblem
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("meshctl ipam check -o json in %s: %v\n%s\n%s", c.Name, err, out, errOut)
	}
	var got []string
	for _, p := range all {
		a, err := netip.ParseAddr(p.Address)
		blk, berr := netip.ParsePrefix(p.Block)
		if (err == nil && (pools[0].Contains(a) || pools[1].Contains(a))) || (berr == nil && (pools[0].Overlaps(blk) || pools[1].Overlaps(blk))) {
			got = append(got, fmt.Sprintf("%s %s %s: %s", p.Check, p.Handle, p.Address, p.Detail))
		}
	}
	return got
}

// checkNodeDeletionFreesBlocks deletes node n as an operator does (its
// pod goes, its agent stops, its Node object is deleted) and runs the IPAM
// garbage collector as meshapi-controller does, with a short grace: n's
// VXLAN tunnel address and its blocks are freed.
func checkNodeDeletionFreesBlocks(t *testing.T, topo *topology, n *framework.TopoNode, pod *framework.TopoPod) {
	t.Helper()
	ctx := ctxT(t)
	blocks, err := topo.NodeBlocks(ctx, n)
	if err != nil || len(blocks) == 0 {
		t.Fatalf("%s's blocks before its deletion: %v %v", n.Name, blocks, err)
	}
	topo.deletePod(pod)
	if err := n.Agent.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := topo.cs[n.Cluster].ProjectcalicoV3().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	logs, _ := runIPAMGC(t, n.Cluster)
	client := ipam.NewClient(topo.cs[n.Cluster])
	topo.eventually(n.Name+"'s blocks and tunnel address freed by the IPAM GC", func() (bool, string) {
		left, err := topo.NodeBlocks(ctx, n)
		tunnel, terr := client.AddressesByHandle(ctx, ipam.VXLANTunnelHandle(n.Name))
		return err == nil && terr == nil && len(left) == 0 && len(tunnel) == 0,
			fmt.Sprintf("blocks %v (%v), tunnel address %v (%v)\n%s", left, err, tunnel, terr, lastLines(logs.String(), 10))
	})
	t.Logf("IPAM GC after the deletion of %s (blocks %v):\n%s", n.Name, blocks, lastLines(logs.String(), 10))
}
