package framework

import (
	"fmt"
	"net"
	"sync"
)

// Blackhole is a TCP relay on 127.0.0.1 to a target that can be cut as a
// network partition cuts a path: while cut, bytes already sent are held
// (not delivered, connections not closed) and new connections are
// accepted but not connected through; on Heal everything held flows
// again. Nothing is reset: a client sees what it sees across a partition,
// timeouts.
type Blackhole struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	cut    bool
	healed *sync.Cond
	conns  map[net.Conn]bool
	closed bool
}

// NewBlackhole starts a relay to target (host:port).
func NewBlackhole(target string) (*Blackhole, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("blackhole to %s: %w", target, err)
	}
	b := &Blackhole{ln: ln, target: target, conns: map[net.Conn]bool{}}
	b.healed = sync.NewCond(&b.mu)
	b.wg.Go(b.accept)
	return b, nil
}

// Addr is the relay's address.
func (b *Blackhole) Addr() string { return b.ln.Addr().String() }

// Cut starts the partition.
func (b *Blackhole) Cut() {
	b.mu.Lock()
	b.cut = true
	b.mu.Unlock()
}

// Heal ends the partition.
func (b *Blackhole) Heal() {
	b.mu.Lock()
	b.cut = false
	b.mu.Unlock()
	b.healed.Broadcast()
}

// pass waits while the path is cut; false once the relay is closed.
func (b *Blackhole) pass() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.cut && !b.closed {
		b.healed.Wait()
	}
	return !b.closed
}

// track adds or removes c from the open connections; false once closed.
func (b *Blackhole) track(c net.Conn, add bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !add {
		delete(b.conns, c)
		return true
	}
	if b.closed {
		return false
	}
	b.conns[c] = true
	return true
}

// accept serves connections until the listener closes.
func (b *Blackhole) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		if !b.track(c, true) {
			c.Close()
			return
		}
		b.wg.Go(func() { b.relay(c) })
	}
}

// relay connects c through once the path is open and copies both ways.
func (b *Blackhole) relay(c net.Conn) {
	defer func() { b.track(c, false); c.Close() }()
	if !b.pass() {
		return
	}
	up, err := net.Dial("tcp", b.target)
	if err != nil {
		return
	}
	if !b.track(up, true) {
		up.Close()
		return
	}
	defer func() { b.track(up, false); up.Close() }()
	done := make(chan struct{}, 2)
	go func() { b.copy(up, c); done <- struct{}{} }()
	go func() { b.copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done // the other direction, unblocked by the closes (or by Heal or Close)
}

// copy copies src to dst, holding each chunk while the path is cut.
func (b *Blackhole) copy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !b.pass() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or the connection closed
		}
	}
}

// Close stops the relay and closes every connection.
func (b *Blackhole) Close() error {
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.healed.Broadcast()
	err := b.ln.Close()
	b.wg.Wait()
	return err
}
