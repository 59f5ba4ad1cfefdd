package meshctl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// Results of a check.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP"
)

// Names of the checks, in the order of the seed's troubleshooting section.
const (
	CheckAccessSecret  = "access-secret"
	CheckSecretRBAC    = "secret-rbac"
	CheckBidirectional = "bidirectional"
	CheckRequirements  = "requirements"
	CheckInSync        = "in-sync"
	CheckOverlayRoutes = "overlay-routes"
)

// controllerUser is the controller's identity as the authorizer sees it.
var controllerUser = "system:serviceaccount:" + remoteaccess.DefaultNamespace + ":" + remoteaccess.ControllerServiceAccount

// CheckResult is one line of check.
type CheckResult struct {
	// Context is the cluster checked; Remote the RemoteClusterConfiguration,
	// empty for a check of the cluster itself.
	Context string `json:"context"`
	Remote  string `json:"remote,omitempty"`
	// Check names the check.
	Check string `json:"check"`
	// Result is PASS, FAIL or SKIP.
	Result string `json:"result"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do about a FAIL.
	Fix string `json:"fix,omitempty"`
}

// RCCFacts is what check found about one RemoteClusterConfiguration.
type RCCFacts struct {
	// Context is the local cluster; RCC the configuration.
	Context string
	RCC     *v3.RemoteClusterConfiguration
	// AccessErr is why the access Secret's kubeconfig could not be read or
	// used, nil when it listed Nodes nodes of the remote cluster.
	AccessErr error
	Nodes     int
	// SecretResourceVersion is the access Secret's resourceVersion, empty
	// when it could not be read.
	SecretResourceVersion string
	// SecretVerbs are the verbs the controller may use on the access
	// Secret's namespace's secrets; SARErr is why that is unknown.
	SecretVerbs map[string]bool
	SARErr      error
	// Reverse tells whether the remote has an RCC back; ReverseErr is why
	// that is unknown.
	Reverse    bool
	ReverseErr error
}

// secretRef returns "namespace/name" of the access Secret, or "".
func secretRef(rcc *v3.RemoteClusterConfiguration) (string, string) {
	if r := rcc.Spec.ClusterAccessSecret; r != nil {
		return r.Namespace, r.Name
	}
	return "", ""
}

// StaleStatus says what rcc's status describes when it is not the RCC's
// spec (its generation) and its access Secret at secretVersion (empty:
// unknown) as they are now, and returns "" when it is. A status without
// observedSecretResourceVersion (a controller older than the field) is
// taken as describing the Secret.
func StaleStatus(rcc *v3.RemoteClusterConfiguration, secretVersion string) string {
	if g := rcc.Status.ObservedGeneration; g != rcc.Generation {
		return fmt.Sprintf("the status is of generation %d, not yet of %d", g, rcc.Generation)
	}
	v := rcc.Status.ObservedSecretResourceVersion
	if v == "" || secretVersion == "" || v == secretVersion {
		return ""
	}
	ns, name := secretRef(rcc)
	return fmt.Sprintf("the status is of Secret %s/%s at resourceVersion %s, not yet of %s", ns, name, v, secretVersion)
}

// RCCChecks turns the facts of one RemoteClusterConfiguration into check
// lines: access-secret, secret-rbac, bidirectional, requirements, in-sync.
func RCCChecks(f RCCFacts) []CheckResult {
	rcc := f.RCC
	line := func(check, result, detail, fix string) CheckResult {
		return CheckResult{Context: f.Context, Remote: rcc.Name, Check: check, Result: result, Detail: detail, Fix: fix}
	}
	ns, name := secretRef(rcc)
	connectFix := fmt.Sprintf("meshctl connect --context %s --context %s recreates it; or store a working kubeconfig of %s: kubectl create secret generic %s -n %s --from-literal=datastoreType=kubernetes --from-file=kubeconfig=<file>",
		f.Context, rcc.Name, rcc.Name, name, ns)
	var out []CheckResult
	switch {
	case name == "":
		out = append(out, line(CheckAccessSecret, Skip, "no spec.clusterAccessSecret: inline connection fields are not checked", ""))
	case f.AccessErr != nil:
		out = append(out, line(CheckAccessSecret, Fail, fmt.Sprintf("the kubeconfig in Secret %s/%s does not list the nodes of %s: %v", ns, name, rcc.Name, f.AccessErr), connectFix))
	default:
		out = append(out, line(CheckAccessSecret, Pass, fmt.Sprintf("the kubeconfig in Secret %s/%s lists %d nodes of %s", ns, name, f.Nodes, rcc.Name), ""))
	}

	switch {
	case name == "":
	case f.SARErr != nil:
		out = append(out, line(CheckSecretRBAC, Fail, fmt.Sprintf("could not ask whether %s may read secrets in %s: %v", controllerUser, ns, f.SARErr), "give meshctl permission to create SubjectAccessReviews"))
	default:
		var missing []string
		for _, v := range []string{"get", "list", "watch"} {
			if !f.SecretVerbs[v] {
				missing = append(missing, v)
			}
		}
		if len(missing) == 0 {
			out = append(out, line(CheckSecretRBAC, Pass, fmt.Sprintf("%s may get, list and watch Secret %s/%s", controllerUser, ns, name), ""))
		} else {
			out = append(out, line(CheckSecretRBAC, Fail, fmt.Sprintf("%s may not %s Secret %s/%s (kubectl auth can-i get secret/%s -n %s --as=%s)", controllerUser, strings.Join(missing, ", "), ns, name, name, ns, controllerUser),
				fmt.Sprintf("create the Role and RoleBinding %s in %s (meshctl connect --context %s --context %s does)", remoteaccess.SecretAccessName, ns, f.Context, rcc.Name)))
		}
	}

	switch {
	case f.ReverseErr != nil:
		out = append(out, line(CheckBidirectional, Skip, fmt.Sprintf("cannot tell whether %s syncs from %s: %v", rcc.Name, f.Context, f.ReverseErr), ""))
	case f.Reverse:
		out = append(out, line(CheckBidirectional, Pass, fmt.Sprintf("%s has RemoteClusterConfiguration %s back to this cluster", rcc.Name, f.Context), ""))
	default:
		out = append(out, line(CheckBidirectional, Fail, fmt.Sprintf("%s has no RemoteClusterConfiguration %s: it does not sync from this cluster", rcc.Name, f.Context),
			fmt.Sprintf("meshctl connect --context %s --context %s", f.Context, rcc.Name)))
	}

	cond := meta.FindStatusCondition(rcc.Status.Conditions, v3.RemoteClusterConditionRequirementsMet)
	switch {
	case cond == nil:
		out = append(out, line(CheckRequirements, Skip, "no RequirementsMet condition yet (is meshapi-controller running?)", ""))
	case cond.Status == metav1.ConditionTrue:
		out = append(out, line(CheckRequirements, Pass, "the mesh's requirements are met", ""))
	default:
		out = append(out, line(CheckRequirements, Fail, fmt.Sprintf("RequirementsMet %s: %s", cond.Status, cond.Message),
			"change the pool or setting named above in one of the clusters (the seed's Requirements section)"))
	}

	state := rcc.Status.SyncState
	switch state {
	case v3.SyncStateInSync:
		if stale := StaleStatus(rcc, f.SecretResourceVersion); stale != "" {
			out = append(out, line(CheckInSync, Fail, "InSync, but "+stale,
				"meshapi-controller takes up a change of the RCC or its Secret within a watch event; if this stays: kubectl logs deployment/calico-typha -n calico-system"))
		} else {
			out = append(out, line(CheckInSync, Pass, "InSync", ""))
		}
	case "":
		out = append(out, line(CheckInSync, Fail, "no sync state: the controller has not picked it up",
			"run meshapi-controller as calico-system/calico-typha (kubectl logs deployment/calico-typha -n calico-system)"))
	default:
		fix := "see the access-secret line; kubectl logs deployment/calico-typha -n calico-system"
		if state == v3.SyncStateConfigIncomplete {
			fix = "fix the Secret or RemoteClusterConfiguration as the error says"
		}
		out = append(out, line(CheckInSync, Fail, fmt.Sprintf("%s%s", state, suffix(rcc.Status.LastError)), fix))
	}
	return out
}

// OverlayChecks checks, from the agents' status, that every local node
// has routes towards every remote cluster with overlay routing Enabled
// that has mirrored nodes. nodes are all Node objects of the cluster
// (local and mirrored).
func OverlayChecks(context string, nodes []v3.Node, rccs []v3.RemoteClusterConfiguration) []CheckResult {
	line := func(result, detail, fix string) CheckResult {
		return CheckResult{Context: context, Check: CheckOverlayRoutes, Result: result, Detail: detail, Fix: fix}
	}
	mirrored := map[string]int{}
	var local []v3.Node
	reporting := 0
	for _, n := range nodes {
		if c := n.Labels[v3.LabelCluster]; c != "" {
			mirrored[c]++
			continue
		}
		local = append(local, n)
		if n.Status.Dataplane != nil {
			reporting++
		}
	}
	if len(local) == 0 {
		return []CheckResult{line(Skip, "the cluster has no local Node objects", "")}
	}
	if reporting == 0 {
		return []CheckResult{line(Skip, "no node reports agent status; is meshapi-agent running?", "")}
	}
	var remotes []string
	for _, r := range rccs {
		if r.Spec.SyncOptions.OverlayRoutingMode == v3.OverlayRoutingModeEnabled && mirrored[r.Name] > 0 {
			remotes = append(remotes, r.Name)
		}
	}
	sort.Strings(remotes)
	if len(remotes) == 0 {
		return []CheckResult{line(Skip, "no remote cluster with overlay routing Enabled has mirrored nodes", "")}
	}
	sort.Slice(local, func(i, j int) bool { return local[i].Name < local[j].Name })
	var out []CheckResult
	for _, n := range local {
		dp := n.Status.Dataplane
		if dp == nil {
			out = append(out, line(Fail, fmt.Sprintf("node %s reports no agent status", n.Name), fmt.Sprintf("run meshapi-agent on node %s", n.Name)))
			continue
		}
		for _, r := range remotes {
			var routes int32
			found := false
			for _, rc := range dp.RemoteClusters {
				if rc.Cluster == r {
					routes, found = rc.Routes, true
				}
			}
			if found && routes > 0 {
				out = append(out, line(Pass, fmt.Sprintf("node %s has %d routes towards %s", n.Name, routes, r), ""))
				continue
			}
			out = append(out, line(Fail, fmt.Sprintf("node %s has no overlay routes towards %s (%d mirrored nodes)%s", n.Name, r, mirrored[r], suffix(dp.LastError)),
				fmt.Sprintf("check meshapi-agent on node %s: status.dataplane.lastError, and that %s's nodes have VXLAN tunnel addresses", n.Name, r)))
		}
	}
	return out
}

func newCheckCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Run the seed's troubleshooting steps; one PASS/FAIL/SKIP line each, with the fix",
		Long: `check automates the original product's troubleshooting section for every
RemoteClusterConfiguration of each cluster (--context, repeatable):

  access-secret   the kubeconfig in the access Secret connects to the remote
                  cluster and lists its nodes (kubectl --kubeconfig=... get nodes)
  secret-rbac     the controller (calico-system/calico-typha) may get, list and
                  watch the access Secret, by name, as "kubectl auth can-i"
                  answers (a SubjectAccessReview)
  bidirectional   the remote cluster has a RemoteClusterConfiguration back,
                  named after this cluster's context
  requirements    the RequirementsMet condition is True
  in-sync         the sync state is InSync

and, per cluster, overlay-routes: every local node's agent reports routes
towards each remote cluster with overlay routing Enabled that has mirrored
nodes (SKIP when no node reports agent status); bgp-sessions: every
session the BGP configuration asks of a node that runs a speaker is
Established; bgp-routes: such a node has learned routes to every pod of
each remote cluster with overlay routing Disabled; controller:
meshapi-controller's leader Lease (calico-system/meshapi-controller) is
renewed (FAIL when not for two thirds of its duration: the leader is dead,
nothing syncs and the RemoteClusterConfigurations' status is stale until
another replica takes over); agents: every local node's agent renewed its
heartbeat Lease (meshapi-system/meshapi-agent-<node>) within three
periods; and, on a cluster that serves the Multi-Cluster Services API:

  mcs-exports     every ServiceExport is Valid and not in Conflict
  mcs-imports     every ServiceImport has an EndpointSlice from each cluster
                  of its status.clusters and is Ready

check exits non-zero when a line FAILs.`,
		Example: `  meshctl check --context cluster-a --context cluster-b --context cluster-c
  kubectl mesh check -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, err := o.clusters()
			if err != nil {
				return err
			}
			var results []CheckResult
			for _, c := range cs {
				rs, err := checkCluster(cmd.Context(), c, cs)
				if err != nil {
					return err
				}
				results = append(results, rs...)
			}
			if done, err := o.printStructured(results); done {
				return errors.Join(err, failures(results))
			}
			w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RESULT\tCONTEXT\tREMOTE\tCHECK\tDETAIL")
			for _, r := range results {
				detail := r.Detail
				if r.Fix != "" {
					detail += "; fix: " + r.Fix
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Result, r.Context, orDash(r.Remote), r.Check, detail)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return failures(results)
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// failures returns an error counting the FAIL lines, or nil.
func failures(rs []CheckResult) error {
	n := 0
	for _, r := range rs {
		if r.Result == Fail {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d checks failed", n, len(rs))
}

// checkCluster gathers the facts of every RCC of c and checks them.
func checkCluster(ctx context.Context, c cluster, given []cluster) ([]CheckResult, error) {
	list, err := c.client.ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("context %q: listing RemoteClusterConfigurations: %w", c.context, err)
	}
	var out []CheckResult
	for i := range list.Items {
		rcc := &list.Items[i]
		f := RCCFacts{Context: c.context, RCC: rcc}
		cfg, secretVersion, err := accessConfig(ctx, c, rcc)
		f.SecretResourceVersion = secretVersion
		if err != nil {
			f.AccessErr = err
		} else if kube, err := kubernetes.NewForConfig(cfg); err != nil {
			f.AccessErr = err
		} else if nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			f.AccessErr = err
		} else {
			f.Nodes = len(nodes.Items)
		}
		if ns, name := secretRef(rcc); ns != "" {
			f.SecretVerbs, f.SARErr = secretVerbs(ctx, c.kube, ns, name)
		}
		f.Reverse, f.ReverseErr = reverseOf(ctx, c, rcc, given)
		out = append(out, RCCChecks(f)...)
	}
	nodes, err := c.client.ProjectcalicoV3().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("context %q: listing Nodes: %w", c.context, err)
	}
	out = append(out, OverlayChecks(c.context, nodes.Items, list.Items)...)
	out = append(out, bgpCheckCluster(ctx, c, nodes.Items, list.Items)...)
	out = append(out, livenessCheckCluster(ctx, c, nodes.Items)...)
	mcsResults, err := mcsCheckCluster(ctx, c)
	if err != nil {
		return nil, err
	}
	return append(out, mcsResults...), nil
}

// secretVerbs asks the authorizer which of get, list and watch the
// controller may use on the Secret namespace/name (the access Role grants
// it by name).
func secretVerbs(ctx context.Context, kube kubernetes.Interface, namespace, name string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, verb := range []string{"get", "list", "watch"} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               controllerUser,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + remoteaccess.DefaultNamespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: "secrets", Name: name},
		}}
		res, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("SubjectAccessReview for %s secrets: %w", verb, err)
		}
		out[verb] = res.Status.Allowed
	}
	return out, nil
}
