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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/bgp/peering"
	"github.com/meshapi/meshapi/pkg/bgp/runner"
	"github.com/meshapi/meshapi/pkg/bgp/speaker"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// BackendEnv chooses the networking backend as Calico's calico_backend
// does: "bird" runs the BGP speaker (the default of --bgp), "vxlan" or
// "none" do not.
const BackendEnv = "CALICO_NETWORKING_BACKEND"

// DefaultBGPPasswordNamespace is the namespace of the agent's DaemonSet
// (artifacts/deploy), where the Secrets of BGP passwords are read.
const DefaultBGPPasswordNamespace = "meshapi-system"

// addBGPFlags registers --bgp, its default true when $CALICO_NETWORKING_BACKEND is "bird", and --bgp-password-namespace.
func (o *Options) addBGPFlags(fs *pflag.FlagSet) {
	o.BGP = o.BGP || os.Getenv(BackendEnv) == "bird"
	fs.BoolVar(&o.BGP, "bgp", o.BGP, "Run this node's BGP speaker (embedded GoBGP): peer as BGPConfiguration and BGPPeers say, advertise the node's IPAM blocks, program learned routes (protocol 84) and write status.bgp (default true when $"+BackendEnv+" is \"bird\"). The speaker runs in the agent's own network namespace: not with --netns.")
	fs.StringVar(&o.BGPPasswordNamespace, "bgp-password-namespace", o.BGPPasswordNamespace, "Namespace of the Secrets that BGP session passwords (BGPPeer spec.password.secretKeyRef, BGPConfiguration spec.nodeMeshPassword) name; the agent's ServiceAccount needs get on them (artifacts/bgp/password-rbac.yaml).")
}

// validateBGP refuses --bgp with --netns (the speaker's sockets are opened
// in the agent's own network namespace) and without a password namespace.
func (o *Options) validateBGP() error {
	if o.BGP && o.NetNS != "" {
		return fmt.Errorf("--bgp runs the BGP speaker in the agent's own network namespace, so it cannot be combined with --netns %q: run the agent in the node's namespace instead", o.NetNS)
	}
	if o.BGP && o.BGPPasswordNamespace == "" {
		return fmt.Errorf("--bgp-password-namespace is empty: BGP passwords are read from Secrets in that namespace")
	}
	return nil
}

// startBGP starts the BGP runner when --bgp is set; the returned function
// stops it and waits. Stopping leaves the learned routes in the kernel, so
// that traffic flows on while the agent restarts; the next run adopts
// them (speaker.Options.StaleRoutesTime).
func (o *Options) startBGP(ctx context.Context, rc *rest.Config, client versioned.Interface, nl *netlink.Handle, reg prometheus.Registerer, log *slog.Logger) (func(), error) {
	if !o.BGP {
		return func() {}, nil
	}
	scfg := rest.CopyConfig(rc)
	scfg.UserAgent = "meshapi-agent/bgp"
	secrets, err := corev1client.NewForConfig(scfg)
	if err != nil {
		return nil, fmt.Errorf("creating the BGP speaker's Secrets client: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	logger := logr.FromSlogHandler(log.With("component", "bgp").Handler())
	cfg := runner.Config{
		NodeName: o.NodeName, Client: client, Metrics: speaker.NewMetrics(reg), Debounce: o.Debounce, StatusInterval: o.StatusInterval,
		Speaker: speaker.Options{Routes: nl, KeepRoutesOnStop: true, Log: logger}, Log: logger,
		Passwords: SecretPasswords(secrets, o.BGPPasswordNamespace),
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
	}, nil
}

// SecretPasswords reads a BGP session's password from the key of a
// Secret in namespace that the peer's password names, as calico-node reads
// them from its own namespace. Errors name the Secret, the key and the
// peer.
func SecretPasswords(secrets corev1client.SecretsGetter, namespace string) speaker.Passwords {
	return func(ctx context.Context, p peering.Peer) (string, error) {
		ref := p.Password
		s, err := secrets.Secrets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsForbidden(err):
			return "", fmt.Errorf("reading Secret %s/%s, the password of peer %s: %w (give the agent's ServiceAccount get on it: artifacts/bgp/password-rbac.yaml)", namespace, ref.Name, p, err)
		case err != nil:
			return "", fmt.Errorf("reading Secret %s/%s, the password of peer %s: %w", namespace, ref.Name, p, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok || len(v) == 0 {
			return "", fmt.Errorf("Secret %s/%s has no key %q (or it is empty): the password of peer %s", namespace, ref.Name, ref.Key, p)
		}
		return string(v), nil
	}
}
