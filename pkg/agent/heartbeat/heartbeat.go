// Package heartbeat is meshapi-agent's liveness as the API sees it: a
// coordination.k8s.io Lease per node, as the kubelet's in kube-node-lease,
// renewed every period with a duration of DurationFactor periods. A Lease
// whose renewTime is older than its duration belongs to an agent that died
// or lost the API: meshctl check's agents step reports it (Stale).
//
// The heartbeat never stops the agent: a failed renewal is logged and
// retried at the next period (the Lease then goes stale, which is what it
// is for).
package heartbeat

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

// DefaultNamespace holds the agents' Leases: the agent's own namespace in
// artifacts/deploy/60-agent.yaml.
const DefaultNamespace = "meshapi-system"

// DefaultPeriod is how often an agent renews its Lease.
const DefaultPeriod = 10 * time.Second

// DurationFactor is the Lease's duration in periods: an agent is reported
// dead after missing this many renewals in a row.
const DurationFactor = 3

// LabelNode, on a heartbeat Lease, names the agent's node.
const LabelNode = "projectcalico.org/agent-heartbeat-node"

// LeaseName is the name of node's heartbeat Lease.
func LeaseName(node string) string { return "meshapi-agent-" + node }

// Config configures Run.
type Config struct {
	// Leases reaches the Leases of Namespace.
	Leases coordinationclient.LeasesGetter
	// Namespace holds the Lease (DefaultNamespace if empty).
	Namespace string
	// Node is the agent's node name.
	Node string
	// Period is how often the Lease is renewed (DefaultPeriod if zero).
	Period time.Duration
	// Logger logs failed renewals.
	Logger *slog.Logger
}

// Renewed returns the Lease of node as it should be after a renewal at
// now with period: old (nil if there is none) with the holder, duration
// and renewTime set, acquireTime kept (set on creation).
func Renewed(old *coordinationv1.Lease, namespace, node string, period time.Duration, now time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName(node), Namespace: namespace}}
	if old != nil {
		l = old.DeepCopy()
	}
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	l.Labels[LabelNode] = node
	holder := node
	seconds := int32(DurationFactor * period / time.Second)
	if seconds < 1 {
		seconds = 1
	}
	renew := metav1.NewMicroTime(now)
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &seconds, &renew
	if l.Spec.AcquireTime == nil {
		l.Spec.AcquireTime = &renew
	}
	return l
}

// Stale tells whether l was not renewed within its duration at now, and
// how long ago it was renewed (a Lease without renewTime or duration is
// stale since forever: -1).
func Stale(l *coordinationv1.Lease, now time.Time) (bool, time.Duration) {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true, -1
	}
	age := now.Sub(l.Spec.RenewTime.Time)
	return age > time.Duration(*l.Spec.LeaseDurationSeconds)*time.Second, age
}

// Run renews the Lease at once and then every period until ctx ends.
func Run(ctx context.Context, cfg Config) {
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	failing := false
	t := time.NewTicker(cfg.Period)
	defer t.Stop()
	for {
		err := renew(ctx, cfg)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			cfg.Logger.Warn("renewing the agent's heartbeat Lease failed; retrying every period", "err", err)
			failing = true
		case err == nil && failing:
			cfg.Logger.Info("the agent's heartbeat Lease is renewed again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// renew creates or updates the Lease once.
func renew(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Period)
	defer cancel()
	leases := cfg.Leases.Leases(cfg.Namespace)
	name := LeaseName(cfg.Node)
	old, err := leases.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := leases.Create(ctx, Renewed(nil, cfg.Namespace, cfg.Node, cfg.Period, time.Now()), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Lease %s/%s: %w", cfg.Namespace, name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading Lease %s/%s: %w", cfg.Namespace, name, err)
	}
	if _, err := leases.Update(ctx, Renewed(old, cfg.Namespace, cfg.Node, cfg.Period, time.Now()), metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("renewing Lease %s/%s: %w", cfg.Namespace, name, err)
	}
	return nil
}
