package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// upstreamArgsEnv carries hack/upstream-e2e.sh's arguments (one per line)
// to TestUpstreamNetworkE2E when the script brings the cluster up; unset,
// the test runs the script's default, the stable subset CI runs.
const upstreamArgsEnv = "UPSTREAM_E2E_ARGS"

// Issue 16, item 5: upstream Kubernetes' [sig-network] e2e specs, which
// nobody here wrote, against a meshapi cluster with a real node. Cluster A
// of a real-Pods mesh (its node running kube-proxy, CoreDNS and the
// meshapi agent as Pods, Pods wired by meshapi-cni, the cluster connected
// to B) is given to bin/e2e.test through hack/upstream-e2e.sh
// --kubeconfig; ginkgo's output is logged as it comes, and the test fails
// when any spec failed (the script exits with e2e.test's status).
func TestUpstreamNetworkE2E(t *testing.T) {
	for _, bin := range []string{"e2e.test", "kubectl"} {
		if _, err := os.Stat(filepath.Join(framework.RepoRoot(), "bin", bin)); err != nil {
			t.Fatalf("bin/%s is missing (hack/build-tools.sh e2e.test builds it): %v", bin, err)
		}
	}
	m := newRealPodsMesh(t, "upe")
	var args []string
	if v := strings.TrimRight(os.Getenv(upstreamArgsEnv), "\n"); v != "" {
		args = strings.Split(v, "\n")
	}
	args = append([]string{"--kubeconfig", m.a.Kubeconfig}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(framework.RepoRoot(), "hack", "upstream-e2e.sh"), args...)
	// The report (e2e.log, ginkgo's JUnit file with each skip's reason)
	// stays where REPORT_DIR says, else it goes with the test.
	reportDir := os.Getenv("REPORT_DIR")
	if reportDir == "" {
		reportDir = filepath.Join(t.TempDir(), "report")
	}
	cmd.Env = append(os.Environ(), "REPORT_DIR="+reportDir)
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("hack/upstream-e2e.sh: %v", err)
	}
	logLines(t, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hack/upstream-e2e.sh %s: %v after %s (the failed specs are summarized above)%s",
			strings.Join(args, " "), err, time.Since(start).Round(time.Second), m.na.Problems(20))
	}
	t.Logf("upstream [sig-network] specs passed in %s", time.Since(start).Round(time.Second))
}

// logLines logs each line read from r as it comes, until r ends.
func logLines(t *testing.T, r io.Reader) {
	t.Helper()
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		t.Log(s.Text())
	}
}
