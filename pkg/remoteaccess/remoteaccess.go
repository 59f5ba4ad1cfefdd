// Package remoteaccess builds and installs the objects of the cluster mesh's
// access model, the single source of truth for their shape:
//
//   - the read-only identity remote clusters use to sync from this one (the
//     ServiceAccount tigera-federation-remote-cluster in calico-system, its
//     ClusterRole and ClusterRoleBinding, and the service-account token
//     Secret of the original product's credential recipe); the manifests in
//     artifacts/remote-cluster are these objects, which a test verifies;
//   - the access Secret that holds a remote cluster's kubeconfig (built by
//     AccessSecret, read back by ParseAccessSecret and ReadAccess), and the
//     Role and RoleBinding that let the controller (calico-system/calico-typha)
//     and meshapi-apiserver's admission read it, by name, as the seed's
//     "Establish cross-cluster resource synchronization" steps write them
//     with resourceNames added.
package remoteaccess

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// Names of the original product, used by its documentation and by meshapi's
// manifests.
const (
	// DefaultNamespace holds the remote identity, the controller and, by
	// default, the access Secrets.
	DefaultNamespace = "calico-system"
	// DefaultServiceAccount is the identity remote clusters authenticate as.
	DefaultServiceAccount = "tigera-federation-remote-cluster"
	// ClusterRoleName is the read-only ClusterRole of the remote identity.
	ClusterRoleName = "tigera-federation-remote-cluster"
	// ControllerServiceAccount is the controller's ServiceAccount (in
	// DefaultNamespace), which reads the access Secrets.
	ControllerServiceAccount = "calico-typha"
	// APIServerNamespace and APIServerServiceAccount are meshapi-apiserver's
	// identity (artifacts/deploy/10-apiserver-rbac.yaml), which reads an
	// access Secret at admission only when the requesting user may.
	APIServerNamespace      = "meshapi-system"
	APIServerServiceAccount = "meshapi-apiserver"
	// SecretAccessName names the Role and RoleBinding that grant the access
	// Secrets of a namespace to the controller and meshapi-apiserver.
	SecretAccessName = "remote-cluster-secret-access"
	// AccessSecretPrefix prefixes a remote cluster's name to name its
	// access Secret: remote-cluster-secret-<remote>.
	AccessSecretPrefix = "remote-cluster-secret-"
	// LabelManagedBy marks the objects meshctl created, so that it removes
	// only those; ManagedByMeshctl is its value.
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedByMeshctl = "meshctl"
	// LabelRemoteCluster marks an access Secret with the remote cluster it
	// reaches.
	LabelRemoteCluster = "meshapi.io/remote-cluster"
)

// Identity names the remote identity: a ServiceAccount in a namespace.
type Identity struct {
	// Namespace of the ServiceAccount and its token Secret.
	Namespace string
	// ServiceAccount is the ServiceAccount's name; the token Secret and the
	// ClusterRoleBinding have the same name.
	ServiceAccount string
}

// DefaultIdentity is the original product's identity.
var DefaultIdentity = Identity{Namespace: DefaultNamespace, ServiceAccount: DefaultServiceAccount}

// NamespaceObject returns the identity's namespace.
func (id Identity) NamespaceObject() *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: id.Namespace}}
}

// ServiceAccountObject returns the identity's ServiceAccount.
func (id Identity) ServiceAccountObject() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"),
		ObjectMeta: metav1.ObjectMeta{Name: id.ServiceAccount, Namespace: id.Namespace}}
}

// ClusterRole returns the read-only ClusterRole: what a remote cluster may
// read here, the projectcalico.org objects its syncer mirrors and the
// Kubernetes objects federated services, Multi-Cluster Services
// (ServiceExports) and "kubectl get nodes" need. It equals
// artifacts/remote-cluster/federation-rem-rbac-kdd.yaml's
// (TestIdentityEqualsArtifacts).
func ClusterRole() *rbacv1.ClusterRole {
	read := []string{"get", "list", "watch"}
	return &rbacv1.ClusterRole{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
		ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleName},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"projectcalico.org"}, Resources: []string{"workloadendpoints", "hostendpoints", "profiles", "nodes",
				"ippools", "ipamblocks", "felixconfigurations", "remoteclusterconfigurations"}, Verbs: read},
			{APIGroups: []string{""}, Resources: []string{"namespaces", "pods", "services", "endpoints", "nodes"}, Verbs: read},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
			{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceexports"}, Verbs: read},
		},
	}
}

