package e2e

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// demoNetnsPrefix starts the names of the demo's network namespaces.
const demoNetnsPrefix = "mdemo-"

// demoRun is a running meshapi-demo whose standard output the test reads
// line by line.
type demoRun struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // how it exited, once done is closed

	mu  sync.Mutex
	out strings.Builder // everything it printed so far, for failures
}

// startDemo runs the demo binary bin from the directory wd, as `make run`
// runs it from the checkout. Cleanup interrupts it if it still runs.
func startDemo(t *testing.T, bin, wd string) *demoRun {
	t.Helper()
	d := &demoRun{cmd: exec.Command(bin), lines: make(chan string, 1000), done: make(chan struct{})}
	d.cmd.Dir = wd
	d.cmd.Stderr = os.Stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.mu.Lock()
			d.out.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			d.lines <- sc.Text()
		}
		close(d.lines)
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Signal(syscall.SIGINT)
			<-d.done
		}
	})
	return d
}

// output is everything the demo printed so far.
func (d *demoRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// readUntil reads lines until one contains want and returns them all.
func (d *demoRun) readUntil(t *testing.T, want string, timeout time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				<-d.done
				t.Fatalf("the demo ended before printing %q: %v\n%s", want, d.err, d.output())
			}
			got = append(got, line)
			if strings.Contains(line, want) {
				return got
			}
		case <-deadline:
			t.Fatalf("the demo did not print %q within %s:\n%s", want, timeout, d.output())
		}
	}
}

// waitExit waits for the demo to end and fails the test unless it exited 0.
func (d *demoRun) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	go func() {
		for range d.lines {
		}
	}()
	select {
	case <-d.done:
	case <-time.After(timeout):
		t.Fatalf("the demo did not end within %s of SIGINT:\n%s", timeout, d.output())
	}
	if d.err != nil {
		t.Fatalf("the demo exited with %v:\n%s", d.err, d.output())
	}
}

// bannerValue returns what follows "key:" on a banner line.
func bannerValue(lines []string, key string) string {
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), key+":"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// bannerIPs reads "<pod> <address>" pairs from the banner's bookinfo line
// ("productpage-v1 198.18.10.2 and reviews-v1 ... in cluster-a; ...").
func bannerIPs(line string) map[string]string {
	ips := map[string]string{}
	words := strings.Fields(strings.NewReplacer(";", " ", ",", " ").Replace(line))
	for i := 0; i+1 < len(words); i++ {
		if ip, err := netip.ParseAddr(words[i+1]); err == nil {
			ips[words[i]] = ip.String()
		}
	}
	return ips
}

// demoCommands returns the banner's commands (the lines "  $ <command>").
func demoCommands(lines []string) []string {
	var out []string
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "  $ "); ok {
			out = append(out, c)
		}
	}
	return out
}

// demoLeftovers returns the demo's network namespaces and the processes
// whose command line names dir.
func demoLeftovers(t *testing.T, dir string) (netns []string, procs []string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, demoNetnsPrefix) {
			netns = append(netns, strings.Fields(line)[0])
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			procs = append(procs, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return netns, procs
}

// rootRoutes returns `ip route show proto 82` of the test's namespace.
func rootRoutes(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "route", "show", "proto", "82").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route show proto 82: %v: %s", err, out)
	}
	return string(out)
}

// checkDemoCommand runs one of the banner's commands as printed, from wd,
// and checks its output; ips are the pods' addresses the banner lists.
func checkDemoCommand(t *testing.T, wd, command string, ips map[string]string) {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t), "sh", "-c", command)
	cmd.Dir = wd
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Errorf("%s: %v\n%s", command, err, out)
		return
	}
	t.Logf("$ %s\n%s", command, out)
	var wants []string
	switch {
	case strings.HasSuffix(command, "get rcc"):
		wants = []string{"cluster-b", "Enabled", "InSync"}
	case strings.HasSuffix(command, " status"):
		wants = []string{"Cluster cluster-a:", "Cluster cluster-b:", "InSync"}
		if n := strings.Count(out, "InSync"); n != 2 {
			t.Errorf("%s: %d RCCs InSync, want 2", command, n)
		}
	case strings.HasSuffix(command, `eval "all()"`):
		// Local endpoints of A and the mirrors of B's, prefixed.
		wants = []string{"demo-a1/k8s/bookinfo.productpage-v1/eth0", "demo-a2/k8s/bookinfo.reviews-v1/eth0", "demo-a2/k8s/myapp.backend-app/eth0",
			"cluster-b/demo-b1/k8s/bookinfo.reviews-v2/eth0", "cluster-b/demo-b2/k8s/bookinfo.reviews-v3/eth0", "cluster-b/demo-b1/k8s/myapp.postgres/eth0"}
	case strings.HasSuffix(command, "get endpoints reviews -n bookinfo"):
		// reviews-v1 of A and reviews-v2, -v3 of B.
		wants = []string{ips["reviews-v1"] + ":9080", ips["reviews-v2"] + ":9080", ips["reviews-v3"] + ":9080"}
	case strings.HasPrefix(command, "ip netns exec "+demoNetnsPrefix) && strings.HasSuffix(command, " ping -c 3 "+ips["reviews-v2"]):
		wants = []string{"3 packets transmitted, 3 received, 0% packet loss"}
	default:
		t.Errorf("the banner offers a command the test does not know: %s", command)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", command, w, out)
		}
	}
}

