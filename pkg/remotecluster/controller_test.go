package remotecluster

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestSetCondition(t *testing.T) {
	old := metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	connected := func(status metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: v3.RemoteClusterConditionConnected, Status: status, Reason: "Connecting",
			Message: "connecting", ObservedGeneration: 1, LastTransitionTime: old}
	}
	requirements := metav1.Condition{Type: v3.RemoteClusterConditionRequirementsMet, Status: metav1.ConditionTrue,
		Reason: "RequirementsMet", Message: "ok", ObservedGeneration: 1, LastTransitionTime: old}

	cases := []struct {
		name    string
		conds   []metav1.Condition
		typ     string
		status  metav1.ConditionStatus
		reason  string
		message string
		gen     int64
		// want is the result; a zero LastTransitionTime in it stands for
		// "set now".
		want []metav1.Condition
	}{
		{
			name: "new condition added", conds: nil,
			typ: v3.RemoteClusterConditionSynced, status: metav1.ConditionFalse, reason: "Connecting", message: "connecting", gen: 2,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionSynced, Status: metav1.ConditionFalse, Reason: "Connecting", Message: "connecting", ObservedGeneration: 2}},
		},
		{
			name: "new condition appended after others", conds: []metav1.Condition{requirements},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionTrue, reason: "InSync", message: "in sync", gen: 1,
			want: []metav1.Condition{requirements, {Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionTrue, Reason: "InSync", Message: "in sync", ObservedGeneration: 1}},
		},
		{
			name: "same status keeps the transition time", conds: []metav1.Condition{connected(metav1.ConditionUnknown), requirements},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionUnknown, reason: "ResyncInProgress", message: "resyncing", gen: 3,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionUnknown, Reason: "ResyncInProgress",
				Message: "resyncing", ObservedGeneration: 3, LastTransitionTime: old}, requirements},
		},
		{
			name: "status change moves the transition time", conds: []metav1.Condition{requirements, connected(metav1.ConditionUnknown)},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionFalse, reason: "RemoteUnreachable", message: "unreachable", gen: 1,
			want: []metav1.Condition{requirements, {Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionFalse, Reason: "RemoteUnreachable",
				Message: "unreachable", ObservedGeneration: 1}},
		},
		{
			name: "empty reason of a new condition is Unknown", conds: nil,
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionUnknown, reason: "", message: "", gen: 1,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionUnknown, Reason: "Unknown", ObservedGeneration: 1}},
		},
		{
			name: "empty reason of an existing condition is Unknown", conds: []metav1.Condition{connected(metav1.ConditionUnknown)},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionUnknown, reason: "", message: "m", gen: 1,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionUnknown, Reason: "Unknown", Message: "m",
				ObservedGeneration: 1, LastTransitionTime: old}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conds := append([]metav1.Condition(nil), tc.conds...)
			start := time.Now().Add(-time.Second)
			setCondition(&conds, tc.typ, tc.status, tc.reason, tc.message, tc.gen)
			end := time.Now().Add(time.Second)
			if len(conds) != len(tc.want) {
				t.Fatalf("conditions = %+v, want %+v", conds, tc.want)
			}
			for i := range conds {
				got, want := conds[i], tc.want[i]
				if want.LastTransitionTime.IsZero() {
					if got.LastTransitionTime.Time.Before(start) || got.LastTransitionTime.Time.After(end) {
						t.Errorf("condition %s: LastTransitionTime = %v, want now", got.Type, got.LastTransitionTime)
					}
					got.LastTransitionTime = metav1.Time{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("condition %d =\n%+v\nwant\n%+v", i, conds[i], tc.want[i])
				}
			}
		})
	}
}

