package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshctl"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// meshctlEnv is the real meshctl binary, the kubectl-mesh plugin link next
// to it, and one kubeconfig with a context per cluster, named after it.
type meshctlEnv struct {
	dir        string
	bin        string
	kubeconfig string
}

// newMeshctlEnv builds meshctl, installs the plugin with meshctl
// install-plugin, and merges the clusters' administrator kubeconfigs.
func newMeshctlEnv(t *testing.T) *meshctlEnv {
	t.Helper()
	return newMeshctlEnvFor(t, clusters)
}

// newMeshctlEnvFor is newMeshctlEnv with a context for each of cs, the
// first current.
func newMeshctlEnvFor(t *testing.T, cs []*framework.Cluster) *meshctlEnv {
	t.Helper()
	e := &meshctlEnv{dir: t.TempDir()}
	e.bin = filepath.Join(e.dir, "meshctl")
	build := exec.Command("go", "build", "-o", e.bin, "./cmd/meshctl")
	build.Dir = framework.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building meshctl: %v\n%s", err, out)
	}
	merged := clientcmdapi.NewConfig()
	for _, c := range cs {
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts[cfg.CurrentContext]
		merged.Clusters[c.Name] = cfg.Clusters[ctx.Cluster]
		merged.AuthInfos[c.Name] = cfg.AuthInfos[ctx.AuthInfo]
		merged.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	}
	merged.CurrentContext = cs[0].Name
	e.kubeconfig = filepath.Join(e.dir, "mesh.kubeconfig")
	if err := clientcmd.WriteToFile(*merged, e.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs meshctl with --kubeconfig and returns stdout, stderr and the error.
func (e *meshctlEnv) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t), e.bin, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// must runs meshctl and fails the test on error.
func (e *meshctlEnv) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, args...)
	if err != nil {
		t.Fatalf("meshctl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// all are the --context flags of the three clusters.
func allContexts() []string {
	var out []string
	for _, c := range clusters {
		out = append(out, "--context", c.Name)
	}
	return out
}

// checkLines runs meshctl check -o json and returns its lines and error.
func (e *meshctlEnv) check(t *testing.T, contexts ...string) ([]meshctl.CheckResult, error) {
	t.Helper()
	out, errOut, err := e.run(t, append([]string{"check", "-o", "json"}, contexts...)...)
	var rs []meshctl.CheckResult
	if jerr := json.Unmarshal([]byte(out), &rs); jerr != nil {
		t.Fatalf("meshctl check -o json: %v: %v\n%s\n%s", err, jerr, out, errOut)
	}
	return rs, err
}

// findCheck returns the line of check for context → remote.
func findCheck(rs []meshctl.CheckResult, context, remote, check string) (meshctl.CheckResult, bool) {
	for _, r := range rs {
		if r.Context == context && r.Remote == remote && r.Check == check {
			return r, true
		}
	}
	return meshctl.CheckResult{}, false
}

// wantCheck fails the test unless check for context → remote has result
// and its detail contains want.
func wantCheck(t *testing.T, rs []meshctl.CheckResult, context, remote, check, result, want string) {
	t.Helper()
	r, ok := findCheck(rs, context, remote, check)
	if !ok || r.Result != result || !strings.Contains(r.Detail, want) {
		t.Errorf("check %s %s→%s: got %+v (found %v), want %s containing %q", check, context, remote, r, ok, result, want)
	}
}

// failed returns the FAIL lines.
func failed(rs []meshctl.CheckResult) []meshctl.CheckResult {
	var out []meshctl.CheckResult
	for _, r := range rs {
		if r.Result == meshctl.Fail {
			out = append(out, r)
		}
	}
	return out
}

// identityState records which objects of the remote identity and secret
// access exist in c, so the test can tell what meshctl must remove.
func identityState(ctx context.Context, t *testing.T, c *framework.Cluster) map[string]bool {
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(err error) bool { return err == nil }
	_, e1 := kube.CoreV1().ServiceAccounts("calico-system").Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{})
	_, e2 := kube.CoreV1().Secrets("calico-system").Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{})
	_, e3 := kube.RbacV1().ClusterRoles().Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{})
	_, e4 := kube.RbacV1().ClusterRoleBindings().Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{})
	_, e5 := kube.RbacV1().Roles("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
	_, e6 := kube.RbacV1().RoleBindings("calico-system").Get(ctx, "remote-cluster-secret-access", metav1.GetOptions{})
	return map[string]bool{"ServiceAccount": exists(e1), "TokenSecret": exists(e2), "ClusterRole": exists(e3),
		"ClusterRoleBinding": exists(e4), "Role": exists(e5), "RoleBinding": exists(e6)}
}

