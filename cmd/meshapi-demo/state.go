package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// netnsDir is where `ip netns` keeps named network namespaces.
const netnsDir = "/run/netns"

// state is what a run has created, saved to its file after every change,
// so that the next run can remove what an interrupted one left.
type state struct {
	path string
	mu   sync.Mutex

	// PID is the demo process that owns the state.
	PID int `json:"pid"`
	// Netns are the network namespaces it created, by name.
	Netns []string `json:"netns"`
	// PIDs are the processes it started (each the leader of its own
	// process group), recorded once they run.
	PIDs []int `json:"pids"`
	// Dirs are the directories and files it created and removes.
	Dirs []string `json:"dirs"`
}

// statePath is the state file of the demo directory dir.
func statePath(dir string) string { return filepath.Join(dir, "state.json") }

// loadState reads the state file at path; a missing file is an empty state.
func loadState(path string) (*state, error) {
	st := &state{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state file %s: %w", path, err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("parsing the state file %s: %w", path, err)
	}
	return st, nil
}

// save writes the state file; the caller holds mu.
func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the state: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing the state file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("writing the state file %s: %w", s.path, err)
	}
	return nil
}

// addNetns records a network namespace.
func (s *state) addNetns(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Netns = append(s.Netns, name)
	return s.save()
}

// addDir records a directory or file to remove.
func (s *state) addDir(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.Dirs, path) {
		s.Dirs = append(s.Dirs, path)
	}
	return s.save()
}

// recordChildren records the running children of this process whose
// command line mentions mark (the demo's run directory: every process the
// framework starts has a file of it among its flags).
func (s *state) recordChildren(mark string) error {
	pids, err := childrenOf(os.Getpid(), mark)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pid := range pids {
		if !slices.Contains(s.PIDs, pid) {
			s.PIDs = append(s.PIDs, pid)
		}
	}
	return s.save()
}

// childrenOf lists the processes whose parent is ppid and whose command
// line contains mark.
func childrenOf(ppid int, mark string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		if parentOf(string(stat)) == ppid && strings.Contains(cmdline(pid), mark) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// parentOf returns the parent pid field of a /proc/<pid>/stat line, or -1.
// The command name (field 2) is in parentheses and may hold spaces.
func parentOf(stat string) int {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return -1
	}
	return ppid
}

// cmdline returns a process's command line with spaces between the
// arguments, or "" if it is gone.
func cmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// takeOver makes dir the demo's directory for this process: it refuses if
// another demo runs from it, removes what an interrupted run left (its
// processes, its network namespaces and any other of the demo's prefix,
// its directories), and starts a fresh state file.
func takeOver(dir string, out io.Writer) (*state, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the demo directory %s: %w", dir, err)
	}
	prev, err := loadState(statePath(dir))
	if err != nil {
		return nil, err
	}
	if prev.PID != 0 && prev.PID != os.Getpid() && strings.Contains(cmdline(prev.PID), "meshapi-demo") {
		return nil, fmt.Errorf("another meshapi-demo (pid %d) runs from %s: stop it first (Ctrl-C in its terminal, or kill %d)", prev.PID, dir, prev.PID)
	}
	if err := removeLeftovers(prev, dir, netnsPrefix, out); err != nil {
		return nil, err
	}
	st := &state{path: statePath(dir), PID: os.Getpid()}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st, st.save()
}

// removeLeftovers removes what the state prev of the demo directory dir
// recorded, and every network namespace whose name starts with prefix,
// saying what it found.
func removeLeftovers(prev *state, dir, prefix string, out io.Writer) error {
	names, err := netnsWithPrefix(prefix)
	if err != nil {
		return err
	}
	for _, n := range prev.Netns {
		if !slices.Contains(names, n) && exists(filepath.Join(netnsDir, n)) {
			names = append(names, n)
		}
	}
	var pids []int
	for _, pid := range prev.PIDs {
		// Only a process that still names the demo's directory: the pid
		// may belong to another program by now.
		if strings.Contains(cmdline(pid), dir) {
			pids = append(pids, pid)
		}
	}
	var dirs []string
	for _, d := range prev.Dirs {
		if strings.HasPrefix(d, dir+string(filepath.Separator)) && exists(d) {
			dirs = append(dirs, d)
		}
	}
	if len(names)+len(pids)+len(dirs) == 0 {
		return nil
	}
	start := time.Now()
	fmt.Fprintf(out, "cleaning up after an earlier run (pid %d): %d processes, %d network namespaces, %d directories\n", prev.PID, len(pids), len(names), len(dirs))
	errs := []error{killGroups(pids)}
	for _, n := range names {
		errs = append(errs, deleteNetns(n))
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning up after the earlier run: %w", err)
	}
	fmt.Fprintf(out, "cleaned up in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// netnsWithPrefix lists the named network namespaces whose name starts
// with prefix.
func netnsWithPrefix(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", netnsDir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// deleteNetns deletes a named network namespace.
func deleteNetns(name string) error {
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// killGroups kills each process and its process group with SIGKILL and
// waits up to ten seconds for them to end.
func killGroups(pids []int) error {
	for _, pid := range pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for exists(filepath.Join("/proc", strconv.Itoa(pid))) && !zombie(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d (%s) survived SIGKILL", pid, cmdline(pid))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// zombie reports whether pid has ended and waits only for its parent.
func zombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// finish removes the state file once everything recorded is gone.
func (s *state) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the state file %s: %w", s.path, err)
	}
	return nil
}
