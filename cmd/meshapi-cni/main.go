// Command meshapi-cni is meshapi's CNI plugin (see pkg/cni). Run by a
// container runtime (CNI_COMMAND set) it is the plugin; `meshapi-cni
// install ...` installs it on a node (see pkg/cni/install), as the agent
// DaemonSet's init container does.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/spf13/pflag"

	"github.com/meshapi/meshapi/pkg/cni"
	"github.com/meshapi/meshapi/pkg/cni/install"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "install" {
		if err := runInstall(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "meshapi-cni install:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	funcs := cni.Funcs(ctx)
	if err := skel.PluginMainFuncsWithError(funcs, cni.Versions, "meshapi-cni: meshapi's CNI plugin and IPAM"); err != nil {
		if perr := err.Print(); perr != nil {
			fmt.Fprintln(os.Stderr, "meshapi-cni: printing the error:", perr)
		}
		stop()
		os.Exit(1)
	}
}

// runInstall parses the install flags and installs.
func runInstall(args []string) error {
	fs := pflag.NewFlagSet("install", pflag.ContinueOnError)
	o := install.Options{}
	fromSA := fs.Bool("kubeconfig-from-serviceaccount", false, "write a kubeconfig from the mounted ServiceAccount (token, ca.crt) and KUBERNETES_SERVICE_HOST/PORT")
	fs.StringVar(&o.BinDir, "bin-dir", "/host/opt/cni/bin", "directory that receives the plugin binary")
	fs.StringVar(&o.ConfDir, "conf-dir", "/host/etc/cni/net.d", "directory that receives the conflist and the kubeconfig")
	fs.StringVar(&o.HostConfDir, "host-conf-dir", "/etc/cni/net.d", "the conf dir as the node sees it (the conflist names the kubeconfig there)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "path (on the node) of an existing kubeconfig for the conflist, instead of --kubeconfig-from-serviceaccount")
	fs.StringVar(&o.ServiceAccountDir, "serviceaccount-dir", install.ServiceAccountDir, "where the ServiceAccount token and ca.crt are mounted")
	fs.StringVar(&o.NodeName, "nodename", os.Getenv("NODENAME"), "node name written into the conflist (default $NODENAME; empty: the plugin uses the hostname)")
	fs.StringVar(&o.CNIVersion, "cni-version", "1.1.0", "cniVersion of the conflist: 1.1.0 (GC and STATUS), or 1.0.0 / 0.4.0 for older runtimes")
	fs.StringVar(&o.IPAMSocket, "ipam-socket", "", "socket of meshapi-agent's IPAM service written into the conflist (empty: the plugin's default "+ipamwire.DefaultSocket+")")
	fs.IntVar(&o.MTU, "mtu", 0, "pod MTU written into the conflist (0: from the default FelixConfiguration)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fromSA == (o.Kubeconfig != "") {
		return fmt.Errorf("give exactly one of --kubeconfig-from-serviceaccount and --kubeconfig")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding my own binary: %w", err)
	}
	o.Binary = self
	o.APIHost, o.APIPort = os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	return install.Install(o, os.Stdout)
}
