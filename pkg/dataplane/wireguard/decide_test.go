package wireguard

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func mustKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	vx := Policy{VXLANEnabled: true}
	for _, tc := range []struct {
		name string
		p    Policy
		o    Observation
		want Via
	}{
		{"no key, VXLAN enabled", vx, Observation{}, ViaVXLAN},
		{"no key, VXLAN disabled", Policy{}, Observation{}, ViaNone},
		{"key, never configured: first handshake under way", vx, Observation{HasKey: true}, ViaWireGuard},
		{"key, never configured, no grace", Policy{VXLANEnabled: true, HandshakeGrace: -1}, Observation{HasKey: true}, ViaVXLAN},
		{"key, configured within grace", vx, Observation{HasKey: true, ConfiguredAt: now.Add(-2 * time.Second)}, ViaWireGuard},
		{"key, no handshake within grace", vx, Observation{HasKey: true, ConfiguredAt: now.Add(-6 * time.Second)}, ViaVXLAN},
		{"key, no handshake within custom grace", Policy{VXLANEnabled: true, HandshakeGrace: time.Minute}, Observation{HasKey: true, ConfiguredAt: now.Add(-30 * time.Second)}, ViaWireGuard},
		{"recent handshake", vx, Observation{HasKey: true, ConfiguredAt: now.Add(-time.Hour), LastHandshake: now.Add(-time.Minute)}, ViaWireGuard},
		{"handshake exactly at the bound", vx, Observation{HasKey: true, ConfiguredAt: now.Add(-time.Hour), LastHandshake: now.Add(-DefaultHandshakeTimeout)}, ViaWireGuard},
		{"stale handshake", vx, Observation{HasKey: true, ConfiguredAt: now.Add(-time.Hour), LastHandshake: now.Add(-DefaultHandshakeTimeout - time.Second)}, ViaVXLAN},
		{"stale handshake, custom bound", Policy{VXLANEnabled: true, HandshakeTimeout: time.Hour}, Observation{HasKey: true, LastHandshake: now.Add(-30 * time.Minute)}, ViaWireGuard},
		{"VXLAN disabled: WireGuard without handshake", Policy{}, Observation{HasKey: true, ConfiguredAt: now.Add(-time.Hour)}, ViaWireGuard},
		{"VXLAN disabled: WireGuard with a stale handshake", Policy{}, Observation{HasKey: true, LastHandshake: now.Add(-time.Hour)}, ViaWireGuard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := Decide(now, tc.p, tc.o)
			if got != tc.want {
				t.Fatalf("Decide = %s (%s), want %s", got, why, tc.want)
			}
			if why == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestPlan(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	kA, kB, kC, kB2 := mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	nodes := []Node{
		{Name: "c", PublicKey: kC, NodeIP: netip.MustParseAddr("198.18.0.3"), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.18.10.0/26")}},
		{Name: "a", PublicKey: kA, NodeIP: netip.MustParseAddr("198.18.0.1"), ListenPort: 51000, AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.18.8.0/26")}},
		{Name: "b", PublicKey: kB, NodeIP: netip.MustParseAddr("198.18.0.2"), AllowedIPs: []netip.Prefix{netip.MustParsePrefix("198.18.9.0/26")}},
		{Name: "nokey", NodeIP: netip.MustParseAddr("198.18.0.4")},
		{Name: "noip", PublicKey: mustKey(t)},
		{Name: "zdup", PublicKey: kA, NodeIP: netip.MustParseAddr("198.18.0.5")},
	}
	status := []PeerStatus{
		{Name: "a", PublicKey: kA, ConfiguredAt: now.Add(-time.Hour), LastHandshake: now.Add(-time.Minute)},
		{Name: "b", PublicKey: kB, ConfiguredAt: now.Add(-time.Hour)}, // never shook hands
	}
	p := Policy{VXLANEnabled: true}
	peers, decisions := Plan(now, p, 51820, nodes, status)

	wantVia := map[string]Via{"a": ViaWireGuard, "b": ViaVXLAN, "c": ViaWireGuard, "nokey": ViaVXLAN, "noip": ViaVXLAN, "zdup": ViaVXLAN}
	if len(decisions) != len(wantVia) {
		t.Fatalf("decisions %v", decisions)
	}
	for i, d := range decisions {
		if i > 0 && decisions[i-1].Node >= d.Node {
			t.Errorf("decisions not sorted: %v", decisions)
		}
		if d.Via != wantVia[d.Node] {
			t.Errorf("node %s: %s (%s), want %s", d.Node, d.Via, d.Reason, wantVia[d.Node])
		}
	}
	if got := decisions[len(decisions)-1]; !strings.Contains(got.Reason, "node a") {
		t.Errorf("duplicate key decision %+v does not name the other node", got)
	}
	if len(peers) != 3 {
		t.Fatalf("peers %+v, want a, b, c", peers)
	}
	want := []Peer{
		{Name: "a", PublicKey: kA, Endpoint: netip.MustParseAddrPort("198.18.0.1:51000"), AllowedIPs: nodes[1].AllowedIPs, Route: true},
		{Name: "b", PublicKey: kB, Endpoint: netip.MustParseAddrPort("198.18.0.2:51820"), AllowedIPs: nodes[2].AllowedIPs, Route: false},
		{Name: "c", PublicKey: kC, Endpoint: netip.MustParseAddrPort("198.18.0.3:51820"), AllowedIPs: nodes[0].AllowedIPs, Route: true},
	}
	for i := range want {
		g, w := peers[i], want[i]
		if g.Name != w.Name || g.PublicKey != w.PublicKey || g.Endpoint != w.Endpoint || g.Route != w.Route ||
			len(g.AllowedIPs) != 1 || g.AllowedIPs[0] != w.AllowedIPs[0] {
			t.Errorf("peer %d = %+v, want %+v", i, g, w)
		}
	}

	// b rotates its key: the old status no longer counts, b is a new
	// peer again (WireGuard while its first handshake is under way).
	nodes[2].PublicKey = kB2
	peers, decisions = Plan(now, p, 51820, nodes, status)
	if peers[1].PublicKey != kB2 || !peers[1].Route || decisions[1].Via != ViaWireGuard {
		t.Fatalf("after b's rotation: peer %+v, decision %+v", peers[1], decisions[1])
	}

	// Without VXLAN every node with a key goes through WireGuard, the
	// others have no overlay.
	_, decisions = Plan(now, Policy{}, 0, nodes, status)
	for _, d := range decisions {
		want := ViaWireGuard
		if d.Node == "nokey" || d.Node == "noip" || d.Node == "zdup" {
			want = ViaNone
		}
		if d.Via != want {
			t.Errorf("VXLAN disabled: node %s: %s, want %s", d.Node, d.Via, want)
		}
	}
}

func TestPeerChanges(t *testing.T) {
	kA, kB, kC, kB2 := mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	ka := DefaultPersistentKeepalive
	peer := func(k wgtypes.Key, ep string, ips ...string) Peer {
		p := Peer{PublicKey: k, Endpoint: netip.MustParseAddrPort(ep)}
		for _, s := range ips {
			p.AllowedIPs = append(p.AllowedIPs, netip.MustParsePrefix(s))
		}
		return p
	}
	// The device as the previous Apply left it (what wgctrl reports).
	device := func(ps ...Peer) []wgtypes.Peer {
		var out []wgtypes.Peer
		for _, p := range ps {
			out = append(out, wgtypes.Peer{PublicKey: p.PublicKey, Endpoint: net.UDPAddrFromAddrPort(p.Endpoint),
				PersistentKeepaliveInterval: ka, AllowedIPs: ipNets(p.AllowedIPs)})
		}
		return out
	}
	a := peer(kA, "198.18.0.1:51820", "198.18.8.0/26")
	b := peer(kB, "198.18.0.2:51820", "198.18.9.0/26", "198.18.9.64/26")
	c := peer(kC, "198.18.0.3:51820", "198.18.10.0/26")

	type change struct {
		key     wgtypes.Key
		remove  bool
		update  bool
		allowed int
	}
	for _, tc := range []struct {
		name string
		have []wgtypes.Peer
		want []Peer
		exp  []change
	}{
		{"empty device", nil, []Peer{a, b}, []change{{key: kA, allowed: 1}, {key: kB, allowed: 2}}},
		{"nothing changed", device(a, b, c), []Peer{c, b, a}, nil},
		{"same AllowedIPs in another order, duplicated", device(b), []Peer{peer(kB, "198.18.0.2:51820", "198.18.9.64/26", "198.18.9.0/26", "198.18.9.0/26")}, nil},
		{"key rotated: old removed, new added, others untouched", device(a, b, c), []Peer{a, peer(kB2, "198.18.0.2:51820", "198.18.9.0/26", "198.18.9.64/26"), c},
			[]change{{key: kB, remove: true}, {key: kB2, allowed: 2}}},
		{"peer removed: only it", device(a, b, c), []Peer{a, c}, []change{{key: kB, remove: true}}},
		{"endpoint moved", device(a, b), []Peer{a, peer(kB, "198.18.0.20:51820", "198.18.9.0/26", "198.18.9.64/26")}, []change{{key: kB, update: true, allowed: 2}}},
		{"block added: AllowedIPs replaced", device(a, b), []Peer{peer(kA, "198.18.0.1:51820", "198.18.8.0/26", "198.18.8.64/26"), b}, []change{{key: kA, update: true, allowed: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			removed, added, updated := peerChanges(tc.have, tc.want, ka)
			var got []wgtypes.PeerConfig
			got = append(append(append(got, removed...), added...), updated...)
			if len(got) != len(tc.exp) {
				t.Fatalf("%d changes %+v, want %d", len(got), got, len(tc.exp))
			}
			byKey := map[wgtypes.Key]wgtypes.PeerConfig{}
			for _, g := range got {
				byKey[g.PublicKey] = g
			}
			for _, r := range removed { // removals come first, and only removals
				if !r.Remove {
					t.Fatalf("removed holds %+v", r)
				}
			}
			for i, e := range tc.exp {
				g := byKey[e.key]
				if g.PublicKey != e.key || g.Remove != e.remove || g.UpdateOnly != e.update || len(g.AllowedIPs) != e.allowed {
					t.Errorf("change %d = %+v, want %+v", i, g, e)
				}
				if !g.Remove && (!g.ReplaceAllowedIPs || g.PersistentKeepaliveInterval == nil || *g.PersistentKeepaliveInterval != ka || g.Endpoint == nil) {
					t.Errorf("change %d = %+v: want ReplaceAllowedIPs, keepalive and endpoint", i, g)
				}
			}
		})
	}
}

func TestLoadOrCreatePrivateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "wireguard.key")
	k1, created, err := LoadOrCreatePrivateKey(path)
	if err != nil || !created || k1 == (wgtypes.Key{}) {
		t.Fatalf("first call: key %v created %v err %v", k1, created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreatePrivateKey(path)
	if err != nil || created || k2 != k1 {
		t.Fatalf("second call: same key %v, created %v, err %v", k2 == k1, created, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadOrCreatePrivateKey(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("world-readable key file: err %v, want one naming %s and 0644", err, path)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.key"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreatePrivateKey(filepath.Join(dir, "bad.key")); err == nil || !strings.Contains(err.Error(), "bad.key") {
		t.Fatalf("garbage key file: err %v", err)
	}
}
