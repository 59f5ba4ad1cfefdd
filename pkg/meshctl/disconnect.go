package meshctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

func newDisconnectCommand(o *options) *cobra.Command {
	namespace := remoteaccess.DefaultNamespace
	keepCredentials := false
	cmd := &cobra.Command{
		Use:   "disconnect --context A --context B [--context C ...]",
		Short: "Remove what connect made between the given clusters",
		Long: `disconnect undoes connect for every pair of the given clusters, in both
directions: it deletes the RemoteClusterConfigurations and access Secrets
connect made (those labelled app.kubernetes.io/managed-by=meshctl; objects
made by hand are kept and listed), then, in a cluster with no access Secret
of meshctl's left, the Role and RoleBinding remote-cluster-secret-access if
meshctl made them. Deleting an RCC removes its mirror.

Unless --keep-credentials, it also deletes the remote identity connect or
"kubeconfig create" made in each given cluster (token Secret,
ServiceAccount, ClusterRoleBinding, ClusterRole): its token stops working.
Keep it when clusters not named here still sync from these.`,
		Example: `  meshctl disconnect --context cluster-a --context cluster-b --context cluster-c
  meshctl disconnect --context cluster-a --context cluster-b --keep-credentials`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, err := o.connectClusters()
			if err != nil {
				return err
			}
			changes, err := disconnect(cmd.Context(), cs, namespace, !keepCredentials)
			if done, perr := o.printStructured(ConnectResult{Changes: changes}); done {
				return errors.Join(err, perr)
			}
			return errors.Join(err, o.printChanges(changes))
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", namespace, "Namespace of the access Secrets, as given to connect.")
	cmd.Flags().BoolVar(&keepCredentials, "keep-credentials", false, "Keep each cluster's remote identity and its token.")
	return cmd
}

// ownedByMeshctl reports whether labels say meshctl made the object.
func ownedByMeshctl(labels map[string]string) bool {
	return labels[remoteaccess.LabelManagedBy] == remoteaccess.ManagedByMeshctl
}

// disconnect deletes meshctl's objects of every pair, then the shared ones
// no longer needed.
func disconnect(ctx context.Context, cs []cluster, namespace string, removeIdentity bool) ([]Change, error) {
	var changes []Change
	var errs []error
	// del deletes an object meshctl made (by its labels), reporting it.
	del := func(c cluster, kind, name string, labels map[string]string) {
		if !ownedByMeshctl(labels) {
			changes = append(changes, Change{Context: c.context, Kind: kind, Name: name, Action: ActionKept, Reason: "not made by meshctl"})
			return
		}
		if err := deleteObject(ctx, c, kind, name); err != nil {
			errs = append(errs, fmt.Errorf("context %q: deleting %s %s: %w", c.context, kind, name, err))
			return
		}
		changes = append(changes, Change{Context: c.context, Kind: kind, Name: name, Action: ActionDeleted})
	}
	found := func(c cluster, kind, name string, err error) bool {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("context %q: reading %s %s: %w", c.context, kind, name, err))
		}
		return err == nil
	}
	for _, p := range Pairs(len(cs)) {
		local, remote := cs[p.Local], cs[p.Remote]
		rcc, err := local.client.ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote.context, metav1.GetOptions{})
		if found(local, "RemoteClusterConfiguration", remote.context, err) {
			del(local, "RemoteClusterConfiguration", rcc.Name, rcc.Labels)
		}
		name := remoteaccess.AccessSecretName(remote.context)
		s, err := local.kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if found(local, "Secret", namespace+"/"+name, err) {
			del(local, "Secret", namespace+"/"+name, s.Labels)
		}
	}
	for _, c := range cs {
		left, err := c.kube.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{
			LabelSelector: remoteaccess.LabelManagedBy + "=" + remoteaccess.ManagedByMeshctl + "," + remoteaccess.LabelRemoteCluster})
		if err != nil {
			errs = append(errs, fmt.Errorf("context %q: listing access Secrets in %s: %w", c.context, namespace, err))
			continue
		}
		if len(left.Items) == 0 {
			name := namespace + "/" + remoteaccess.SecretAccessName
			rb, err := c.kube.RbacV1().RoleBindings(namespace).Get(ctx, remoteaccess.SecretAccessName, metav1.GetOptions{})
			if found(c, "RoleBinding", name, err) {
				del(c, "RoleBinding", name, rb.Labels)
			}
			r, err := c.kube.RbacV1().Roles(namespace).Get(ctx, remoteaccess.SecretAccessName, metav1.GetOptions{})
			if found(c, "Role", name, err) {
				del(c, "Role", name, r.Labels)
			}
		}
		if !removeIdentity {
			continue
		}
		id := remoteaccess.DefaultIdentity
		full := id.Namespace + "/" + id.ServiceAccount
		if s, err := c.kube.CoreV1().Secrets(id.Namespace).Get(ctx, id.ServiceAccount, metav1.GetOptions{}); found(c, "Secret", full, err) {
			del(c, "Secret", full, s.Labels)
		}
		if crb, err := c.kube.RbacV1().ClusterRoleBindings().Get(ctx, id.ServiceAccount, metav1.GetOptions{}); found(c, "ClusterRoleBinding", id.ServiceAccount, err) {
			del(c, "ClusterRoleBinding", crb.Name, crb.Labels)
		}
		if cr, err := c.kube.RbacV1().ClusterRoles().Get(ctx, remoteaccess.ClusterRoleName, metav1.GetOptions{}); found(c, "ClusterRole", remoteaccess.ClusterRoleName, err) {
			del(c, "ClusterRole", cr.Name, cr.Labels)
		}
		if sa, err := c.kube.CoreV1().ServiceAccounts(id.Namespace).Get(ctx, id.ServiceAccount, metav1.GetOptions{}); found(c, "ServiceAccount", full, err) {
			del(c, "ServiceAccount", full, sa.Labels)
		}
	}
	return changes, errors.Join(errs...)
}
