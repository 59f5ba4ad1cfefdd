// Command meshapi-apiserver serves the projectcalico.org/v3 API of the
// meshapi cluster mesh: as an aggregated API server behind kube-apiserver
// (the default, with delegated authentication and authorization), or
// standalone for a laptop (--standalone). Without --etcd-servers it starts
// an embedded etcd under --data-dir.
package main

import (
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/meshapi/meshapi/pkg/apiserver"
)

func main() {
	cmd := newCommand()
	// SIGTERM or SIGINT shuts the server down gracefully, then the embedded
	// etcd; a second signal exits at once.
	cmd.SetContext(genericapiserver.SetupSignalContext())
	os.Exit(cli.Run(cmd))
}

func newCommand() *cobra.Command {
	o := apiserver.NewOptions()
	cmd := &cobra.Command{
		Use:   "meshapi-apiserver",
		Short: "Serve the projectcalico.org/v3 cluster mesh API",
		Long: `meshapi-apiserver serves projectcalico.org/v3 (RemoteClusterConfiguration,
IPPool, NetworkPolicy, WorkloadEndpoint, ...) for the meshapi cluster mesh.

In a cluster it runs behind kube-apiserver, registered with the APIService
v3.projectcalico.org, and delegates authentication and authorization to it
(see artifacts/). Without --etcd-servers it keeps its data in an embedded
etcd under --data-dir.

To try it without a cluster:

  meshapi-apiserver --standalone
  kubectl --kubeconfig meshapi-data/kubeconfig get remoteclusterconfigurations

Standalone mode serves on 127.0.0.1 with a self-signed certificate and a
generated bearer token, and writes the kubeconfig for it.`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
