package meshctl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// Actions connect and disconnect report for an object.
const (
	ActionCreated    = "created"
	ActionUpdated    = "updated"
	ActionUnchanged  = "unchanged"
	ActionDeleted    = "deleted"
	ActionRolledBack = "rolled back"
	ActionKept       = "kept"
)

// Change is one object connect or disconnect wrote, or left as it was.
type Change struct {
	// Context is the cluster of the object.
	Context string `json:"context"`
	// Kind and Name (namespace/name when namespaced) name the object.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Action is created, updated, unchanged, deleted, rolled back or kept.
	Action string `json:"action"`
	// Reason says why an object was kept.
	Reason string `json:"reason,omitempty"`
}

// ConnectResult is what connect prints with -o yaml|json.
type ConnectResult struct {
	// Changes are the objects connect wrote or found as they should be.
	Changes []Change `json:"changes"`
	// States are the RemoteClusterConfigurations' final sync states, when
	// connect waited.
	States []PairState `json:"states,omitempty"`
}

// PairState is the sync state of one direction of a pair.
type PairState struct {
	// Context is the cluster that syncs; Remote the one it syncs from.
	Context string `json:"context"`
	Remote  string `json:"remote"`
	// State is the RemoteClusterConfiguration's syncState.
	State string `json:"state"`
	// LastError is its lastError.
	LastError string `json:"lastError,omitempty"`
}

// Pair is one direction of a connection: Local syncs from Remote.
type Pair struct{ Local, Remote int }

// Pairs returns every ordered pair of n clusters, both directions.
func Pairs(n int) []Pair {
	var out []Pair
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j {
				out = append(out, Pair{i, j})
			}
		}
	}
	return out
}

// ParseOverlay validates --overlay-routing.
func ParseOverlay(s string) (v3.OverlayRoutingMode, error) {
	switch v3.OverlayRoutingMode(s) {
	case v3.OverlayRoutingModeEnabled, v3.OverlayRoutingModeDisabled:
		return v3.OverlayRoutingMode(s), nil
	}
	return "", fmt.Errorf("--overlay-routing %q: must be Enabled or Disabled", s)
}

// DesiredRCC is the seed's RemoteClusterConfiguration named after remote,
// referencing its access Secret in namespace.
func DesiredRCC(remote, namespace string, overlay v3.OverlayRoutingMode) *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: remote, Labels: map[string]string{remoteaccess.LabelManagedBy: remoteaccess.ManagedByMeshctl}},
		Spec: v3.RemoteClusterConfigurationSpec{
			ClusterAccessSecret: &corev1.ObjectReference{Kind: "Secret", Name: remoteaccess.AccessSecretName(remote), Namespace: namespace},
			SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: overlay},
		},
	}
}

// rccUpToDate reports whether cur already says what want says.
func rccUpToDate(cur, want *v3.RemoteClusterConfiguration) bool {
	return apiequality.Semantic.DeepEqual(cur.Spec, want.Spec) && hasLabels(cur.Labels, want.Labels)
}

// hasLabels reports whether have includes every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// withLabels returns have with want's labels added.
func withLabels(have, want map[string]string) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, want)
	return out
}

type connectFlags struct {
	namespace string
	overlay   string
	wait      bool
	timeout   time.Duration
}

