//go:build linux

package wireguard

import (
	"os"
	"os/exec"
	"testing"

	"github.com/vishvananda/netns"
)

// TestOwnNamespaceWithoutSysAdmin: the agent in a Pod programs its own
// network namespace and has no CAP_SYS_ADMIN, so New and RemoveLeftover on
// the caller's own namespace must never call setns. The test runs itself
// again under capsh with CAP_SYS_ADMIN dropped from the bounding set.
func TestOwnNamespaceWithoutSysAdmin(t *testing.T) {
	if os.Getenv("MESHAPI_WG_NO_SYS_ADMIN") == "1" {
		ns, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		w, err := New(ns, Options{})
		if err != nil {
			t.Fatalf("New in the caller's own namespace without CAP_SYS_ADMIN: %v", err)
		}
		defer w.Close()
		if _, err := w.RemoveLeftover("wg-absent-test", 0); err != nil {
			t.Fatalf("RemoveLeftover without CAP_SYS_ADMIN: %v", err)
		}
		return
	}
	capsh, err := exec.LookPath("capsh")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and capsh (Debian libcap2-bin)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(capsh, "--drop=cap_sys_admin", "--", "-c",
		`exec "$0" -test.run '^TestOwnNamespaceWithoutSysAdmin$' -test.v`, self)
	cmd.Env = append(os.Environ(), "MESHAPI_WG_NO_SYS_ADMIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("under capsh --drop=cap_sys_admin: %v\n%s", err, out)
	}
}
