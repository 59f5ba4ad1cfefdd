package remotesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// dialCounter is a TCP proxy on a loopback port in front of one remote
// API server that records when each connection to it was opened and
// whether it reached the server: the benchmark's count of the
// controller's connection attempts, made while the server is down as well
// as once it is up again (TLS passes through untouched).
type dialCounter struct {
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	dials []dial
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	// closed ends the goroutine closing the listener at the end of the
	// context.
	closed chan struct{}
}

// dial is one connection accepted by a dialCounter.
type dial struct {
	// when it was accepted.
	when time.Time
	// at is when, from the time given to dialsSince.
	at time.Duration
	// upstream says whether the server accepted the connection too.
	upstream bool
}

// upstreamDialTimeout bounds a dialCounter's connection to its server.
const upstreamDialTimeout = 5 * time.Second

// newDialCounter listens on a free loopback port and forwards every
// connection to upstream until Close or the end of ctx.
func newDialCounter(ctx context.Context, upstream string) (*dialCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the proxy of %s: %w", upstream, err)
	}
	p := &dialCounter{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}, closed: make(chan struct{})}
	p.wg.Go(func() { p.serve() })
	p.wg.Go(func() {
		select {
		case <-ctx.Done():
			_ = ln.Close()
		case <-p.closed:
		}
	})
	return p, nil
}

// Addr is the proxy's host:port.
func (p *dialCounter) Addr() string { return p.ln.Addr().String() }

// serve accepts connections until the listener is closed.
func (p *dialCounter) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		i := p.record(c)
		p.wg.Go(func() { p.forward(c, i) })
	}
}

// record notes a new connection and returns its index.
func (p *dialCounter) record(c net.Conn) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dials = append(p.dials, dial{when: time.Now()})
	p.conns[c] = struct{}{}
	return len(p.dials) - 1
}

// forward connects c to the upstream server and copies both ways until
// either side closes; if the server is down, c is closed at once.
func (p *dialCounter) forward(c net.Conn, i int) {
	defer p.drop(c)
	up, err := net.DialTimeout("tcp", p.upstream, upstreamDialTimeout)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.dials[i].upstream = true
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer p.drop(up)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done // one side ended: end both
}

// drop closes c and forgets it.
func (p *dialCounter) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// dialsSince returns the connections accepted at or after since, in
// order, with at measured from since.
func (p *dialCounter) dialsSince(since time.Time) []dial {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []dial
	for _, d := range p.dials {
		if !d.when.Before(since) {
			d.at = d.when.Sub(since)
			out = append(out, d)
		}
	}
	return out
}

// Close stops accepting, closes every open connection and waits for the
// proxy's goroutines.
func (p *dialCounter) Close() {
	close(p.closed)
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
