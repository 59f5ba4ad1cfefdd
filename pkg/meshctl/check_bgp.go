package meshctl

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/bgp/peering"
)

// CheckBGPSessions names the check of the BGP sessions.
const CheckBGPSessions = "bgp-sessions"

// CheckBGPRoutes names the check of the routes learned towards the remote
// clusters the underlay routes.
const CheckBGPRoutes = "bgp-routes"

// BGPChecks checks, from the speakers' status, that every local node that
// runs a BGP speaker has every session the BGP configuration asks of it
// (node-to-node mesh, BGPPeers, route reflectors) Established. nodes are
// all Node objects of the cluster (local and mirrored); configs and peers
// the cluster's BGPConfigurations and BGPPeers. Nodes whose status.bgp is
// empty run no speaker and are not checked.
func BGPChecks(context string, nodes []v3.Node, configs []v3.BGPConfiguration, peers []v3.BGPPeer) []CheckResult {
	line := func(result, detail, fix string) CheckResult {
		return CheckResult{Context: context, Check: CheckBGPSessions, Result: result, Detail: detail, Fix: fix}
	}
	local := peering.LocalNodes(nodes)
	var out []CheckResult
	for _, n := range speakingNodes(nodes) {
		want, err := peering.Compute(peering.Input{NodeName: n.Name, Nodes: local, Configs: configs, Peers: peers})
		if err != nil {
			out = append(out, line(Fail, fmt.Sprintf("node %s: %v", n.Name, err), fmt.Sprintf("set spec.bgp.ipv4Address on Node %s", n.Name)))
			continue
		}
		state := map[string]string{}
		for _, s := range n.Status.BGP.Sessions {
			state[s.PeerIP] = s.State
		}
		var bad []string
		for _, p := range want.Peers {
			switch s := state[p.Address.String()]; s {
			case "Established":
			case "":
				bad = append(bad, fmt.Sprintf("%s (%s %s) has no session", p.Address, p.Type, p.Source))
			default:
				bad = append(bad, fmt.Sprintf("%s (%s %s) is %s", p.Address, p.Type, p.Source, s))
			}
		}
		if len(bad) > 0 {
			out = append(out, line(Fail, fmt.Sprintf("node %s: %d of %d sessions not Established: %s", n.Name, len(bad), len(want.Peers), strings.Join(bad, "; ")),
				fmt.Sprintf("check that the peers are reachable from node %s on TCP port 179 (or their port) and configured with AS%d for %s", n.Name, want.ASNumber, want.RouterID)))
			continue
		}
		out = append(out, line(Pass, fmt.Sprintf("node %s: all %d sessions Established", n.Name, len(want.Peers)), ""))
	}
	if len(out) == 0 {
		return []CheckResult{line(Skip, "no node reports a BGP speaker in status.bgp", "")}
	}
	return out
}

// BGPRouteChecks checks, from the speakers' status.bgp.remoteClusters,
// that every local node that runs a BGP speaker has learned routes to
// every pod of every remote cluster whose RemoteClusterConfiguration says
// overlayRoutingMode Disabled (the underlay routes its pods: with BGP, the
// speaker must learn that cluster's blocks). Its pods are the addresses
// of the WorkloadEndpoints mirrored from it, as the agent counts them.
func BGPRouteChecks(context string, nodes []v3.Node, rccs []v3.RemoteClusterConfiguration) []CheckResult {
	var underlay []string
	for i := range rccs {
		if rccs[i].EffectiveOverlayRoutingMode() == v3.OverlayRoutingModeDisabled {
			underlay = append(underlay, rccs[i].Name)
		}
	}
	sort.Strings(underlay)
	var out []CheckResult
	for _, n := range speakingNodes(nodes) {
		reported := map[string]v3.NodeBGPRemoteClusterStatus{}
		for _, rc := range n.Status.BGP.RemoteClusters {
			reported[rc.Cluster] = rc
		}
		for _, cluster := range underlay {
			out = append(out, bgpRouteCheck(context, n.Name, cluster, reported))
		}
	}
	return out
}

// speakingNodes are the local nodes whose agent reports a speaker in
// status.bgp, by name.
func speakingNodes(nodes []v3.Node) []v3.Node {
	var out []v3.Node
	for _, n := range peering.LocalNodes(nodes) {
		if n.Status.BGP != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// bgpRouteCheck is the line of node's routes towards cluster.
func bgpRouteCheck(context, node, cluster string, reported map[string]v3.NodeBGPRemoteClusterStatus) CheckResult {
	line := CheckResult{Context: context, Remote: cluster, Check: CheckBGPRoutes, Result: Pass}
	rc, ok := reported[cluster]
	switch {
	case !ok:
		line.Result = Fail
		line.Detail = fmt.Sprintf("node %s: its agent has not reported routes towards cluster %s in status.bgp.remoteClusters", node, cluster)
		line.Fix = fmt.Sprintf("the agent writes its status every 10 s: check again, then check the log of the agent on node %s", node)
	case rc.Endpoints == 0:
		line.Detail = fmt.Sprintf("node %s: no pod of cluster %s is known here yet", node, cluster)
	case rc.Routed < rc.Endpoints:
		line.Result = Fail
		line.Detail = fmt.Sprintf("node %s: %d of %d pod addresses of cluster %s have no learned route: %s", node, rc.Endpoints-rc.Routed, rc.Endpoints, cluster, strings.Join(rc.Unrouted, ", "))
		line.Fix = fmt.Sprintf("cluster %s's nodes must advertise their blocks to node %s: peer both with the same router (BGPPeer) or with each other, and check that router's routes", cluster, node)
	default:
		line.Detail = fmt.Sprintf("node %s: all %d pod addresses of cluster %s are inside learned routes", node, rc.Endpoints, cluster)
	}
	return line
}

// bgpCheckCluster lists what BGPChecks needs from c. A server that does
// not serve the BGP kinds (an older meshapi-apiserver) or does not let the
// user list them gives a SKIP line saying so, not an error: the BGP step
// must not hide the other checks.
func bgpCheckCluster(ctx context.Context, c cluster, nodes []v3.Node, rccs []v3.RemoteClusterConfiguration) []CheckResult {
	skip := func(err error) []CheckResult {
		return []CheckResult{{Context: c.context, Check: CheckBGPSessions, Result: Skip, Detail: err.Error()}}
	}
	configs, err := c.client.ProjectcalicoV3().BGPConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return skip(fmt.Errorf("listing BGPConfigurations: %w", err))
	}
	peers, err := c.client.ProjectcalicoV3().BGPPeers().List(ctx, metav1.ListOptions{})
	if err != nil {
		return skip(fmt.Errorf("listing BGPPeers: %w", err))
	}
	return append(BGPChecks(c.context, nodes, configs.Items, peers.Items), BGPRouteChecks(c.context, nodes, rccs)...)
}
