package remotecluster

import (
	"fmt"
	"reflect"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// digestBase is an endpoint mirror with every kind of field set.
func digestBase() *v3.WorkloadEndpoint {
	six := uint8(6)
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{v3.AnnotationRemoteName: "ep", v3.AnnotationRemoteUID: "u-1"}},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator: "k8s", Workload: "w", Node: "b/node-1", Pod: "p", Endpoint: "eth0",
			IPNetworks: []string{"198.18.0.1/32"}, Profiles: []string{"b/kns.ns"}, InterfaceName: "cali0",
			Ports: []v3.WorkloadEndpointPort{{Name: "http", Protocol: v3.Protocol{Number: &six}, Port: 80}},
		},
	}
}

func TestEndpointDigest(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(e *v3.WorkloadEndpoint)
		same bool
	}{
		{"unchanged", func(*v3.WorkloadEndpoint) {}, true},
		{"empty instead of nil lists and maps", func(e *v3.WorkloadEndpoint) {
			e.Spec.IPNetworks, e.Spec.Profiles, e.Spec.Ports, e.Annotations = nil, nil, nil, nil
		}, false},
		{"annotations rebuilt in another order", func(e *v3.WorkloadEndpoint) {
			e.Annotations = map[string]string{v3.AnnotationRemoteUID: "u-1", v3.AnnotationRemoteName: "ep"}
		}, true},
		{"a string moved to its neighbour", func(e *v3.WorkloadEndpoint) { e.Spec.Orchestrator, e.Spec.Workload = "k8sw", "" }, false},
		{"an address moved between lists", func(e *v3.WorkloadEndpoint) {
			e.Spec.IPNetworks, e.Spec.Profiles = nil, []string{"198.18.0.1/32", "b/kns.ns"}
		}, false},
		{"protocol by name instead of number", func(e *v3.WorkloadEndpoint) { e.Spec.Ports[0].Protocol = v3.ProtocolFromString("6") }, false},
		{"protocol number", func(e *v3.WorkloadEndpoint) { e.Spec.Ports[0].Protocol = v3.ProtocolFromInt(17) }, false},
		{"remote UID", func(e *v3.WorkloadEndpoint) { e.Annotations[v3.AnnotationRemoteUID] = "u-2" }, false},
		{"annotation added", func(e *v3.WorkloadEndpoint) { e.Annotations["x"] = "" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, e := digestBase(), digestBase()
			tc.edit(e)
			if got := endpointDigest(base) == endpointDigest(e); got != tc.same {
				t.Errorf("equal digests: %v, want %v", got, tc.same)
			}
		})
	}
	// Nil and empty lists and maps are equal to Semantic.DeepEqual, and so
	// are their digests.
	a, b := digestBase(), digestBase()
	a.Spec.IPNetworks, a.Spec.Ports, a.Annotations = nil, nil, nil
	b.Spec.IPNetworks, b.Spec.Ports, b.Annotations = []string{}, []v3.WorkloadEndpointPort{}, map[string]string{}
	if endpointDigest(a) != endpointDigest(b) {
		t.Error("nil and empty lists and maps have different digests")
	}
}

// TestEndpointDigestCoversEveryField changes each field of the spec and of
// its ports in turn: the digest must change with it. A field added to the
// types and left out of endpointDigest fails here.
func TestEndpointDigestCoversEveryField(t *testing.T) {
	base := endpointDigest(digestBase())
	specType := reflect.TypeFor[v3.WorkloadEndpointSpec]()
	for i := range specType.NumField() {
		e := digestBase()
		perturb(t, specType.Field(i).Name, reflect.ValueOf(&e.Spec).Elem().Field(i))
		if endpointDigest(e) == base {
			t.Errorf("changing spec.%s leaves the digest as it was", specType.Field(i).Name)
		}
	}
	portType := reflect.TypeFor[v3.WorkloadEndpointPort]()
	for i := range portType.NumField() {
		e := digestBase()
		perturb(t, portType.Field(i).Name, reflect.ValueOf(&e.Spec.Ports[0]).Elem().Field(i))
		if endpointDigest(e) == base {
			t.Errorf("changing spec.ports[0].%s leaves the digest as it was", portType.Field(i).Name)
		}
	}
}

// perturb changes the field v, named name, to a value it does not have in
// digestBase.
func perturb(t *testing.T, name string, v reflect.Value) {
	switch {
	case v.Kind() == reflect.String:
		v.SetString(v.String() + "x")
	case v.Kind() == reflect.Uint16:
		v.SetUint(v.Uint() + 1)
	case v.Type() == reflect.TypeFor[[]string]():
		v.Set(reflect.Append(v, reflect.ValueOf("x")))
	case v.Type() == reflect.TypeFor[[]v3.WorkloadEndpointPort]():
		v.Set(reflect.Append(v, reflect.ValueOf(v3.WorkloadEndpointPort{})))
	case v.Type() == reflect.TypeFor[v3.Protocol]():
		v.Set(reflect.ValueOf(v3.ProtocolFromString("TCP")))
	default:
		t.Fatalf("field %s of type %s: teach endpointDigest and this test about it", name, v.Type())
	}
}

