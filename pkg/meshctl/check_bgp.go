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
	sort.Slice(local, func(i, j int) bool { return local[i].Name < local[j].Name })
	var out []CheckResult
	for _, n := range local {
		if n.Status.BGP == nil {
			continue
		}
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

// bgpCheckCluster lists what BGPChecks needs from c. A server that does
// not serve the BGP kinds (an older meshapi-apiserver) or does not let the
// user list them gives a SKIP line saying so, not an error: the BGP step
// must not hide the other checks.
func bgpCheckCluster(ctx context.Context, c cluster, nodes []v3.Node) []CheckResult {
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
	return BGPChecks(c.context, nodes, configs.Items, peers.Items)
}
