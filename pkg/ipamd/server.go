// Package ipamd is meshapi-agent's node-local IPAM service: the CNI
// plugin (pkg/cni) asks it, over a Unix socket (pkg/ipamwire), for the
// addresses of the pods of its node, as cilium-cni asks the Cilium agent.
//
// The service keeps one connection to the API server (the agent's) and
// one ipam.NodeAllocator: concurrent ADDs and DELs of the node are
// queued, and each batch of what is queued is carried out together, the
// changes that fall in one IPAMBlock being one compare-and-swap write of
// it (see ipam.NodeAllocator.Do). A caller gets its address only once the
// write that records it succeeded; a failed write fails all its callers.
// The plugin, a short-lived process per invocation, so does no API call
// of its own and links no Kubernetes client.
//
// ADD reads the pod (its Calico IPAM annotations) before the allocation
// is queued. What a batch decides on besides the blocks (the IPPools, the
// IPAMConfiguration, the node's labels) and the default
// FelixConfiguration the pod MTU is computed on come from the service's
// informers, so that a batch costs the API server its block writes only.
// An ADD with the ipAddrs annotation is done alone with
// ipam.Client.Assign, between batches.
package ipamd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// Defaults of Config.
const (
	// DefaultMaxBatch bounds the ops of one batch.
	DefaultMaxBatch = 64
	// DefaultRequestTimeout bounds one request (the plugin's own bound is
	// two minutes).
	DefaultRequestTimeout = 90 * time.Second
)

// answerGrace is how long a connection stays open after its request's
// time ran out, to write the error.
const answerGrace = time.Second

// Config configures a Server.
type Config struct {
	// Node is the node the service allocates for.
	Node string
	// Socket is the path of the Unix socket to listen on.
	Socket string
	// Client reaches the projectcalico.org/v3 API.
	Client versioned.Interface
	// Pods reads the pods' annotations.
	Pods corev1client.PodsGetter
	// IPAM configures the allocator (its Config rules while the cluster
	// has no IPAMConfiguration "default").
	IPAM ipam.ClientOptions
	// MaxBatch bounds the ops of one batch; 0 is DefaultMaxBatch.
	MaxBatch int
	// RequestTimeout bounds one request; 0 is DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger receives the service's log; nil discards it.
	Logger *slog.Logger
}

// Server is the node-local IPAM service.
type Server struct {
	cfg     Config
	watched *watched
	ipam    *ipam.Client
	alloc   *ipam.NodeAllocator
	queue   chan *job
	mu      sync.Mutex // held by a batch, and by an allocation done alone
	ln      net.Listener
	log     *slog.Logger
	served  chan struct{}
}

// job is one op waiting for its batch.
type job struct {
	op   ipam.Op
	done chan outcome // buffered: the batch never waits for a caller
}

// outcome is what a batch tells a job: its op's result and, for an
// Assign, the pod MTU on the batch's pools and FelixConfiguration.
type outcome struct {
	ipam.OpResult
	mtu    int
	mtuErr *ipamwire.Error
}

// New checks cfg and returns a Server; Listen and Serve start it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Node == "":
		return nil, errors.New("ipamd: the node name is empty")
	case cfg.Socket == "":
		return nil, errors.New("ipamd: the socket path is empty")
	case cfg.Client == nil || cfg.Pods == nil:
		return nil, fmt.Errorf("ipamd: node %s: the projectcalico.org/v3 and the Pods clients are required", cfg.Node)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := newWatched(cfg.Client, cfg.Node)
	opts := cfg.IPAM
	opts.Cache = w
	c := ipam.NewClientWithOptions(cfg.Client, opts)
	return &Server{cfg: cfg, watched: w, ipam: c, alloc: c.NewNodeAllocator(cfg.Node), queue: make(chan *job, cfg.MaxBatch),
		log: log, served: make(chan struct{})}, nil
}

