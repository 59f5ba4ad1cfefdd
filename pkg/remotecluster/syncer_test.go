package remotecluster

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// echoStep is one step of what ownWrites is told about one object: a
// reconcile starting or ending, or an informer event of its mirror.
type echoStep struct {
	// begin: a reconcile starts. end: it ends, having written w (nil for
	// nothing), failed if it returned an error. Neither: ev is an
	// informer event.
	begin, end, failed bool
	w                  *write
	ev                 mirrorChange
	// want is, for an event, that it is reconciled now; for an end, that
	// an event held during the reconcile is reconciled.
	want bool
}

// reconciled is a whole reconcile that wrote w, with no event meanwhile.
func reconciled(w *write) []echoStep {
	return []echoStep{{begin: true}, {end: true, w: w}}
}

func updated(rvs ...string) *write { return &write{resourceVersions: rvs} }

var deletedWrite = &write{deleted: true}

func event(rv string, reconcile bool) echoStep {
	return echoStep{ev: mirrorChange{resourceVersion: rv}, want: reconcile}
}

// tombstone is a delete event (also the cache.DeletedFinalStateUnknown of
// a relist) of a mirror last seen at resourceVersion rv.
func tombstone(rv string, reconcile bool) echoStep {
	return echoStep{ev: mirrorChange{resourceVersion: rv, deleted: true}, want: reconcile}
}

func steps(parts ...any) []echoStep {
	var out []echoStep
	for _, p := range parts {
		switch p := p.(type) {
		case echoStep:
			out = append(out, p)
		case []echoStep:
			out = append(out, p...)
		default:
			panic(fmt.Sprintf("not a step: %T", p))
		}
	}
	return out
}

