package agent

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestDropManagedFields(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "meshapi-controller", Operation: metav1.ManagedFieldsOperationUpdate}}
	wep := &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns", Labels: map[string]string{"app": "a"}, ManagedFields: managed}}
	tombstone := cache.DeletedFinalStateUnknown{Key: "ns/w", Obj: wep}
	for _, tc := range []struct {
		name string
		in   any
	}{
		{"endpoint", wep},
		{"tombstone", tombstone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := dropManagedFields(tc.in)
			if err != nil {
				t.Fatalf("dropManagedFields: %v", err)
			}
			if o, ok := out.(*v3.WorkloadEndpoint); ok {
				if o.ManagedFields != nil {
					t.Errorf("managedFields = %v, want none", o.ManagedFields)
				}
				if o.Labels["app"] != "a" || o.Name != "w" {
					t.Errorf("object changed beyond its managedFields: %+v", o.ObjectMeta)
				}
				return
			}
			if _, ok := out.(cache.DeletedFinalStateUnknown); !ok {
				t.Errorf("a tombstone came out as %T", out)
			}
		})
	}
}
