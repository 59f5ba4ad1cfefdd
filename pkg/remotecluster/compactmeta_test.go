package remotecluster

import (
	"fmt"
	"reflect"
	"testing"
	"time"
	"unsafe"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestCompactMetaIsAnObject(t *testing.T) {
	m := newCompactMeta(&metav1.ObjectMeta{
		Name: "ep", Namespace: "ns", UID: "u-1", ResourceVersion: "7", Labels: map[string]string{"app": "a"},
		Generation: 3, Annotations: map[string]string{"a": "b"}, Finalizers: []string{"f"},
	})
	o, err := meta.Accessor(&m)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := cache.MetaNamespaceKeyFunc(&m); err != nil || key != "ns/ep" {
		t.Errorf("key = %q, %v; want ns/ep", key, err)
	}
	want := metav1.ObjectMeta{Name: "ep", Namespace: "ns", UID: "u-1", ResourceVersion: "7", Labels: map[string]string{"app": "a"}}
	if got := m.objectMeta(); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("objectMeta = %+v, want %+v (only what compactMeta keeps)", got, want)
	}
	// Setting what it keeps is kept; setting what it does not is ignored.
	o.SetResourceVersion("8")
	o.SetLabels(map[string]string{"app": "b"})
	o.SetAnnotations(map[string]string{"x": "y"})
	o.SetCreationTimestamp(metav1.NewTime(time.Unix(1, 0)))
	o.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "m"}})
	if o.GetResourceVersion() != "8" || o.GetLabels()["app"] != "b" || o.GetAnnotations() != nil ||
		!o.GetCreationTimestamp().Time.IsZero() || o.GetManagedFields() != nil || o.GetGeneration() != 0 {
		t.Errorf("after the setters: %+v", m)
	}
	if size := unsafe.Sizeof(m); size > 72 {
		t.Errorf("compactMeta takes %d bytes, want at most 72", size)
	}
}

func TestRemoteTransformCachesEndpoints(t *testing.T) {
	k := mirrorKinds()[0].(*kindSpec[*v3.WorkloadEndpoint, *v3.WorkloadEndpointList])
	decoded := func() *v3.WorkloadEndpoint {
		e := decodedEndpoint("ep", map[string]string{"app": "a"})
		e.TypeMeta = metav1.TypeMeta{APIVersion: "projectcalico.org/v3", Kind: "WorkloadEndpoint"}
		e.ResourceVersion, e.Generation = "11", 2
		e.Spec.Pod = fresh(e.Name) // decoded: a copy of its own
		e.CreationTimestamp = metav1.NewTime(time.Unix(1700000000, 0))
		e.Spec.Ports = []v3.WorkloadEndpointPort{{Name: "http", Protocol: v3.ProtocolFromString("TCP"), Port: 80}}
		return e
	}
	got, err := k.RemoteTransform()(decoded())
	if err != nil {
		t.Fatal(err)
	}
	c, ok := got.(*cachedEndpoint)
	if !ok {
		t.Fatalf("transform returned a %T, want a *cachedEndpoint", got)
	}
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(c); err != nil || key != "ns-1/ep" {
		t.Errorf("key = %q, %v; want ns-1/ep", key, err)
	}
	if c.GetResourceVersion() != "11" || c.GetUID() != "uid-x" {
		t.Errorf("cached resourceVersion %q, UID %q; want 11 and uid-x", c.GetResourceVersion(), c.GetUID())
	}
	if !sameData(c.name, c.spec.Pod) {
		t.Error("the cached endpoint's pod is a copy of its name, not the same packed string")
	}
	back, ok := k.remoteObject(c)
	if !ok {
		t.Fatal("remoteObject does not take a *cachedEndpoint")
	}
	// The mirror built from what is cached is the one built from the
	// object decoded: nothing the mirror is made of is dropped.
	if want, have := MirrorWorkloadEndpoint("b", decoded()), MirrorWorkloadEndpoint("b", back); !apiequality.Semantic.DeepEqual(have, want) {
		t.Errorf("mirror of the cached endpoint\n%+v\nwant\n%+v", have, want)
	}
	if e, ok := k.remoteObject(decoded()); !ok || e.Name != "ep" {
		t.Errorf("remoteObject of a decoded endpoint = %v, %v", e, ok)
	}
	if _, ok := k.remoteObject(&v3.HostEndpoint{}); ok {
		t.Error("remoteObject took a HostEndpoint")
	}
	if tomb, err := k.RemoteTransform()(cache.DeletedFinalStateUnknown{Key: "ns/ep"}); err != nil || !reflect.DeepEqual(tomb, cache.DeletedFinalStateUnknown{Key: "ns/ep"}) {
		t.Errorf("transform of a tombstone = %v, %v; want it unchanged", tomb, err)
	}
	// Every other kind caches the object decoded, compacted.
	for _, k := range mirrorKinds()[1:] {
		got, err := k.RemoteTransform()(k.Example().DeepCopyObject())
		if err != nil {
			t.Fatal(err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(k.Example()) {
			t.Errorf("%s: the remote cache keeps a %T", k.Name(), got)
		}
	}
}

func TestPackStrings(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		// wantLen is the length of the one allocation they share.
		wantLen int
	}{
		{"distinct", []string{"ep-1", "uid-1", "42"}, 11},
		{"repeated once stored once", []string{"ep-1", "uid-1", "ep-1", "ep-1"}, 9},
		{"empty strings stay empty", []string{"", "ep-1", ""}, 4},
		{"none", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]string, len(tc.in))
			ps := make([]*string, len(tc.in))
			for i, s := range tc.in {
				got[i] = string([]byte(s)) // a copy of its own, as decoded
				ps[i] = &got[i]
			}
			packStrings(ps...)
			if !reflect.DeepEqual(got, append([]string{}, tc.in...)) && len(tc.in) > 0 {
				t.Fatalf("packed values %q, want %q", got, tc.in)
			}
			var start, end uintptr
			for _, s := range got {
				if s == "" {
					continue
				}
				p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
				if start == 0 || p < start {
					start = p
				}
				end = max(end, p+uintptr(len(s)))
			}
			if n := int(end - start); n != tc.wantLen {
				t.Errorf("the packed strings span %d bytes, want %d (one allocation, each distinct string once)", n, tc.wantLen)
			}
		})
	}
	many := make([]string, maxPacked+2)
	ps := make([]*string, len(many))
	for i := range many {
		many[i] = fmt.Sprint("s", i)
		ps[i] = &many[i]
	}
	packStrings(ps...) // beyond maxPacked: left as they are
	for i, s := range many {
		if s != fmt.Sprint("s", i) {
			t.Errorf("string %d = %q after packing", i, s)
		}
	}
}