// ClusterRoleBinding returns the binding of ClusterRole to the identity's
// ServiceAccount, named after the ServiceAccount.
func (id Identity) ClusterRoleBinding() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
		ObjectMeta: metav1.ObjectMeta{Name: id.ServiceAccount},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ClusterRoleName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: id.ServiceAccount, Namespace: id.Namespace}},
	}
}

// TokenSecret returns the service-account token Secret of the seed's
// recipe; the token controller fills in its token.
func (id Identity) TokenSecret() *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: typeMeta("v1", "Secret"),
		ObjectMeta: metav1.ObjectMeta{Name: id.ServiceAccount, Namespace: id.Namespace,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: id.ServiceAccount}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
}

// AccessSecretName returns the name of the access Secret for remote.
func AccessSecretName(remote string) string { return AccessSecretPrefix + remote }

// AccessSecret returns the Secret that holds remote's kubeconfig, as the
// seed's "kubectl create secret generic ... --from-literal=datastoreType=kubernetes
// --from-file=kubeconfig=..." makes it, labelled as meshctl's.
func AccessSecret(namespace, remote string, kubeconfig []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: typeMeta("v1", "Secret"),
		ObjectMeta: metav1.ObjectMeta{Name: AccessSecretName(remote), Namespace: namespace,
			Labels: map[string]string{LabelManagedBy: ManagedByMeshctl, LabelRemoteCluster: remote}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{KeyDatastoreType: []byte("kubernetes"), KeyKubeconfig: kubeconfig},
	}
}

// SecretAccessRole returns the seed's Role that may read Secrets of
// namespace, narrowed to the access Secrets named (sorted, without
// duplicates): get, and list and watch of a single one by name.
func SecretAccessRole(namespace string, secretNames ...string) *rbacv1.Role {
	names := slices.Clone(secretNames)
	slices.Sort(names)
	return &rbacv1.Role{
		TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"),
		ObjectMeta: metav1.ObjectMeta{Name: SecretAccessName, Namespace: namespace,
			Labels: map[string]string{LabelManagedBy: ManagedByMeshctl}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: slices.Compact(names), Verbs: []string{"watch", "list", "get"}}},
	}
}

// SecretAccessRoleBinding returns the seed's RoleBinding of
// SecretAccessRole to the controller's ServiceAccount and to
// meshapi-apiserver's.
func SecretAccessRoleBinding(namespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: metav1.ObjectMeta{Name: SecretAccessName, Namespace: namespace,
			Labels: map[string]string{LabelManagedBy: ManagedByMeshctl}},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: SecretAccessName},
		Subjects: []rbacv1.Subject{
			{Kind: "ServiceAccount", Name: ControllerServiceAccount, Namespace: DefaultNamespace},
			{Kind: "ServiceAccount", Name: APIServerServiceAccount, Namespace: APIServerNamespace},
		},
	}
}

