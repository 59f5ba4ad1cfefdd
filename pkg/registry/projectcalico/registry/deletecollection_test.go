package registry

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// gracefulStrategy is a kind whose objects are deleted gracefully.
type gracefulStrategy struct{ rest.RESTDeleteStrategy }

func (gracefulStrategy) CheckGracefulDelete(context.Context, runtime.Object, *metav1.DeleteOptions) bool {
	return true
}

// orphaningStrategy is a kind with a garbage collection policy of its own.
type orphaningStrategy struct{ rest.RESTDeleteStrategy }

func (orphaningStrategy) DefaultGarbageCollectionPolicy(context.Context) rest.GarbageCollectionPolicy {
	return rest.OrphanDependents
}

func TestDeletesFromList(t *testing.T) {
	plain := strategy[*v3.WorkloadEndpoint]{ObjectTyper: testScheme(t), NameGenerator: names.SimpleNameGenerator, kind: endpointKind()}
	policy := func(p metav1.DeletionPropagation) *metav1.DeletionPropagation { return &p }
	orphan := true
	for _, tc := range []struct {
		name     string
		strategy rest.RESTDeleteStrategy
		options  *metav1.DeleteOptions
		want     bool
	}{
		{"plain delete", plain, &metav1.DeleteOptions{}, true},
		{"background propagation", plain, &metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationBackground)}, true},
		{"with preconditions", plain, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{}}, true},
		{"no options", plain, nil, false},
		{"dry run", plain, &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}, false},
		{"foreground propagation", plain, &metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationForeground)}, false},
		{"orphan propagation", plain, &metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationOrphan)}, false},
		{"orphanDependents", plain, &metav1.DeleteOptions{OrphanDependents: &orphan}, false},
		{"graceful kind", gracefulStrategy{plain}, &metav1.DeleteOptions{}, false},
		{"kind with a GC policy", orphaningStrategy{plain}, &metav1.DeleteOptions{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &REST{Store: &genericregistry.Store{DeleteStrategy: tc.strategy}}
			if got := r.deletesFromList(tc.options); got != tc.want {
				t.Errorf("deletesFromList = %v, want %v", got, tc.want)
			}
		})
	}
}
