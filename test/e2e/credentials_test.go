package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// seedRecipe is the seed's shell recipe for the kubeconfig remote clusters
// use ("Generate credentials for cross-cluster resource synchronization"),
// as a user types it. Only the manifest URLs are the files in
// artifacts/remote-cluster, and the token Secret is waited for: the token
// controller fills it a moment after it is created.
const seedRecipe = `set -euo pipefail
kubectl apply -f "$ARTIFACTS/remote-cluster/federation-remote-sa.yaml"
kubectl apply -f "$ARTIFACTS/remote-cluster/federation-rem-rbac-kdd.yaml"
kubectl apply -f - <<EOF
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata:
  name: tigera-federation-remote-cluster
  namespace: calico-system
  annotations:
    kubernetes.io/service-account.name: "tigera-federation-remote-cluster"
EOF
for i in $(seq 1 60); do
  [ -n "$(kubectl get secret tigera-federation-remote-cluster -n calico-system -o=jsonpath='{.data.token}')" ] && break
  sleep 0.5
done
echo "apiVersion: v1
kind: Config
users:
- name: tigera-federation-remote-cluster
  user:
    token: $(kubectl get secret tigera-federation-remote-cluster -n calico-system -o=jsonpath='{.data.token}' | base64 -d)
clusters:
- name: tigera-federation-remote-cluster
  cluster:
    certificate-authority-data: $(kubectl config view --raw -o=jsonpath='{.clusters[0].cluster.certificate-authority-data}')
    server: $(kubectl config view --raw -o=jsonpath='{.clusters[0].cluster.server}')
contexts:
- name: tigera-federation-remote-cluster-ctx
  context:
    cluster: tigera-federation-remote-cluster
    user: tigera-federation-remote-cluster
current-context: tigera-federation-remote-cluster-ctx" > $KUBECONFIG_NAME
kubectl --kubeconfig=$KUBECONFIG_NAME get nodes
kubectl --kubeconfig=$KUBECONFIG_NAME get workloadendpoints -A
`

// The seed's credential recipe works step by step, and what it makes is
// read-only.
func TestSeedCredentialRecipe(t *testing.T) {
	c := clusters[2]
	kubeconfig := filepath.Join(t.TempDir(), "remote.kubeconfig")
	cmd := exec.Command("bash", "-c", seedRecipe)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(framework.RepoRoot(), "bin")+":"+os.Getenv("PATH"),
		"KUBECONFIG="+c.Kubeconfig,
		"KUBECONFIG_NAME="+kubeconfig,
		"ARTIFACTS="+framework.ArtifactsDir(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the seed's recipe failed: %v\n%s\n%s", err, out, c.Logs(20))
	}
	// No nodes and no endpoints yet: both lists answer, empty.
	if strings.Count(string(out), "No resources found") != 2 {
		t.Errorf("kubectl with the generated kubeconfig:\n%s", out)
	}
	if out, err := c.KubectlAs(ctxT(t), kubeconfig, "", "delete", "namespace", "default"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("the remote credentials deleted a namespace: %v %s", err, out)
	}
	if out, err := c.KubectlAs(ctxT(t), kubeconfig, "", "apply", "-f", seed("000-disabled-ippool.yaml")); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("the remote credentials created an IPPool: %v %s", err, out)
	}
}

// inlineTokenRCC is a RemoteClusterConfiguration with an inline token,
// which meshapi-apiserver as deployed (without
// --allow-inline-remote-credentials) refuses.
const inlineTokenRCC = `apiVersion: projectcalico.org/v3
kind: RemoteClusterConfiguration
metadata:
  name: e2e-inline
spec:
  datastoreType: kubernetes
  k8sAPIEndpoint: https://198.18.0.10:6443
  k8sAPIToken: hunter2-e2e
`

