package meshctl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/agent/heartbeat"
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// Names of the liveness checks: the agents' heartbeat Leases and the
// controller's leader Lease.
const (
	CheckAgents     = "agents"
	CheckController = "controller"
)

// ControllerLeaseName is the leader election Lease of meshapi-controller
// in remoteaccess.DefaultNamespace (its --leader-election-name default).
const ControllerLeaseName = "meshapi-controller"

// AgentChecks checks, from the heartbeat Leases of the agents' namespace
// at now, that the agent of every local node (Nodes without the cluster
// label) renewed its Lease within the Lease's duration (three periods).
// Nodes without a Lease get one SKIP line (their agents predate the
// heartbeat or never ran): only an agent that was alive and stopped is a
// FAIL.
func AgentChecks(context string, now time.Time, nodes []v3.Node, leases []coordinationv1.Lease) []CheckResult {
	line := func(result, detail, fix string) CheckResult {
		return CheckResult{Context: context, Check: CheckAgents, Result: result, Detail: detail, Fix: fix}
	}
	byNode := map[string]*coordinationv1.Lease{}
	for i := range leases {
		if n := leases[i].Labels[heartbeat.LabelNode]; n != "" {
			byNode[n] = &leases[i]
		}
	}
	var local []string
	for _, n := range nodes {
		if n.Labels[v3.LabelCluster] == "" {
			local = append(local, n.Name)
		}
	}
	sort.Strings(local)
	if len(local) == 0 {
		return []CheckResult{line(Skip, "the cluster has no local Node objects", "")}
	}
	var out []CheckResult
	var without []string
	for _, n := range local {
		l, ok := byNode[n]
		if !ok {
			without = append(without, n)
			continue
		}
		stale, age := heartbeat.Stale(l, now)
		if !stale {
			out = append(out, line(Pass, fmt.Sprintf("node %s: the agent renewed its heartbeat %s ago", n, age.Round(time.Second)), ""))
			continue
		}
		ago := "never"
		if age >= 0 {
			ago = age.Round(time.Second).String() + " ago"
		}
		duration := "no duration"
		if d := l.Spec.LeaseDurationSeconds; d != nil {
			duration = fmt.Sprintf("its %ds duration", *d)
		}
		out = append(out, line(Fail, fmt.Sprintf("node %s: the agent last renewed its heartbeat Lease %s/%s %s, past %s: it is dead or cannot reach the API, and the node's routes and policy no longer follow changes",
			n, l.Namespace, l.Name, ago, duration),
			fmt.Sprintf("kubectl get pods -n %s -l app.kubernetes.io/name=meshapi-agent --field-selector spec.nodeName=%s; kubectl logs of that pod", l.Namespace, n)))
	}
	if len(without) > 0 {
		out = append(out, line(Skip, fmt.Sprintf("no heartbeat Lease for node(s) %s (an agent older than the heartbeat, or none ran there)", strings.Join(without, ", ")), ""))
	}
	return out
}

// ControllerCheck checks meshapi-controller's leader Lease at now: a
// leader renews it every few seconds (its retry period, 2 s by default),
// so one not renewed for two thirds of its duration (its renew deadline,
// after which a living leader gives up) is held by a dead or cut-off
// replica. Until another replica takes the Lease over, when it expires, no
// controller syncs remote clusters, and nothing writes the
// RemoteClusterConfigurations' status: it keeps saying what the dead
// leader last wrote. lease is nil when there is none (getErr says why).
func ControllerCheck(context string, now time.Time, lease *coordinationv1.Lease, getErr error) CheckResult {
	line := func(result, detail, fix string) CheckResult {
		return CheckResult{Context: context, Check: CheckController, Result: result, Detail: detail, Fix: fix}
	}
	ref := remoteaccess.DefaultNamespace + "/" + ControllerLeaseName
	logs := "kubectl logs deployment/calico-typha -n " + remoteaccess.DefaultNamespace
	switch {
	case getErr != nil:
		return line(Skip, fmt.Sprintf("cannot read the leader Lease %s: %v", ref, getErr), "")
	case lease == nil:
		return line(Skip, fmt.Sprintf("no leader Lease %s (meshapi-controller runs without --leader-elect, or not at all)", ref), "")
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	if holder == "" {
		return line(Fail, fmt.Sprintf("the leader Lease %s has no holder: no meshapi-controller leads", ref), logs)
	}
	if lease.Spec.RenewTime == nil || lease.Spec.LeaseDurationSeconds == nil {
		return line(Fail, fmt.Sprintf("the leader Lease %s held by %s has no renewTime or duration", ref, holder), logs)
	}
	duration := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	age := now.Sub(lease.Spec.RenewTime.Time)
	switch {
	case age > duration:
		return line(Fail, fmt.Sprintf("the leader Lease %s expired %s ago (held by %s, last renewed %s ago): no meshapi-controller leads; remote clusters are not synced and the RemoteClusterConfigurations' status is stale",
			ref, (age-duration).Round(time.Second), holder, age.Round(time.Second)), logs)
	case age > duration*2/3:
		return line(Fail, fmt.Sprintf("the leader Lease %s is held by %s, not renewed for %s (a leader renews every few seconds): the holder is dead or cut off; remote clusters are not synced and the RemoteClusterConfigurations' status is stale until another replica takes over in %s",
			ref, holder, age.Round(time.Second), (duration-age).Round(time.Second)), logs)
	}
	return line(Pass, fmt.Sprintf("%s leads (Lease %s renewed %s ago)", holder, ref, age.Round(time.Second)), "")
}

// livenessCheckCluster reads the Leases the liveness checks need from c.
// A Lease that cannot be read gives a SKIP line, not an error.
func livenessCheckCluster(ctx context.Context, c cluster, nodes []v3.Node) []CheckResult {
	now := time.Now()
	var out []CheckResult
	lease, err := c.kube.CoordinationV1().Leases(remoteaccess.DefaultNamespace).Get(ctx, ControllerLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease, err = nil, nil
	}
	out = append(out, ControllerCheck(c.context, now, lease, err))
	leases, err := c.kube.CoordinationV1().Leases(heartbeat.DefaultNamespace).List(ctx, metav1.ListOptions{LabelSelector: heartbeat.LabelNode})
	if err != nil {
		return append(out, CheckResult{Context: c.context, Check: CheckAgents, Result: Skip,
			Detail: fmt.Sprintf("cannot list the agents' heartbeat Leases in %s: %v", heartbeat.DefaultNamespace, err)})
	}
	return append(out, AgentChecks(c.context, now, nodes, leases.Items)...)
}
