// Package benchserver runs standalone meshapi-apiservers as child
// processes, each on its own embedded etcd, for the benchmarks under
// test/bench: a real server, as users run it with `make run-api`, on a free
// loopback port, killed with the benchmark if that dies first.
package benchserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/testport"
)

const (
	// StandaloneUser is the user of the standalone token. The servers make
	// it a mirror writer, so that a remote cluster controller using their
	// credentials may write mirrors.
	StandaloneUser = "meshapi-admin"
	// clientQPS and clientBurst lift client-go's rate limiter out of the
	// way of the benchmarks' own clients, which create and update objects.
	clientQPS   = 5000
	clientBurst = 10000
	// startTimeout bounds the start of one API server.
	startTimeout = 3 * time.Minute
	// stopGrace is how long a stopping server may take before it is
	// killed.
	stopGrace = 30 * time.Second
)

// RepoRoot is the root of the meshapi checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Build builds meshapi-apiserver from this checkout into dir and returns
// the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "meshapi-apiserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meshapi-apiserver")
	build.Dir = RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building meshapi-apiserver: %w\n%s", err, out)
	}
	return bin, nil
}

// Server is one standalone meshapi-apiserver child process on its own
// embedded etcd.
type Server struct {
	// Name names the server in errors and its log file.
	Name string
	// Config reaches the server as StandaloneUser, with a rate limit high
	// enough not to bound a benchmark.
	Config *rest.Config
	// Client is a clientset on Config.
	Client versioned.Interface
	// URL, Token and CAFile are what a RemoteClusterConfiguration needs
	// to reach the server inline.
	URL, Token, CAFile string
	// Kubeconfig is the file the server wrote with StandaloneUser's
	// credentials.
	Kubeconfig string

	dataDir   string
	logFile   string
	bin       string
	port      int
	userAgent string
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
}

// Start starts a standalone meshapi-apiserver from bin with its data under
// dir and waits until it is ready; userAgent names the clients of Config.
// A port taken between choosing and binding it is retried.
func Start(ctx context.Context, bin, dir, name, userAgent string) (*Server, error) {
	var lastErr error
	for attempt := range 3 {
		s, err := tryStart(ctx, bin, filepath.Join(dir, fmt.Sprintf("%s-%d", name, attempt)), name, userAgent)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func tryStart(ctx context.Context, bin, dir, name, userAgent string) (*Server, error) {
	port, err := testport.Free()
	if err != nil {
		return nil, err
	}
	s := &Server{Name: name, dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, name+".log"),
		bin: bin, port: port, userAgent: userAgent}
	s.Kubeconfig = filepath.Join(s.dataDir, "kubeconfig")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := s.launch(os.O_CREATE | os.O_WRONLY | os.O_TRUNC); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, userAgent); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%s did not become ready: %w\n%s", name, err, s.Tail(30))
	}
	return s, nil
}

// launch starts the server's process on s.port with its data in
// s.dataDir, its output going to s.logFile opened with flag.
func (s *Server) launch(flag int) error {
	f, err := os.OpenFile(s.logFile, flag, 0o600)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(s.bin, "--standalone", "--data-dir", s.dataDir, "--secure-port", strconv.Itoa(s.port),
		"--kubeconfig-out", s.Kubeconfig, "--mirror-writers="+StandaloneUser,
		// The benchmarks' RemoteClusterConfigurations reach the other
		// standalone server by k8sAPIEndpoint, token and CA file.
		"--allow-inline-remote-credentials")
	s.cmd.Stdout, s.cmd.Stderr = f, f
	// Its own process group, so that stopping it never signals the
	// benchmark; killed with the benchmark if that dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", s.Name, err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() {
		err := cmd.Wait()
		f.Close()
		s.err = err
		close(done)
	}()
	return nil
}

// waitReady waits for the kubeconfig the server writes, then for /readyz.
func (s *Server) waitReady(ctx context.Context, userAgent string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("exited: %v", s.err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), lastErr)
		case <-tick.C:
		}
		if s.Config == nil {
			if _, err := os.Stat(s.Kubeconfig); err != nil {
				lastErr = err
				continue
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
			if err != nil {
				lastErr = err
				continue
			}
			cfg.QPS, cfg.Burst = clientQPS, clientBurst
			cfg.UserAgent = userAgent
			client, err := versioned.NewForConfig(cfg)
			if err != nil {
				return err
			}
			s.Config, s.Client = cfg, client
			s.URL, s.Token = cfg.Host, cfg.BearerToken
			s.CAFile = filepath.Join(s.dataDir, "certificates", "apiserver.crt")
			if _, err := os.Stat(s.CAFile); err != nil {
				return fmt.Errorf("the serving certificate: %w", err)
			}
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		body, err := s.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		rcancel()
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		lastErr = fmt.Errorf("/readyz: %v %s", err, body)
	}
}

// Stop sends SIGTERM to the server's process group, waits up to 30 s,
// then kills it. A nil Server is stopped already.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	var exitErr *exec.ExitError
	if s.err != nil && !errors.As(s.err, &exitErr) {
		return fmt.Errorf("waiting for %s: %w", s.Name, s.err)
	}
	return nil
}

// Tail returns the last n lines of the server's log.
func (s *Server) Tail(n int) string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- last %d lines of %s ---\n%s", len(lines), s.logFile, strings.Join(lines, "\n"))
}

