// Command meshapi-agent is meshapi's node agent, one per node: it
// registers the node's projectcalico.org/v3 Node (addresses, VXLAN tunnel
// address and MAC), watches the local API (never a remote cluster) for
// Nodes, IPAMBlocks, IPPools, FelixConfiguration, RemoteClusterConfigurations
// and WorkloadEndpoints, local and mirrored from remote clusters, and
// programs the node's VXLAN overlay (netlink) and NAT-outgoing (nftables);
// with --policy-enforcement (the default) it also watches Tiers, Profiles,
// NetworkPolicies, GlobalNetworkPolicies and HostEndpoints and enforces
// network policy on the node's workload endpoints (nftables).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"

	"github.com/meshapi/meshapi/pkg/agent"
)

func main() {
	// SIGTERM or SIGINT stops the agent; the kernel keeps what it
	// programmed, so traffic flows on while it restarts.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cmd := newCommand()
	cmd.SetContext(ctx)
	code := cli.Run(cmd)
	stop()
	os.Exit(code)
}

func newCommand() *cobra.Command {
	o := agent.NewOptions()
	cmd := &cobra.Command{
		Use:   "meshapi-agent",
		Short: "Program this node's overlay routes, NAT-outgoing and network policy from the local projectcalico.org/v3 API",
		Long: `meshapi-agent runs on every node. It registers the node's Node
(spec.bgp.ipv4Address, spec.ipv4VXLANTunnelAddr, spec.vxlanTunnelMACAddr),
watches the local API for Nodes, IPAMBlocks, IPPools, FelixConfiguration
"default", RemoteClusterConfigurations and WorkloadEndpoints (remote
clusters' objects arrive as mirrors, prefixed "<cluster>/"), and makes the
kernel match them:

  - the VXLAN device vxlan.calico (VNI, port, MTU from FelixConfiguration),
    neighbour and FDB entries for every peer node, and routes (protocol 82)
    for their blocks, towards this cluster's nodes and those of every
    remote cluster whose overlayRoutingMode is Enabled;
  - the nftables table "ip meshapi-nat": masquerade traffic from pools with
    natOutgoing, except towards any pool or endpoint of the mesh;
  - with --policy-enforcement (default true; watching also Tiers, Profiles,
    NetworkPolicies, GlobalNetworkPolicies and HostEndpoints), the nftables
    table "inet meshapi-filter": the policies of this node's workload
    endpoints (spec.interfaceName, the host side of the pod's veth), rule
    selectors as sets of the matching local and remote endpoints' IPs.
    --policy-enforcement=false deletes that table.
  - with FelixConfiguration's wireguardEnabled, the WireGuard device
    wireguard.cali (port, MTU, rule priority from FelixConfiguration;
    userspace wireguard-go where the kernel lacks WireGuard), its private
    key in --wireguard-key-file (0600), its public key published on the
    Node's status, a peer per other node of the mesh; ready peers routed
    through WireGuard (table 1), the others over VXLAN.
  - with --ipam-socket (default /var/run/meshapi/ipam.sock), the node-local
    IPAM service meshapi-cni asks for pod addresses: one API connection,
    the node's concurrent allocations batched into one IPAMBlock write.
  - with --bgp (default when $CALICO_NETWORKING_BACKEND is "bird"; watching
    also BGPConfigurations and BGPPeers), a BGP speaker (embedded GoBGP):
    sessions of the node-to-node mesh and of the BGPPeers that select the
    node, the node's IPAM blocks advertised, learned routes programmed
    with protocol 84, the sessions in the Node's status.bgp. It runs in
    the agent's own network namespace (not with --netns).

Check a node with:

  ip route show proto 82
  ip route show proto 84   # with --bgp
  ip route show table 1; wg show all
  nft list table inet meshapi-filter
  kubectl get nodes.projectcalico.org <node> -o jsonpath='{.status.dataplane}'
  curl -s localhost:9094/metrics | grep meshapi_agent_`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
