// Command meshapi-controller runs meshapi's controllers: for every
// RemoteClusterConfiguration it connects to the remote cluster and mirrors
// its endpoints, profiles and (with overlay routing) nodes, IP pools and
// IPAM blocks into the local projectcalico.org/v3 API, and reports the
// sync on the RemoteClusterConfiguration's status. It also keeps
// WorkloadEndpoints in step with Pods and collects IPAM's garbage:
// addresses of pods and nodes that are gone, and empty blocks of deleted
// nodes (--ipam-gc-grace-period).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"

	"github.com/meshapi/meshapi/pkg/controllermanager"
)

func main() {
	// SIGTERM or SIGINT stops the controllers, releases the leader Lease
	// and exits.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cmd := newCommand()
	cmd.SetContext(ctx)
	code := cli.Run(cmd)
	stop()
	os.Exit(code)
}

func newCommand() *cobra.Command {
	o := controllermanager.NewOptions()
	cmd := &cobra.Command{
		Use:   "meshapi-controller",
		Short: "Sync remote clusters into the local projectcalico.org/v3 API",
		Long: `meshapi-controller connects to every remote cluster named by a
RemoteClusterConfiguration (through the kubeconfig in its access Secret),
mirrors the remote cluster's WorkloadEndpoints, HostEndpoints and Profiles
and, with spec.syncOptions.overlayRoutingMode Enabled, its Nodes, IPPools
and IPAMBlocks into this cluster with the prefix "<name>/", and writes the
sync state to the RemoteClusterConfiguration's status.

Check a connection with:

  kubectl get remoteclusterconfigurations
  kubectl logs deployment/calico-typha -n calico-system | grep "Sending in-sync update"

It also releases the IPAM addresses whose pod (or, for a VXLAN tunnel
address, node) is gone, and deletes the empty blocks of deleted nodes,
after --ipam-gc-grace-period; "meshctl ipam check" lists what is leaked.

Run several replicas: one leads (a Lease in --leader-election-namespace),
the others stand by.`,
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
