package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// rccYAML is the seed's RemoteClusterConfiguration for remote.
func rccYAML(remote string) string {
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
    overlayRoutingMode: Enabled
`, remote, remote)
}

// storeAccess stores remote's kubeconfig in local and grants it to the
// syncer, as the seed does.
func storeAccess(t *testing.T, local *framework.Cluster, remote, kubeconfig string) {
	t.Helper()
	grantSecretAccess(t, local)
	secret := "remote-cluster-secret-" + remote
	kubectl(t, local, "", "delete", "secret", secret, "-n", "calico-system", "--ignore-not-found")
	kubectl(t, local, "", "create", "secret", "generic", secret, "-n", "calico-system",
		"--from-literal=datastoreType=kubernetes", "--from-file=kubeconfig="+kubeconfig)
}

// kubectlAll runs kubectl and returns its combined output (warnings
// included) and error.
func kubectlAll(c *framework.Cluster, stdin string, args ...string) (string, error) {
	cmd := c.KubectlCommand(args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// requirementsMet returns the RequirementsMet condition of local's RCC remote.
func requirementsMet(ctx context.Context, c *framework.Cluster, remote string) (*metav1.Condition, error) {
	rcc, err := clientFor(nil, c).ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return meta.FindStatusCondition(rcc.Status.Conditions, v3.RemoteClusterConditionRequirementsMet), nil
}

// The mesh's requirements are enforced at kubectl apply time, with the
// exact messages, and watched afterwards.
func TestMeshRequirements(t *testing.T) {
	ctx := ctxT(t)
	a, b, c := clusters[0], clusters[1], clusters[2]
	for _, cl := range clusters {
		if err := cl.StartController(ctx); err != nil {
			t.Fatal(err)
		}
	}
	defer kubectl(t, a, "", "delete", "rcc", "--all")
	pool := func(name, cidr string) string {
		return fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: %s\nspec:\n  cidr: %s\n  vxlanMode: Always\n", name, cidr)
	}
	kubectl(t, a, pool("a-pool", "198.18.96.0/24"), "apply", "-f", "-")
	defer kubectl(t, a, "", "delete", "ippool", "a-pool")
	kubectl(t, c, pool("c-pool", "198.18.96.128/25"), "apply", "-f", "-")
	defer kubectl(t, c, "", "delete", "ippool", "c-pool", "--ignore-not-found")
	storeAccess(t, a, c.Name, remoteKubeconfig(t, c))

	// An RCC whose remote has an overlapping pool is refused.
	out, err := kubectlAll(a, rccYAML(c.Name), "apply", "-f", "-")
	want := `spec: Invalid value: "cluster-c": IPPool "c-pool" (198.18.96.128/25) of remote cluster "cluster-c" overlaps local IPPool "a-pool" (198.18.96.0/24)`
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("RCC with an overlapping remote pool: %v\n%s\nwant %s", err, out, want)
	}

	// Mismatched VXLAN port and routeSource: both reported at once.
	kubectl(t, c, "", "delete", "ippool", "c-pool")
	kubectl(t, c, pool("c-pool", "198.18.97.0/24"), "apply", "-f", "-")
	kubectl(t, c, "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  vxlanPort: 4790\n  routeSource: WorkloadIPs\n", "apply", "-f", "-")
	out, err = kubectlAll(a, rccYAML(c.Name), "apply", "-f", "-")
	for _, w := range []string{`routeSource "CalicoIPAM" differs from remote cluster "cluster-c" ("WorkloadIPs")`, `vxlanPort 4789 differs from remote cluster "cluster-c" (4790)`} {
		if err == nil || !strings.Contains(out, w) {
			t.Errorf("RCC with mismatched settings: %v\n%s\nwant %s", err, out, w)
		}
	}
	kubectl(t, c, "", "delete", "felixconfiguration", "default")

	// Requirements met: admitted, synced, condition True.
	kubectl(t, a, rccYAML(c.Name), "apply", "-f", "-")
	waitSyncState(t, a, clientFor(t, a), c.Name, v3.SyncStateInSync, time.Minute)
	waitFor(t, a, time.Minute, "RequirementsMet=True", func() (bool, string) {
		cond, err := requirementsMet(ctx, a, c.Name)
		if err != nil || cond == nil {
			return false, fmt.Sprint(cond, err)
		}
		return cond.Status == metav1.ConditionTrue, cond.Message
	})

	// A local pool overlapping the mirrored remote pool is refused.
	out, err = kubectlAll(a, pool("a-clash", "198.18.97.64/26"), "apply", "-f", "-")
	want = `spec.cidr: Invalid value: "198.18.97.64/26": overlaps IPPool "c-pool" (198.18.97.0/24) of remote cluster "cluster-c"`
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("local pool overlapping a remote one: %v\n%s\nwant %s", err, out, want)
	}
	// The documented override admits it with a warning.
	override := strings.Replace(pool("a-clash", "198.18.97.64/26"), "metadata:\n", "metadata:\n  annotations:\n    projectcalico.org/skip-mesh-requirements: migrating\n", 1)
	out, err = kubectlAll(a, override, "apply", "-f", "-")
	if err != nil || !strings.Contains(out, "Warning: mesh requirement not met, admitted because of projectcalico.org/skip-mesh-requirements") {
		t.Errorf("override: %v\n%s", err, out)
	}
	kubectl(t, a, "", "delete", "ippool", "a-clash")

	// An unreachable remote: admitted with a warning; the controller
	// reports the requirements once it connects, and a remote change flips
	// the condition without touching the RCC.
	kubectl(t, b, pool("b-pool", "198.18.98.0/24"), "apply", "-f", "-")
	defer kubectl(t, b, "", "delete", "ippool", "b-pool")
	storeAccess(t, a, b.Name, remoteKubeconfig(t, b))
	if err := b.StopKubeAPIServer(); err != nil {
		t.Fatal(err)
	}
	out, err = kubectlAll(a, rccYAML(b.Name), "apply", "-f", "-")
	if err != nil || !strings.Contains(out, `Warning: the mesh's requirements were not checked against remote cluster "cluster-b"`) {
		t.Errorf("RCC with an unreachable remote: %v\n%s", err, out)
	}
	if err := b.StartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitAPIServiceAvailable(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitSyncState(t, a, clientFor(t, a), b.Name, v3.SyncStateInSync, 2*time.Minute)
	waitFor(t, a, time.Minute, "RequirementsMet=True for cluster-b", func() (bool, string) {
		cond, err := requirementsMet(ctx, a, b.Name)
		if err != nil || cond == nil {
			return false, fmt.Sprint(cond, err)
		}
		return cond.Status == metav1.ConditionTrue, cond.Reason + ": " + cond.Message
	})
	kubectl(t, b, "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  vxlanPort: 4790\n", "apply", "-f", "-")
	waitFor(t, a, time.Minute, "RequirementsMet=False after B's change", func() (bool, string) {
		cond, err := requirementsMet(ctx, a, b.Name)
		if err != nil || cond == nil {
			return false, fmt.Sprint(cond, err)
		}
		return cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, `vxlanPort 4789 differs from remote cluster "cluster-b" (4790)`), cond.Message
	})
	kubectl(t, b, "", "delete", "felixconfiguration", "default")
	waitFor(t, a, time.Minute, "RequirementsMet=True after B's fix", func() (bool, string) {
		cond, err := requirementsMet(ctx, a, b.Name)
		if err != nil || cond == nil {
			return false, fmt.Sprint(cond, err)
		}
		return cond.Status == metav1.ConditionTrue, cond.Message
	})
	if !strings.Contains(a.ControllerLog(), `"Mesh requirements" remoteCluster="cluster-b" met="False"`) {
		t.Errorf("the controller did not log the broken requirement")
	}
}
