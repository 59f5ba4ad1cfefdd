package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/client-go/rest"
)

// RepoRoot is the root of the meshapi checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// ArtifactsDir is the manifests directory users apply.
func ArtifactsDir() string { return filepath.Join(RepoRoot(), "artifacts") }

// EtcdEnv names the environment variable that, when set, is the etcd
// binary clusters with a multi-member meshapi etcd run instead of
// bin/etcd.
const EtcdEnv = "ETCD"

// FindBinaries locates the upstream binaries in bin/ (hack/build-tools.sh)
// and builds meshapi-apiserver and meshapi-controller into dir. bin/etcd
// (or $ETCD) is looked for only when a cluster needs it.
func FindBinaries(ctx context.Context, dir string) (Binaries, error) {
	bin := filepath.Join(RepoRoot(), "bin")
	etcd := os.Getenv(EtcdEnv)
	if etcd == "" {
		etcd = filepath.Join(bin, "etcd")
	}
	b := Binaries{
		Etcd:                  etcd,
		KubeAPIServer:         filepath.Join(bin, "kube-apiserver"),
		KubeControllerManager: filepath.Join(bin, "kube-controller-manager"),
		Kubectl:               filepath.Join(bin, "kubectl"),
		MeshapiAPIServer:      filepath.Join(dir, "meshapi-apiserver"),
		MeshapiController:     filepath.Join(dir, "meshapi-controller"),
	}
	for _, p := range []string{b.KubeAPIServer, b.KubeControllerManager, b.Kubectl} {
		if _, err := os.Stat(p); err != nil {
			return b, fmt.Errorf("%s is missing: run hack/build-tools.sh (make tools): %w", p, err)
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/meshapi-apiserver", "./cmd/meshapi-controller")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("building meshapi's binaries: %w\n%s", err, out)
	}
	return b, nil
}

// Kubectl runs the real kubectl as the cluster's administrator, with stdin
// if it is not empty, and returns its standard output.
func (c *Cluster) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return c.KubectlAs(ctx, c.Kubeconfig, stdin, args...)
}

// KubectlAs runs the real kubectl with the given kubeconfig.
func (c *Cluster) KubectlAs(ctx context.Context, kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bins.Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// KubectlCommand returns a kubectl command as the cluster's administrator,
// for tests that run kubectl in the background (get --watch).
func (c *Cluster) KubectlCommand(args ...string) *exec.Cmd {
	return exec.Command(c.bins.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
}

// ServiceAccountConfig returns a client configuration that authenticates
// as the service account namespace/name with a real token from the
// TokenRequest API.
func (c *Cluster) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	token, err := c.Kubectl(ctx, "", "create", "token", name, "-n", namespace, "--duration=1h")
	if err != nil {
		return nil, err
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = strings.TrimSpace(token)
	return cfg, nil
}
