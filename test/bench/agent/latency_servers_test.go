//go:build linux

package agent

import (
	"fmt"
	"os"
	"testing"

	"github.com/meshapi/meshapi/test/bench/benchserver"
)

// sharedServers are the API servers of BenchmarkRemoteEndpointToRoute, A
// (local) and B (remote), started on first use and stopped by TestMain.
var sharedServers = benchserver.NewPair("meshapi-agentlat-", "agent-latency-bench")

// TestMain runs the tests and benchmarks, then stops the API servers
// BenchmarkRemoteEndpointToRoute started, if it ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := sharedServers.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the API servers:", err)
		code = 1
	}
	os.Exit(code)
}

// twoServers returns the servers, building meshapi-apiserver and starting
// A and B the first time.
func twoServers(b *testing.B) *benchserver.Pair {
	b.Helper()
	if err := sharedServers.Start(); err != nil {
		b.Fatalf("starting the API servers: %v", err)
	}
	return sharedServers
}
