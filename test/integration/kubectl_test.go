package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshapi/meshapi/test/integration/framework"
)

func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := framework.Kubectl(server.Kubeconfig, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// header returns the first line of kubectl get output with runs of spaces folded.
func header(out string) string {
	first, _, _ := strings.Cut(out, "\n")
	return strings.Join(strings.Fields(first), " ")
}

// Every projectcalico.org/v3 snippet of the seeds applies unchanged, with
// client-side and server-side apply, and reads back as written.
func TestKubectlAppliesSeeds(t *testing.T) {
	files, err := filepath.Glob("testdata/seeds/*.yaml")
	if err != nil || len(files) != 7 {
		t.Fatalf("seed files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out := kubectl(t, "", "apply", "-f", f)
			if !regexp.MustCompile(`(created|configured|unchanged)`).MatchString(out) {
				t.Errorf("kubectl apply: %s", out)
			}
			// Applying again changes nothing.
			if out := kubectl(t, "", "apply", "-f", f); !strings.Contains(out, "unchanged") && !strings.Contains(out, "configured") {
				t.Errorf("second kubectl apply: %s", out)
			}
		})
	}

	// The documentation's rule-level "ports" lands in destination.ports.
	np := kubectl(t, "", "get", "networkpolicies.projectcalico.org", "-n", "myapp", "default.app-to-db", "-o", "jsonpath={.spec.egress[0].destination.ports}|{.spec.egress[0].protocol}|{.spec.egress[0].destination.selector}")
	if np != "[5432]|TCP|app == 'postgres'" {
		t.Errorf("stored rule: %q", np)
	}

	// 000-rcc-overlay-enabled.yaml was applied last (files apply in name order).
	rcc := kubectl(t, "", "get", "remoteclusterconfiguration", "cluster-2", "-o", "yaml")
	for _, want := range []string{"overlayRoutingMode: Enabled", "name: remote-cluster-secret-name", "kind: Secret", "namespace: calico-system"} {
		if !strings.Contains(rcc, want) {
			t.Errorf("kubectl get -o yaml lacks %q:\n%s", want, rcc)
		}
	}

	// Server-side apply of the same files takes ownership without conflicts
	// from kubectl's client-side apply.
	ssa := kubectl(t, "", "apply", "--server-side", "--force-conflicts", "-f", "testdata/seeds/001-rcc-cluster-b.yaml")
	if !strings.Contains(ssa, "serverside-applied") {
		t.Errorf("kubectl apply --server-side: %s", ssa)
	}

	// Several files name the same object; the second delete finds it gone.
	out := kubectl(t, "", "delete", "--ignore-not-found", "-f", "testdata/seeds/")
	if strings.Count(out, "deleted") < 5 {
		t.Errorf("kubectl delete: %s", out)
	}
}

// kubectl get prints the columns a user wants.
func TestKubectlColumns(t *testing.T) {
	kubectl(t, "", "apply", "-f", "testdata/seeds/001-rcc-cluster-b.yaml", "-f", "testdata/seeds/000-disabled-ippool.yaml")
	defer kubectl(t, "", "delete", "--ignore-not-found", "-f", "testdata/seeds/001-rcc-cluster-b.yaml", "-f", "testdata/seeds/000-disabled-ippool.yaml")

	for _, tc := range []struct {
		args   []string
		header string
		row    *regexp.Regexp
	}{
		{[]string{"get", "remoteclusterconfigurations"}, "NAME OVERLAY STATE AGE", regexp.MustCompile(`(?m)^cluster-b\s+Enabled\s+\S+`)},
		{[]string{"get", "rcc", "-o", "wide"}, "NAME OVERLAY STATE SECRET ENDPOINTS LAST ERROR AGE", regexp.MustCompile(`(?m)^cluster-b\s+Enabled\s+calico-system/remote-cluster-secret-name\s+0\s+`)},
		{[]string{"get", "ippools"}, "NAME CIDR VXLAN IPIP NAT DISABLED AGE", regexp.MustCompile(`(?m)^cluster2-main-pool\s+198\.19\.0\.0/17\s+Never\s+Never\s+false\s+true\s+`)},
	} {
		out := kubectl(t, "", tc.args...)
		if got := header(out); got != tc.header {
			t.Errorf("kubectl %v header %q, want %q", tc.args, got, tc.header)
		}
		if !tc.row.MatchString(out) {
			t.Errorf("kubectl %v: no row matching %s:\n%s", tc.args, tc.row, out)
		}
	}
}

// kubectl explain reads the OpenAPI v3 the server publishes.
func TestKubectlExplain(t *testing.T) {
	out := kubectl(t, "", "explain", "remoteclusterconfiguration.spec.syncOptions")
	for _, want := range []string{"GROUP:      projectcalico.org", "overlayRoutingMode", "Enabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain lacks %q:\n%s", want, out)
		}
	}
	out = kubectl(t, "", "explain", "ippools.spec.cidr")
	if !strings.Contains(out, "strictly masked") {
		t.Errorf("kubectl explain ippools.spec.cidr:\n%s", out)
	}
}

// Discovery lists every resource of the group.
func TestKubectlAPIResources(t *testing.T) {
	out := kubectl(t, "", "api-resources", "--api-group=projectcalico.org", "-o", "name")
	for _, r := range []string{
		"felixconfigurations", "globalnetworkpolicies", "hostendpoints", "ipamblocks", "ippools", "networkpolicies",
		"nodes", "profiles", "remoteclusterconfigurations", "tiers", "workloadendpoints", "mirrorbatches",
	} {
		if !strings.Contains(out, r+".projectcalico.org") {
			t.Errorf("api-resources lacks %s:\n%s", r, out)
		}
	}
}

// A bad object is refused with the field and value named, and nothing is stored.
func TestKubectlRejectsWithFieldAndValue(t *testing.T) {
	bad := `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: not-masked
spec:
  cidr: 198.18.77.1/24
`
	out, err := framework.Kubectl(server.Kubeconfig, bad, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("kubectl apply of an unmasked CIDR succeeded: %s", out)
	}
	if !strings.Contains(out, `spec.cidr: Invalid value: "198.18.77.1/24"`) || !strings.Contains(out, "198.18.77.0/24") {
		t.Errorf("error does not name the field, the value and the fix:\n%s", out)
	}
	if out, err := framework.Kubectl(server.Kubeconfig, "", "get", "ippool", "not-masked"); err == nil {
		t.Errorf("rejected pool was stored: %s", out)
	}
}

// kubectl get --watch sees a change.
func TestKubectlWatch(t *testing.T) {
	path, err := framework.KubectlPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outFile := filepath.Join(dir, "watch.out")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(path, "--kubeconfig", server.Kubeconfig, "get", "tiers", "--watch", "--output-watch-events", "--request-timeout", "60s")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(time.Second)
	kubectl(t, "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: watched\nspec:\n  order: 50\n", "apply", "-f", "-")
	defer kubectl(t, "", "delete", "tier", "watched")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(outFile)
		if regexp.MustCompile(`ADDED\s+watched\s+50`).Match(b) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(outFile)
	t.Fatalf("kubectl get --watch did not see the new tier:\n%s", b)
}
