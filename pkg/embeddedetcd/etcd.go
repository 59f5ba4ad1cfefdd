// Package embeddedetcd runs an etcd server inside the meshapi API server
// process, for a laptop, a single-node trial and tests. It listens on
// loopback only: without TLS by default, or (Options.TLS) over https
// accepting only clients that present a certificate of a trusted CA, as
// the deployed etcd of artifacts/deploy does. Production deployments run a
// real etcd cluster and pass --etcd-servers instead.
package embeddedetcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	stopOnce sync.Once
	// ClientURL is the URL clients reach the server on.
	ClientURL string
}

// Options configure an embedded etcd.
type Options struct {
	// DataDir holds etcd's data; created with mode 0700 if missing.
	DataDir string
	// LogFile receives etcd's own log; standard error when empty.
	LogFile string
	// TLS, when set, makes the client listener https with client
	// certificate authentication.
	TLS *TLS
}

// TLS is the client listener's TLS: etcd serves CertFile/KeyFile and
// accepts only clients presenting a certificate that TrustedCAFile signed
// (etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth).
type TLS struct {
	// CertFile and KeyFile are etcd's PEM serving certificate and key; the
	// certificate must name 127.0.0.1.
	CertFile, KeyFile string
	// TrustedCAFile is the PEM CA that signs client certificates.
	TrustedCAFile string
}

// Start starts etcd with its data under dataDir, without TLS, and waits
// until it serves clients or ctx ends. etcd's own log goes to logFile, or
// to standard error when logFile is empty.
func Start(ctx context.Context, dataDir, logFile string) (*Server, error) {
	return StartWithOptions(ctx, Options{DataDir: dataDir, LogFile: logFile})
}

// StartWithOptions starts etcd as opts say and waits until it serves
// clients or ctx ends.
func StartWithOptions(ctx context.Context, opts Options) (*Server, error) {
	e, clientURL, err := startOnFreePorts(opts, loopbackURL)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %q did not become ready within 60s", opts.DataDir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Server{etcd: e, ClientURL: clientURL.String()}, nil
}

// portAttempts is how many times startOnFreePorts picks new ports when
// the ones it picked were taken before etcd bound them.
const portAttempts = 5

// startOnFreePorts starts etcd on loopback ports that pick found free a
// moment before. Between that check and etcd's bind another process (or
// an outgoing connection's source port) can take one; etcd then fails
// with EADDRINUSE, and new ports are picked.
func startOnFreePorts(opts Options, pick func() (*url.URL, error)) (*embed.Etcd, *url.URL, error) {
	for attempt := 1; ; attempt++ {
		cfg, clientURL, err := config(opts, pick)
		if err != nil {
			return nil, nil, err
		}
		e, err := embed.StartEtcd(cfg)
		if err == nil {
			return e, clientURL, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == portAttempts {
			return nil, nil, fmt.Errorf("starting embedded etcd in %q (client %s, peer %s): %w",
				opts.DataDir, clientURL, cfg.ListenPeerUrls[0].String(), err)
		}
	}
}

// config builds etcd's configuration for opts on the loopback ports pick
// returns.
func config(opts Options, pick func() (*url.URL, error)) (*embed.Config, *url.URL, error) {
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating etcd data directory %q: %w", opts.DataDir, err)
	}
	clientURL, err := pick()
	if err != nil {
		return nil, nil, err
	}
	peerURL, err := pick()
	if err != nil {
		return nil, nil, err
	}
	cfg := embed.NewConfig()
	if opts.TLS != nil {
		if err := checkTLS(*opts.TLS); err != nil {
			return nil, nil, err
		}
		clientURL.Scheme = "https"
		cfg.ClientTLSInfo = transport.TLSInfo{
			CertFile: opts.TLS.CertFile, KeyFile: opts.TLS.KeyFile,
			TrustedCAFile: opts.TLS.TrustedCAFile, ClientCertAuth: true,
		}
	}
	cfg.Name = "meshapi"
	cfg.Dir = opts.DataDir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{"stderr"}
	if opts.LogFile != "" {
		cfg.LogOutputs = []string{opts.LogFile}
	}
	// Keep the keyspace small on a long-running laptop instance.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	return cfg, clientURL, nil
}

// checkTLS checks that every file of t is named and readable, so that a
// mistake is reported by name rather than as a failed handshake later.
func checkTLS(t TLS) error {
	for _, f := range []struct{ field, path string }{
		{"CertFile", t.CertFile}, {"KeyFile", t.KeyFile}, {"TrustedCAFile", t.TrustedCAFile},
	} {
		if f.path == "" {
			return fmt.Errorf("embedded etcd TLS: %s is empty (client certificate authentication needs all of CertFile, KeyFile, TrustedCAFile)", f.field)
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("embedded etcd TLS: %s %q: %w", f.field, f.path, err)
		}
	}
	return nil
}

// Stop stops etcd gracefully. Calling it again does nothing.
func (s *Server) Stop() {
	s.stopOnce.Do(s.etcd.Close)
}

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error {
	return s.etcd.Err()
}

// loopbackURL returns an http URL on a free loopback port.
func loopbackURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free loopback port for etcd: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, fmt.Errorf("releasing port %s: %w", addr, err)
	}
	return &url.URL{Scheme: "http", Host: addr}, nil
}
