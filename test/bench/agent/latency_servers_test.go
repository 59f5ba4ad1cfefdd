//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// The two API servers of BenchmarkRemoteEndpointToRoute, as child
// processes, after test/bench/remotesync/servers_test.go (a test-only
// package cannot be imported).

const (
	// latBenchQPS and latBenchBurst lift client-go's rate limiter out of
	// the way of the benchmark's own clients.
	latBenchQPS   = 5000
	latBenchBurst = 10000
	// latStandaloneUser is the user of the standalone token; it must be a
	// mirror writer for the controller to write mirrors in A.
	latStandaloneUser = "meshapi-admin"
	// latServerStartTimeout bounds the start of one API server.
	latServerStartTimeout = 3 * time.Minute
	// latServerStopGrace is how long a stopping server may take before it
	// is killed.
	latServerStopGrace = 30 * time.Second
)

// repoRoot is the root of the meshapi checkout.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// apiServer is one standalone meshapi-apiserver child process on its own
// embedded etcd.
type apiServer struct {
	name    string
	dataDir string
	logFile string

	cmd  *exec.Cmd
	done chan struct{}
	err  error

	// kubeconfig is the file the server wrote: the standalone user's
	// credentials, as the agent reads them.
	kubeconfig string
	// config reaches the server as the standalone user, with the
	// benchmark's raised QPS and burst.
	config *rest.Config
	// client is a clientset on config.
	client versioned.Interface
	// url, token and caFile are what a RemoteClusterConfiguration needs
	// to reach the server inline.
	url, token, caFile string
}

// startAPIServer starts a standalone meshapi-apiserver with its data under
// dir and waits until it is ready. A port taken between choosing and
// binding it is retried.
func startAPIServer(ctx context.Context, bin, dir, name string) (*apiServer, error) {
	var lastErr error
	for attempt := range 3 {
		s, err := tryStartAPIServer(ctx, bin, filepath.Join(dir, fmt.Sprintf("%s-%d", name, attempt)), name)
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

func tryStartAPIServer(ctx context.Context, bin, dir, name string) (*apiServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &apiServer{name: name, dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, name+".log")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s.kubeconfig = filepath.Join(s.dataDir, "kubeconfig")
	f, err := os.Create(s.logFile)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "--standalone", "--data-dir", s.dataDir, "--secure-port", strconv.Itoa(port),
		"--kubeconfig-out", s.kubeconfig, "--mirror-writers="+latStandaloneUser)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	// Its own process group, so that stopping it never signals the
	// benchmark; killed with the benchmark if that dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s.done = make(chan struct{})
	go func() {
		s.err = s.cmd.Wait()
		f.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("%s did not become ready: %w\n%s", name, err, s.tail(30))
	}
	return s, nil
}

// waitReady waits for the kubeconfig the server writes, then for /readyz.
func (s *apiServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, latServerStartTimeout)
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
		if s.config == nil {
			if _, err := os.Stat(s.kubeconfig); err != nil {
				lastErr = err
				continue
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
			if err != nil {
				lastErr = err
				continue
			}
			cfg.QPS, cfg.Burst = latBenchQPS, latBenchBurst
			cfg.UserAgent = "agent-latency-bench"
			client, err := versioned.NewForConfig(cfg)
			if err != nil {
				return err
			}
			s.config, s.client = cfg, client
			s.url, s.token = cfg.Host, cfg.BearerToken
			s.caFile = filepath.Join(s.dataDir, "certificates", "apiserver.crt")
			if _, err := os.Stat(s.caFile); err != nil {
				return fmt.Errorf("the serving certificate: %w", err)
			}
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		body, err := s.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		rcancel()
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return nil
		}
		lastErr = fmt.Errorf("/readyz: %v %s", err, body)
	}
}

// stop sends SIGTERM to the server's process group, waits up to
// latServerStopGrace, then kills it.
func (s *apiServer) stop() error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(latServerStopGrace):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	var exitErr *exec.ExitError
	if s.err != nil && !errors.As(s.err, &exitErr) {
		return fmt.Errorf("waiting for %s: %w", s.name, s.err)
	}
	return nil
}

// tail returns the last n lines of the server's log.
func (s *apiServer) tail(n int) string {
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// servers holds the test binary's two API servers, started on first use
// and stopped by TestMain.
type servers struct {
	once sync.Once
	err  error
	dir  string
	// a is the local cluster, b the remote one.
	a, b *apiServer
}

// sharedServers are the API servers of this test binary.
var sharedServers servers

// TestMain runs the tests and benchmarks, then stops the API servers
// BenchmarkRemoteEndpointToRoute started, if it ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := sharedServers.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the API servers:", err)
		code = 1
	}
	os.Exit(code)
}

// twoServers returns the servers, building meshapi-apiserver and starting
// A and B the first time.
func twoServers(b *testing.B) *servers {
	b.Helper()
	sharedServers.once.Do(func() { sharedServers.err = sharedServers.start() })
	if sharedServers.err != nil {
		b.Fatalf("starting the API servers: %v", sharedServers.err)
	}
	return &sharedServers
}

func (s *servers) start() error {
	dir, err := os.MkdirTemp("", "meshapi-agentlat-")
	if err != nil {
		return err
	}
	s.dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "meshapi-apiserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meshapi-apiserver")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building meshapi-apiserver: %w\n%s", err, out)
	}
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { s.a, errA = startAPIServer(ctx, bin, dir, "cluster-a") })
	wg.Go(func() { s.b, errB = startAPIServer(ctx, bin, dir, "cluster-b") })
	wg.Wait()
	return errors.Join(errA, errB)
}

// stop stops both servers and removes their data.
func (s *servers) stop() error {
	err := errors.Join(s.a.stop(), s.b.stop())
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	return err
}
