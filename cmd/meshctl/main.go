// Command meshctl connects, inspects and troubleshoots a meshapi cluster
// mesh: meshctl kubeconfig create, connect, disconnect, status, check,
// eval "<selector>", policy <ns/name>. Linked as kubectl-mesh on the PATH
// (meshctl install-plugin) it is also "kubectl mesh".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"k8s.io/component-base/cli"

	"github.com/meshapi/meshapi/pkg/meshctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := meshctl.NewCommand(os.Stdout)
	cmd.SetContext(ctx)
	err := cli.RunNoErrOutput(cmd)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