// checkDemoBanner checks the banner's kubeconfig (mode 0600) and runs each
// of its commands as printed.
func checkDemoBanner(t *testing.T, wd string, banner []string) {
	t.Helper()
	kubeconfig := strings.Fields(bannerValue(banner, "kubeconfig"))
	if len(kubeconfig) == 0 {
		t.Fatalf("no kubeconfig in the banner:\n%s", strings.Join(banner, "\n"))
	}
	if fi, err := os.Stat(filepath.Join(wd, kubeconfig[0])); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig %s: %v %v, want mode 0600", kubeconfig[0], fi, err)
	}
	commands := demoCommands(banner)
	if len(commands) != 5 {
		t.Fatalf("the banner offers %d commands, want 5:\n%s", len(commands), strings.Join(banner, "\n"))
	}
	ips := bannerIPs(bannerValue(banner, "bookinfo"))
	for _, name := range []string{"productpage-v1", "reviews-v1", "reviews-v2", "reviews-v3"} {
		if _, ok := ips[name]; !ok {
			t.Fatalf("the banner lacks the address of %s:\n%s", name, strings.Join(banner, "\n"))
		}
	}
	for _, c := range commands {
		checkDemoCommand(t, wd, c, ips)
	}
}

// `make run`: the demo brings up two connected clusters with pods, prints
// commands that work as printed, leaves nothing behind after SIGINT, and
// a run after a killed one removes what that one left first.
func TestMakeRunDemo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the demo's nodes are network namespaces: needs root")
	}
	wd := t.TempDir()
	routesBefore := rootRoutes(t)
	if netns, procs := demoLeftovers(t, wd); len(netns)+len(procs) > 0 {
		t.Fatalf("a demo already runs here: %v %v", netns, procs)
	}
	build := exec.Command("go", "build", "-o", wd+"/bin/", "./cmd/meshapi-demo")
	build.Dir = framework.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building meshapi-demo: %v\n%s", err, out)
	}
	bin := filepath.Join(wd, "bin", "meshapi-demo")

	// The first run, killed with SIGKILL once ready: it cannot clean up.
	first := startDemo(t, bin, wd)
	first.readUntil(t, "Ctrl-C stops the demo", 10*time.Minute)
	_ = first.cmd.Process.Kill()
	<-first.done
	if netns, _ := demoLeftovers(t, wd); len(netns) == 0 {
		t.Errorf("the killed run left no network namespace: the restart below proves nothing")
	}

	// The second run cleans up after it, then comes up.
	second := startDemo(t, bin, wd)
	banner := second.readUntil(t, "Ctrl-C stops the demo", 10*time.Minute)
	if out := strings.Join(banner, "\n"); !strings.Contains(out, "cleaning up after an earlier run") {
		t.Errorf("the second run did not clean up after the first:\n%s", out)
	}
	for i, want := range []string{"[1/6]", "[6/6]", "done in "} {
		if !strings.Contains(strings.Join(banner, "\n"), want) {
			t.Errorf("progress %d: no %q in:\n%s", i, want, strings.Join(banner, "\n"))
		}
	}
	checkDemoBanner(t, wd, banner)

	// Ctrl-C: nothing left behind.
	if err := second.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	second.waitExit(t, 3*time.Minute)
	t.Logf("the second run printed:\n%s", second.output())
	if out := second.output(); !strings.Contains(out, "nothing left behind") {
		t.Errorf("the demo did not say it cleaned up:\n%s", out)
	}
	netns, procs := demoLeftovers(t, wd)
	if len(netns)+len(procs) > 0 {
		t.Errorf("left behind: network namespaces %v, processes %v", netns, procs)
	}
	if after := rootRoutes(t); after != routesBefore {
		t.Errorf("ip route show proto 82 in the root namespace changed:\nbefore:\n%s\nafter:\n%s", routesBefore, after)
	}
	entries, err := os.ReadDir(filepath.Join(wd, "meshapi-demo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "bin" {
			t.Errorf("left behind in meshapi-demo/: %s", e.Name())
		}
	}
}