// The echo of the Syncer's own write is dropped, and nothing else: every
// other event of a mirror is reconciled, also those a relist replays after
// a restart of the local API server and those of a cache that lags.
func TestOwnWrites(t *testing.T) {
	begin, end := echoStep{begin: true}, func(w *write, again bool) echoStep { return echoStep{end: true, w: w, want: again} }
	failed := func(again bool) echoStep { return echoStep{end: true, failed: true, want: again} }
	cases := []struct {
		name  string
		steps []echoStep
	}{
		{"nothing written: a change behind the Syncer's back", steps(event("7", true))},
		{"echo of a create, then a change behind its back",
			steps(reconciled(updated("7")), event("7", false), event("9", true))},
		{"echo of a Node's update and of its status update, then the same state again (a resync)",
			steps(reconciled(updated("7", "8")), event("7", false), event("8", false), event("8", true))},
		{"a relist that shows only the Node's status update",
			steps(reconciled(updated("7", "8")), event("8", false), event("8", true))},
		{"echo of a delete", steps(reconciled(deletedWrite), tombstone("7", false))},
		{"echo of a delete as a relist's final state unknown, then a mirror created behind its back",
			steps(reconciled(deletedWrite), tombstone("7", false), event("12", true))},
		{"changed behind the Syncer's back between its write and the echo",
			steps(reconciled(updated("7")), event("9", true))},
		{"deleted behind the Syncer's back before the echo of its update",
			steps(reconciled(updated("7")), tombstone("5", true))},
		{"deleted behind the Syncer's back after the echo of its update",
			steps(reconciled(updated("7")), event("7", false), tombstone("7", true))},
		{"created behind the Syncer's back after its delete",
			steps(reconciled(deletedWrite), event("12", true), tombstone("12", true))},
		{"a relist replays an older resourceVersion: reconciled, and so is the write's own event after it",
			steps(reconciled(updated("7")), event("5", true), event("7", true))},
		{"a relist shows a newer resourceVersion than the write's",
			steps(reconciled(updated("7")), event("12", true))},
		// A reconcile that starts before the echo of the last write (the
		// mirror cache lags under churn, and by seconds after a restart
		// of the local API server, TestFaults/LocalMeshapiAPIServerKill)
		// is handed that write and decides against it.
		{"the next reconcile agrees with the write before its echo: the echo is still dropped",
			steps(reconciled(updated("7")), reconciled(nil), event("7", false), event("7", true))},
		{"the echo of the write comes during a next reconcile that agrees with it",
			steps(reconciled(updated("7")), begin, event("7", false), end(nil, false))},
		{"the next reconcile writes again before the first write's echo: both echoes dropped",
			steps(reconciled(updated("7")), reconciled(updated("9")), event("7", false), event("9", false), event("9", true))},
		{"the second write's echo comes first (a relist): the first's is then reconciled",
			steps(reconciled(updated("7")), reconciled(updated("9")), event("9", false), event("7", true))},
		{"three writes before any echo",
			steps(reconciled(updated("7")), reconciled(updated("9")), reconciled(updated("11")),
				event("7", false), event("9", false), event("11", false), event("12", true))},
		{"a Node's two writes overtaken by a third",
			steps(reconciled(updated("7", "8")), reconciled(updated("9", "10")), event("7", false), event("8", false), event("9", false), event("10", false))},
		{"a delete of the mirror just written, before the write's echo",
			steps(reconciled(updated("7")), reconciled(deletedWrite), event("7", false), tombstone("7", false), event("7", true))},
		{"a create after a delete whose echo has not come",
			steps(reconciled(deletedWrite), reconciled(updated("12")), tombstone("7", false), event("12", false))},
		{"a change behind the Syncer's back after it overtook its own write",
			steps(reconciled(updated("7")), reconciled(updated("9")), event("8", true), event("9", true))},
		{"the next reconcile's write is refused (changed behind the Syncer's back): the record is forgotten",
			steps(reconciled(updated("7")), begin, failed(false), event("7", true))},
		{"an event during a reconcile that failed", steps(reconciled(updated("7")), begin, event("7", false), failed(true))},
		{"the echo comes before the write is recorded", steps(begin, event("7", false), end(updated("7"), false))},
		{"a change behind the Syncer's back comes during its write",
			steps(begin, event("7", false), event("9", false), end(updated("7"), true))},
		{"a delete behind the Syncer's back comes during its write",
			steps(begin, tombstone("5", false), end(updated("7"), true))},
		{"a Node's update echoed during the write, its status update after",
			steps(begin, event("7", false), end(updated("7", "8"), false), event("8", false), event("8", true))},
		{"an event during a reconcile that wrote nothing", steps(begin, event("7", false), end(nil, true))},
	}
	it := queueItem{key: "ns/wep-1"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOwnWrites()
			for i, s := range tc.steps {
				switch {
				case s.begin:
					o.begin(it)
				case s.end:
					if got := o.end(it, s.w, s.failed); got != s.want {
						t.Errorf("step %d, end of the write %+v: reconcile again = %v, want %v", i, s.w, got, s.want)
					}
				default:
					if got := o.event(it, s.ev); got != s.want {
						t.Errorf("step %d, event %+v: reconciled = %v, want %v", i, s.ev, got, s.want)
					}
				}
			}
			if _, writing := o.writing[it]; writing {
				t.Errorf("events still held after the reconcile ended")
			}
		})
	}
}

// Records are per object: the echo of one mirror's write says nothing of
// another's, and the records of a settled mirror are gone.
func TestOwnWritesPerObject(t *testing.T) {
	o := newOwnWrites()
	a, b := queueItem{key: "ns/a"}, queueItem{key: "ns/b"}
	o.begin(a)
	o.end(a, updated("7"), false)
	if !o.event(b, mirrorChange{resourceVersion: "7"}) {
		t.Errorf("an event of b with the resourceVersion of a's write was dropped")
	}
	if o.event(a, mirrorChange{resourceVersion: "7"}) {
		t.Errorf("the echo of a's write was reconciled")
	}
	if o.written.len() != 0 || len(o.writing) != 0 {
		t.Errorf("records left once every write is echoed: %v, %v", o.written.m, o.writing)
	}
}