// versions returns the resourceVersions of what connect writes in c (the
// RCCs by generation: the controller writes their status).
func versions(ctx context.Context, t *testing.T, c *framework.Cluster) map[string]string {
	t.Helper()
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	secrets, err := kube.CoreV1().Secrets("calico-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		out["Secret/"+s.Name] = s.ResourceVersion
	}
	for _, n := range []string{"remote-cluster-secret-access"} {
		if r, err := kube.RbacV1().Roles("calico-system").Get(ctx, n, metav1.GetOptions{}); err == nil {
			out["Role/"+n] = r.ResourceVersion
		}
		if r, err := kube.RbacV1().RoleBindings("calico-system").Get(ctx, n, metav1.GetOptions{}); err == nil {
			out["RoleBinding/"+n] = r.ResourceVersion
		}
	}
	if r, err := kube.RbacV1().ClusterRoles().Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{}); err == nil {
		out["ClusterRole"] = r.ResourceVersion
	}
	if r, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{}); err == nil {
		out["ClusterRoleBinding"] = r.ResourceVersion
	}
	if r, err := kube.CoreV1().ServiceAccounts("calico-system").Get(ctx, "tigera-federation-remote-cluster", metav1.GetOptions{}); err == nil {
		out["ServiceAccount"] = r.ResourceVersion
	}
	rccs, err := clientFor(t, c).ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rccs.Items {
		out["RCC/"+r.Name] = fmt.Sprint(r.Generation)
	}
	return out
}