func TestMirrorTransformDigestsEndpoints(t *testing.T) {
	k := mirrorKinds()[0].(*kindSpec[*v3.WorkloadEndpoint, *v3.WorkloadEndpointList])
	remote := digestBase()
	remote.Name, remote.Namespace, remote.UID = "ep", "ns", "u-1"
	want := MirrorWorkloadEndpoint("b", remote)
	stored := want.DeepCopy()
	stored.UID, stored.ResourceVersion = "m-1", "42"
	stored.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: FieldManager}}
	got, err := k.MirrorTransform()(stored.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	d, ok := got.(*digestedMirror)
	if !ok {
		t.Fatalf("transform returned a %T, want a *digestedMirror", got)
	}
	wantMeta := metav1.ObjectMeta{Name: "b.ep", Namespace: "ns", Labels: want.Labels, UID: "m-1", ResourceVersion: "42"}
	if !apiequality.Semantic.DeepEqual(d.objectMeta(), wantMeta) || d.remoteName != "ep" {
		t.Errorf("digested mirror %+v remote name %q, want %+v and %q", d.objectMeta(), d.remoteName, wantMeta, "ep")
	}
	if !sameData(d.remoteName, d.name[len("b."):]) {
		t.Error("the remote name is a copy of its own, not the end of the mirror's name")
	}
	if key, ok := k.RemoteKey("b", d); key != "ns/ep" || !ok {
		t.Errorf("RemoteKey = %q, %v; want ns/ep, true", key, ok)
	}
	if key, ok := k.RemoteKey("c", d); ok {
		t.Errorf("RemoteKey of cluster c = %q, true; want not ok", key)
	}
	if _, ok := mirrorKinds()[1].RemoteKey("b", d); ok {
		t.Error("HostEndpoint's RemoteKey took a digested endpoint")
	}
	for _, tc := range []struct {
		name string
		edit func(w *v3.WorkloadEndpoint)
		same bool
	}{
		{"desired mirror as stored", func(*v3.WorkloadEndpoint) {}, true},
		{"spec changed", func(w *v3.WorkloadEndpoint) { w.Spec.IPNetworks[0] = "198.18.0.2/32" }, false},
		{"label changed", func(w *v3.WorkloadEndpoint) { w.Labels["app"] = "x" }, false},
		{"annotation changed", func(w *v3.WorkloadEndpoint) { w.Annotations[v3.AnnotationRemoteUID] = "u-2" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := want.DeepCopy()
			tc.edit(w)
			if got := k.matches(d, w); got != tc.same {
				t.Errorf("matches digested = %v, want %v", got, tc.same)
			}
			if got := k.matches(stored, w); got != tc.same {
				t.Errorf("matches whole mirror = %v, want %v", got, tc.same)
			}
		})
	}
	if tomb, err := k.MirrorTransform()(cache.DeletedFinalStateUnknown{Key: "ns/b.ep"}); err != nil || !reflect.DeepEqual(tomb, cache.DeletedFinalStateUnknown{Key: "ns/b.ep"}) {
		t.Errorf("transform of a tombstone = %v, %v; want it unchanged", tomb, err)
	}
}

// BenchmarkEndpointDigest is the cost of comparing a desired endpoint
// mirror with a digested one, once per reconcile of an existing mirror.
func BenchmarkEndpointDigest(b *testing.B) {
	e := MirrorWorkloadEndpoint("b", decodedEndpoint("ep-1", map[string]string{"app": "1"}))
	b.ReportAllocs()
	for b.Loop() {
		endpointDigest(e)
	}
}

// BenchmarkMirrorTransformEndpoint is the cost of the mirror cache's
// transform of one endpoint mirror, once per watch event.
func BenchmarkMirrorTransformEndpoint(b *testing.B) {
	transform := mirrorKinds()[0].MirrorTransform()
	eps := make([]*v3.WorkloadEndpoint, 1000)
	for i := range eps {
		eps[i] = MirrorWorkloadEndpoint("b", decodedEndpoint(fmt.Sprintf("ep-%d", i), map[string]string{"app": fmt.Sprint(i % 10)}))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := transform(eps[i%len(eps)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestDigestedKindsAreReadByTheSyncerOnly: the requirements check and
// meshguard read whole mirrors from the mirror cache, so a kind they read
// must not be cached as digests.
func TestDigestedKindsAreReadByTheSyncerOnly(t *testing.T) {
	for _, k := range mirrorKinds() {
		got, err := k.MirrorTransform()(k.Example().DeepCopyObject())
		if err != nil {
			t.Fatal(err)
		}
		_, digested := got.(*digestedMirror)
		if digested && (k.RequirementInput() || k.GuardInput()) {
			t.Errorf("%s: the requirements or meshguard read its mirrors, but the mirror cache keeps digests", k.Name())
		}
		if want := k.Name() == "WorkloadEndpoint"; digested != want {
			t.Errorf("%s: digested %v, want %v", k.Name(), digested, want)
		}
	}
}
