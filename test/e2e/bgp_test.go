package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/meshctl"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// The two underlay designs of the multi-cluster seed, with BGP from every
// node (meshapi-agent --bgp, its speaker in the node's namespace) and no
// encapsulation: both clusters' RCCs say overlayRoutingMode Disabled,
// VXLAN is off, and the pods' addresses are routed by what the speakers
// learn.
//
//	TestBGPTopOfRack   cluster A on rack 198.18.1.0/24, cluster B on rack
//	                   198.18.2.0/24, joined only by a router running FRR
//	                   (zebra and bgpd, AS65000) that peers with every node
//	TestBGPFlatNetwork both clusters on 198.18.0.0/24, every node of A
//	                   peered with every node of B by BGPPeers
//
// Cluster A is AS64512 (the default), B AS64513 (its BGPConfiguration
// "default"); inside each cluster the node-to-node mesh is on. The
// clusters are the tests' own, started for real nodes: their
// kube-apiservers listen on the host's address on the management
// underlay (198.18.0.253), which the agents in the node namespaces reach.

// bgpHost is the host's address on the underlay the kube-apiservers of
// the BGP tests' clusters listen on.
var bgpHost = netip.MustParsePrefix("198.18.0.253/24")

// bgpPools are the two clusters' pod CIDRs.
var bgpPools = [2]netip.Prefix{netip.MustParsePrefix("198.18.80.0/24"), netip.MustParsePrefix("198.18.81.0/24")}

// bgpClusterBAS is cluster B's AS number (A has the default, 64512).
const bgpClusterBAS = 64513

// bgpToRPassword is the TCP MD5 password of the sessions with the ToR.
const bgpToRPassword = "tor-md5-e2e"

// bgpVXLANPort is the FelixConfiguration's vxlanPort (VXLAN is off); the
// underlays count the UDP packets to it and to 4789.
const bgpVXLANPort = 4798

