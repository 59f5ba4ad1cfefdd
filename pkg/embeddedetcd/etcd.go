// Package embeddedetcd runs an etcd server inside the meshapi API server
// process, for a laptop, a single-node trial and tests. It listens on
// loopback only, without TLS; production deployments run a real etcd
// cluster and pass --etcd-servers instead.
package embeddedetcd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Server is a running embedded etcd.
type Server struct {
	etcd     *embed.Etcd
	stopOnce sync.Once
	// ClientURL is the URL clients reach the server on.
	ClientURL string
}

// Start starts etcd with its data under dataDir (created with mode 0700 if
// missing) and waits until it serves clients or ctx ends. etcd's own log
// goes to logFile, or to standard error when logFile is empty.
func Start(ctx context.Context, dataDir, logFile string) (*Server, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data directory %q: %w", dataDir, err)
	}
	clientURL, err := loopbackURL()
	if err != nil {
		return nil, err
	}
	peerURL, err := loopbackURL()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "meshapi"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{"stderr"}
	if logFile != "" {
		cfg.LogOutputs = []string{logFile}
	}
	// Keep the keyspace small on a long-running laptop instance.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %q: %w", dataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %q did not become ready within 60s", dataDir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Server{etcd: e, ClientURL: clientURL.String()}, nil
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
