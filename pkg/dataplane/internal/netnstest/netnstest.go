// Package netnstest gives the dataplane packages' tests named network
// namespaces of their own, deleted when the test ends, and a way to run
// commands in them. Tests never change the namespace they run in.
package netnstest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// commandTimeout bounds one command.
const commandTimeout = 60 * time.Second

// NS is a named network namespace a test created.
type NS struct {
	// Name is the namespace's name (`ip netns` lists it).
	Name string
	// Handle refers to the namespace, for code that switches into it or
	// opens sockets in it (nftables.WithNetNSFd).
	Handle netns.NsHandle
	// Netlink is a netlink handle in the namespace.
	Netlink *netlink.Handle
}

// New creates the namespace name with its loopback up; it and its
// handles are deleted and closed when tb ends.
func New(tb testing.TB, name string) *NS {
	tb.Helper()
	Run(tb, "ip", "netns", "add", name)
	tb.Cleanup(func() {
		if out, err := TryRun("ip", "netns", "del", name); err != nil {
			tb.Errorf("deleting namespace %s: %v\n%s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		tb.Fatalf("opening namespace %s: %v", name, err)
	}
	tb.Cleanup(func() { h.Close() })
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		tb.Fatalf("netlink handle in %s: %v", name, err)
	}
	tb.Cleanup(nl.Close)
	Run(tb, "ip", "-n", name, "link", "set", "lo", "up")
	return &NS{Name: name, Handle: h, Netlink: nl}
}

// IP runs `ip -n <namespace> args...` and fails tb if it fails.
func (n *NS) IP(tb testing.TB, args ...string) string {
	tb.Helper()
	return Run(tb, "ip", append([]string{"-n", n.Name}, args...)...)
}

// Exec runs a command in the namespace (`ip netns exec`) and fails tb if
// it fails.
func (n *NS) Exec(tb testing.TB, args ...string) string {
	tb.Helper()
	return Run(tb, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Run runs a command and fails tb if it fails.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := TryRun(name, args...)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// TryRun runs a command and returns its combined output.
func TryRun(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