func TestBGPTopOfRack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	mgmt := bgpManagement(t, "bgptor")
	tor, err := framework.NewToR(ctx, framework.ToRConfig{Name: "bgptor", ASNumber: 65000, Management: mgmt,
		ManagementAddr: netip.MustParsePrefix("198.18.0.254/24"), Password: bgpToRPassword,
		Racks: []netip.Prefix{netip.MustParsePrefix("198.18.1.254/24"), netip.MustParsePrefix("198.18.2.254/24")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(tor.Logs(40))
		}
		if err := tor.Close(); err != nil {
			t.Error(err)
		}
	})
	a, b := startBGPClusters(ctx, t, "bgptor")
	// Every node peers with its rack's router before it starts, signing
	// the session with the router's password (TCP MD5), which the agent
	// reads from a Secret it may get as artifacts/bgp says: the router's
	// kernel drops connections that do not sign, so every session that
	// comes up below proves the password was used.
	for i, c := range []*framework.Cluster{a, b} {
		kubectl(t, c, "", "-n", framework.MeshapiNamespace, "create", "secret", "generic", "bgp-secrets", "--from-literal=tor-password="+bgpToRPassword)
		kubectl(t, c, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "bgp", "password-rbac.yaml"))
		kubectl(t, c, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: %s
  asNumber: 65000
  password:
    secretKeyRef:
      name: bgp-secrets
      key: tor-password
`, tor.Racks[i].Gateway.Addr()), "apply", "-f", "-")
	}
	topo := newBGPTopology(ctx, t, a, b, framework.TopologyConfig{Name: "bgptor", Racks: [2]*framework.Rack{tor.Racks[0], tor.Racks[1]}})
	if err := topo.Connect(ctx); err != nil {
		t.Fatalf("%v\n%s", err, tor.Logs(20))
	}
	client, server := bgpTraffic(ctx, t, topo, "bgptor", func() string {
		routes, _ := tor.NS.IPOutput("route")
		rib, _ := tor.VTY(ctx, "show ip bgp")
		return "ToR routes:\n" + routes + "ToR RIB:\n" + rib
	})

	// The ToR's RIB holds every block of both clusters, the pods' too.
	var all []netip.Prefix
	for _, n := range topo.Nodes {
		all = append(all, nodeBlocks(ctx, t, topo, n)...)
	}
	waitRIB(t, tor, "every block of both clusters", func(rib map[netip.Prefix][]string) []netip.Prefix {
		var missing []netip.Prefix
		for _, p := range all {
			if len(rib[p]) == 0 {
				missing = append(missing, p)
			}
		}
		return missing
	})
	t.Logf("the ToR's RIB:\n%s", mustVTY(t, tor, "show ip bgp"))
	bgpChecksPass(t, a, b)

	// Decommissioning node b2 withdraws its blocks from the ToR and from
	// A's nodes; b1 and its pod stay reachable.
	b2, err := topo.NodeNamed("b2")
	if err != nil {
		t.Fatal(err)
	}
	gone := nodeBlocks(ctx, t, topo, b2)
	if err := topo.Decommission(ctx, b2); err != nil {
		t.Fatal(err)
	}
	waitRIB(t, tor, "no block of the decommissioned b2", func(rib map[netip.Prefix][]string) []netip.Prefix {
		var left []netip.Prefix
		for _, p := range gone {
			if len(rib[p]) > 0 {
				left = append(left, p)
			}
		}
		return left
	})
	for _, n := range topo.Nodes {
		if n.Cluster != a {
			continue
		}
		for _, p := range gone {
			if err := framework.Poll(ctx, 30*time.Second, fmt.Sprintf("%s no longer routes b2's block %s", n.Name, p), func() (bool, string) {
				routed, routes := topo.Routed(n, p)
				return !routed, routes
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if seen, err := client.SourceSeen(netip.AddrPortFrom(server.IP, 8080), 5*time.Second); err != nil || seen != client.IP.String() {
		t.Fatalf("after b2 left, %s -> %s: seen %q, %v", client.IP, server.IP, seen, err)
	}
}

func TestBGPFlatNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	u := bgpManagement(t, "bgpflat")
	a, b := startBGPClusters(ctx, t, "bgpflat")
	topo := newBGPTopology(ctx, t, a, b, framework.TopologyConfig{Name: "bgpflat", Underlay: u})
	// Every node of one cluster peers with every node of the other.
	for _, n := range topo.Nodes {
		as := 64512
		if n.Cluster == b {
			as = bgpClusterBAS
		}
		kubectl(t, topo.Remote(n.Cluster), fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: %s
spec:
  peerIP: %s
  asNumber: %d
`, n.Name, n.IP.Addr(), as), "apply", "-f", "-")
	}
	if err := topo.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	_, server := bgpTraffic(ctx, t, topo, "bgpflat", func() string { return "" })
	bgpChecksPass(t, a, b)
	// A's nodes learned B's pod's block from B's nodes themselves: the
	// next hop is one of their addresses, nothing in between.
	block := netip.PrefixFrom(server.IP, 26).Masked()
	for _, n := range topo.Nodes {
		if n.Cluster == b {
			continue
		}
		out, err := n.Node.NS.IPOutput("route", "show", "proto", "84")
		if err != nil {
			t.Fatal(err)
		}
		direct := false
		for _, m := range topo.Nodes {
			direct = direct || (m.Cluster == b && strings.Contains(out, block.String()+" via "+m.IP.Addr().String()+" "))
		}
		if !direct {
			t.Errorf("%s: no route to %s via a node of %s among its BGP routes:\n%s", n.Name, block, b.Name, out)
		}
	}
}

// bgpChecksPass waits until meshctl check's BGP steps pass on every
// cluster, from what the agents wrote: every session Established
// (bgp-sessions) and, on every node, learned routes to the other
// cluster's pods (bgp-routes), at least one of which exists.
func bgpChecksPass(t *testing.T, clusters ...*framework.Cluster) {
	t.Helper()
	for _, c := range clusters {
		client := clientFor(t, c)
		waitFor(t, c, time.Minute, "meshctl check's BGP steps pass", func() (bool, string) {
			ctx := ctxT(t)
			nodes, err := client.ProjectcalicoV3().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			configs, err := client.ProjectcalicoV3().BGPConfigurations().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			peers, err := client.ProjectcalicoV3().BGPPeers().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			rccs, err := client.ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			lines := append(meshctl.BGPChecks(c.Name, nodes.Items, configs.Items, peers.Items), meshctl.BGPRouteChecks(c.Name, nodes.Items, rccs.Items)...)
			ok, routed, out := true, false, ""
			for _, l := range lines {
				ok = ok && l.Result == meshctl.Pass
				routed = routed || (l.Check == meshctl.CheckBGPRoutes && strings.Contains(l.Detail, "are inside learned routes"))
				out += fmt.Sprintf("%s %s %s %s\n", l.Result, l.Check, l.Remote, l.Detail)
			}
			return ok && routed, out
		})
	}
}

