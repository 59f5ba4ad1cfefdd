package meshctl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

func TestDisplayName(t *testing.T) {
	for _, tc := range []struct{ arg0, want string }{
		{"meshctl", "meshctl"},
		{"/usr/local/bin/meshctl", "meshctl"},
		{"/home/u/bin/kubectl-mesh", "kubectl mesh"},
		{"kubectl-mesh.exe", "kubectl mesh"},
		{"kubectl-meshy", "meshctl"},
	} {
		if got := DisplayName(tc.arg0); got != tc.want {
			t.Errorf("DisplayName(%q) = %q, want %q", tc.arg0, got, tc.want)
		}
	}
}

// Help as "kubectl mesh" says "kubectl mesh" in usage and examples.
func TestHelpAsPlugin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		want     []string
		notWant  string
		argsHelp []string
	}{
		{"kubectl mesh", []string{"kubectl mesh connect --context A", "kubectl mesh connect --context cluster-a --context cluster-b"}, "meshctl connect", []string{"connect", "--help"}},
		{"meshctl", []string{"meshctl connect --context A", "meshctl connect --context cluster-a"}, "kubectl mesh connect", []string{"connect", "--help"}},
	} {
		var out bytes.Buffer
		cmd := NewNamedCommand(tc.name, &out, &out)
		cmd.SetOut(&out)
		cmd.SetArgs(tc.argsHelp)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s help lacks %q:\n%s", tc.name, w, out.String())
			}
		}
		if strings.Contains(out.String(), tc.notWant) {
			t.Errorf("%s help says %q:\n%s", tc.name, tc.notWant, out.String())
		}
	}
}

// Flags are checked before any cluster is read, with errors naming them.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "-o", "xml"}, `--output "xml": must be table, yaml or json`},
		{[]string{"connect", "--context", "a"}, "--context: give at least two clusters"},
		{[]string{"connect", "--context", "a", "--context", "b", "--overlay-routing", "On"}, `--overlay-routing "On": must be Enabled or Disabled`},
		{[]string{"disconnect"}, "--context: give at least two clusters"},
		{[]string{"kubeconfig", "create"}, "--file (-f) is required"},
		{[]string{"eval"}, "accepts 1 arg(s)"},
	} {
		var out bytes.Buffer
		cmd := NewNamedCommand("meshctl", &out, &out)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, tc.args...))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("meshctl %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestValidClusterName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"cluster-a", true},
		{"prod.eu-west-1", true},
		{"kind-Cluster_A", false},
		{"admin@cluster", false},
		{strings.Repeat("a", 240), false},
	} {
		if err := validClusterName(tc.name); (err == nil) != tc.ok {
			t.Errorf("validClusterName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		} else if err != nil && !strings.Contains(err.Error(), "--context") {
			t.Errorf("error does not name the flag: %v", err)
		}
	}
}

