// Command kube-scheduler is the upstream Kubernetes scheduler, built from
// k8s.io/kubernetes at the version pinned in this module's go.mod, so that
// Pods in meshapi's end-to-end clusters are scheduled onto nodes rather
// than pinned to them by hand.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
