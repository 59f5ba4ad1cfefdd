package soak

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// listEndpoints lists mb's endpoints matching selector in every
// namespace, paging, by "<namespace>/<name>".
func listEndpoints(ctx context.Context, mb *member, selector string) (map[string]*v3.WorkloadEndpoint, error) {
	out := map[string]*v3.WorkloadEndpoint{}
	opts := metav1.ListOptions{LabelSelector: selector, Limit: 5000}
	for {
		l, err := mb.client.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the endpoints of %s (%s): %w", mb.name(), selector, err)
		}
		for i := range l.Items {
			ep := &l.Items[i]
			out[ep.Namespace+"/"+ep.Name] = ep
		}
		if l.Continue == "" {
			return out, nil
		}
		opts.Continue = l.Continue
	}
}

// truthSelector selects a cluster's own benchmark endpoints (not the
// mirrors it holds).
const truthSelector = seqLabel + ",!" + v3.LabelCluster

// compareMirror compares the mirror of remote's endpoints in a local
// cluster (mirror, by namespace/name) with remote's own (truth): every
// endpoint has a mirror "<remote>.<name>" in its namespace, with its
// labels and addresses, and there is no other mirror. It returns the
// number of differences and the first max of them.
func compareMirror(remote string, truth, mirror map[string]*v3.WorkloadEndpoint, limit int) (int, []string) {
	var diffs []string
	n := 0
	add := func(format string, args ...any) {
		n++
		if len(diffs) < limit {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	expected := map[string]bool{}
	for key, ep := range truth {
		mkey := ep.Namespace + "/" + remote + "." + ep.Name
		expected[mkey] = true
		m := mirror[mkey]
		if m == nil {
			add("%s of %s: no mirror %s", key, remote, mkey)
			continue
		}
		for k, v := range ep.Labels {
			if m.Labels[k] != v {
				add("%s of %s: label %s=%q, mirror %s has %q", key, remote, k, v, mkey, m.Labels[k])
			}
		}
		if m.Labels[v3.LabelCluster] != remote {
			add("mirror %s: label %s=%q, want %q", mkey, v3.LabelCluster, m.Labels[v3.LabelCluster], remote)
		}
		if !slices.Equal(ep.Spec.IPNetworks, m.Spec.IPNetworks) {
			add("%s of %s: ipNetworks %v, mirror %s has %v", key, remote, ep.Spec.IPNetworks, mkey, m.Spec.IPNetworks)
		}
	}
	for mkey := range mirror {
		if !expected[mkey] {
			add("mirror %s: no such endpoint in %s", mkey, remote)
		}
	}
	slices.Sort(diffs)
	return n, diffs
}

// meshDiff compares every cluster's mirror of every other cluster with
// that cluster's endpoints, and its RCC's count; it returns the
// differences (a few per pair) and their number.
func meshDiff(ctx context.Context, members []*member) (int, []string, error) {
	truths := map[*member]map[string]*v3.WorkloadEndpoint{}
	for _, mb := range members {
		t, err := listEndpoints(ctx, mb, truthSelector)
		if err != nil {
			return 0, nil, err
		}
		truths[mb] = t
	}
	total := 0
	var diffs []string
	for _, local := range members {
		for _, remote := range members {
			if remote == local {
				continue
			}
			mirror, err := listEndpoints(ctx, local, seqLabel+","+v3.LabelCluster+"="+remote.name())
			if err != nil {
				return 0, nil, err
			}
			n, d := compareMirror(remote.name(), truths[remote], mirror, 3)
			total += n
			for _, s := range d {
				diffs = append(diffs, local.name()+": "+s)
			}
		}
	}
	return total, diffs, nil
}

// waitConverged waits until every mirror equals its remote's endpoints
// and returns how long that took, or the last differences seen.
func waitConverged(ctx context.Context, members []*member, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		n, diffs, err := meshDiff(ctx, members)
		if err == nil && n == 0 {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("%d differences between the mirrors and their remotes after %s, among them:\n%s",
				n, timeout, strings.Join(diffs, "\n"))
		}
		sleepCtx(ctx, 30*time.Second)
	}
}

// waitQuiet polls count every second until it has not changed for quiet,
// or timeout passes.
func waitQuiet(ctx context.Context, count func() int, quiet, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	last, since := count(), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil && time.Since(since) < quiet {
		sleepCtx(ctx, time.Second)
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
}
