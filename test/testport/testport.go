// Package testport hands out the loopback TCP ports of the servers a test
// binary starts (kube-apiserver, meshapi-apiserver, etcd, metrics).
//
// Asking the kernel for port 0 returns a port of the ephemeral range
// (net.ipv4.ip_local_port_range, 32768–60999 by default), which is also
// where every outgoing connection takes its source port. Between that
// answer and the server's own bind, one of the many connections a test
// makes can take the port, and the server fails with "address already in
// use". Ports from below that range cannot be taken that way: Free hands
// out ports of [Low, High] that nothing listens on, each once per
// process, starting at a random point so that test binaries running at
// once (go test runs packages in parallel) start apart.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// Low and High bound the ports Free hands out: below Linux's default
// ephemeral range (32768-60999) and below Kubernetes' default NodePort
// range (30000-32767), which the e2e clusters' Services draw from.
const (
	Low  = 20000
	High = 29999
)

// allocator is the process's cursor over [Low, High].
type allocator struct {
	mu   sync.Mutex
	next int
}

// ports is shared by every caller of the process: a port handed out once
// is not handed out again until the cursor comes round.
var ports = &allocator{next: Low + rand.IntN(High-Low+1)}

// Free returns a loopback TCP port that nothing listened on a moment ago
// and that this process has not handed out since the cursor last passed
// it.
func Free() (int, error) { return ports.free(listenable) }

// free returns the first port from a.next on that ok accepts.
func (a *allocator) free(ok func(port int) bool) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for range High - Low + 1 {
		p := a.next
		a.next++
		if a.next > High {
			a.next = Low
		}
		if ok(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free loopback TCP port in %d-%d", Low, High)
}

// listenable reports whether a listener can bind 127.0.0.1:port now.
func listenable(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
