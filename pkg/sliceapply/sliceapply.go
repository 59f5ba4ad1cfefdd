// Package sliceapply makes the EndpointSlices a controller manages for one
// Service the wanted ones: it creates what is missing, updates what
// differs in endpoints, ports, labels or owners, and deletes what is no
// longer wanted. The federated-Service controller (pkg/federation) and the
// Multi-Cluster Services controller (pkg/mcs/controller) both write their
// slices through it.
package sliceapply

import (
	"context"
	"fmt"
	"slices"

	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	discoveryclient "k8s.io/client-go/kubernetes/typed/discovery/v1"
)

// Options say how the slices are written.
type Options struct {
	// FieldManager names the writer.
	FieldManager string
	// Owners, when set, are the owner references every wanted slice
	// is given (a slice with other owners is updated); nil writes the
	// wanted slices' own.
	Owners []metav1.OwnerReference
	// Describe, when set, adds to the errors what a slice is (where its
	// endpoints come from).
	Describe func(*discoveryv1.EndpointSlice) string
}

// Apply makes the slices of have (the managed slices that exist, from
// the caller's cache) the slices of want, in namespace ns through client,
// and returns the slices it deleted.
func Apply(ctx context.Context, client discoveryclient.EndpointSliceInterface, ns string, have, want []*discoveryv1.EndpointSlice, o Options) ([]*discoveryv1.EndpointSlice, error) {
	existing := make(map[string]*discoveryv1.EndpointSlice, len(have))
	for _, s := range have {
		existing[s.Name] = s
	}
	for _, s := range want {
		old := existing[s.Name]
		delete(existing, s.Name)
		if err := o.write(ctx, client, old, s); err != nil {
			return nil, err
		}
	}
	var deleted []*discoveryv1.EndpointSlice
	for name, s := range existing {
		if err := client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("deleting EndpointSlice %s/%s%s: %w", ns, name, o.describe(s), err)
		}
		deleted = append(deleted, s)
	}
	return deleted, nil
}

// write creates s (old is nil) or updates old to s if they differ.
func (o Options) write(ctx context.Context, client discoveryclient.EndpointSliceInterface, old, s *discoveryv1.EndpointSlice) error {
	if o.Owners != nil {
		s.OwnerReferences = o.Owners
	}
	if old == nil {
		s.ResourceVersion = ""
		if _, err := client.Create(ctx, s, metav1.CreateOptions{FieldManager: o.FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating EndpointSlice %s/%s%s: %w", s.Namespace, s.Name, o.describe(s), err)
		}
		return nil
	}
	if !o.differ(old, s) {
		return nil
	}
	s.ResourceVersion = old.ResourceVersion
	if _, err := client.Update(ctx, s, metav1.UpdateOptions{FieldManager: o.FieldManager}); err != nil {
		return fmt.Errorf("updating EndpointSlice %s/%s%s: %w", s.Namespace, s.Name, o.describe(s), err)
	}
	return nil
}

// differ reports whether old must be updated to s.
func (o Options) differ(old, s *discoveryv1.EndpointSlice) bool {
	return !apiequality.Semantic.DeepEqual(old.Endpoints, s.Endpoints) ||
		!apiequality.Semantic.DeepEqual(old.Ports, s.Ports) ||
		!apiequality.Semantic.DeepEqual(old.Labels, s.Labels) ||
		(o.Owners != nil && !slices.EqualFunc(old.OwnerReferences, o.Owners, func(a, b metav1.OwnerReference) bool { return a.UID == b.UID }))
}

// describe is " (<what s is>)" when the options say, else "".
func (o Options) describe(s *discoveryv1.EndpointSlice) string {
	if o.Describe == nil {
		return ""
	}
	return " (" + o.Describe(s) + ")"
}