func newConnectCommand(o *options) *cobra.Command {
	f := connectFlags{namespace: remoteaccess.DefaultNamespace, overlay: string(v3.OverlayRoutingModeEnabled), wait: true, timeout: 2 * time.Minute}
	cmd := &cobra.Command{
		Use:   "connect --context A --context B [--context C ...]",
		Short: "Connect clusters pairwise in both directions and wait until every RemoteClusterConfiguration is InSync",
		Long: `connect does the original product's "Establish cross-cluster resource
synchronization" steps for every pair of the given clusters, in both
directions. Each cluster's name in the mesh is its context's name. In each
cluster, for each other cluster R:

  - the remote identity of R exists (as "kubeconfig create" makes it) and its
    kubeconfig lists R's nodes;
  - the Secret remote-cluster-secret-R in --namespace holds R's kubeconfig
    (datastoreType=kubernetes, kubeconfig);
  - the Role and RoleBinding remote-cluster-secret-access let the controller
    (calico-system/calico-typha) and meshapi-apiserver read it, by name
    (resourceNames): no other Secret of the namespace;
  - the RemoteClusterConfiguration R references it with --overlay-routing.

Before it writes a RemoteClusterConfiguration, connect asks each cluster's
API server to admit it (a server-side dry run): if the mesh's requirements
are not met (overlapping pools, different overlay settings, node names used
twice) it refuses with the admission messages and removes the Secrets and
RBAC it created in this run. connect is idempotent: run again, it changes
nothing. It then waits until every RemoteClusterConfiguration is InSync
(--wait=false to return at once), showing each state change.`,
		Example: `  meshctl connect --context cluster-a --context cluster-b --context cluster-c
  meshctl connect --context cluster-a --context cluster-b --overlay-routing Disabled --timeout 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			overlay, err := ParseOverlay(f.overlay)
			if err != nil {
				return err
			}
			cs, err := o.connectClusters()
			if err != nil {
				return err
			}
			res, err := connect(cmd.Context(), o, cs, f.namespace, overlay)
			if err == nil && f.wait {
				res.States, err = waitInSync(cmd.Context(), o, cs, f.timeout)
			}
			if res != nil {
				if done, perr := o.printStructured(res); done {
					return errors.Join(err, perr)
				}
				if perr := o.printChanges(res.Changes); perr != nil {
					return errors.Join(err, perr)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", f.namespace, "Namespace of the access Secrets and their Role and RoleBinding in each cluster.")
	cmd.Flags().StringVar(&f.overlay, "overlay-routing", f.overlay, "Overlay routing mode of the RemoteClusterConfigurations: Enabled or Disabled.")
	cmd.Flags().BoolVar(&f.wait, "wait", f.wait, "Wait until every RemoteClusterConfiguration is InSync.")
	cmd.Flags().DurationVar(&f.timeout, "timeout", f.timeout, "How long to wait for InSync.")
	return cmd
}

// connectClusters returns the clusters of at least two --context flags,
// each with a name that can name a RemoteClusterConfiguration.
func (o *options) connectClusters() ([]cluster, error) {
	if len(o.contexts) < 2 {
		return nil, fmt.Errorf("--context: give at least two clusters (--context A --context B), got %d", len(o.contexts))
	}
	cs, err := o.clusters()
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if err := validClusterName(c.context); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// connect writes every pair's objects, refusing (and rolling back what it
// created) when an RCC would not be admitted.
func connect(ctx context.Context, o *options, cs []cluster, namespace string, overlay v3.OverlayRoutingMode) (*ConnectResult, error) {
	r := &connectRun{ctx: ctx, cs: cs, namespace: namespace, res: &ConnectResult{}}
	kubeconfigs, err := r.remoteIdentities()
	if err != nil {
		return r.res, err
	}
	fmt.Fprintf(o.errOut, "Remote identities ready in %d clusters\n", len(cs))
	// Access Secrets and RBAC first: admission reads the remote cluster
	// through the Secret.
	if err := r.writeAccess(kubeconfigs); err != nil {
		return r.res, r.rollback(err)
	}
	todo, err := r.dryRunRCCs(overlay)
	if err != nil {
		return r.res, r.rollback(err)
	}
	return r.res, r.writeRCCs(todo)
}

// connectRun is one connect: its clusters, the namespace of the access
// Secrets, what it did so far, and the access objects it wrote, which a
// failure before the RemoteClusterConfigurations rolls back.
type connectRun struct {
	ctx       context.Context
	cs        []cluster
	namespace string
	res       *ConnectResult
	written   []Change
}

// remoteIdentities makes sure every cluster has the remote identity and
// returns, per cluster, a kubeconfig of it that works and that
// meshapi-controller would accept.
func (r *connectRun) remoteIdentities() ([][]byte, error) {
	kubeconfigs := make([][]byte, len(r.cs))
	for i, c := range r.cs {
		raw, created, err := remoteKubeconfig(r.ctx, c, remoteaccess.DefaultIdentity, "")
		for _, what := range created {
			kind, name, _ := strings.Cut(what, " ")
			r.res.Changes = append(r.res.Changes, Change{Context: c.context, Kind: kind, Name: name, Action: ActionCreated})
		}
		if err != nil {
			return nil, err
		}
		if _, err := verifyKubeconfig(r.ctx, raw); err != nil {
			return nil, fmt.Errorf("context %q: the remote identity's kubeconfig does not work: %w", c.context, err)
		}
		// meshapi-controller refuses what a kubeconfig may not do (e.g.
		// insecure-skip-tls-verify from an insecure --context): say so now.
		if _, err := remoteaccess.ParseAccessSecret(remoteaccess.AccessSecret(r.namespace, c.context, raw)); err != nil {
			return nil, fmt.Errorf("context %q: meshapi-controller would refuse the remote identity's kubeconfig: %w", c.context, err)
		}
		kubeconfigs[i] = raw
	}
	return kubeconfigs, nil
}

// writeAccess writes, in every cluster, the access Secret of each other
// cluster (from kubeconfigs) and the Role and RoleBinding that let
// meshapi-controller read them, recording each in written; they are
// reported as changes once all are written (a rollback reports its own).
func (r *connectRun) writeAccess(kubeconfigs [][]byte) error {
	secretNames := make(map[string][]string, len(r.cs))
	for _, p := range Pairs(len(r.cs)) {
		local, remote := r.cs[p.Local], r.cs[p.Remote]
		ch, err := applySecret(r.ctx, local, remoteaccess.AccessSecret(r.namespace, remote.context, kubeconfigs[p.Remote]))
		if err != nil {
			return err
		}
		r.written = append(r.written, ch)
		secretNames[local.context] = append(secretNames[local.context], remoteaccess.AccessSecretName(remote.context))
	}
	for _, c := range r.cs {
		ch, err := applyRole(r.ctx, c, remoteaccess.SecretAccessRole(r.namespace, secretNames[c.context]...))
		if err != nil {
			return err
		}
		r.written = append(r.written, ch)
		ch, err = applyRoleBinding(r.ctx, c, remoteaccess.SecretAccessRoleBinding(r.namespace))
		if err != nil {
			return err
		}
		r.written = append(r.written, ch)
	}
	r.res.Changes = append(r.res.Changes, r.written...)
	return nil
}

// rollback deletes the access objects this run created, newest first,
// and returns cause joined with what could not be deleted.
func (r *connectRun) rollback(cause error) error {
	for _, ch := range slices.Backward(r.written) {
		if ch.Action != ActionCreated {
			continue
		}
		c := clusterNamed(r.cs, ch.Context)
		if err := deleteObject(r.ctx, c, ch.Kind, ch.Name); err != nil {
			cause = errors.Join(cause, fmt.Errorf("rolling back %s %s in %q: %w", ch.Kind, ch.Name, ch.Context, err))
			continue
		}
		r.res.Changes = append(r.res.Changes, Change{Context: ch.Context, Kind: ch.Kind, Name: ch.Name, Action: ActionRolledBack})
	}
	return cause
}

// pendingRCC is a RemoteClusterConfiguration to write in cluster c: want,
// over cur (nil: to create).
type pendingRCC struct {
	c    cluster
	cur  *v3.RemoteClusterConfiguration
	want *v3.RemoteClusterConfiguration
}

// dryRunRCCs checks the mesh's requirements before anything is connected:
// every new or changed RemoteClusterConfiguration is written as a dry run,
// and if the API servers would refuse any, none is written. It returns
// those to write.
func (r *connectRun) dryRunRCCs(overlay v3.OverlayRoutingMode) ([]pendingRCC, error) {
	var todo []pendingRCC
	var refused []string
	for _, p := range Pairs(len(r.cs)) {
		local, remote := r.cs[p.Local], r.cs[p.Remote]
		want := DesiredRCC(remote.context, r.namespace, overlay)
		rccs := local.client.ProjectcalicoV3().RemoteClusterConfigurations()
		cur, err := rccs.Get(r.ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cur = nil
			_, err = rccs.Create(r.ctx, want, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		case err != nil:
			return nil, fmt.Errorf("context %q: reading RemoteClusterConfiguration %s: %w", local.context, want.Name, err)
		case rccUpToDate(cur, want):
			r.res.Changes = append(r.res.Changes, Change{Context: local.context, Kind: "RemoteClusterConfiguration", Name: want.Name, Action: ActionUnchanged})
			continue
		default:
			_, err = rccs.Update(r.ctx, updatedRCC(cur, want), metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		}
		if err != nil {
			refused = append(refused, fmt.Sprintf("%s → %s: %v", local.context, remote.context, err))
			continue
		}
		todo = append(todo, pendingRCC{local, cur, want})
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("refusing to connect: the API servers would not admit %d RemoteClusterConfigurations:\n  %s",
			len(refused), strings.Join(refused, "\n  "))
	}
	return todo, nil
}

// writeRCCs creates or updates the RemoteClusterConfigurations of todo.
func (r *connectRun) writeRCCs(todo []pendingRCC) error {
	for _, p := range todo {
		rccs := p.c.client.ProjectcalicoV3().RemoteClusterConfigurations()
		action := ActionCreated
		var err error
		if p.cur == nil {
			_, err = rccs.Create(r.ctx, p.want, metav1.CreateOptions{})
		} else {
			action = ActionUpdated
			_, err = rccs.Update(r.ctx, updatedRCC(p.cur, p.want), metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("context %q: writing RemoteClusterConfiguration %s: %w", p.c.context, p.want.Name, err)
		}
		r.res.Changes = append(r.res.Changes, Change{Context: p.c.context, Kind: "RemoteClusterConfiguration", Name: p.want.Name, Action: action})
	}
	return nil
}

// updatedRCC returns cur with want's spec and labels.
func updatedRCC(cur, want *v3.RemoteClusterConfiguration) *v3.RemoteClusterConfiguration {
	upd := cur.DeepCopy()
	upd.Spec = want.Spec
	upd.Labels = withLabels(cur.Labels, want.Labels)
	return upd
}

func clusterNamed(cs []cluster, name string) cluster {
	for _, c := range cs {
		if c.context == name {
			return c
		}
	}
	return cluster{}
}

// applySecret creates the access Secret or brings its data up to date.
func applySecret(ctx context.Context, c cluster, want *corev1.Secret) (Change, error) {
	ch := Change{Context: c.context, Kind: "Secret", Name: want.Namespace + "/" + want.Name}
	secrets := c.kube.CoreV1().Secrets(want.Namespace)
	cur, err := secrets.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := secrets.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return ch, fmt.Errorf("context %q: creating Secret %s: %w", c.context, ch.Name, err)
		}
		ch.Action = ActionCreated
		return ch, nil
	}
	if err != nil {
		return ch, fmt.Errorf("context %q: reading Secret %s: %w", c.context, ch.Name, err)
	}
	if apiequality.Semantic.DeepEqual(cur.Data, want.Data) && hasLabels(cur.Labels, want.Labels) {
		ch.Action = ActionUnchanged
		return ch, nil
	}
	if cur.Type != want.Type {
		return ch, fmt.Errorf("context %q: Secret %s has type %q, not %q: delete it or name another --namespace", c.context, ch.Name, cur.Type, want.Type)
	}
	upd := cur.DeepCopy()
	upd.Data, upd.StringData = want.Data, nil
	upd.Labels = withLabels(cur.Labels, want.Labels)
	if _, err := secrets.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return ch, fmt.Errorf("context %q: updating Secret %s: %w", c.context, ch.Name, err)
	}
	ch.Action = ActionUpdated
	return ch, nil
}

// applyRole creates the secret-access Role or makes it grant the access
// Secrets want names. A Role meshctl made is rewritten to grant exactly
// those and the ones it granted by name before (an older, namespace-wide
// rule is dropped); another Role keeps its rules and labels, and gets a
// rule for the names it does not grant yet.
func applyRole(ctx context.Context, c cluster, want *rbacv1.Role) (Change, error) {
	ch := Change{Context: c.context, Kind: "Role", Name: want.Namespace + "/" + want.Name}
	roles := c.kube.RbacV1().Roles(want.Namespace)
	cur, err := roles.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := roles.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return ch, fmt.Errorf("context %q: creating Role %s: %w", c.context, ch.Name, err)
		}
		ch.Action = ActionCreated
		return ch, nil
	}
	if err != nil {
		return ch, fmt.Errorf("context %q: reading Role %s: %w", c.context, ch.Name, err)
	}
	names := remoteaccess.SecretNamesGranted(want.Rules)
	upd := cur.DeepCopy()
	if cur.Labels[remoteaccess.LabelManagedBy] == remoteaccess.ManagedByMeshctl {
		merged := remoteaccess.SecretAccessRole(want.Namespace, append(remoteaccess.SecretNamesGranted(cur.Rules), names...)...)
		if apiequality.Semantic.DeepEqual(cur.Rules, merged.Rules) {
			ch.Action = ActionUnchanged
			return ch, nil
		}
		upd.Rules = merged.Rules
	} else {
		missing := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return GrantsSecretRead(cur.Rules, n) })
		if len(missing) == 0 {
			ch.Action = ActionUnchanged
			return ch, nil
		}
		upd.Rules = append(upd.Rules, remoteaccess.SecretAccessRole(want.Namespace, missing...).Rules...)
	}
	if _, err := roles.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return ch, fmt.Errorf("context %q: updating Role %s: %w", c.context, ch.Name, err)
	}
	ch.Action = ActionUpdated
	return ch, nil
}

// GrantsSecretRead reports whether rules allow get, list and watch of the
// Secret name: by a rule naming it in resourceNames, or one for every
// Secret.
func GrantsSecretRead(rules []rbacv1.PolicyRule, name string) bool {
	need := map[string]bool{"get": true, "list": true, "watch": true}
	for _, r := range rules {
		if (len(r.ResourceNames) > 0 && !slices.Contains(r.ResourceNames, name)) || !anyOf(r.APIGroups, "", "*") || !anyOf(r.Resources, "secrets", "*") {
			continue
		}
		for _, v := range r.Verbs {
			if v == "*" {
				return true
			}
			delete(need, v)
		}
	}
	return len(need) == 0
}

func anyOf(have []string, want ...string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// applyRoleBinding creates the secret-access RoleBinding or adds the
// subjects it lacks (the controller, meshapi-apiserver).
func applyRoleBinding(ctx context.Context, c cluster, want *rbacv1.RoleBinding) (Change, error) {
	ch := Change{Context: c.context, Kind: "RoleBinding", Name: want.Namespace + "/" + want.Name}
	rbs := c.kube.RbacV1().RoleBindings(want.Namespace)
	cur, err := rbs.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := rbs.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return ch, fmt.Errorf("context %q: creating RoleBinding %s: %w", c.context, ch.Name, err)
		}
		ch.Action = ActionCreated
		return ch, nil
	}
	if err != nil {
		return ch, fmt.Errorf("context %q: reading RoleBinding %s: %w", c.context, ch.Name, err)
	}
	if cur.RoleRef != want.RoleRef {
		return ch, fmt.Errorf("context %q: RoleBinding %s binds %s %q, not Role %q (roleRef cannot change): delete it and run connect again",
			c.context, ch.Name, cur.RoleRef.Kind, cur.RoleRef.Name, want.RoleRef.Name)
	}
	upd := cur.DeepCopy()
	for _, w := range want.Subjects {
		if !slices.ContainsFunc(cur.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == w.Kind && s.Name == w.Name && s.Namespace == w.Namespace
		}) {
			upd.Subjects = append(upd.Subjects, w)
		}
	}
	if len(upd.Subjects) == len(cur.Subjects) {
		ch.Action = ActionUnchanged
		return ch, nil
	}
	if _, err := rbs.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return ch, fmt.Errorf("context %q: updating RoleBinding %s: %w", c.context, ch.Name, err)
	}
	ch.Action = ActionUpdated
	return ch, nil
}

// deleteObject deletes one object connect or disconnect handles; a missing
// object is not an error.
func deleteObject(ctx context.Context, c cluster, kind, name string) error {
	ns, n, namespaced := strings.Cut(name, "/")
	if !namespaced {
		n = ns
	}
	var err error
	opts := metav1.DeleteOptions{}
	switch kind {
	case "Secret":
		err = c.kube.CoreV1().Secrets(ns).Delete(ctx, n, opts)
	case "Role":
		err = c.kube.RbacV1().Roles(ns).Delete(ctx, n, opts)
	case "RoleBinding":
		err = c.kube.RbacV1().RoleBindings(ns).Delete(ctx, n, opts)
	case "ServiceAccount":
		err = c.kube.CoreV1().ServiceAccounts(ns).Delete(ctx, n, opts)
	case "ClusterRole":
		err = c.kube.RbacV1().ClusterRoles().Delete(ctx, n, opts)
	case "ClusterRoleBinding":
		err = c.kube.RbacV1().ClusterRoleBindings().Delete(ctx, n, opts)
	case "RemoteClusterConfiguration":
		err = c.client.ProjectcalicoV3().RemoteClusterConfigurations().Delete(ctx, n, opts)
	default:
		return fmt.Errorf("cannot delete a %s", kind)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// waitInSync polls every RCC of the pairs until all are InSync or timeout
// passes, printing each state change to errOut.
func waitInSync(ctx context.Context, o *options, cs []cluster, timeout time.Duration) ([]PairState, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	seen := map[Pair]string{}
	fmt.Fprintf(o.errOut, "Waiting up to %s for %d RemoteClusterConfigurations to be InSync\n", timeout, len(Pairs(len(cs))))
	for {
		states := make([]PairState, 0, len(seen))
		var bad []string
		for _, p := range Pairs(len(cs)) {
			local, remote := cs[p.Local], cs[p.Remote]
			st, stale := pairState(ctx, local, remote.context)
			line := fmt.Sprintf("%s → %s: %s%s", st.Context, st.Remote, st.State, suffix(st.LastError))
			if stale != "" {
				line += " (" + stale + ")"
			}
			if seen[p] != line {
				seen[p] = line
				fmt.Fprintf(o.errOut, "  [%4.1fs] %s\n", time.Since(start).Seconds(), line)
			}
			if st.State != string(v3.SyncStateInSync) || stale != "" {
				bad = append(bad, line)
			}
			states = append(states, st)
		}
		if len(bad) == 0 {
			fmt.Fprintf(o.errOut, "All %d RemoteClusterConfigurations InSync after %s\n", len(states), time.Since(start).Round(100*time.Millisecond))
			return states, nil
		}
		if time.Now().After(deadline) {
			sort.Strings(bad)
			return states, fmt.Errorf("not InSync after %s (is meshapi-controller running as calico-system/calico-typha? meshctl check tells why):\n  %s",
				timeout, strings.Join(bad, "\n  "))
		}
		select {
		case <-ctx.Done():
			return states, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// pairState returns the state of local's RCC for remote and, when its
// status does not yet describe the RCC's spec or its access Secret as they
// are now (connect may just have written them), what it describes instead.
func pairState(ctx context.Context, local cluster, remote string) (st PairState, stale string) {
	st = PairState{Context: local.context, Remote: remote}
	rcc, err := local.client.ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote, metav1.GetOptions{})
	if err != nil {
		st.State, st.LastError = "Unknown", err.Error()
		return st, ""
	}
	st.State, st.LastError = string(rcc.Status.SyncState), rcc.Status.LastError
	if st.State == "" {
		st.State = "Pending"
	}
	ref := rcc.Spec.ClusterAccessSecret
	if ref == nil {
		return st, StaleStatus(rcc, "")
	}
	secret, err := local.kube.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return st, fmt.Sprintf("reading Secret %s/%s: %v", ref.Namespace, ref.Name, err)
	}
	return st, StaleStatus(rcc, secret.ResourceVersion)
}

func suffix(lastError string) string {
	if lastError == "" {
		return ""
	}
	return " (" + lastError + ")"
}

// printChanges prints one line per object.
func (o *options) printChanges(changes []Change) error {
	w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONTEXT\tKIND\tNAME\tACTION")
	for _, c := range changes {
		action := c.Action
		if c.Reason != "" {
			action += " (" + c.Reason + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Context, c.Kind, c.Name, action)
	}
	return w.Flush()
}
