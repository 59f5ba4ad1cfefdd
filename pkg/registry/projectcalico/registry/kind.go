package registry

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Object is what every projectcalico.org/v3 kind is: a runtime.Object with
// object metadata.
type Object interface {
	runtime.Object
	metav1.Object
}

// Kind describes one resource to the generic machinery.
type Kind[T Object] struct {
	// Resource is the plural resource name, e.g. "ippools".
	Resource schema.GroupResource
	// Singular is the singular resource name, e.g. "ippool".
	Singular schema.GroupResource
	// ShortNames are the kubectl short names, e.g. "ippool".
	ShortNames []string
	// Namespaced says whether objects live in a namespace.
	Namespaced bool
	// New returns an empty object; NewList an empty list.
	New     func() T
	NewList func() runtime.Object

	// Spec returns a pointer to the object's spec; a change to it bumps
	// metadata.generation.
	Spec func(T) any
	// Status returns a pointer to the object's status, or is nil for kinds
	// without a status subresource. The main resource never writes the
	// status and the status subresource never writes the spec.
	Status func(T) any

	// Normalize rewrites accepted-but-deprecated spellings into the stored
	// form before validation and returns a warning for each rewrite.
	Normalize func(obj T) []string
	// Validate checks an object on create and update.
	Validate func(ctx context.Context, obj T) field.ErrorList
	// ValidateUpdate checks what an update may change, in addition to Validate.
	ValidateUpdate func(ctx context.Context, obj, old T) field.ErrorList
	// ValidateStatus checks the status on a status update.
	ValidateStatus func(ctx context.Context, obj T) field.ErrorList

	// SelectableFields adds fields beyond metadata.name and
	// metadata.namespace that field selectors may use.
	SelectableFields func(obj T) fields.Set
	// Columns are the kubectl get columns between NAME and AGE.
	Columns []Column[T]
}