// Pair is two servers, "cluster-a" (A, the local cluster) and
// "cluster-b" (B, the remote one), started on first use and shared by the
// benchmarks of one test binary; its TestMain calls Stop.
type Pair struct {
	// A is the local cluster, B the remote one.
	A, B *Server

	once      sync.Once
	err       error
	dir       string
	prefix    string
	userAgent string
}

// NewPair returns a Pair whose data goes into a temporary directory named
// after prefix and whose clients identify as userAgent.
func NewPair(prefix, userAgent string) *Pair {
	return &Pair{prefix: prefix, userAgent: userAgent}
}

// Start builds meshapi-apiserver and starts A and B the first time it is
// called; later calls return the first one's result.
func (p *Pair) Start() error {
	p.once.Do(func() { p.err = p.start() })
	return p.err
}

func (p *Pair) start() error {
	dir, err := os.MkdirTemp("", p.prefix)
	if err != nil {
		return err
	}
	p.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := Build(ctx, dir)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { p.A, errA = Start(ctx, bin, dir, "cluster-a", p.userAgent) })
	wg.Go(func() { p.B, errB = Start(ctx, bin, dir, "cluster-b", p.userAgent) })
	wg.Wait()
	return errors.Join(errA, errB)
}

// Stop stops both servers, if they were started, and removes their data.
func (p *Pair) Stop() error {
	err := errors.Join(p.A.Stop(), p.B.Stop())
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
	return err
}

// Port is the loopback port the server listens on; a Restart keeps it.
func (s *Server) Port() int { return s.port }

// Kill sends SIGKILL to the server's process group, as a crash or an
// OOM kill would end it, and waits for the process to exit.
func (s *Server) Kill() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s (pid %d): %w", s.Name, s.cmd.Process.Pid, err)
	}
	<-s.done
	return nil
}

// Restart starts a server that has exited (after Kill or Stop) again from
// the same binary, on the same port, with the same data, token and
// certificates, and waits until it is ready; its log is appended to.
func (s *Server) Restart(ctx context.Context) error {
	select {
	case <-s.done:
	default:
		return fmt.Errorf("restarting %s: it is still running", s.Name)
	}
	if err := s.launch(os.O_CREATE | os.O_WRONLY | os.O_APPEND); err != nil {
		return err
	}
	if err := s.waitReady(ctx, s.userAgent); err != nil {
		_ = s.Stop()
		return fmt.Errorf("%s did not become ready again: %w\n%s", s.Name, err, s.Tail(30))
	}
	return nil
}

// RSS returns the resident set size (VmRSS) of the server's process in
// bytes, 0 if it is not running or unknown.
func (s *Server) RSS() uint64 {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// Fleet is a number of servers named <prefix>-000, <prefix>-001, ...,
// each on its own embedded etcd and port, with their data under one
// temporary directory; unlike a Pair, its user starts and stops it.
type Fleet struct {
	// Servers are the servers, in the order of their names.
	Servers []*Server

	dir string
}

// StartFleet builds meshapi-apiserver into a new temporary directory
// named after prefix and starts n servers from it, at most parallel at a
// time, calling progress (if not nil) with the count started so far. On
// an error, the servers already started are stopped.
func StartFleet(ctx context.Context, prefix, userAgent string, n, parallel int, progress func(started int)) (*Fleet, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	fl := &Fleet{Servers: make([]*Server, n), dir: dir}
	bin, err := Build(ctx, dir)
	if err != nil {
		_ = fl.Stop()
		return nil, err
	}
	err = fl.each(ctx, parallel, progress, func(ctx context.Context, i int) error {
		s, err := Start(ctx, bin, dir, fmt.Sprintf("%s-%03d", strings.TrimSuffix(prefix, "-"), i), userAgent)
		fl.Servers[i] = s
		return err
	})
	if err != nil {
		_ = fl.Stop()
		return nil, err
	}
	return fl, nil
}

// Restart restarts every server of the fleet (each must have exited),
// at most parallel at a time, calling progress with the count ready so far.
func (fl *Fleet) Restart(ctx context.Context, parallel int, progress func(ready int)) error {
	return fl.each(ctx, parallel, progress, func(ctx context.Context, i int) error {
		return fl.Servers[i].Restart(ctx)
	})
}

// Kill kills every server of the fleet at once (SIGKILL to all, then
// waiting for each).
func (fl *Fleet) Kill() error {
	var errs []error
	for _, s := range fl.Servers {
		if s != nil && s.cmd != nil && s.cmd.Process != nil {
			if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("killing %s: %w", s.Name, err))
			}
		}
	}
	for _, s := range fl.Servers {
		if s != nil && s.done != nil {
			<-s.done
		}
	}
	return errors.Join(errs...)
}

// Stop stops every server that was started and removes their data.
func (fl *Fleet) Stop() error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range fl.Servers {
		wg.Go(func() {
			if err := s.Stop(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fl.dir != "" {
		_ = os.RemoveAll(fl.dir)
	}
	return errors.Join(errs...)
}

// each runs fn for every server index, at most parallel at a time,
// calling progress with the count done so far; it stops starting new
// calls after the first error, which it returns.
func (fl *Fleet) each(ctx context.Context, parallel int, progress func(done int), fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, max(parallel, 1))
	var done atomic.Int64
	var wg sync.WaitGroup
	for i := range fl.Servers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
				return
			}
			if n := done.Add(1); progress != nil {
				progress(int(n))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
