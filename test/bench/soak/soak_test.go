package soak

import (
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestParseMetrics(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       map[string]float64
		wantErr    string
	}{
		{name: "plain and labelled, summed over labels", text: `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345678e+08
go_memstats_heap_alloc_bytes 4.2e+07
remote_cluster_errors_total{remote_cluster_name="soak-b"} 2
remote_cluster_errors_total{remote_cluster_name="soak-c"} 3
`, want: map[string]float64{"process_resident_memory_bytes": 123456780, "go_memstats_heap_alloc_bytes": 42e6, "remote_cluster_errors_total": 5}},
		{name: "a label value with a brace and a space", text: `m{a="x} y",b="z"} 7 1700000000000`, want: map[string]float64{"m": 7}},
		{name: "no value", text: "m{a=\"b\"}", wantErr: "no value"},
		{name: "bad value", text: "m abc", wantErr: "value"},
		{name: "unterminated labels", text: `m{a="b" 1`, wantErr: "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetrics(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %g, want %g", k, got[k], v)
				}
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ds := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n))
		}
		return out
	}
	for _, tc := range []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{nil, 0.99, 0},
		{ds(5), 0.5, 5},
		{ds(1, 2, 3, 4), 0.5, 2},
		{ds(1, 2, 3, 4), 0.99, 4},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9},
		{ds(1, 2, 3), 0, 1},
	} {
		if got := percentile(tc.sorted, tc.q); got != tc.want {
			t.Errorf("percentile(%v, %g) = %d, want %d", tc.sorted, tc.q, got, tc.want)
		}
	}
}

// TestShardChurn runs a shard's events against an in-memory copy of what
// the API server would store: the count stays steady, every event has a
// new sequence number, no two endpoints share an address, and every
// address is in the shard's slots of the pool.
func TestShardChurn(t *testing.T) {
	pool := netip.MustParsePrefix("198.18.0.0/24")
	for _, tc := range []struct {
		name      string
		index, of int
		initial   int
		events    int
		failEvery int
		// full: the shard's every slot is taken at first.
		full bool
	}{
		{name: "one shard", index: 0, of: 1, initial: 50, events: 400},
		{name: "shard 2 of 4", index: 2, of: 4, initial: 20, events: 400},
		{name: "full shard: no readdress, a create only after a delete", index: 1, of: 4, initial: 64, events: 40, full: true},
		{name: "failed writes given back", index: 0, of: 2, initial: 30, events: 400, failEvery: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := new(atomic.Uint64)
			s := newShard(pool, tc.index, tc.of, seq)
			for range tc.initial {
				ep, ok := s.newEndpoint()
				if !ok {
					t.Fatal("no free slot for the initial endpoints")
				}
				s.live = append(s.live, ep)
			}
			lastSeq := seq.Load()
			kinds := map[opKind]int{}
			for i := range tc.events {
				ev := s.next()
				if ev.kind != opDelete {
					if ev.seq <= lastSeq {
						t.Fatalf("event %d (%s): sequence %d not after %d", i, ev.kind, ev.seq, lastSeq)
					}
					lastSeq = ev.seq
				} else if ev.seq != mustSeq(s.live[ev.at]) {
					t.Fatalf("event %d: delete with sequence %d, the endpoint's is %d", i, ev.seq, mustSeq(s.live[ev.at]))
				}
				kinds[ev.kind]++
				if tc.failEvery > 0 && i%tc.failEvery == 0 {
					var now *v3.WorkloadEndpoint
					if ev.kind != opCreate {
						now = s.live[ev.at] // the write did not happen
					}
					s.abort(ev, now)
				} else {
					stored := ev.obj.DeepCopy()
					stored.ResourceVersion = "1"
					if ev.kind == opDelete {
						stored = nil
					}
					s.commit(ev, stored)
				}
				checkShard(t, s, pool)
			}
			if d := len(s.live) - tc.initial; d < -1 || d > 1 {
				t.Errorf("%d endpoints after the churn, %d before", len(s.live), tc.initial)
			}
			if !tc.full && tc.failEvery == 0 {
				for k := range opKinds {
					if kinds[k] == 0 {
						t.Errorf("no %s event in %v", k, kinds)
					}
				}
			}
			if tc.full && (kinds[opReaddress] != 0 || kinds[opCreate] > kinds[opDelete]) {
				t.Errorf("a full shard readdressed, or created more than it deleted: %v", kinds)
			}
		})
	}
}

