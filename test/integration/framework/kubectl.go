package framework

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// KubectlPath returns the kubectl that hack/build-tools.sh built from
// k8s.io/kubernetes (bin/kubectl at the repository root), or $KUBECTL.
// Tests use the real kubectl at the version meshapi is built against, not
// whatever kubectl the machine has.
func KubectlPath() (string, error) {
	if p := os.Getenv("KUBECTL"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "kubectl")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("kubectl not found at %s (run hack/build-tools.sh, or set KUBECTL): %w", p, err)
	}
	return filepath.Abs(p)
}

// Kubectl runs kubectl with the given kubeconfig and returns its combined output.
func Kubectl(kubeconfig string, stdin string, args ...string) (string, error) {
	path, err := KubectlPath()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(path, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %v: %w\n%s", args, err, out)
	}
	return string(out), nil
}
