package framework

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// relay listens on 127.0.0.1 inside a network namespace and relays every
// connection to a target address of the namespace the tests run in: the
// way a node's processes reach the cluster's API server here (the agents
// run in the test's namespace and program theirs with --netns; the CNI
// plugin runs inside the node's namespace, as a runtime runs it).
type relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// newRelay starts a relay in ns to target (host:port).
func newRelay(ns *NetNS, target string) (*relay, error) {
	r := &relay{target: target, conns: map[net.Conn]bool{}}
	if err := ns.Do(func() (err error) {
		r.ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		return nil, fmt.Errorf("relay to %s: listening in %s: %w", target, ns.Name, err)
	}
	r.wg.Go(r.accept)
	return r, nil
}

// Addr is the relay's address inside the namespace.
func (r *relay) Addr() string { return r.ln.Addr().String() }

// accept serves connections until the listener closes.
func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c, true) {
			c.Close()
			return
		}
		r.wg.Go(func() {
			defer r.track(c, false)
			r.copy(c)
		})
	}
}

// track adds or removes c from the open connections; it refuses to add
// once the relay is closed.
func (r *relay) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if add {
		if r.closed {
			return false
		}
		r.conns[c] = true
		return true
	}
	delete(r.conns, c)
	return true
}

// copy copies both ways between c and a new connection to the target.
func (r *relay) copy(c net.Conn) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}

// Close stops the relay, closes its connections and waits for its
// goroutines.
func (r *relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}
