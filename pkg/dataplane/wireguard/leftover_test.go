//go:build linux

package wireguard

import (
	"strings"
	"testing"
)

// TestRemoveLeftover: the routes of the WireGuard table and the rule that
// an agent left (it stopped while WireGuard ran, and wireguardEnabled was
// switched off meanwhile) are removed; routes and rules of other owners,
// and a link of another type by the device's name, stay. This kernel may
// lack WireGuard, so the leftover device is a veth: deleting a kernel
// WireGuard device by name is the one step this test cannot exercise.
func TestRemoveLeftover(t *testing.T) {
	n := newTestNS(t, "wgleft")
	n.ip(t, "link", "add", DefaultDeviceName, "type", "veth", "peer", "name", "wgleftpeer")
	n.ip(t, "link", "set", DefaultDeviceName, "up")
	n.ip(t, "route", "add", "198.18.9.0/26", "dev", DefaultDeviceName, "table", "1", "proto", "82")
	n.ip(t, "route", "add", "198.18.9.64/26", "dev", DefaultDeviceName, "table", "1", "proto", "82")
	n.ip(t, "route", "add", "198.18.10.0/26", "dev", DefaultDeviceName, "table", "1")
	n.ip(t, "rule", "add", "priority", "99", "lookup", "1", "proto", "82")
	n.ip(t, "rule", "add", "priority", "98", "lookup", "2")

	w, err := New(n.ns, Options{Logger: testLogger(t, n.name)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}()
	st, err := w.RemoveLeftover("", 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.RoutesRemoved != 2 || st.RulesRemoved != 1 || st.DeviceRemoved {
		t.Errorf("stats %+v: want 2 routes and 1 rule removed, the veth kept", st)
	}
	routes := n.ip(t, "route", "show", "table", "1")
	if strings.Contains(routes, "198.18.9.") || !strings.Contains(routes, "198.18.10.0/26") {
		t.Errorf("table 1 after RemoveLeftover:\n%s", routes)
	}
	rules := n.ip(t, "rule", "show")
	if strings.Contains(rules, "99:") || !strings.Contains(rules, "98:") {
		t.Errorf("rules after RemoveLeftover:\n%s", rules)
	}
	if links := n.ip(t, "link", "show", DefaultDeviceName); !strings.Contains(links, DefaultDeviceName) {
		t.Errorf("the veth named %s was removed", DefaultDeviceName)
	}

	// A second start finds nothing left.
	st, err = w.RemoveLeftover("", 0)
	if err != nil || st.Changes() != 0 {
		t.Fatalf("second RemoveLeftover: %+v, %v; want no change", st, err)
	}
}
