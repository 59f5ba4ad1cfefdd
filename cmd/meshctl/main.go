// Command meshctl inspects and troubleshoots a meshapi cluster mesh:
// meshctl status, meshctl eval "<selector>". Copied or linked as
// kubectl-mesh on the PATH it is also "kubectl mesh".
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
