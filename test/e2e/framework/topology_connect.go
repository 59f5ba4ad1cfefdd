package framework

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// SecretAccessRBAC is the seed's Role and RoleBinding that let the syncer
// (calico-system/calico-typha) and meshapi-apiserver read the access
// Secrets.
const SecretAccessRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: remote-cluster-secret-access
  namespace: calico-system
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["watch", "list", "get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: remote-cluster-secret-access
  namespace: calico-system
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: remote-cluster-secret-access
subjects:
- kind: ServiceAccount
  name: calico-typha
  namespace: calico-system
- kind: ServiceAccount
  name: meshapi-apiserver
  namespace: meshapi-system
`

// rccYAML is the seed's RemoteClusterConfiguration for remote, with
// overlay routing mode.
func rccYAML(remote string, mode v3.OverlayRoutingMode) string {
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: RemoteClusterConfiguration
metadata:
  name: %s
spec:
  clusterAccessSecret:
    name: remote-cluster-secret-%s
    namespace: calico-system
    kind: Secret
  syncOptions:
    overlayRoutingMode: %s
`, remote, remote, mode)
}

// Connect connects every pair of the topology's clusters both ways
// with overlay routing Enabled (Disabled with BGP: the underlay routes
// the pods' addresses), with the seed's steps (the remote's federation
// ServiceAccount and RBAC, a kubeconfig with its token stored as the
// access Secret, the Role and RoleBinding for the syncer, the
// RemoteClusterConfiguration), and waits until every node routes every
// other cluster's node's block. Close deletes the RCCs, waits for the
// mirrors of the topology's nodes to go, and removes the access Secrets,
// and the Role and RoleBinding unless they were there before.
func (t *Topology) Connect(ctx context.Context) error {
	clusters := t.Clusters()
	kubeconfigs := map[*Cluster]string{}
	for _, c := range clusters {
		if err := t.rememberAccess(ctx, c); err != nil {
			return err
		}
		kc, err := t.remoteKubeconfig(ctx, c)
		if err != nil {
			return err
		}
		kubeconfigs[c] = kc
	}
	t.push("deleting the RemoteClusterConfigurations", t.disconnect)
	for _, c := range clusters {
		for _, remote := range t.others(c) {
			if err := t.connectTo(ctx, c, remote, kubeconfigs[remote]); err != nil {
				return err
			}
		}
	}
	for _, c := range clusters {
		for _, remote := range t.others(c) {
			if err := t.waitInSync(ctx, c, remote); err != nil {
				return err
			}
		}
	}
	t.logf("topology %s: clusters connected; waiting for cross-cluster routes", t.cfg.Name)
	return t.waitRoutes(ctx, func(from, to *TopoNode) bool { return from.Cluster != to.Cluster })
}

// connectTo gives c the access Secret of remote (kubeconfig), the Role
// and RoleBinding that let the syncer read it, and the RCC of remote.
func (t *Topology) connectTo(ctx context.Context, c, remote *Cluster, kubeconfig string) error {
	secret := "remote-cluster-secret-" + remote.Name
	steps := [][]string{
		{"apply", "-f", "-"},
		{"delete", "secret", secret, "-n", "calico-system", "--ignore-not-found"},
		{"create", "secret", "generic", secret, "-n", "calico-system", "--from-literal=datastoreType=kubernetes", "--from-file=kubeconfig=" + kubeconfig},
	}
	for i, args := range steps {
		stdin := ""
		if i == 0 {
			stdin = SecretAccessRBAC
		}
		if _, err := c.Kubectl(ctx, stdin, args...); err != nil {
			return err
		}
	}
	mode := v3.OverlayRoutingModeEnabled
	if t.cfg.BGP {
		mode = v3.OverlayRoutingModeDisabled
	}
	_, err := c.Kubectl(ctx, rccYAML(remote.Name, mode), "create", "-f", "-")
	return err
}

// rememberAccess registers the undo of c's access Secrets and of the
// Role and RoleBinding unless they exist already.
func (t *Topology) rememberAccess(ctx context.Context, c *Cluster) error {
	rbac := t.Kube[c].RbacV1()
	_, roleErr := rbac.Roles("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
	_, bindingErr := rbac.RoleBindings("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
	for _, err := range []error{roleErr, bindingErr} {
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("the secret access RBAC of %s: %w", c.Name, err)
		}
	}
	remotes := t.others(c)
	t.push("removing the access Secrets of "+c.Name, func(ctx context.Context) error {
		var cmds [][]string
		for _, remote := range remotes {
			cmds = append(cmds, []string{"delete", "secret", "remote-cluster-secret-" + remote.Name, "-n", "calico-system", "--ignore-not-found"})
		}
		if apierrors.IsNotFound(bindingErr) {
			cmds = append(cmds, []string{"delete", "rolebinding", "remote-cluster-secret-access", "-n", "calico-system", "--ignore-not-found"})
		}
		if apierrors.IsNotFound(roleErr) {
			cmds = append(cmds, []string{"delete", "role", "remote-cluster-secret-access", "-n", "calico-system", "--ignore-not-found"})
		}
		for _, args := range cmds {
			if _, err := c.Kubectl(ctx, "", args...); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}

// remoteKubeconfig applies the seed's federation ServiceAccount and RBAC
// in c and writes a kubeconfig with a token of that ServiceAccount, as the
// seed's recipe does, returning its path.
func (t *Topology) remoteKubeconfig(ctx context.Context, c *Cluster) (string, error) {
	for _, f := range []string{"federation-remote-sa.yaml", "federation-rem-rbac-kdd.yaml"} {
		if _, err := c.Kubectl(ctx, "", "apply", "-f", filepath.Join(ArtifactsDir(), "remote-cluster", f)); err != nil {
			return "", err
		}
	}
	token, err := c.Kubectl(ctx, "", "create", "token", "tigera-federation-remote-cluster", "-n", "calico-system", "--duration=24h")
	if err != nil {
		return "", err
	}
	path := filepath.Join(t.dir, c.Name+"-remote.kubeconfig")
	if err := writeKubeconfig(path, c.Config.Host, c.pki.ca.CertFile, &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}); err != nil {
		return "", fmt.Errorf("writing the remote kubeconfig of %s: %w", c.Name, err)
	}
	return path, nil
}

// waitInSync waits until c's RCC of remote is InSync.
func (t *Topology) waitInSync(ctx context.Context, c, remote *Cluster) error {
	return Poll(ctx, time.Minute, fmt.Sprintf("%s: RCC %s InSync", c.Name, remote.Name), func() (bool, string) {
		rcc, err := t.Clients[c].ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return rcc.Status.SyncState == v3.SyncStateInSync, fmt.Sprintf("%s %q", rcc.Status.SyncState, rcc.Status.LastError)
	})
}

// disconnect deletes every cluster's RCCs and waits until the
// controllers removed the mirrors of the topology's nodes.
func (t *Topology) disconnect(ctx context.Context) error {
	for _, c := range t.Clusters() {
		if _, err := c.Kubectl(ctx, "", "delete", "remoteclusterconfigurations", "--all"); err != nil {
			return err
		}
	}
	for _, n := range t.Nodes {
		for _, local := range t.others(n.Cluster) {
			name := n.Cluster.Name + "." + n.Name
			if err := Poll(ctx, time.Minute, fmt.Sprintf("the mirror %s of node %s gone from %s", name, n.Name, local.Name), func() (bool, string) {
				_, err := t.Clients[local].ProjectcalicoV3().Nodes().Get(ctx, name, metav1.GetOptions{})
				return apierrors.IsNotFound(err), fmt.Sprint(err)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}
