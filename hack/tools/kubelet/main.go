// Command kubelet is the upstream Kubernetes node agent, built from
// k8s.io/kubernetes at the version pinned in this module's go.mod. meshapi's
// end-to-end clusters run one per node, against a containerd built from
// source, so that Pods are scheduled, sandboxed and networked by meshapi-cni
// as on a real cluster.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
