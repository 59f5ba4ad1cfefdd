package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// Every manifest of artifacts/ is accepted by a real kube-apiserver
// (server-side dry run: schema, defaulting, admission), so a user's
// kubectl apply goes through. The APIService needs its caBundle filled in,
// as its comment tells the user.
func TestArtifactsApplyCleanly(t *testing.T) {
	c := clusters[1]
	deploy := filepath.Join(framework.ArtifactsDir(), "deploy")
	files, err := filepath.Glob(filepath.Join(deploy, "*.yaml"))
	if err != nil || len(files) != 8 {
		t.Fatalf("artifacts/deploy: %v %v", files, err)
	}
	args := []string{"apply", "--dry-run=server"}
	for _, f := range files {
		if !strings.HasSuffix(f, "40-apiservice.yaml") {
			args = append(args, "-f", f)
		}
	}
	// A dry-run namespace does not exist for the objects after it, so the
	// remote-cluster manifests, which create calico-system, are applied for
	// real first (they are idempotent).
	out := kubectl(t, c, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "remote-cluster"))
	out += kubectl(t, c, "", args...)
	for _, want := range []string{
		"statefulset.apps/meshapi-etcd", "deployment.apps/meshapi-apiserver", "service/meshapi-apiserver",
		"networkpolicy.networking.k8s.io/meshapi-etcd",
		"clusterrole.rbac.authorization.k8s.io/tigera-federation-remote-cluster", "serviceaccount/tigera-federation-remote-cluster",
		"daemonset.apps/meshapi-agent", "clusterrole.rbac.authorization.k8s.io/meshapi-agent", "serviceaccount/meshapi-agent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %s:\n%s", want, out)
		}
	}
	apiservice, err := os.ReadFile(filepath.Join(deploy, "40-apiservice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	filled := strings.Replace(string(apiservice), "CA_BUNDLE", base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n")), 1)
	if out := kubectl(t, c, filled, "apply", "--dry-run=server", "-f", "-"); !strings.Contains(out, "apiservice.apiregistration.k8s.io/v3.projectcalico.org") {
		t.Errorf("APIService dry run: %s", out)
	}
}
