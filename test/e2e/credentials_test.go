package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
