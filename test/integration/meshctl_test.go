package integration

import (
	"bytes"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshctl"
)

// meshctl runs the meshctl command tree against the server.
func meshctlRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := meshctl.NewCommand(&out)
	cmd.SetArgs(append([]string{"--kubeconfig", server.Kubeconfig}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(ctxT(t))
	return out.String(), err
}

// meshctl eval prints what the original's calicoq eval prints, with labels
// inherited from namespace profiles.
func TestMeshctlEval(t *testing.T) {
	ctx := ctxT(t)
	cs := clientset(t).ProjectcalicoV3()
	if _, err := cs.Profiles().Create(ctx, &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "kns.evalns"},
		Spec: v3.ProfileSpec{LabelsToApply: map[string]string{"pcns.team": "payments"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.Profiles().Delete(ctx, "kns.evalns", metav1.DeleteOptions{})
	for _, w := range []struct{ name, pod, app string }{{"host--a-k8s-db--0-eth0", "db-0", "postgres"}, {"host--a-k8s-web--0-eth0", "web-0", "web"}} {
		if _, err := cs.WorkloadEndpoints("evalns").Create(ctx, &v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Name: w.name, Labels: map[string]string{"app": w.app}},
			Spec: v3.WorkloadEndpointSpec{Node: "host-a", Orchestrator: "k8s", Pod: w.pod, Endpoint: "eth0",
				IPNetworks: []string{"198.18.30.1/32"}, Profiles: []string{"kns.evalns"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cs.WorkloadEndpoints("evalns").Delete(ctx, w.name, metav1.DeleteOptions{})
	}
	for _, tc := range []struct {
		selector string
		want     string
	}{
		{"app == 'postgres'", "Endpoints matching selector app == 'postgres':\n  Workload endpoint host-a/k8s/evalns.db-0/eth0\n"},
		{"pcns.team == 'payments' && app != 'postgres'", "Endpoints matching selector pcns.team == 'payments' && app != 'postgres':\n  Workload endpoint host-a/k8s/evalns.web-0/eth0\n"},
		{"app == 'nothing'", "Endpoints matching selector app == 'nothing':\n"},
	} {
		out, err := meshctlRun(t, "eval", tc.selector)
		if err != nil || out != tc.want {
			t.Errorf("meshctl eval %q = %q, %v; want %q", tc.selector, out, err, tc.want)
		}
	}
	if out, err := meshctlRun(t, "eval", "app == "); err == nil || !strings.Contains(err.Error(), "column") {
		t.Errorf("meshctl eval of a bad selector: %q, %v", out, err)
	}
	out, err := meshctlRun(t, "eval", "-o", "json", "app == 'postgres'")
	if err != nil || !strings.Contains(out, `"name": "host-a/k8s/evalns.db-0/eth0"`) {
		t.Errorf("meshctl eval -o json: %q, %v", out, err)
	}
}

// meshctl status prints one row per RemoteClusterConfiguration.
func TestMeshctlStatus(t *testing.T) {
	ctx := ctxT(t)
	rccs := clientset(t).ProjectcalicoV3().RemoteClusterConfigurations()
	if _, err := rccs.Create(ctx, &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "status-c"},
		Spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: secretRef("status-c"),
			SyncOptions: v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeDisabled}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer rccs.Delete(ctx, "status-c", metav1.DeleteOptions{})
	out, err := meshctlRun(t, "status")
	if err != nil || !strings.Contains(out, "REMOTE CLUSTER") || !strings.Contains(out, "status-c") || !strings.Contains(out, "Disabled") || !strings.Contains(out, "Pending") {
		t.Errorf("meshctl status:\n%s\n%v", out, err)
	}
	if _, err := meshctlRun(t, "status", "-o", "xml"); err == nil || !strings.Contains(err.Error(), "table, yaml or json") {
		t.Errorf("meshctl status -o xml: %v", err)
	}
}
