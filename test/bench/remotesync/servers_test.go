package remotesync

import (
	"fmt"
	"os"
	"testing"

	"github.com/meshapi/meshapi/test/bench/benchserver"
)

// shared holds this test binary's two API servers, A (local) and B
// (remote), started on first use and stopped by TestMain.
var shared = benchserver.NewPair("meshapi-remotesync-", "remotesync-bench")

// TestMain runs the benchmarks, then stops the API servers they started.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the API servers:", err)
		code = 1
	}
	os.Exit(code)
}

// servers returns the API servers, building meshapi-apiserver and starting
// A and B the first time.
func servers(b *testing.B) *benchserver.Pair {
	b.Helper()
	if err := shared.Start(); err != nil {
		b.Fatalf("starting the API servers: %v", err)
	}
	return shared
}
