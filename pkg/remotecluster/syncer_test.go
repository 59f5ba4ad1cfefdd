package remotecluster

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The mirror informer's events of the Syncer's own writes are dropped;
// every other change of a mirror is queued for repair.
func TestMirrorEventDropsOwnEcho(t *testing.T) {
	kinds := kindsOf(mirrorKinds())
	node := kindNamed(kinds, "Node")
	const key = "host-1"
	cases := []struct {
		name    string
		written *write // what the Syncer wrote last; nil for nothing
		rv      string
		deleted bool
		// wantQueued says the event is reconciled; wantKept that the
		// record of the write still waits for an event.
		wantQueued, wantKept bool
	}{
		{name: "nothing written: a change behind the Syncer's back", rv: "7", wantQueued: true},
		{name: "echo of a create", written: &write{resourceVersions: []string{"7"}}, rv: "7"},
		{name: "a later change than the write", written: &write{resourceVersions: []string{"7"}}, rv: "9", wantQueued: true, wantKept: true},
		{name: "echo of a Node's update before its status update", written: &write{resourceVersions: []string{"7", "8"}}, rv: "7", wantKept: true},
		{name: "echo of a Node's status update", written: &write{resourceVersions: []string{"7", "8"}}, rv: "8"},
		{name: "echo of a delete", written: &write{deleted: true}, deleted: true},
		{name: "deleted behind the Syncer's back", written: &write{resourceVersions: []string{"7"}}, rv: "7", deleted: true, wantQueued: true, wantKept: true},
		{name: "recreated behind the Syncer's back after its delete", written: &write{deleted: true}, rv: "12", wantQueued: true, wantKept: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSyncer("cluster-b", true, nil, nil, kinds, NewMetrics(prometheus.NewRegistry()), func(SyncStatus) {})
			defer s.queue.ShutDown()
			it := queueItem{s.kindOf(node), key}
			if tc.written != nil {
				s.written[it] = tc.written
			}
			s.mirrorEvent(node, key, tc.rv, tc.deleted)
			if queued := s.queue.Len() == 1; queued != tc.wantQueued {
				t.Errorf("queued = %v, want %v", queued, tc.wantQueued)
			}
			if _, kept := s.written[it]; kept != tc.wantKept {
				t.Errorf("record of the write kept = %v, want %v", kept, tc.wantKept)
			}
		})
	}
}

// An event of an object being reconciled waits for its write: it is held,
// not queued, until process judges it against what was written.
func TestMirrorEventHeldWhileWriting(t *testing.T) {
	kinds := kindsOf(mirrorKinds())
	wep := kindNamed(kinds, "WorkloadEndpoint")
	s := newSyncer("cluster-b", false, nil, nil, kinds, NewMetrics(prometheus.NewRegistry()), func(SyncStatus) {})
	defer s.queue.ShutDown()
	it := queueItem{s.kindOf(wep), "ns/wep-1"}
	s.inflight[it] = nil
	s.mirrorEvent(wep, "ns/wep-1", "7", false)
	if s.queue.Len() != 0 {
		t.Errorf("an event during the write was queued")
	}
	if got := s.inflight[it]; len(got) != 1 || got[0] != (mirrorChange{resourceVersion: "7"}) {
		t.Errorf("held events %v, want the one of resourceVersion 7", got)
	}
	// The write it was waiting for: the held event is its echo.
	s.written[it] = &write{resourceVersions: []string{"7"}}
	if s.isEcho(it, s.inflight[it][0]) != true {
		t.Errorf("the held event is not recognised as the write's echo")
	}
	if _, kept := s.written[it]; kept {
		t.Errorf("the write is still awaited after its last event")
	}
}
