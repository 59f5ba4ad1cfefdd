package remotecluster

import "testing"

// TestRenewingMap: a map emptied after a peak above mapRenewAt is let go;
// one emptied after a smaller peak, or not emptied, is kept.
func TestRenewingMap(t *testing.T) {
	for _, tc := range []struct {
		name        string
		set, delete int // keys 0..set-1 set, then 0..delete-1 deleted
		wantLen     int
		wantRenewed bool
	}{
		{name: "never used", wantRenewed: true},
		{name: "emptied after a small peak", set: mapRenewAt, delete: mapRenewAt},
		{name: "emptied after a burst", set: mapRenewAt + 1, delete: mapRenewAt + 1, wantRenewed: true},
		{name: "one left after a burst", set: 4 * mapRenewAt, delete: 4*mapRenewAt - 1, wantLen: 1},
		{name: "deleting what is absent", set: 1, delete: 0, wantLen: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m renewingMap[int, string]
			for i := range tc.set {
				m.set(i, "v")
			}
			m.delete(-1) // absent: no effect
			for i := range tc.delete {
				m.delete(i)
			}
			if renewed := m.m == nil; m.len() != tc.wantLen || renewed != tc.wantRenewed {
				t.Errorf("len %d, let go %v; want %d, %v", m.len(), renewed, tc.wantLen, tc.wantRenewed)
			}
			if tc.wantRenewed && m.peak != 0 {
				t.Errorf("peak %d after renewal, want 0", m.peak)
			}
			m.set(7, "x") // usable after renewal
			if v, ok := m.get(7); !ok || v != "x" || !m.has(7) {
				t.Errorf("get(7) = %q, %v after set", v, ok)
			}
		})
	}
}
