// Package framework starts a real meshapi API server in-process, on an
// embedded etcd, for integration tests and benchmarks, and hands out
// clients for it.
package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/apiserver"
)

// Server is a meshapi API server running in this process in standalone
// mode (bearer token, self-signed certificate) on an embedded etcd.
type Server struct {
	// Config reaches the server as its administrator.
	Config *rest.Config
	// Kubeconfig is the path of the kubeconfig the server wrote, for kubectl.
	Kubeconfig string
	// DataDir holds etcd's data, certificates and credentials.
	DataDir string

	cancel context.CancelFunc
	done   chan error
	port   int
	flags  []string
}

// StartStandalone starts a server with its data under dataDir, on a free
// loopback port, and waits until it reports ready.
func StartStandalone(ctx context.Context, dataDir string, extraFlags ...string) (*Server, error) {
	return start(ctx, dataDir, "127.0.0.1:0", extraFlags)
}

// StartOnEtcd starts a server like StartStandalone but on the etcd at
// etcdURL instead of an embedded one: several servers started on one etcd
// are replicas of one API, as meshapi-apiserver replicas behind an
// APIService are. The caller starts and stops that etcd.
func StartOnEtcd(ctx context.Context, dataDir, etcdURL string, extraFlags ...string) (*Server, error) {
	return start(ctx, dataDir, "127.0.0.1:0", append([]string{"--etcd-servers", etcdURL}, extraFlags...))
}

// Restart stops the server and starts it again on the same data
// directory (its etcd data, certificate and token) and the same port, so
// that clients built from Config reach it again once it is ready. The
// restarted server runs until Stop, whatever becomes of ctx.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return fmt.Errorf("stopping for a restart: %w", err)
	}
	n, err := start(context.WithoutCancel(ctx), s.DataDir, net.JoinHostPort("127.0.0.1", fmt.Sprint(s.port)), s.flags)
	if err != nil {
		return fmt.Errorf("restarting on port %d: %w", s.port, err)
	}
	*s = *n
	return nil
}

// start starts a server on addr and waits until it reports ready.
func start(ctx context.Context, dataDir, addr string, extraFlags []string) (*Server, error) {
	o := apiserver.NewOptions()
	fs := pflag.NewFlagSet("meshapi-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)
	args := append([]string{"--standalone", "--data-dir", dataDir}, extraFlags...)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("parsing flags %v: %w", args, err)
	}
	ln, port, err := genericoptions.CreateListener("tcp", addr, net.ListenConfig{})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	o.Recommended.SecureServing.Listener = ln
	o.Recommended.SecureServing.BindPort = port
	if err := o.Complete(); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	s := &Server{Kubeconfig: o.KubeconfigOut, DataDir: dataDir, cancel: cancel, done: make(chan error, 1), port: port, flags: extraFlags}
	go func() { s.done <- o.Run(runCtx) }()
	if err := s.waitReady(ctx, 2*time.Minute); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits for the kubeconfig and for /readyz to answer ok.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("server exited before it was ready: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := os.Stat(s.Kubeconfig); err != nil {
			last = err
			continue
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
		if err != nil {
			last = err
			continue
		}
		client, err := rest.UnversionedRESTClientFor(withJSON(cfg))
		if err != nil {
			return fmt.Errorf("building a client from %s: %w", s.Kubeconfig, err)
		}
		body, err := client.Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			s.Config = cfg
			return nil
		}
		last = fmt.Errorf("/readyz: %s: %w", body, err)
	}
	return fmt.Errorf("server not ready after %s: %w", timeout, last)
}

// Stop stops the server and its etcd and waits for them to exit.
func (s *Server) Stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("server did not stop within 60s")
	}
}

// withJSON returns a copy of cfg for the unversioned REST client.
func withJSON(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = nil
	c.APIPath = "/"
	c.NegotiatedSerializer = unstructuredSerializer()
	return c
}
