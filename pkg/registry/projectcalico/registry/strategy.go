package registry

import (
	"context"
	"fmt"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/apiserver/pkg/warning"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// strategy is the create/update/delete strategy of a Kind's main resource.
type strategy[T Object] struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind *Kind[T]
}

func (s strategy[T]) NamespaceScoped() bool { return s.kind.Namespaced }

// PrepareForCreate clears the status, starts the generation at 1 and
// normalizes the spec.
func (s strategy[T]) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	o := obj.(T)
	if s.kind.Status != nil {
		setZero(s.kind.Status(o))
	}
	o.SetGeneration(1)
	s.normalize(ctx, o)
}

// PrepareForUpdate keeps the stored status, normalizes the spec and bumps
// the generation when the spec changed.
func (s strategy[T]) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	o, prev := obj.(T), old.(T)
	if s.kind.Status != nil {
		copyInto(s.kind.Status(o), s.kind.Status(prev))
	}
	s.normalize(ctx, o)
	if !apiequality.Semantic.DeepEqual(s.kind.Spec(o), s.kind.Spec(prev)) {
		o.SetGeneration(prev.GetGeneration() + 1)
	}
}

func (s strategy[T]) normalize(ctx context.Context, o T) {
	if s.kind.Normalize == nil {
		return
	}
	for _, w := range s.kind.Normalize(o) {
		warning.AddWarning(ctx, "", w)
	}
}

func (s strategy[T]) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	if s.kind.Validate == nil {
		return nil
	}
	return s.kind.Validate(ctx, obj.(T))
}

func (s strategy[T]) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (s strategy[T]) AllowCreateOnUpdate(context.Context) bool { return false }

func (s strategy[T]) AllowUnconditionalUpdate(context.Context) bool { return true }

func (s strategy[T]) Canonicalize(runtime.Object) {}

func (s strategy[T]) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	var errs field.ErrorList
	if s.kind.Validate != nil {
		errs = append(errs, s.kind.Validate(ctx, obj.(T))...)
	}
	if s.kind.ValidateUpdate != nil {
		errs = append(errs, s.kind.ValidateUpdate(ctx, obj.(T), old.(T))...)
	}
	return errs
}

func (s strategy[T]) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields tells server-side apply that the main resource never
// owns the status.
func (s strategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if s.kind.Status == nil {
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v3.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// statusStrategy is the update strategy of the status subresource.
type statusStrategy[T Object] struct {
	strategy[T]
}

// PrepareForUpdate keeps everything but the status as stored.
func (s statusStrategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	o, prev := obj.(T), old.(T)
	copyInto(s.kind.Spec(o), s.kind.Spec(prev))
	o.SetLabels(prev.GetLabels())
	o.SetAnnotations(prev.GetAnnotations())
	o.SetFinalizers(prev.GetFinalizers())
	o.SetOwnerReferences(prev.GetOwnerReferences())
}

func (s statusStrategy[T]) ValidateUpdate(ctx context.Context, obj, _ runtime.Object) field.ErrorList {
	if s.kind.ValidateStatus == nil {
		return nil
	}
	return s.kind.ValidateStatus(ctx, obj.(T))
}

func (s statusStrategy[T]) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields tells server-side apply that the status subresource never
// owns the spec.
func (s statusStrategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v3.SchemeGroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
			fieldpath.MakePathOrDie("metadata", "annotations"),
		),
	}
}

// getAttrs returns the labels and selectable fields of an object.
func (s strategy[T]) getAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	o, ok := obj.(T)
	if !ok {
		return nil, nil, fmt.Errorf("object is a %T, not a %s", obj, s.kind.Singular)
	}
	fs := fields.Set{"metadata.name": o.GetName()}
	if s.kind.Namespaced {
		fs["metadata.namespace"] = o.GetNamespace()
	}
	if s.kind.SelectableFields != nil {
		fs = generic.MergeFieldsSets(fs, s.kind.SelectableFields(o))
	}
	return labels.Set(o.GetLabels()), fs, nil
}

// matcher is the predicate the store filters lists and watches with.
func (s strategy[T]) matcher(label labels.Selector, fld fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: fld, GetAttrs: s.getAttrs}
}

// setZero sets *ptr to its zero value.
func setZero(ptr any) {
	v := reflect.ValueOf(ptr).Elem()
	v.Set(reflect.Zero(v.Type()))
}

// copyInto sets *dst = *src for two pointers of the same type.
func copyInto(dst, src any) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
