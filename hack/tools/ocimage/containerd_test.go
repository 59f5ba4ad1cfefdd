package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImageRunsInContainerd writes an image with ocimage, imports it into a
// real containerd (bin/containerd, built by hack/build-tools.sh) with ctr
// as the end-to-end framework does, and runs it with runc: the dynamic
// shell copied by --binary starts with its libraries and reads a --file.
// The container gets its own network namespace; nothing on the host
// changes. It needs root, bin/containerd, bin/ctr,
// bin/containerd-shim-runc-v2 and runc, and says which is missing.
func TestImageRunsInContainerd(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "..", "..", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	for _, b := range []string{"containerd", "ctr", "containerd-shim-runc-v2"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Skipf("needs bin/%s (hack/build-tools.sh containerd): %v", b, err)
		}
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("needs runc (apt-get install runc)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	socket := startContainerd(ctx, t, bin, dir)

	writeFile(t, filepath.Join(dir, "msg"), "hello from ocimage\n", 0o644)
	tarPath := filepath.Join(dir, "image.tar")
	const tag = "ghcr.io/meshapi/ocimage-test:latest"
	args := []string{"--out", tarPath, "--tag", tag,
		"--binary", "/bin/sh:/bin/sh", "--binary", "/bin/cat:/bin/cat",
		"--file", filepath.Join(dir, "msg") + ":/etc/msg", "--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd", "cat /etc/msg"}
	if err := run(ctx, args, io.Discard); err != nil {
		t.Fatalf("ocimage: %v", err)
	}
	ctr := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "ctr"), append([]string{"--address", socket, "-n", "ocimage-test"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ctr("images", "import", tarPath)
	if got := ctr("images", "ls", "-q"); !strings.Contains(got, tag) {
		t.Fatalf("ctr images ls -q = %q, want %s among them", got, tag)
	}
	out := ctr("run", "--rm", tag, "ocimage-test")
	if !strings.Contains(out, "hello from ocimage") {
		t.Errorf("the container printed %q, want the content of --file", out)
	}
}

// startContainerd starts bin/containerd with its root, state and socket in
// dir, stops it when the test ends, and returns its socket.
func startContainerd(ctx context.Context, t *testing.T, bin, dir string) string {
	t.Helper()
	socket := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf(`version = 3
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins.'io.containerd.nri.v1.nri']
  disable = true
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), socket, socket+".ttrpc")
	writeFile(t, filepath.Join(dir, "config.toml"), config, 0o644)
	var logs bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "containerd"), "--config", filepath.Join(dir, "config.toml"))
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("containerd logs:\n%s", logs.String())
		}
	})
	for {
		if _, err := os.Stat(socket); err == nil {
			return socket
		}
		select {
		case <-ctx.Done():
			t.Fatalf("containerd did not create %s: %v", socket, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