// Listen creates the socket (mode 0600; its directory is created with
// mode 0700 if missing), replacing a stale one left by an earlier
// process. The plugin can connect once Listen returned, even before
// Serve runs: its connections wait in the backlog.
func (s *Server) Listen() error {
	dir := filepath.Dir(s.cfg.Socket)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ipamd: creating the socket directory %s: %w", dir, err)
	}
	if fi, err := os.Lstat(s.cfg.Socket); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("ipamd: socket path %s exists and is not a socket (mode %s)", s.cfg.Socket, fi.Mode())
		}
		if err := os.Remove(s.cfg.Socket); err != nil {
			return fmt.Errorf("ipamd: removing the stale socket %s: %w", s.cfg.Socket, err)
		}
	}
	ln, err := net.Listen("unix", s.cfg.Socket)
	if err != nil {
		return fmt.Errorf("ipamd: listening on %s: %w", s.cfg.Socket, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(s.cfg.Socket, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("ipamd: chmod 0600 %s: %w", s.cfg.Socket, err)
	}
	s.ln = ln
	return nil
}

// Serve answers requests until ctx ends, then closes (and removes) the
// socket and returns once every request in flight is answered. Listen
// must have succeeded.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return fmt.Errorf("ipamd: Serve before Listen (socket %s)", s.cfg.Socket)
	}
	defer close(s.served)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.watched.run(ctx) })
	wg.Go(func() { s.allocate(ctx) })
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	s.log.Info("IPAM service listening", "socket", s.cfg.Socket)
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			stopped := ctx.Err() != nil
			cancel()
			wg.Wait()
			if stopped {
				return nil
			}
			return fmt.Errorf("ipamd: accepting on %s: %w", s.cfg.Socket, err)
		}
		wg.Go(func() { s.serveConn(ctx, conn) })
	}
}

// Done is closed once Serve returned.
func (s *Server) Done() <-chan struct{} { return s.served }

// serveConn answers the one request of conn.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	// The connection outlives the request's context by answerGrace, so
	// that a request that ran out of time still gets its error.
	_ = conn.SetDeadline(time.Now().Add(s.cfg.RequestTimeout + answerGrace))
	var req ipamwire.Request
	var resp *ipamwire.Response
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		resp = &ipamwire.Response{Error: &ipamwire.Error{Code: errInternal, Msg: "decoding the request", Details: err.Error()}}
	} else {
		resp = s.handle(ctx, req)
	}
	if resp.Error != nil {
		s.log.Info("request failed", "op", req.Op, "container", req.ContainerID, "pod", req.Namespace+"/"+req.Pod, "code", resp.Error.Code, "err", resp.Error.Msg)
	}
	if err := json.NewEncoder(conn).Encode(resp); err != nil {
		s.log.Warn("answering a request", "op", req.Op, "container", req.ContainerID, "err", err)
	}
}

// allocate runs the batches until ctx ends: it takes what is queued (at
// most MaxBatch ops) and carries it out as one batch.
func (s *Server) allocate(ctx context.Context) {
	for {
		var first *job
		select {
		case <-ctx.Done():
			return
		case first = <-s.queue:
		}
		batch := []*job{first}
	drain:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case j := <-s.queue:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		s.runBatch(ctx, batch)
	}
}

// runBatch carries out batch and answers its jobs. When it assigns, the
// MTU is computed on the default FelixConfiguration and the pools the
// allocator read.
func (s *Server) runBatch(ctx context.Context, batch []*job) {
	ops := make([]ipam.Op, len(batch))
	assigns := false
	for i, j := range batch {
		ops[i] = j.op
		assigns = assigns || j.op.Assign != nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	s.mu.Lock()
	res := s.alloc.Do(ctx, ops)
	pools := s.alloc.Pools()
	s.mu.Unlock()
	var mtu int
	var mtuErr *ipamwire.Error
	if assigns {
		var fc *v3.FelixConfiguration
		if fc, mtuErr = s.felixConfiguration(); mtuErr == nil {
			mtu = MTUFor(fc, derefPools(pools))
		}
	}
	for i, j := range batch {
		j.done <- outcome{OpResult: res[i], mtu: mtu, mtuErr: mtuErr}
	}
}

// do queues op for the next batch and waits for its outcome.
func (s *Server) do(ctx context.Context, op ipam.Op) outcome {
	j := &job{op: op, done: make(chan outcome, 1)}
	select {
	case s.queue <- j:
	case <-ctx.Done():
		return outcome{OpResult: ipam.OpResult{Err: fmt.Errorf("queueing for the IPAM batch of node %s: %w", s.cfg.Node, ctx.Err())}}
	}
	select {
	case r := <-j.done:
		return r
	case <-ctx.Done():
		return outcome{OpResult: ipam.OpResult{Err: fmt.Errorf("waiting for the IPAM batch of node %s: %w", s.cfg.Node, ctx.Err())}}
	}
}

// alone runs f with no batch running, and drops the allocator's view of
// the blocks afterwards (f changed them behind its back).
func (s *Server) alone(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	s.alloc.Forget()
}