// meshctl builds a full mesh of three clusters from nothing, changes
// nothing when run again, reports status and each troubleshooting check
// (with a broken case for each), evaluates selectors and policies across
// clusters, works as "kubectl mesh", and disconnect removes what it made.
func TestMeshctl(t *testing.T) {
	ctx := ctxT(t)
	e := newMeshctlEnv(t)
	a, b, c := clusters[0], clusters[1], clusters[2]
	before := map[*framework.Cluster]map[string]bool{}
	for _, cl := range clusters {
		if err := cl.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		// "From nothing": a test that failed before may have left
		// RemoteClusterConfigurations behind; tests run one at a time.
		l, err := clientFor(t, cl).ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Items {
			t.Logf("%s: deleting RemoteClusterConfiguration %s left by an earlier test", cl.Name, r.Name)
			kubectl(t, cl, "", "delete", "rcc", r.Name, "--ignore-not-found")
		}
		// A VXLAN pool of its own, as the other tests give it.
		pool := cl.Name + "-vxlan"
		if _, err := cl.Kubectl(ctx, "", "get", "ippool", pool); err != nil {
			ensureOverlay(t, cl)
			t.Cleanup(func() { kubectl(t, cl, "", "delete", "ippool", pool, "--ignore-not-found") })
		}
		before[cl] = identityState(ctx, t, cl)
	}
	t.Cleanup(func() {
		// Whatever happened above, leave no connection behind.
		if out, errOut, err := e.run(t, append([]string{"disconnect"}, allContexts()...)...); err != nil {
			t.Errorf("cleanup: meshctl disconnect: %v\n%s\n%s", err, out, errOut)
		}
	})

	// kubeconfig create: the seed's recipe, 0600, verified.
	kcFile := filepath.Join(e.dir, "cluster-b.kubeconfig")
	out := e.must(t, "kubeconfig", "create", "--context", b.Name, "-f", kcFile)
	if !strings.Contains(out, "verified") || !strings.Contains(out, "lists") {
		t.Errorf("kubeconfig create:\n%s", out)
	}
	if st, err := os.Stat(kcFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig file mode: %v %v", st, err)
	}
	if _, err := b.KubectlAs(ctx, kcFile, "", "get", "workloadendpoints", "-A"); err != nil {
		t.Errorf("the created kubeconfig cannot read: %v", err)
	}
	if _, err := b.KubectlAs(ctx, kcFile, "", "delete", "namespace", "default"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("the created kubeconfig deleted a namespace: %v", err)
	}

	// connect: a full mesh, every RCC InSync.
	out, errOut, err := e.run(t, append([]string{"connect", "--timeout", "2m"}, allContexts()...)...)
	if err != nil {
		t.Fatalf("meshctl connect: %v\n%s\n%s\n%s", err, out, errOut, a.Logs(20))
	}
	t.Logf("meshctl connect:\n%s%s", errOut, out)
	if n := strings.Count(out, "RemoteClusterConfiguration"); n != 6 || strings.Count(errOut, "InSync") < 6 || !strings.Contains(errOut, "All 6 RemoteClusterConfigurations InSync") {
		t.Errorf("meshctl connect (%d RCC lines):\n%s\n%s", n, out, errOut)
	}
	for _, local := range clusters {
		for _, remote := range clusters {
			if local != remote {
				rcc, err := clientFor(t, local).ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote.Name, metav1.GetOptions{})
				if err != nil || rcc.Status.SyncState != v3.SyncStateInSync || rcc.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled {
					t.Errorf("%s: RCC %s: %v %+v", local.Name, remote.Name, err, rcc)
				}
			}
		}
	}

	// connect again: nothing changes.
	vs := map[*framework.Cluster]map[string]string{}
	for _, cl := range clusters {
		vs[cl] = versions(ctx, t, cl)
	}
	out = e.must(t, append([]string{"connect", "-o", "json"}, allContexts()...)...)
	var again meshctl.ConnectResult
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatalf("connect -o json: %v\n%s", err, out)
	}
	for _, ch := range again.Changes {
		if ch.Action != meshctl.ActionUnchanged {
			t.Errorf("second connect changed %+v", ch)
		}
	}
	if len(again.Changes) != 6+6+3+3 { // Secrets, RCCs, Roles, RoleBindings
		t.Errorf("second connect reported %d objects: %+v", len(again.Changes), again.Changes)
	}
	for _, cl := range clusters {
		now := versions(ctx, t, cl)
		for k, v := range vs[cl] {
			if now[k] != v {
				t.Errorf("%s: %s changed on the second connect: %s → %s", cl.Name, k, v, now[k])
			}
		}
	}

	// status: one table per cluster; every RCC InSync, requirements met, bidirectional.
	out = e.must(t, append([]string{"status", "-o", "json"}, allContexts()...)...)
	var rows []meshctl.StatusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if len(rows) != 6 {
		t.Errorf("status rows: %+v", rows)
	}
	for _, r := range rows {
		if r.State != "InSync" || r.Requirements != "True" || r.Bidirectional != "yes" || r.Overlay != "Enabled" {
			t.Errorf("status row %+v", r)
		}
	}
	out = e.must(t, append([]string{"status"}, allContexts()...)...)
	t.Logf("meshctl status:\n%s", out)
	for _, want := range []string{"Cluster cluster-a:", "Cluster cluster-b:", "Cluster cluster-c:", "BIDIRECTIONAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// check: everything passes; overlay routes are skipped without agents.
	kubectl(t, a, "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: meshctl-a-1\nspec:\n  ipv4VXLANTunnelAddr: 198.18.200.1\n  vxlanTunnelMACAddr: 66:00:00:00:0a:01\n", "apply", "-f", "-")
	t.Cleanup(func() { kubectl(t, a, "", "delete", "nodes.projectcalico.org", "meshctl-a-1", "--ignore-not-found") })
	rs, err := e.check(t, allContexts()...)
	if err != nil || len(failed(rs)) > 0 {
		t.Errorf("check of a healthy mesh: %v\n%+v", err, failed(rs))
	}
	wantCheck(t, rs, a.Name, b.Name, meshctl.CheckAccessSecret, meshctl.Pass, "lists")
	wantCheck(t, rs, a.Name, b.Name, meshctl.CheckSecretRBAC, meshctl.Pass, "may get, list and watch Secret calico-system/remote-cluster-secret-"+b.Name)
	wantCheck(t, rs, c.Name, a.Name, meshctl.CheckBidirectional, meshctl.Pass, "back to this cluster")
	wantCheck(t, rs, b.Name, c.Name, meshctl.CheckRequirements, meshctl.Pass, "met")
	wantCheck(t, rs, b.Name, a.Name, meshctl.CheckInSync, meshctl.Pass, "InSync")
	wantCheck(t, rs, a.Name, "", meshctl.CheckOverlayRoutes, meshctl.Skip, "no node reports agent status; is meshapi-agent running?")

	// Broken: a node's agent reports routes towards B but not towards C.
	// No agent runs here: the node's status is written as its agent
	// would write it, and B and C get a node each, mirrored into A.
	for _, cl := range []*framework.Cluster{b, c} {
		i := strings.IndexByte("abc", cl.Name[len(cl.Name)-1])
		name := fmt.Sprintf("meshctl-%c-1", cl.Name[len(cl.Name)-1])
		kubectl(t, cl, fmt.Sprintf("apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: %s\nspec:\n  ipv4VXLANTunnelAddr: 198.18.%d.1\n  vxlanTunnelMACAddr: 66:00:00:00:0%d:01\n", name, 200+i, i), "apply", "-f", "-")
		t.Cleanup(func() { kubectl(t, cl, "", "delete", "nodes.projectcalico.org", name, "--ignore-not-found") })
	}
	waitFor(t, a, 30*time.Second, "B's and C's nodes mirrored into A", func() (bool, string) {
		l, err := clientFor(t, a).ProjectcalicoV3().Nodes().List(ctx, metav1.ListOptions{LabelSelector: v3.LabelCluster})
		if err != nil {
			return false, err.Error()
		}
		return len(l.Items) == 2, fmt.Sprintf("%d mirrored nodes", len(l.Items))
	})
	kubectl(t, a, "", "patch", "nodes.projectcalico.org", "meshctl-a-1", "--subresource=status", "--type=merge", "-p",
		`{"status":{"dataplane":{"vxlanDevice":"vxlan.calico","routes":1,"remoteClusters":[{"cluster":"cluster-b","overlayRoutingMode":"Enabled","nodes":1,"routes":1}]}}}`)
	rs, err = e.check(t, "--context", a.Name)
	if err == nil {
		t.Errorf("check exits 0 with routes missing")
	}
	wantCheck(t, rs, a.Name, "", meshctl.CheckOverlayRoutes, meshctl.Pass, "node meshctl-a-1 has 1 routes towards cluster-b")
	var routeFail []meshctl.CheckResult
	for _, r := range failed(rs) {
		if r.Check == meshctl.CheckOverlayRoutes {
			routeFail = append(routeFail, r)
		}
	}
	if len(routeFail) != 1 || routeFail[0].Detail != "node meshctl-a-1 has no overlay routes towards cluster-c (1 mirrored nodes)" {
		t.Errorf("overlay-routes failures: %+v", routeFail)
	}
	kubectl(t, a, "", "delete", "nodes.projectcalico.org", "meshctl-a-1")

	// kubectl mesh, through the real kubectl, with the plugin on the PATH.
	out = e.must(t, "install-plugin", "--dir", e.dir)
	if !strings.Contains(out, "kubectl-mesh") {
		t.Errorf("install-plugin: %s", out)
	}
	kc := exec.CommandContext(ctx, filepath.Join(framework.RepoRoot(), "bin", "kubectl"), "mesh", "status", "--kubeconfig", e.kubeconfig, "--context", b.Name)
	kc.Env = append(os.Environ(), "PATH="+e.dir+":"+os.Getenv("PATH"))
	if out, err := kc.CombinedOutput(); err != nil || !strings.Contains(string(out), "Cluster cluster-b:") || !strings.Contains(string(out), "InSync") {
		t.Errorf("kubectl mesh status: %v\n%s", err, out)
	}
	kc = exec.CommandContext(ctx, filepath.Join(framework.RepoRoot(), "bin", "kubectl"), "mesh", "connect", "--help")
	kc.Env = append(os.Environ(), "PATH="+e.dir+":"+os.Getenv("PATH"))
	if out, err := kc.CombinedOutput(); err != nil || !strings.Contains(string(out), "kubectl mesh connect --context") || strings.Contains(string(out), "meshctl connect") {
		t.Errorf("kubectl mesh connect --help: %v\n%s", err, out)
	}

	// eval and policy: local and remote endpoints, prefixed.
	for i, cl := range clusters {
		createNamespace(t, cl, "meshctl-demo")
		t.Cleanup(func() {
			kubectl(t, cl, "", "delete", "namespace", "meshctl-demo", "--ignore-not-found", "--wait=false")
		})
		for _, app := range []string{"web", "db"} {
			name := fmt.Sprintf("%s-%s-0", cl.Name, app)
			if _, err := clientFor(t, cl).ProjectcalicoV3().WorkloadEndpoints("meshctl-demo").Create(ctx, &v3.WorkloadEndpoint{
				ObjectMeta: metav1.ObjectMeta{Name: "host-" + cl.Name + "-k8s-" + strings.ReplaceAll(name, "-", "--") + "-eth0", Labels: map[string]string{"app": app}},
				Spec: v3.WorkloadEndpointSpec{Node: "host-" + cl.Name, Orchestrator: "k8s", Pod: name, Endpoint: "eth0",
					IPNetworks: []string{fmt.Sprintf("198.18.%d.%d/32", 200+i, map[string]int{"web": 10, "db": 20}[app])}},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	kubectl(t, a, `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: default.web-to-db
  namespace: meshctl-demo
spec:
  selector: app == 'web'
  tier: default
  egress:
  - action: Allow
    protocol: TCP
    destination:
      selector: app == 'db'
      ports: [5432]
`, "apply", "-f", "-")
	waitFor(t, a, 30*time.Second, "B's and C's endpoints in A", func() (bool, string) {
		l, err := clientFor(t, a).ProjectcalicoV3().WorkloadEndpoints("meshctl-demo").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(l.Items) == 6, fmt.Sprintf("%d endpoints", len(l.Items))
	})
	out = e.must(t, "eval", "all()", "--context", a.Name)
	for _, want := range []string{
		"Endpoints matching selector all():",
		"Workload endpoint host-cluster-a/k8s/meshctl-demo.cluster-a-web-0/eth0",
		"Workload endpoint cluster-b/host-cluster-b/k8s/meshctl-demo.cluster-b-db-0/eth0",
		"Workload endpoint cluster-c/host-cluster-c/k8s/meshctl-demo.cluster-c-web-0/eth0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("eval all() in A lacks %q:\n%s", want, out)
		}
	}
	out = e.must(t, "policy", "meshctl-demo/default.web-to-db", "--context", a.Name)
	want := `Policy meshctl-demo/default.web-to-db (tier default) applies to 1 local endpoints:
  Workload endpoint host-cluster-a/k8s/meshctl-demo.cluster-a-web-0/eth0
Egress rule 0 (Allow), destination namespace "meshctl-demo" selector "app == \"db\"" selects 3 endpoints:
  Workload endpoint cluster-b/host-cluster-b/k8s/meshctl-demo.cluster-b-db-0/eth0
  Workload endpoint cluster-c/host-cluster-c/k8s/meshctl-demo.cluster-c-db-0/eth0
  Workload endpoint host-cluster-a/k8s/meshctl-demo.cluster-a-db-0/eth0
`
	if out != want {
		t.Errorf("meshctl policy:\n%s\nwant\n%s", out, want)
	}

	// Broken: the access Secret deleted.
	kubectl(t, a, "", "delete", "secret", "remote-cluster-secret-cluster-b", "-n", "calico-system")
	rs, err = e.check(t, "--context", a.Name)
	if err == nil {
		t.Errorf("check exits 0 with a deleted Secret")
	}
	wantCheck(t, rs, a.Name, b.Name, meshctl.CheckAccessSecret, meshctl.Fail, `secrets "remote-cluster-secret-cluster-b" not found`)
	if r, _ := findCheck(rs, a.Name, b.Name, meshctl.CheckAccessSecret); !strings.Contains(r.Fix, "meshctl connect --context cluster-a --context cluster-b") {
		t.Errorf("fix of a deleted Secret: %q", r.Fix)
	}
	e.must(t, "connect", "--context", a.Name, "--context", b.Name)
	// connect waited for a status of the Secret it made again, not for the
	// InSync left from the deleted one (which let the restart that the
	// new Secret causes land in the middle of the steps below).
	kubeA, err := kubernetes.NewForConfig(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := kubeA.CoreV1().Secrets("calico-system").Get(ctx, "remote-cluster-secret-cluster-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rcc, err := clientFor(t, a).ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, b.Name, metav1.GetOptions{}); err != nil ||
		rcc.Status.SyncState != v3.SyncStateInSync || rcc.Status.ObservedSecretResourceVersion != secret.ResourceVersion {
		t.Errorf("after connect made the Secret again: RCC %s status %+v (Secret at resourceVersion %q), %v", b.Name, rcc.Status, secret.ResourceVersion, err)
	}

	// Broken: the RoleBinding missing.
	kubectl(t, b, "", "delete", "rolebinding", "remote-cluster-secret-access", "-n", "calico-system")
	rs, _ = e.check(t, "--context", b.Name)
	wantCheck(t, rs, b.Name, a.Name, meshctl.CheckSecretRBAC, meshctl.Fail, "system:serviceaccount:calico-system:calico-typha may not get, list, watch Secret calico-system/remote-cluster-secret-"+a.Name)
	wantCheck(t, rs, b.Name, c.Name, meshctl.CheckSecretRBAC, meshctl.Fail, "may not get, list, watch Secret calico-system/remote-cluster-secret-"+c.Name)
	out, _, _ = e.run(t, "check", "--context", b.Name)
	t.Logf("meshctl check with the RoleBinding missing:\n%s", out)
	out = e.must(t, "connect", "--context", b.Name, "--context", c.Name)
	if !strings.Contains(out, "RoleBinding") || !strings.Contains(out, "created") {
		t.Errorf("connect did not restore the RoleBinding:\n%s", out)
	}
	// The RoleBinding is meshctl's now, whoever made the one deleted
	// above (an earlier test on these clusters may have applied
	// artifacts/remote-cluster): disconnect removes it.
	before[b]["RoleBinding"] = false

	// Broken: one direction only.
	kubectl(t, b, "", "delete", "rcc", a.Name)
	rs, _ = e.check(t, "--context", a.Name)
	wantCheck(t, rs, a.Name, b.Name, meshctl.CheckBidirectional, meshctl.Fail, "cluster-b has no RemoteClusterConfiguration cluster-a")
	out = e.must(t, "status", "-o", "json", "--context", a.Name)
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("status: %v %s", err, out)
	}
	for _, r := range rows {
		if wantB := map[string]string{"cluster-b": "no", "cluster-c": "yes"}[r.Remote]; r.Bidirectional != wantB {
			t.Errorf("status of %s with one direction deleted: bidirectional %q, want %q", r.Remote, r.Bidirectional, wantB)
		}
	}

	// Broken: an overlapping pool in C (admitted by the override). The
	// controllers see it; connect refuses the missing direction with the
	// admission message and writes nothing.
	clash := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: meshctl-clash\n  annotations:\n    projectcalico.org/skip-mesh-requirements: e2e\nspec:\n  cidr: 198.18.200.128/25\n  vxlanMode: Always\n"
	kubectl(t, c, clash, "apply", "-f", "-")
	t.Cleanup(func() { kubectl(t, c, "", "delete", "ippool", "meshctl-clash", "--ignore-not-found") })
	waitFor(t, a, time.Minute, "RequirementsMet=False in A for C", func() (bool, string) {
		cond, err := requirementsMet(ctx, a, c.Name)
		if err != nil || cond == nil {
			return false, fmt.Sprint(cond, err)
		}
		return cond.Status == metav1.ConditionFalse, cond.Message
	})
	rs, _ = e.check(t, "--context", a.Name)
	wantCheck(t, rs, a.Name, c.Name, meshctl.CheckRequirements, meshctl.Fail, `IPPool "meshctl-clash" (198.18.200.128/25) of remote cluster "cluster-c" overlaps local IPPool "cluster-a-vxlan" (198.18.200.0/24)`)
	kubectl(t, c, "", "delete", "rcc", a.Name)
	out, errOut, err = e.run(t, "connect", "--context", a.Name, "--context", c.Name)
	if err == nil || !strings.Contains(errOut, "refusing to connect") ||
		!strings.Contains(errOut, `cluster-c → cluster-a: `) || !strings.Contains(errOut, `IPPool "cluster-a-vxlan" (198.18.200.0/24) of remote cluster "cluster-a" overlaps local IPPool "meshctl-clash" (198.18.200.128/25)`) {
		t.Errorf("connect with an overlapping pool: %v\n%s\n%s", err, out, errOut)
	}
	if _, err := clientFor(t, c).ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, a.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused connect wrote the RCC: %v", err)
	}
	kubectl(t, c, "", "delete", "ippool", "meshctl-clash")

	// Repaired: the whole mesh is healthy again.
	e.must(t, append([]string{"connect"}, allContexts()...)...)
	waitFor(t, a, time.Minute, "RequirementsMet=True everywhere", func() (bool, string) {
		for _, local := range clusters {
			for _, remote := range clusters {
				if local == remote {
					continue
				}
				rcc, err := clientFor(t, local).ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, remote.Name, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				if cond := meta.FindStatusCondition(rcc.Status.Conditions, v3.RemoteClusterConditionRequirementsMet); cond == nil || cond.Status != metav1.ConditionTrue {
					return false, fmt.Sprintf("%s→%s: %+v", local.Name, remote.Name, cond)
				}
			}
		}
		return true, ""
	})
	rs, err = e.check(t, allContexts()...)
	if err != nil || len(failed(rs)) > 0 {
		t.Errorf("check after the repairs: %v\n%+v", err, failed(rs))
	}

	// disconnect removes everything connect made, and only that.
	out = e.must(t, append([]string{"disconnect"}, allContexts()...)...)
	if n := strings.Count(out, "RemoteClusterConfiguration"); n != 6 {
		t.Errorf("disconnect deleted %d RCCs:\n%s", n, out)
	}
	for _, cl := range clusters {
		l, err := clientFor(t, cl).ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Errorf("%s: RCCs after disconnect: %v %v", cl.Name, l, err)
		}
		kube, _ := kubernetes.NewForConfig(cl.Config)
		secrets, err := kube.CoreV1().Secrets("calico-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=meshctl"})
		if err != nil || len(secrets.Items) != 0 {
			t.Errorf("%s: meshctl's Secrets after disconnect: %v %v", cl.Name, secrets, err)
		}
		after := identityState(ctx, t, cl)
		for k, existed := range before[cl] {
			if after[k] != existed {
				t.Errorf("%s: %s existed before: %v, after disconnect: %v", cl.Name, k, existed, after[k])
			}
		}
	}
}
