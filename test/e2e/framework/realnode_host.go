package framework

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// HostLink is a veth between the namespace the tests run in and the
// underlay's bridge, with an address of the underlay on the host's end:
// the one address through which real nodes reach their cluster's
// kube-apiserver and kube-apiserver reaches their kubelets (exec, logs).
// Only the underlay's /24 is routed through it.
type HostLink struct {
	// Name is the host's end of the veth.
	Name string
	// Addr is the host's address on the underlay.
	Addr netip.Prefix
}

// AddHost links the host to the underlay with address addr (a /24 of the
// underlay, e.g. 198.18.0.253/24). Delete removes the link.
func (u *Underlay) AddHost(addr netip.Prefix) (*HostLink, error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	h := &HostLink{Name: "mh" + hex.EncodeToString(b), Addr: addr}
	peer := "host0"
	run := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("link", "add", h.Name, "type", "veth", "peer", "name", peer, "netns", u.NS.Name); err != nil {
		return nil, err
	}
	err := errors.Join(
		u.NS.IP("link", "set", peer, "master", "br0"),
		u.NS.IP("link", "set", peer, "up"),
		run("addr", "add", addr.String(), "dev", h.Name),
		run("link", "set", h.Name, "up"),
	)
	if err != nil {
		return nil, errors.Join(err, h.Delete())
	}
	return h, nil
}

// Delete removes the link (both ends).
func (h *HostLink) Delete() error {
	if out, err := exec.Command("ip", "link", "del", h.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link del %s: %w\n%s", h.Name, err, out)
	}
	return nil
}

// cgroupV1Root is where this machine mounts its cgroup v1 hierarchies.
const cgroupV1Root = "/sys/fs/cgroup"

// cgroupHierarchies lists the mounted cgroup hierarchies (v1 controllers,
// the named systemd one, and the unified one of a hybrid host), as
// directories under cgroupV1Root; symbolic links (cpu -> cpu,cpuacct)
// are skipped.
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupV1Root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", cgroupV1Root, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Type()&os.ModeSymlink == 0 {
			out = append(out, filepath.Join(cgroupV1Root, e.Name()))
		}
	}
	return out, nil
}

// makeCgroup creates the cgroup path (relative, e.g. "meshapi-e2e-a1" or
// "meshapi-e2e-a1/runtime") in every hierarchy, giving the cpuset one its
// parent's cpus and mems (a v1 cpuset starts empty and takes no task).
func makeCgroup(path string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		dir := filepath.Join(h, path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		if filepath.Base(h) != "cpuset" {
			continue
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
			if err != nil {
				return fmt.Errorf("reading the parent's %s of %s: %w", f, dir, err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
				return fmt.Errorf("writing %s of %s: %w", f, dir, err)
			}
		}
	}
	return nil
}

// joinCgroup moves process pid into the cgroup path of every v1
// hierarchy (not the unified one, which a hybrid host leaves to systemd).
func joinCgroup(path string, pid int) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		if filepath.Base(h) == "unified" {
			continue
		}
		f := filepath.Join(h, path, "cgroup.procs")
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("moving pid %d into %s: %w", pid, f, err)
		}
	}
	return nil
}

// cgroupPids lists the processes in the cgroup path and its descendants,
// from the pids hierarchy.
func cgroupPids(path string) ([]int, error) {
	var pids []int
	root := filepath.Join(cgroupV1Root, "pids", path)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // removed meanwhile
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids, err
}

// killCgroup SIGKILLs every process in the cgroup path and its
// descendants until none is left (or timeout).
func killCgroup(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids, err := cgroupPids(path)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in cgroup %s after %s", pids, path, timeout)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroup removes the cgroup path and its descendants from every
// hierarchy, deepest first.
func removeCgroup(path string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, path), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !os.IsNotExist(err) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// unmountUnder unmounts every mount point at or below dir (the mounts a
// kubelet and containerd made under their roots: volumes, rootfs
// overlays, network namespaces, shm), deepest first, lazily.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading /proc/self/mountinfo: %w", err)
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// kubeletSysctls are the host-wide sysctls a kubelet sets at start
// (protectKernelDefaults false: its setupKernelTunables) and never
// restores.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// saveSysctls reads keys (paths under /proc/sys) and returns a function
// that writes the saved values back.
func saveSysctls(keys []string) (restore func() error, err error) {
	saved := map[string][]byte{}
	for _, k := range keys {
		v, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return nil, fmt.Errorf("reading sysctl %s: %w", k, err)
		}
		saved[k] = v
	}
	return func() error {
		var errs []error
		for _, k := range keys {
			if err := os.WriteFile(filepath.Join("/proc/sys", k), saved[k], 0o644); err != nil {
				errs = append(errs, fmt.Errorf("restoring sysctl %s=%s: %w", k, strings.TrimSpace(string(saved[k])), err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// removeShimSockets removes the sockets of the shims of containerd's
// tasks under state (each task's bundle names its shim's socket in its
// "address" file; containerd puts them under /run/containerd/s whatever
// its state directory, and a killed shim leaves its socket behind).
func removeShimSockets(state string) error {
	addrs, err := filepath.Glob(filepath.Join(state, "io.containerd.runtime.v2.task", "*", "*", "address"))
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range addrs {
		b, err := os.ReadFile(a)
		if err != nil {
			continue
		}
		sock := strings.TrimPrefix(strings.TrimSpace(string(b)), "unix://")
		if !strings.HasPrefix(sock, "/run/containerd/s/") {
			continue
		}
		if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("removing shim socket %s: %w", sock, err))
		}
	}
	return errors.Join(errs...)
}

// containerLogDir is where every kubelet links its containers' logs
// (hardcoded in the kubelet).
const containerLogDir = "/var/log/containers"

// removeContainerLogLinks removes the links in containerLogDir that point
// into podLogs (a kubelet's podLogsDir).
func removeContainerLogLinks(podLogs string) error {
	entries, err := os.ReadDir(containerLogDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(containerLogDir, e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, podLogs+"/") {
			if err := os.Remove(p); err != nil {
				errs = append(errs, fmt.Errorf("removing log link %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}