func TestClusterIndexFunc(t *testing.T) {
	cases := []struct {
		name    string
		obj     any
		want    []string
		wantErr bool
	}{
		{name: "mirrored endpoint", obj: &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.x", Namespace: "ns",
			Labels: map[string]string{v3.LabelCluster: "cluster-b", "app": "web"}}}, want: []string{"cluster-b"}},
		{name: "mirrored pool", obj: &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v3.LabelCluster: "cluster-c"}}}, want: []string{"cluster-c"}},
		{name: "local object", obj: &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "host-1", Labels: map[string]string{"app": "web"}}}, want: nil},
		{name: "no labels", obj: &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, want: nil},
		{name: "not an object", obj: "cluster-b", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clusterIndexFunc(tc.obj)
			if (err != nil) != tc.wantErr {
				t.Fatalf("clusterIndexFunc error = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("clusterIndexFunc = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestSpecChanged(t *testing.T) {
	now := metav1.Now()
	base := v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b", UID: "u1", Generation: 3, ResourceVersion: "10"}}
	with := func(f func(*v3.RemoteClusterConfiguration)) *v3.RemoteClusterConfiguration {
		r := base.DeepCopy()
		f(r)
		return r
	}
	cases := []struct {
		name string
		new  *v3.RemoteClusterConfiguration
		want bool
	}{
		{"status only", with(func(r *v3.RemoteClusterConfiguration) {
			r.ResourceVersion = "11"
			r.Status.SyncState = v3.SyncStateInSync
			r.Status.MirroredObjects = &v3.MirroredObjectCounts{WorkloadEndpoints: 7}
		}), false},
		{"labels only", with(func(r *v3.RemoteClusterConfiguration) { r.Labels = map[string]string{"team": "net"} }), false},
		{"spec (generation)", with(func(r *v3.RemoteClusterConfiguration) {
			r.Generation = 4
			r.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeEnabled
		}), true},
		{"deletion started", with(func(r *v3.RemoteClusterConfiguration) { r.DeletionTimestamp = &now }), true},
		{"recreated under the same name", with(func(r *v3.RemoteClusterConfiguration) { r.UID = "u2"; r.Generation = 1 }), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := specChanged(&base, tc.new); got != tc.want {
				t.Errorf("specChanged = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMirrorCounts(t *testing.T) {
	c := &Controller{kinds: kindsOf(mirrorKinds()), counts: map[string]map[*kind]int32{}}
	wep, node := kindNamed(c.kinds, "WorkloadEndpoint"), kindNamed(c.kinds, "Node")
	mirror := func(cluster, name string) *v3.WorkloadEndpoint {
		return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{v3.LabelCluster: cluster}}}
	}
	local := &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: "ns"}}
	type event struct {
		kind  *kind
		obj   any
		delta int32
	}
	cases := []struct {
		name   string
		events []event
		want   map[string][]int32 // cluster -> count of [wep, node]
	}{
		{"adds per cluster and kind", []event{
			{wep, mirror("b", "1"), 1}, {wep, mirror("b", "2"), 1}, {wep, mirror("c", "1"), 1}, {node, mirror("b", "n"), 1},
		}, map[string][]int32{"b": {2, 1}, "c": {1, 0}}},
		{"local objects are not counted", []event{{wep, local, 1}}, map[string][]int32{"b": {0, 0}}},
		{"deletes, also of a final state unknown", []event{
			{wep, mirror("b", "1"), 1}, {wep, mirror("b", "2"), 1},
			{wep, mirror("b", "1"), -1},
			{wep, cache.DeletedFinalStateUnknown{Key: "ns/2", Obj: mirror("b", "2")}, -1},
		}, map[string][]int32{"b": {0, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.counts = map[string]map[*kind]int32{}
			for _, e := range tc.events {
				c.count(e.kind, e.obj, e.delta)
			}
			for cluster, want := range tc.want {
				got := c.mirroredCounts(cluster)
				if got[wep] != want[0] || got[node] != want[1] {
					t.Errorf("cluster %s: %d endpoints and %d nodes, want %v", cluster, got[wep], got[node], want)
				}
			}
			if len(tc.want) == 1 && tc.want["b"][0] == 0 && len(c.counts) != 0 {
				t.Errorf("emptied clusters stay in the map: %v", c.counts)
			}
		})
	}
}

func TestSettling(t *testing.T) {
	kinds := kindsOf(mirrorKinds())
	wep := kindNamed(kinds, "WorkloadEndpoint")
	remoteWEPs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range []string{"a", "b"} {
		if err := remoteWEPs.Add(&v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "ns"}}); err != nil {
			t.Fatal(err)
		}
	}
	syncer := &Syncer{kinds: remoteKindsOf(kinds)}
	syncer.kindOf(wep).indexer = remoteWEPs
	recent, old := metav1.Now(), metav1.NewTime(time.Now().Add(-time.Minute))
	inSync := SyncStatus{State: v3.SyncStateInSync}
	cases := []struct {
		name     string
		st       SyncStatus
		lastSync *metav1.Time
		mirrored int32 // mirrored endpoints the controller's cache has seen
		running  bool
		want     bool
	}{
		{"cache behind a fresh InSync", inSync, &recent, 1, true, true},
		{"cache caught up", inSync, &recent, 2, true, false},
		{"cache behind, but InSync is old", inSync, &old, 1, true, false},
		{"not InSync", SyncStatus{State: v3.SyncStateResyncInProgress}, &recent, 0, true, false},
		{"no syncer running", inSync, &recent, 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{kinds: kinds, counts: map[string]map[*kind]int32{}, running: map[string]*runningSyncer{}}
			if tc.running {
				c.running["cluster-b"] = &runningSyncer{syncer: syncer}
			}
			for i := int32(0); i < tc.mirrored; i++ {
				c.count(wep, &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v3.LabelCluster: "cluster-b"}}}, 1)
			}
			if got := c.settling("cluster-b", tc.st, tc.lastSync); got != tc.want {
				t.Errorf("settling = %v, want %v", got, tc.want)
			}
		})
	}
}
