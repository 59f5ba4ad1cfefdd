package framework

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// EchoServer answers every line of every TCP connection with the same
// line, on a pod's address, until Close.
type EchoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// ServeEcho starts an EchoServer on the pod's address and port.
func (p *Pod) ServeEcho(port int) (*EchoServer, error) {
	s := &EchoServer{conns: map[net.Conn]bool{}}
	if err := p.NS.Do(func() (err error) {
		s.ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.IP, uint16(port)).String())
		return err
	}); err != nil {
		return nil, fmt.Errorf("echo server in %s: %w", p.NS.Name, err)
	}
	s.wg.Go(s.accept)
	return s, nil
}

// accept serves connections until the listener closes.
func (s *EchoServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := c.Write([]byte(line)); err != nil {
					return
				}
			}
		})
	}
}

// Close stops the server and closes its connections.
func (s *EchoServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// TrafficStats count what a Traffic saw.
type TrafficStats struct {
	// Exchanges are the round trips on long-lived connections that
	// completed; Stalls those that timed out (the connection kept).
	Exchanges, Stalls int64
	// Broken are long-lived connections that ended with an error (reset,
	// closed by the peer): each is replaced by a new one.
	Broken int64
	// NewOK and NewFailed count the new connections (connect, one round
	// trip, close) that succeeded and failed.
	NewOK, NewFailed int64
	// LastError is the last error of a broken or failed connection.
	LastError string
}

// Sub returns s minus an earlier snapshot (LastError is s's).
func (s TrafficStats) Sub(before TrafficStats) TrafficStats {
	return TrafficStats{Exchanges: s.Exchanges - before.Exchanges, Stalls: s.Stalls - before.Stalls, Broken: s.Broken - before.Broken,
		NewOK: s.NewOK - before.NewOK, NewFailed: s.NewFailed - before.NewFailed, LastError: s.LastError}
}

// Traffic keeps long-lived TCP connections from a client pod to an echo
// server, each doing a round trip every interval, and opens one new
// connection every interval, counting what breaks.
type Traffic struct {
	client   *Pod
	server   netip.AddrPort
	interval time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	exchanges, stalls, broken, newOK, newFailed atomic.Int64
	last                                        atomic.Value // string
}

// trafficTimeout bounds a connect and a round trip.
const trafficTimeout = 2 * time.Second

// StartTraffic opens longLived connections from client to server (an
// EchoServer) and starts the round trips and the new connections; it
// fails if a first connection cannot be made. Stop ends it.
func StartTraffic(ctx context.Context, client *Pod, server netip.AddrPort, longLived int, interval time.Duration) (*Traffic, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &Traffic{client: client, server: server, interval: interval, cancel: cancel}
	t.last.Store("")
	for range longLived {
		c, err := t.dial()
		if err != nil {
			cancel()
			t.wg.Wait()
			return nil, err
		}
		t.wg.Go(func() { t.keep(ctx, c) })
	}
	t.wg.Go(func() { t.probe(ctx) })
	return t, nil
}

// dial connects from the client pod's namespace.
func (t *Traffic) dial() (net.Conn, error) {
	var c net.Conn
	err := t.client.NS.Do(func() (err error) {
		c, err = (&net.Dialer{Timeout: trafficTimeout}).Dial("tcp4", t.server.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("TCP from %s to %s: %w", t.client.IP, t.server, err)
	}
	return c, nil
}

// roundTrip writes a line and reads it back within trafficTimeout,
// skipping the late answers of earlier round trips that stalled.
func roundTrip(c net.Conn, r *bufio.Reader, seq int) error {
	_ = c.SetDeadline(time.Now().Add(trafficTimeout))
	want := fmt.Sprintf("%d\n", seq)
	if _, err := c.Write([]byte(want)); err != nil {
		return err
	}
	for {
		got, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		var n int
		if _, err := fmt.Sscanf(got, "%d\n", &n); err != nil || n > seq {
			return fmt.Errorf("echo %q, want %q", got, want)
		}
		if n == seq {
			return nil
		}
	}
}

// keep does a round trip on c every interval; a timeout counts as a
// stall (the connection is kept, the late answer skipped), any other
// error as a broken connection, replaced by a new one.
func (t *Traffic) keep(ctx context.Context, c net.Conn) {
	defer func() { c.Close() }()
	r := bufio.NewReader(c)
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := roundTrip(c, r, seq)
		switch {
		case err == nil:
			t.exchanges.Add(1)
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.stalls.Add(1) // its answer, if it comes, is skipped later
		default:
			if ctx.Err() != nil {
				return
			}
			t.broken.Add(1)
			t.last.Store(fmt.Sprintf("long-lived connection %s -> %s: %v", c.LocalAddr(), t.server, err))
			c.Close()
			for ctx.Err() == nil {
				if nc, err := t.dial(); err == nil {
					c, r = nc, bufio.NewReader(nc)
					break
				}
				time.Sleep(t.interval)
			}
		}
	}
}

// probe opens a new connection every interval: connect, one round trip,
// close.
func (t *Traffic) probe(ctx context.Context) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := t.once()
		switch {
		case err == nil:
			t.newOK.Add(1)
		case ctx.Err() == nil:
			t.newFailed.Add(1)
			t.last.Store("new connection: " + err.Error())
		}
	}
}

// once is one new connection.
func (t *Traffic) once() error {
	c, err := t.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, bufio.NewReader(c), 0)
}

// Stats returns the counts so far.
func (t *Traffic) Stats() TrafficStats {
	return TrafficStats{Exchanges: t.exchanges.Load(), Stalls: t.stalls.Load(), Broken: t.broken.Load(),
		NewOK: t.newOK.Load(), NewFailed: t.newFailed.Load(), LastError: t.last.Load().(string)}
}

// Stop ends the traffic and closes its connections.
func (t *Traffic) Stop() TrafficStats {
	t.cancel()
	t.wg.Wait()
	return t.Stats()
}
