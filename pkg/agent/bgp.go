package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"

	"github.com/meshapi/meshapi/pkg/bgp/runner"
	"github.com/meshapi/meshapi/pkg/bgp/speaker"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// BackendEnv chooses the networking backend as Calico's calico_backend
// does: "bird" runs the BGP speaker (the default of --bgp), "vxlan" or
// "none" do not.
const BackendEnv = "CALICO_NETWORKING_BACKEND"

// addBGPFlags registers --bgp; its default is true when $CALICO_NETWORKING_BACKEND is "bird".
func (o *Options) addBGPFlags(fs *pflag.FlagSet) {
	o.BGP = o.BGP || os.Getenv(BackendEnv) == "bird"
	fs.BoolVar(&o.BGP, "bgp", o.BGP, "Run this node's BGP speaker (embedded GoBGP): peer as BGPConfiguration and BGPPeers say, advertise the node's IPAM blocks, program learned routes (protocol 84) and write status.bgp (default true when $"+BackendEnv+" is \"bird\"). The speaker runs in the agent's own network namespace: not with --netns.")
}

// validateBGP refuses --bgp with --netns: the speaker's sockets are opened
// in the agent's own network namespace.
func (o *Options) validateBGP() error {
	if o.BGP && o.NetNS != "" {
		return fmt.Errorf("--bgp runs the BGP speaker in the agent's own network namespace, so it cannot be combined with --netns %q: run the agent in the node's namespace instead", o.NetNS)
	}
	return nil
}

// startBGP starts the BGP runner when --bgp is set; the returned function
// stops it and waits. Stopping leaves the learned routes in the kernel, so
// that traffic flows on while the agent restarts; the next run adopts
// them (speaker.Options.StaleRoutesTime).
func (o *Options) startBGP(ctx context.Context, client versioned.Interface, nl *netlink.Handle, reg prometheus.Registerer, log *slog.Logger) func() {
	if !o.BGP {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	logger := logr.FromSlogHandler(log.With("component", "bgp").Handler())
	cfg := runner.Config{
		NodeName: o.NodeName, Client: client, Metrics: speaker.NewMetrics(reg), Debounce: o.Debounce, StatusInterval: o.StatusInterval,
		Speaker: speaker.Options{Routes: nl, KeepRoutesOnStop: true, Log: logger}, Log: logger,
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := runner.Run(ctx, cfg); err != nil {
			log.Error("BGP runner stopped", "err", err)
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
