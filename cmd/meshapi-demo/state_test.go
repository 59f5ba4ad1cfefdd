package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParentOf(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int
	}{
		{"1234 (meshapi-agent) S 77 1234 1234 0 -1", 77},
		{"99 (a (weird) name) R 5 99 99 0 -1", 5},
		{"99 (no-fields)", -1},
		{"garbage", -1},
		{"12 (x) S notanumber 1", -1},
	} {
		if got := parentOf(tc.stat); got != tc.want {
			t.Errorf("parentOf(%q) = %d, want %d", tc.stat, got, tc.want)
		}
	}
}

func TestDisplay(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(wd, "meshapi-demo", "kubeconfig"), "meshapi-demo/kubeconfig"},
		{filepath.Join(wd, "kubeconfig"), "./kubeconfig"},
		{"/elsewhere/kubeconfig", "/elsewhere/kubeconfig"},
		{filepath.Dir(wd), filepath.Dir(wd)},
	} {
		if got := display(tc.path); got != tc.want {
			t.Errorf("display(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		wantPID       int
		wantErr       string
	}{
		{name: "missing", wantPID: 0},
		{name: "valid", content: `{"pid": 42, "netns": ["meshdemo-u-1"], "pids": [7], "dirs": ["/x/run"]}`, wantPID: 42},
		{name: "corrupt", content: `{"pid":`, wantErr: "parsing the state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			st, err := loadState(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("loadState: %v, want an error naming %s with %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil || st.PID != tc.wantPID {
				t.Fatalf("loadState: %+v, %v; want pid %d", st, err, tc.wantPID)
			}
		})
	}
}

// startMarked starts a process whose command line contains mark, in a
// process group of its own, and stops it at cleanup.
func startMarked(t *testing.T, mark string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 600; : "+mark)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	// Start returns once execve has replaced the child's memory, but the
	// kernel sets up the new argument area a moment later: until then
	// /proc/<pid>/cmdline is empty (CI saw it, stop 30).
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(cmdline(cmd.Process.Pid), mark); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d's command line %q never showed %q", cmd.Process.Pid, cmdline(cmd.Process.Pid), mark)
		}
	}
	return cmd
}

func TestRecordChildren(t *testing.T) {
	dir := t.TempDir()
	marked := startMarked(t, dir)
	other := startMarked(t, filepath.Join(t.TempDir(), "elsewhere"))
	st := &state{path: filepath.Join(dir, "state.json"), PID: os.Getpid()}
	if err := st.recordChildren(dir); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.PIDs, marked.Process.Pid) || slices.Contains(st.PIDs, other.Process.Pid) {
		t.Errorf("recorded %v; want %d and not %d", st.PIDs, marked.Process.Pid, other.Process.Pid)
	}
	saved, err := loadState(st.path)
	if err != nil || !slices.Equal(saved.PIDs, st.PIDs) {
		t.Errorf("saved state %+v, %v; want pids %v", saved, err, st.PIDs)
	}
}

// An interrupted run's processes, network namespaces (recorded or only
// of the prefix) and directories are removed; a process that no longer
// names the directory is left alone.
func TestRemoveLeftovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	dir := t.TempDir()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "meshdemo-unit-" + hex.EncodeToString(b) + "-"
	var names []string
	for _, n := range []string{"recorded", "unrecorded"} {
		name := prefix + n
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
		names = append(names, name)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(filepath.Join(run, "cluster-a"), 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := startMarked(t, dir)
	bystander := startMarked(t, filepath.Join(t.TempDir(), "not-the-demo"))
	prev := &state{PID: 1, Netns: names[:1], PIDs: []int{leftover.Process.Pid, bystander.Process.Pid},
		Dirs: []string{run, "/outside/the/demo/dir"}}
	var out bytes.Buffer
	if err := removeLeftovers(prev, dir, prefix, &out); err != nil {
		t.Fatal(err)
	}
	if want := "1 processes, 2 network namespaces, 1 directories"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out.String(), want)
	}
	for _, n := range names {
		if exists(filepath.Join(netnsDir, n)) {
			t.Errorf("network namespace %s is still there", n)
		}
	}
	if exists(run) {
		t.Errorf("%s is still there", run)
	}
	if !zombie(leftover.Process.Pid) && exists(filepath.Join("/proc", strconv.Itoa(leftover.Process.Pid))) {
		t.Errorf("the leftover process %d still runs", leftover.Process.Pid)
	}
	if zombie(bystander.Process.Pid) {
		t.Errorf("the bystander process %d was killed", bystander.Process.Pid)
	}
	out.Reset()
	if err := removeLeftovers(prev, dir, prefix, &out); err != nil || out.Len() != 0 {
		t.Errorf("second pass: %v, %q; want nothing to do", err, out.String())
	}
}
