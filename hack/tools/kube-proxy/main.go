// Command kube-proxy is the upstream Kubernetes Service proxy, built from
// k8s.io/kubernetes at the version pinned in this module's go.mod. meshapi's
// end-to-end clusters run it in nftables mode on every node, so that
// ClusterIP Services (federated ones included) are programmed as upstream
// programs them.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