// TestOwnWritesRenewsItsMap: once the echoes of a full resync's writes
// are all back, the record map is made anew rather than keeping the room
// it grew to; a few outstanding writes keep it.
func TestOwnWritesRenewsItsMap(t *testing.T) {
	for _, tc := range []struct {
		name        string
		writes      int
		echoed      int
		wantLeft    int
		wantRenewed bool
	}{
		{name: "all of a full resync echoed", writes: 1000, echoed: 1000, wantRenewed: true},
		{name: "one still outstanding", writes: 1000, echoed: 999, wantLeft: 1},
		{name: "few writes", writes: mapRenewAt, echoed: mapRenewAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOwnWrites()
			for i := range tc.writes {
				it := queueItem{key: fmt.Sprintf("ns/ep-%d", i)}
				o.begin(it)
				o.end(it, updated(fmt.Sprint(i+1)), false)
			}
			for i := range tc.echoed {
				if o.event(queueItem{key: fmt.Sprintf("ns/ep-%d", i)}, mirrorChange{resourceVersion: fmt.Sprint(i + 1)}) {
					t.Fatalf("the echo of write %d was reconciled", i)
				}
			}
			renewed := o.written.m == nil
			if o.written.len() != tc.wantLeft || renewed != tc.wantRenewed {
				t.Errorf("%d records, map made anew %v; want %d, %v", o.written.len(), renewed, tc.wantLeft, tc.wantRenewed)
			}
		})
	}
}

// The controller passes the Syncer each event of its mirrors with the
// mirror's resourceVersion, and a delete as one, also when the informer
// hands over a cache.DeletedFinalStateUnknown after a relist.
func TestMirrorChangedPassesEvents(t *testing.T) {
	kinds := kindsOf(mirrorKinds())
	wep := kindNamed(kinds, "WorkloadEndpoint")
	mirror := &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{
		Name: v3.MirrorName("cluster-b", "wep-1"), Namespace: "ns", ResourceVersion: "7",
		Labels: map[string]string{v3.LabelCluster: "cluster-b"}, Annotations: map[string]string{v3.AnnotationRemoteName: "wep-1"},
	}}
	cases := []struct {
		name    string
		written *write // the syncer's last write of the mirror
		obj     any
		deleted bool
		want    bool // reconciled
	}{
		{"the echo of an update", updated("7"), mirror, false, false},
		{"the echo of a delete", deletedWrite, mirror, true, false},
		{"the echo of a delete, a relist's final state unknown", deletedWrite, cache.DeletedFinalStateUnknown{Key: "ns/x", Obj: mirror}, true, false},
		{"deleted behind the syncer's back, a relist's final state unknown", updated("7"), cache.DeletedFinalStateUnknown{Key: "ns/x", Obj: mirror}, true, true},
		{"changed behind the syncer's back", updated("5"), mirror, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSyncer("cluster-b", false, nil, nil, kinds, NewMetrics(prometheus.NewRegistry()), writeBounds{}, func(SyncStatus) {})
			defer s.queue.ShutDown()
			c := &Controller{
				kinds:       kinds,
				running:     map[string]*runningSyncer{"cluster-b": {syncer: s}},
				rccs:        cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
				queue:       workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
				statusQueue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
			}
			defer c.queue.ShutDown()
			defer c.statusQueue.ShutDown()
			it := queueItem{s.kindOf(wep), "ns/wep-1"}
			s.own.begin(it)
			s.own.end(it, tc.written, false)
			c.mirrorChanged(wep, tc.obj, tc.deleted)
			if got := s.queue.Len() == 1; got != tc.want {
				t.Errorf("reconciled = %v, want %v", got, tc.want)
			}
		})
	}
}
