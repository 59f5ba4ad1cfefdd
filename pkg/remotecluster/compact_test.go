package remotecluster

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// fresh returns a copy of s in memory of its own, as a decoder gives.
func fresh(s string) string { return strings.Clone(s) }

// decodedEndpoint returns an endpoint as a decoder gives it: every string
// and map its own.
func decodedEndpoint(name string, labels map[string]string) *v3.WorkloadEndpoint {
	l := make(map[string]string, len(labels))
	for k, v := range labels {
		l[fresh(k)] = fresh(v)
	}
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: fresh("ns-1"), UID: "uid-" + "x", Labels: l,
			Annotations:   map[string]string{fresh(v3.AnnotationRemoteName): name},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "calico-node"}},
		},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator: fresh("k8s"), Node: fresh("node-1"), Endpoint: fresh("eth0"), Pod: name,
			ServiceAccountName: fresh("default"), Profiles: []string{fresh("kns.ns-1"), fresh("ksa.ns-1.default")},
			IPNetworks: []string{"198.18.0.1/32"}, InterfaceName: "cali0",
		},
	}
}

func sameData(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestCompactorTransform(t *testing.T) {
	tests := []struct {
		name               string
		labelsA, labelsB   map[string]string
		wantSharedLabelMap bool
	}{
		{"same labels share one map", map[string]string{"app": "web", v3.LabelCluster: "b"}, map[string]string{"app": "web", v3.LabelCluster: "b"}, true},
		{"different labels keep their own", map[string]string{"app": "web"}, map[string]string{"app": "db"}, false},
		{"a label more keeps its own", map[string]string{"app": "web"}, map[string]string{"app": "web", "tier": "1"}, false},
		{"value and key swapped keep their own", map[string]string{"a": "b"}, map[string]string{"b": "a"}, false},
		{"no labels", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCompactor()
			a, b := decodedEndpoint("ep-a", tt.labelsA), decodedEndpoint("ep-b", tt.labelsB)
			wantA, wantB := a.DeepCopy(), b.DeepCopy()
			wantA.ManagedFields, wantB.ManagedFields = nil, nil
			for _, ep := range []*v3.WorkloadEndpoint{a, b} {
				out, err := c.transform(ep)
				if err != nil || out != any(ep) {
					t.Fatalf("transform(%s) = %v, %v; want the object itself", ep.Name, out, err)
				}
			}
			// Nothing but managedFields changes in value.
			if !reflect.DeepEqual(a, wantA) || !reflect.DeepEqual(b, wantB) {
				t.Errorf("transform changed the objects:\n%+v\n%+v\nwant\n%+v\n%+v", a, b, wantA, wantB)
			}
			if got := len(a.Labels) > 0 && sameMap(a.Labels, b.Labels); got != tt.wantSharedLabelMap {
				t.Errorf("label maps shared: %v, want %v", got, tt.wantSharedLabelMap)
			}
			if &a.Spec.Profiles[0] != &b.Spec.Profiles[0] {
				t.Error("equal profile lists are not shared")
			}
			// What repeats is stored once.
			for _, pair := range [][2]string{
				{a.Namespace, b.Namespace}, {a.Spec.Node, b.Spec.Node}, {a.Spec.Orchestrator, b.Spec.Orchestrator},
				{a.Spec.Endpoint, b.Spec.Endpoint}, {a.Spec.ServiceAccountName, b.Spec.ServiceAccountName},
				{a.Spec.Profiles[0], b.Spec.Profiles[0]}, {a.Spec.Profiles[1], b.Spec.Profiles[1]},
			} {
				if !sameData(pair[0], pair[1]) {
					t.Errorf("%q is stored twice", pair[0])
				}
			}
			for ka := range a.Annotations {
				for kb := range b.Annotations {
					if !sameData(ka, kb) {
						t.Errorf("annotation key %q is stored twice", ka)
					}
				}
			}
		})
	}
}

func TestCompactorTableBounded(t *testing.T) {
	c := newCompactor()
	for i := range maxSharedLabelSets + 10 {
		e := decodedEndpoint("ep", map[string]string{"app": fmt.Sprint(i)})
		e.Spec.Profiles = []string{fmt.Sprint("kns.ns-", i)}
		if _, err := c.transform(e); err != nil {
			t.Fatal(err)
		}
		if len(c.labels) > maxSharedLabelSets || len(c.profiles) > maxSharedLabelSets {
			t.Fatalf("after %d label sets and profile lists the tables hold %d and %d, more than %d", i+1, len(c.labels), len(c.profiles), maxSharedLabelSets)
		}
	}
	if len(c.labels) != 10 || len(c.profiles) != 10 {
		t.Errorf("the tables hold %d label sets and %d profile lists, want the 10 since they started over", len(c.labels), len(c.profiles))
	}
}

func TestCompactorTombstone(t *testing.T) {
	tomb := cache.DeletedFinalStateUnknown{Key: "ns/ep", Obj: decodedEndpoint("ep", nil)}
	out, err := newCompactor().transform(tomb)
	if err != nil || !reflect.DeepEqual(out, any(tomb)) {
		t.Errorf("transform(tombstone) = %v, %v; want it unchanged", out, err)
	}
}

// BenchmarkCompactorTransform measures the transform's cost per cached
// object: an endpoint as decoded, two labels.
func BenchmarkCompactorTransform(b *testing.B) {
	c := newCompactor()
	eps := make([]*v3.WorkloadEndpoint, 1000)
	for i := range eps {
		eps[i] = decodedEndpoint(fmt.Sprintf("ep-%d", i), map[string]string{"app": fmt.Sprint(i % 10), v3.LabelCluster: "b"})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.transform(eps[i%len(eps)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