// checkShard checks that s's live endpoints hold distinct addresses of
// its own slots, and that free and used slots partition them.
func checkShard(t *testing.T, s *shard, pool netip.Prefix) {
	t.Helper()
	used := map[int]bool{}
	for _, ep := range s.live {
		slot, ok := s.slots[ep.Name]
		if !ok {
			t.Fatalf("%s has no slot", ep.Name)
		}
		if used[slot] {
			t.Fatalf("slot %d used twice", slot)
		}
		used[slot] = true
		want := netip.PrefixFrom(slotAddr(pool, slot), 32).String()
		if len(ep.Spec.IPNetworks) != 1 || ep.Spec.IPNetworks[0] != want {
			t.Fatalf("%s: ipNetworks %v, its slot %d is %s", ep.Name, ep.Spec.IPNetworks, slot, want)
		}
	}
	if len(s.slots) != len(s.live) {
		t.Fatalf("%d slots taken for %d endpoints", len(s.slots), len(s.live))
	}
	for _, f := range s.free {
		if used[f] || f%s.of != s.index || f == 0 {
			t.Fatalf("free slot %d: used %v, not the shard's, or the pool's first", f, used[f])
		}
	}
	if n := len(s.free) + len(used); n != (poolSlots(pool)-1-s.index)/s.of+1-boolInt(s.index == 0) {
		t.Fatalf("%d free and used slots", n)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRecorder(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	r := newRecorder(t0, 10*time.Second, 2)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	a := eventKey{origin: "soak-a", seq: 1}
	r.expect(a, ms(0))
	r.seen("soak-b", a, ms(5)) // before the write returned
	r.written(a, ms(10), true)
	r.seen("soak-b", a, ms(50)) // a second event of the same mirror: ignored
	if r.unseen() != 1 {
		t.Fatalf("unseen %d, want 1 (soak-c has not shown it)", r.unseen())
	}
	r.seen("soak-c", a, ms(40))
	del := eventKey{origin: "soak-b", seq: 1, del: true}
	r.expect(del, ms(12_000))
	r.written(del, ms(12_010), true)
	r.seen("soak-a", del, ms(12_030))
	r.seen("soak-c", del, ms(12_110))
	failed := eventKey{origin: "soak-c", seq: 9}
	r.expect(failed, ms(1))
	r.written(failed, ms(2), false)
	r.seen("soak-a", eventKey{origin: "soak-c", seq: 100}, ms(3)) // the initial load's
	if r.unseen() != 0 {
		t.Errorf("unseen %d, want 0", r.unseen())
	}
	w0, w1 := r.stats(0), r.stats(1)
	if want := []time.Duration{0, 30 * time.Millisecond}; !slices.Equal(w0.fromReturn, want) {
		t.Errorf("window 0 from return %v, want %v", w0.fromReturn, want)
	}
	if want := []time.Duration{5 * time.Millisecond, 40 * time.Millisecond}; !slices.Equal(w0.fromSend, want) {
		t.Errorf("window 0 from send %v, want %v", w0.fromSend, want)
	}
	if want := []time.Duration{20 * time.Millisecond, 100 * time.Millisecond}; !slices.Equal(w1.fromReturn, want) {
		t.Errorf("window 1 from return %v, want %v", w1.fromReturn, want)
	}
}

func TestCompareMirror(t *testing.T) {
	ep := func(name, ip string, labels map[string]string) *v3.WorkloadEndpoint {
		return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "soak-01", Labels: labels},
			Spec: v3.WorkloadEndpointSpec{IPNetworks: []string{ip}}}
	}
	byKey := func(eps ...*v3.WorkloadEndpoint) map[string]*v3.WorkloadEndpoint {
		m := map[string]*v3.WorkloadEndpoint{}
		for _, e := range eps {
			m[e.Namespace+"/"+e.Name] = e
		}
		return m
	}
	truth := byKey(ep("ep-1", "198.18.128.1/32", map[string]string{"app": "1", seqLabel: "7"}))
	mirrorLabels := map[string]string{"app": "1", seqLabel: "7", v3.LabelCluster: "soak-b"}
	for _, tc := range []struct {
		name   string
		mirror map[string]*v3.WorkloadEndpoint
		want   int
		diff   string
	}{
		{name: "equal", mirror: byKey(ep("soak-b.ep-1", "198.18.128.1/32", mirrorLabels))},
		{name: "missing", mirror: byKey(), want: 1, diff: "no mirror soak-01/soak-b.ep-1"},
		{name: "stale label", mirror: byKey(ep("soak-b.ep-1", "198.18.128.1/32", map[string]string{"app": "1", seqLabel: "6", v3.LabelCluster: "soak-b"})),
			want: 1, diff: `label soak-seq="7", mirror soak-01/soak-b.ep-1 has "6"`},
		{name: "stale address", mirror: byKey(ep("soak-b.ep-1", "198.18.128.9/32", mirrorLabels)), want: 1, diff: "ipNetworks"},
		{name: "not marked as a mirror", mirror: byKey(ep("soak-b.ep-1", "198.18.128.1/32", map[string]string{"app": "1", seqLabel: "7"})),
			want: 1, diff: v3.LabelCluster},
		{name: "extra mirror", mirror: byKey(ep("soak-b.ep-1", "198.18.128.1/32", mirrorLabels), ep("soak-b.ep-2", "198.18.128.2/32", mirrorLabels)),
			want: 1, diff: "mirror soak-01/soak-b.ep-2: no such endpoint in soak-b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, diffs := compareMirror("soak-b", truth, tc.mirror, 3)
			if n != tc.want || len(diffs) != tc.want {
				t.Fatalf("%d differences %q, want %d", n, diffs, tc.want)
			}
			if tc.diff != "" && !strings.Contains(diffs[0], tc.diff) {
				t.Errorf("difference %q, want one containing %q", diffs[0], tc.diff)
			}
		})
	}
}