// bgpManagement creates the management underlay with the host linked to
// it at bgpHost; both are removed when the test ends.
func bgpManagement(t *testing.T, name string) *framework.Underlay {
	t.Helper()
	u, err := framework.NewUnderlay("m" + name + "-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := u.NS.Delete(); err != nil {
			t.Error(err)
		}
	})
	host, err := u.AddHost(bgpHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := host.Delete(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// startBGPClusters starts the test's two clusters side by side, their
// kube-apiservers on bgpHost, and makes B AS bgpClusterBAS.
func startBGPClusters(ctx context.Context, t *testing.T, name string) (a, b *framework.Cluster) {
	t.Helper()
	dir := t.TempDir()
	bins, err := framework.FindBinaries(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cs := startClustersOn(ctx, t, dir, name, bins, 2, framework.ClusterOptions{NodeAddress: bgpHost.Addr()})
	kubectl(t, cs[1], fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: %d
  nodeToNodeMeshEnabled: true
`, bgpClusterBAS), "apply", "-f", "-")
	return cs[0], cs[1]
}

// newBGPTopology builds the topology in BGP mode with two nodes per
// cluster; Close runs when the test ends.
func newBGPTopology(ctx context.Context, t *testing.T, a, b *framework.Cluster, cfg framework.TopologyConfig) *framework.Topology {
	t.Helper()
	cfg.BGP, cfg.Nodes, cfg.Pools, cfg.VXLANPort, cfg.Logf = true, 2, bgpPools, bgpVXLANPort, t.Logf
	topo, err := framework.NewTopology(ctx, a, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Error(err)
		}
	})
	for _, u := range topo.Underlays() {
		if err := u.CountUDP(4789); err != nil {
			t.Fatal(err)
		}
	}
	return topo
}

// bgpTraffic checks the traffic of the underlay designs: no node has a
// VXLAN device or an overlay route; a pod on a1 reaches a pod on b1 on
// its own address, both ways, with the pod's address as the source the
// server sees (NAT-outgoing does not apply to a remote cluster's pod);
// not one packet to a VXLAN port crossed an underlay. It returns the
// client pod (on a1) and the server pod (on b1, serving its source
// addresses on port 8080 until the test ends). describe adds to a
// failure what the test's routers hold.
func bgpTraffic(ctx context.Context, t *testing.T, topo *framework.Topology, ns string, describe func() string) (client, server *framework.TopoPod) {
	t.Helper()
	for _, n := range topo.Nodes {
		if out, err := n.Node.NS.IPOutput("route", "show", "proto", "82"); err != nil || out != "" {
			t.Errorf("%s has overlay routes (protocol 82): %q %v", n.Name, out, err)
		}
		if err := n.Node.NS.IP("link", "show", "vxlan.calico"); err == nil {
			t.Errorf("%s has a VXLAN device", n.Name)
		}
	}
	a1, err := topo.NodeNamed("a1")
	if err != nil {
		t.Fatal(err)
	}
	b1, err := topo.NodeNamed("b1")
	if err != nil {
		t.Fatal(err)
	}
	if client, err = topo.AddPod(ctx, a1, ns, "client", map[string]string{"app": "client"}); err != nil {
		t.Fatal(err)
	}
	if server, err = topo.AddPod(ctx, b1, ns, "server", map[string]string{"app": "server"}); err != nil {
		t.Fatal(err)
	}
	ln, err := server.ServeSourceAddress(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// The pods' blocks are new: wait until the other cluster's nodes
	// learned them, and until A exempts B's pod from NAT-outgoing (its
	// mirrored endpoint).
	for _, p := range []*framework.TopoPod{client, server} {
		for _, n := range topo.Nodes {
			if n.Cluster == p.Node.Cluster {
				continue
			}
			block := netip.PrefixFrom(p.IP, 26).Masked()
			if err := framework.Poll(ctx, time.Minute, fmt.Sprintf("%s routes %s's block %s", n.Name, p.Name, block), func() (bool, string) {
				return topo.Routed(n, block)
			}); err != nil {
				t.Fatalf("%v\n%s", err, topo.AgentLogs())
			}
		}
	}
	before := vxlanPackets(t, topo)
	target := netip.AddrPortFrom(server.IP, 8080)
	if err := framework.Poll(ctx, time.Minute, fmt.Sprintf("%s sees %s's own address", server.IP, client.IP), func() (bool, string) {
		seen, err := client.SourceSeen(target, 3*time.Second)
		return err == nil && seen == client.IP.String(), fmt.Sprintf("seen %q, %v", seen, err)
	}); err != nil {
		t.Fatalf("%v\n%s%s%s", err, topo.Dump(), nodeRules(ctx, topo), describe())
	}
	for _, pair := range [][2]*framework.TopoPod{{client, server}, {server, client}} {
		if got, err := pair[0].Ping(pair[1].IP, 3, time.Second); err != nil || got != 3 {
			t.Fatalf("ping %s -> %s: %d/3 replies, %v", pair[0].IP, pair[1].IP, got, err)
		}
	}
	after := vxlanPackets(t, topo)
	if before != 0 || after != 0 {
		t.Fatalf("UDP packets to the VXLAN ports on the underlays: %d before the traffic, %d after; want none", before, after)
	}
	t.Logf("%s -> %s: the server saw the client's own address; 0 VXLAN packets on the underlays", client.IP, server.IP)
	return client, server
}

// nodeRules lists every node's nftables ruleset and conntrack table, for
// failures.
func nodeRules(ctx context.Context, topo *framework.Topology) string {
	var b strings.Builder
	for _, n := range topo.Nodes {
		for _, args := range [][]string{{"nft", "list", "ruleset"}, {"conntrack", "-L"}} {
			out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Node.NS.Name}, args...)...).CombinedOutput()
			fmt.Fprintf(&b, "%s: %s: %s%v\n", n.Name, strings.Join(args, " "), out, err)
		}
	}
	return b.String()
}

// vxlanPackets sums the UDP packets to bgpVXLANPort and 4789 the
// topology's underlays forwarded.
func vxlanPackets(t *testing.T, topo *framework.Topology) uint64 {
	t.Helper()
	var sum uint64
	for _, u := range topo.Underlays() {
		for _, port := range []uint16{bgpVXLANPort, 4789} {
			n, err := u.UDPCountPort(port)
			if err != nil {
				t.Fatal(err)
			}
			sum += n
		}
	}
	return sum
}

// nodeBlocks lists node n's blocks.
func nodeBlocks(ctx context.Context, t *testing.T, topo *framework.Topology, n *framework.TopoNode) []netip.Prefix {
	t.Helper()
	blocks, err := topo.NodeBlocks(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no block", n.Name)
	}
	return blocks
}

// waitRIB waits up to a minute until bad finds nothing wrong in the
// ToR's RIB.
func waitRIB(t *testing.T, tor *framework.ToR, what string, bad func(map[netip.Prefix][]string) []netip.Prefix) {
	t.Helper()
	err := framework.Poll(context.Background(), time.Minute, "the ToR's RIB holds "+what, func() (bool, string) {
		rib, err := tor.RIB(context.Background())
		if err != nil {
			return false, err.Error()
		}
		wrong := bad(rib)
		return len(wrong) == 0, fmt.Sprintf("%v; RIB %v", wrong, rib)
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, tor.Logs(20))
	}
}

// mustVTY runs a vtysh command on the ToR.
func mustVTY(t *testing.T, tor *framework.ToR, command string) string {
	t.Helper()
	out, err := tor.VTY(context.Background(), command)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