// eveRBAC lets the user eve write RemoteClusterConfigurations and nothing
// else: no Secrets.
const eveRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: e2e-rcc-writer
rules:
- apiGroups: ["projectcalico.org"]
  resources: ["remoteclusterconfigurations"]
  verbs: ["get", "list", "create", "update", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: e2e-rcc-writer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: e2e-rcc-writer
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: eve
`

// Least privilege as deployed: meshapi-apiserver reads no Secret at
// large, refuses inline credentials, reads an access Secret at admission
// only for a user who may read it (and tells one who may not the same
// thing whether it exists or not), and the mirror writer writes mirrors
// only.
func TestCredentialsLeastPrivilege(t *testing.T) {
	a := clusters[0]
	ctx := ctxT(t)
	// The controller's namespace, ServiceAccount and RBAC.
	kubectl(t, a, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "deploy", "50-controller.yaml"))

	out, _ := a.Kubectl(ctx, "", "auth", "can-i", "get", "secrets", "-n", "kube-system", "--as=system:serviceaccount:meshapi-system:meshapi-apiserver")
	if strings.TrimSpace(out) != "no" {
		t.Errorf("meshapi-apiserver may read Secrets in kube-system: %q", out)
	}

	out, err := kubectlAll(a, inlineTokenRCC, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.k8sAPIToken: Forbidden") || !strings.Contains(out, "spec.clusterAccessSecret") || strings.Contains(out, "hunter2") {
		t.Errorf("an inline token: %v\n%s", err, out)
	}

	t.Run("no confused deputy", func(t *testing.T) { testNoConfusedDeputy(t, a) })
	t.Run("mirror writer writes mirrors only", func(t *testing.T) { testMirrorWriterScope(t, a) })
}

// testNoConfusedDeputy: eve, who may write RCCs but not read Secrets, gets
// the same answer whether the Secret her RCC names exists or not, and the
// Secret's content never shows; the administrator's RCC is checked against
// it.
func testNoConfusedDeputy(t *testing.T, a *framework.Cluster) {
	const remote = "e2e-deputy"
	secret := "remote-cluster-secret-" + remote
	kubectl(t, a, eveRBAC, "apply", "-f", "-")
	t.Cleanup(func() { kubectl(t, a, eveRBAC, "delete", "-f", "-", "--ignore-not-found") })
	grantSecretAccess(t, a)
	kubectl(t, a, "", "delete", "secret", secret, "-n", "calico-system", "--ignore-not-found")
	rcc := rccYAML(remote)
	dryRunAs := func(args ...string) string {
		t.Helper()
		out, err := kubectlAll(a, rcc, append([]string{"apply", "--dry-run=server", "-f", "-"}, args...)...)
		if err != nil {
			t.Fatalf("dry-run apply %v: %v\n%s", args, err, out)
		}
		return out
	}
	absent := dryRunAs("--as=eve")
	kubectl(t, a, "", "create", "secret", "generic", secret, "-n", "calico-system",
		"--from-literal=datastoreType=kubernetes", "--from-literal=kubeconfig={{{ not yaml")
	t.Cleanup(func() { kubectl(t, a, "", "delete", "secret", secret, "-n", "calico-system", "--ignore-not-found") })
	present := dryRunAs("--as=eve")
	if absent != present {
		t.Errorf("eve learns whether the Secret exists:\nabsent:  %s\npresent: %s", absent, present)
	}
	if !strings.Contains(present, "you may not get Secret calico-system/"+secret) || strings.Contains(present, "not a kubeconfig") {
		t.Errorf("eve's warning:\n%s", present)
	}
	admin := dryRunAs()
	if strings.Contains(admin, "you may not get") || !strings.Contains(admin, `Secret calico-system/`+secret+` key "kubeconfig": not a kubeconfig`) {
		t.Errorf("the administrator's RCC was not checked through the Secret:\n%s", admin)
	}
}

// testMirrorWriterScope: calico-system/calico-typha, which RBAC lets write
// IPPools, is refused a local one by admission and admitted a mirrored one.
func testMirrorWriterScope(t *testing.T, a *framework.Cluster) {
	ctx := ctxT(t)
	cfg, err := a.ServiceAccountConfig(ctx, "calico-system", "calico-typha")
	if err != nil {
		t.Fatal(err)
	}
	pools := versioned.NewForConfigOrDie(cfg).ProjectcalicoV3().IPPools()
	local := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "e2e-writer-local"}, Spec: v3.IPPoolSpec{CIDR: "198.19.250.0/24"}}
	if _, err := pools.Create(ctx, local, metav1.CreateOptions{}); !isForbidden(err) || !strings.Contains(err.Error(), "does not carry the label projectcalico.org/cluster") {
		t.Errorf("the mirror writer creating a local IPPool: %v", err)
		pools.Delete(ctx, local.Name, metav1.DeleteOptions{})
	}
	mirror := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: v3.MirrorName("e2e-remote", "e2e-writer"), Labels: map[string]string{v3.LabelCluster: "e2e-remote"}},
		Spec: v3.IPPoolSpec{CIDR: "198.19.251.0/24", Disabled: true}}
	if _, err := pools.Create(ctx, mirror, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the mirror writer creating a mirrored IPPool: %v", err)
	}
	if err := pools.Delete(ctx, mirror.Name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("the mirror writer deleting its mirrored IPPool: %v", err)
	}
}