func TestLogProblems(t *testing.T) {
	log := `I1203 00:16:37.000001   42 syncer.go:10] "Remote cluster is in sync" remoteCluster="soak-b"
E1203 00:17:01.123456   42 syncer.go:334] "Mirroring" err="conflict" remoteCluster="soak-b"
I1203 00:17:02.000000   42 mirroradmit.go:154] "Refusing to mirror a remote object" remoteCluster="soak-c" kind="WorkloadEndpoint"
I1203 00:17:03.000000   42 syncer.go:420] "Remote cluster connection failed; keeping the last known mirror" remoteCluster="soak-c"
I1203 00:17:04.000000   42 x.go:1] "Error budget fine" note="E1203 in a value is not a line start"
E1203 00:17:05.000000   42 syncer.go:334] "Mirroring" err="timeout"`
	for _, tc := range []struct {
		limit, wantN, wantFirst int
	}{{limit: 10, wantN: 4, wantFirst: 4}, {limit: 2, wantN: 4, wantFirst: 2}, {limit: 0, wantN: 4, wantFirst: 0}} {
		n, first := logProblems(log, tc.limit)
		if n != tc.wantN || len(first) != tc.wantFirst {
			t.Errorf("limit %d: %d problems, %d kept; want %d, %d", tc.limit, n, len(first), tc.wantN, tc.wantFirst)
		}
		if len(first) > 0 && !strings.Contains(first[0], `err="conflict"`) {
			t.Errorf("first problem %q", first[0])
		}
	}
	if n, _ := logProblems("", 3); n != 0 {
		t.Errorf("empty log: %d problems", n)
	}
}