func TestPairs(t *testing.T) {
	if got := Pairs(1); len(got) != 0 {
		t.Errorf("Pairs(1) = %v", got)
	}
	got := Pairs(3)
	want := []Pair{{0, 1}, {0, 2}, {1, 0}, {1, 2}, {2, 0}, {2, 1}}
	if len(got) != len(want) {
		t.Fatalf("Pairs(3) = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Pairs(3)[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestDesiredRCC(t *testing.T) {
	want := DesiredRCC("cluster-b", "calico-system", v3.OverlayRoutingModeEnabled)
	if s := want.Spec.ClusterAccessSecret; s.Name != "remote-cluster-secret-cluster-b" || s.Namespace != "calico-system" || s.Kind != "Secret" {
		t.Errorf("secret reference %+v", s)
	}
	for _, tc := range []struct {
		name     string
		mutate   func(r *v3.RemoteClusterConfiguration)
		upToDate bool
	}{
		{"same", func(*v3.RemoteClusterConfiguration) {}, true},
		{"status and extra labels do not matter", func(r *v3.RemoteClusterConfiguration) {
			r.Status.SyncState = v3.SyncStateInSync
			r.Labels["team"] = "net"
		}, true},
		{"overlay differs", func(r *v3.RemoteClusterConfiguration) {
			r.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeDisabled
		}, false},
		{"made by hand", func(r *v3.RemoteClusterConfiguration) { r.Labels = nil }, false},
		{"other secret", func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Name = "x" }, false},
	} {
		cur := want.DeepCopy()
		tc.mutate(cur)
		if got := rccUpToDate(cur, want); got != tc.upToDate {
			t.Errorf("%s: rccUpToDate = %v", tc.name, got)
		}
		upd := updatedRCC(cur, want)
		if !rccUpToDate(upd, want) {
			t.Errorf("%s: updatedRCC is not up to date: %+v", tc.name, upd)
		}
	}
}

func TestParseOverlay(t *testing.T) {
	for in, ok := range map[string]bool{"Enabled": true, "Disabled": true, "enabled": false, "": false} {
		if _, err := ParseOverlay(in); (err == nil) != ok {
			t.Errorf("ParseOverlay(%q) = %v", in, err)
		}
	}
}

func TestGrantsSecretRead(t *testing.T) {
	rule := func(groups, resources, verbs []string, names ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
	}
	core, secrets, all := []string{""}, []string{"secrets"}, []string{"get", "list", "watch"}
	const name = "remote-cluster-secret-b"
	for _, tc := range []struct {
		name  string
		rules []rbacv1.PolicyRule
		want  bool
	}{
		{"meshctl's Role naming it", remoteaccess.SecretAccessRole("ns", name).Rules, true},
		{"meshctl's Role naming others", remoteaccess.SecretAccessRole("ns", "remote-cluster-secret-c").Rules, false},
		{"the seed's namespace-wide Role", []rbacv1.PolicyRule{rule(core, secrets, all)}, true},
		{"split over rules", []rbacv1.PolicyRule{rule(core, secrets, []string{"get"}, name), rule(core, secrets, []string{"list", "watch"})}, true},
		{"wildcards", []rbacv1.PolicyRule{rule([]string{"*"}, []string{"*"}, []string{"*"})}, true},
		{"no watch", []rbacv1.PolicyRule{rule(core, secrets, []string{"get", "list"}, name)}, false},
		{"other group", []rbacv1.PolicyRule{rule([]string{"apps"}, secrets, all, name)}, false},
		{"none", nil, false},
	} {
		if got := GrantsSecretRead(tc.rules, name); got != tc.want {
			t.Errorf("%s: GrantsSecretRead = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The kubeconfig is the seed's, and is written readable by its owner only,
// also over a wider existing file.
func TestBuildAndWriteKubeconfig(t *testing.T) {
	cfg := BuildKubeconfig("https://10.0.0.5:6443", []byte("CA"), false, "tok")
	raw, err := clientcmd.Write(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := clientcmd.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.CurrentContext != "tigera-federation-remote-cluster-ctx" || back.Clusters["tigera-federation-remote-cluster"].Server != "https://10.0.0.5:6443" ||
		string(back.Clusters["tigera-federation-remote-cluster"].CertificateAuthorityData) != "CA" || back.AuthInfos["tigera-federation-remote-cluster"].Token != "tok" {
		t.Errorf("kubeconfig:\n%s", raw)
	}
	if c := BuildKubeconfig("https://x", nil, true, "t").Clusters[seedName]; !c.InsecureSkipTLSVerify {
		t.Errorf("an insecure context must stay insecure: %+v", c)
	}
	path := filepath.Join(t.TempDir(), "kc")
	if err := os.WriteFile(path, []byte("old, longer content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(path, raw); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, raw) {
		t.Errorf("content %q", got)
	}
	if err := writePrivate(filepath.Join(t.TempDir(), "no", "dir"), raw); err == nil || !strings.Contains(err.Error(), "--file") {
		t.Errorf("writing into a missing directory: %v", err)
	}
}

func TestInstallPlugin(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "meshctl")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 { // again replaces the link
		link, err := InstallPlugin(bin, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(link); err != nil || got != bin || filepath.Base(link) != "kubectl-mesh" {
			t.Errorf("link %s -> %s, %v", link, got, err)
		}
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "kubectl-mesh"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := InstallPlugin(bin, other); err == nil || !strings.Contains(err.Error(), "not a symbolic link") {
		t.Errorf("replacing a regular file: %v", err)
	}
	if _, err := InstallPlugin(bin, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestStatusTables(t *testing.T) {
	rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"},
		Spec: v3.RemoteClusterConfigurationSpec{SyncOptions: v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled}},
		Status: v3.RemoteClusterConfigurationStatus{SyncState: v3.SyncStateInSync,
			MirroredObjects: &v3.MirroredObjectCounts{WorkloadEndpoints: 4, Nodes: 2, IPPools: 1},
			Conditions:      []metav1.Condition{{Type: v3.RemoteClusterConditionRequirementsMet, Status: metav1.ConditionFalse, Message: "vxlanPort differs"}}}}
	row := statusRow("cluster-a", rcc)
	if row.Endpoints != 4 || row.Nodes != 2 || row.Pools != 1 || row.Requirements != "False" || row.Problem != "vxlanPort differs" || row.State != "InSync" {
		t.Errorf("row %+v", row)
	}
	for _, tc := range []struct {
		ok   bool
		err  error
		want string
	}{{true, nil, "yes"}, {false, nil, "no"}, {false, errors.New("forbidden"), "unknown: forbidden"}} {
		if got := bidirectional(tc.ok, tc.err); got != tc.want {
			t.Errorf("bidirectional(%v, %v) = %q", tc.ok, tc.err, got)
		}
	}
	row.Bidirectional = "yes"
	var out bytes.Buffer
	o := &options{out: &out, output: "table"}
	if err := o.printStatus([]StatusRow{row, {Context: "cluster-b"}}); err != nil {
		t.Fatal(err)
	}
	want := "Cluster cluster-a:\n" +
		"  REMOTE CLUSTER  OVERLAY  STATE   ENDPOINTS  NODES  POOLS  REQUIREMENTS MET  BIDIRECTIONAL  PROBLEM\n" +
		"  cluster-b       Enabled  InSync  4          2      1      False             yes            vxlanPort differs\n" +
		"\nCluster cluster-b:\n  (no RemoteClusterConfigurations)\n"
	if out.String() != want {
		t.Errorf("status table:\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	o.output = "json"
	if err := o.printStatus([]StatusRow{{Context: "cluster-b"}}); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("status -o json without RCCs: %q %v", out.String(), err)
	}
}