// SecretNamesGranted returns the Secret names that rules grant by
// resourceNames, sorted and without duplicates.
func SecretNamesGranted(rules []rbacv1.PolicyRule) []string {
	var names []string
	for _, r := range rules {
		if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "secrets") {
			names = append(names, r.ResourceNames...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// labelled returns meta with meshctl's label added.
func labelled(m metav1.ObjectMeta) metav1.ObjectMeta {
	m = *m.DeepCopy()
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[LabelManagedBy] = ManagedByMeshctl
	return m
}

// Ensure makes sure the identity exists in the cluster of kube: it creates
// whatever of the namespace, ServiceAccount, ClusterRole,
// ClusterRoleBinding and token Secret is missing (labelled as meshctl's, so
// that meshctl removes only what it made), brings a ClusterRole whose rules
// differ up to date, and returns what it created or updated, as
// "<Kind> <name>".
func Ensure(ctx context.Context, kube kubernetes.Interface, id Identity) ([]string, error) {
	var changed []string
	ns := id.NamespaceObject()
	if _, err := kube.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return changed, fmt.Errorf("creating Namespace %s: %w", ns.Name, err)
		}
		changed = append(changed, "Namespace "+ns.Name)
	} else if err != nil {
		return changed, fmt.Errorf("reading Namespace %s: %w", ns.Name, err)
	}

	sa := id.ServiceAccountObject()
	sa.ObjectMeta = labelled(sa.ObjectMeta)
	if _, err := kube.CoreV1().ServiceAccounts(sa.Namespace).Get(ctx, sa.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return changed, fmt.Errorf("creating ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
		}
		changed = append(changed, "ServiceAccount "+sa.Namespace+"/"+sa.Name)
	} else if err != nil {
		return changed, fmt.Errorf("reading ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}

	cr := ClusterRole()
	cr.ObjectMeta = labelled(cr.ObjectMeta)
	switch cur, err := kube.RbacV1().ClusterRoles().Get(ctx, cr.Name, metav1.GetOptions{}); {
	case apierrors.IsNotFound(err):
		if _, err := kube.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return changed, fmt.Errorf("creating ClusterRole %s: %w", cr.Name, err)
		}
		changed = append(changed, "ClusterRole "+cr.Name)
	case err != nil:
		return changed, fmt.Errorf("reading ClusterRole %s: %w", cr.Name, err)
	case !rulesEqual(cur.Rules, cr.Rules):
		// The seed's "update the ClusterRole" step of switching to
		// multi-cluster networking.
		cur.Rules = cr.Rules
		if _, err := kube.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return changed, fmt.Errorf("updating ClusterRole %s: %w", cr.Name, err)
		}
		changed = append(changed, "ClusterRole "+cr.Name+" (rules updated)")
	}

	crb := id.ClusterRoleBinding()
	crb.ObjectMeta = labelled(crb.ObjectMeta)
	if _, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, crb.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return changed, fmt.Errorf("creating ClusterRoleBinding %s: %w", crb.Name, err)
		}
		changed = append(changed, "ClusterRoleBinding "+crb.Name)
	} else if err != nil {
		return changed, fmt.Errorf("reading ClusterRoleBinding %s: %w", crb.Name, err)
	}

	tok := id.TokenSecret()
	tok.ObjectMeta = labelled(tok.ObjectMeta)
	if _, err := kube.CoreV1().Secrets(tok.Namespace).Get(ctx, tok.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := kube.CoreV1().Secrets(tok.Namespace).Create(ctx, tok, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return changed, fmt.Errorf("creating Secret %s/%s: %w", tok.Namespace, tok.Name, err)
		}
		changed = append(changed, "Secret "+tok.Namespace+"/"+tok.Name)
	} else if err != nil {
		return changed, fmt.Errorf("reading Secret %s/%s: %w", tok.Namespace, tok.Name, err)
	}
	return changed, nil
}

// WaitToken waits until the token controller has filled the identity's
// token Secret and returns the token. timeout bounds the wait.
func WaitToken(ctx context.Context, kube kubernetes.Interface, id Identity, timeout time.Duration) (string, error) {
	var token string
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		s, err := kube.CoreV1().Secrets(id.Namespace).Get(ctx, id.ServiceAccount, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		if s.Type != corev1.SecretTypeServiceAccountToken {
			return false, fmt.Errorf("Secret %s/%s has type %q, not %q: it is not a service-account token", id.Namespace, id.ServiceAccount, s.Type, corev1.SecretTypeServiceAccountToken)
		}
		token = string(s.Data[corev1.ServiceAccountTokenKey])
		return token != "", nil
	})
	if err != nil {
		if last == nil {
			last = fmt.Errorf("no token yet (is kube-controller-manager's token controller running?)")
		}
		return "", fmt.Errorf("waiting for the token in Secret %s/%s: %w (last: %v)", id.Namespace, id.ServiceAccount, err, last)
	}
	return token, nil
}

// rulesEqual compares policy rules field by field.
func rulesEqual(a, b []rbacv1.PolicyRule) bool {
	if len(a) != len(b) {
		return false
	}
	eq := slices.Equal[[]string]
	for i := range a {
		if !eq(a[i].APIGroups, b[i].APIGroups) || !eq(a[i].Resources, b[i].Resources) || !eq(a[i].Verbs, b[i].Verbs) ||
			!eq(a[i].ResourceNames, b[i].ResourceNames) || !eq(a[i].NonResourceURLs, b[i].NonResourceURLs) {
			return false
		}
	}
	return true
}
