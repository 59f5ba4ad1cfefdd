// Package statusserver serves a meshapi component's status endpoints on
// one listener: Prometheus /metrics, /healthz, /readyz and, when asked
// (--profiling), Go's /debug/pprof. meshapi-controller and meshapi-agent
// both use it, so the endpoints, timeouts and shutdown are the same.
package statusserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	// readHeaderTimeout bounds a client's request headers.
	readHeaderTimeout = 10 * time.Second
	// shutdownTimeout bounds the wait for requests in flight at Stop.
	shutdownTimeout = 5 * time.Second
)

// Config is what a Server serves.
type Config struct {
	// Address is the host:port to listen on; port 0 picks one.
	Address string
	// Gatherer is what /metrics exposes.
	Gatherer prometheus.Gatherer
	// Healthz answers /healthz: nil is healthy (200 "ok"), an error is
	// 503 with its message. Nil always answers "ok".
	Healthz func() error
	// Readyz answers /readyz the same way and may name the state in the
	// body of a 200 (for example "ok (standby)"). Nil answers as Healthz.
	Readyz func() (string, error)
	// Profiling serves net/http/pprof under /debug/pprof/.
	Profiling bool
	// OnError is told of a failure of the server after it started.
	OnError func(error)
}

// Server is a running status server.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	served chan struct{}
}

// Start listens on cfg.Address and serves until Stop.
func Start(cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Address, err)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: Handler(cfg), ReadHeaderTimeout: readHeaderTimeout}, served: make(chan struct{})}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && cfg.OnError != nil {
			cfg.OnError(err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stop shuts the server down, waiting a little for requests in flight,
// and returns once it stopped serving.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.served
}

// Handler is the mux a Server serves for cfg.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	if cfg.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	healthz := func() (string, error) {
		if cfg.Healthz == nil {
			return "ok", nil
		}
		return "ok", cfg.Healthz()
	}
	readyz := cfg.Readyz
	if readyz == nil {
		readyz = healthz
	}
	mux.HandleFunc("/healthz", answer(healthz))
	mux.HandleFunc("/readyz", answer(readyz))
	if cfg.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func answer(check func() (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		msg, err := check()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(msg))
	}
}
