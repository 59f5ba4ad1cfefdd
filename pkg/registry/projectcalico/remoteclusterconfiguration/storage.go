// Package remoteclusterconfiguration stores RemoteClusterConfigurations:
// validation, the default overlay routing mode, a status subresource the
// controller writes, kubectl columns, and inline credentials that only the
// controller reads back.
package remoteclusterconfiguration

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
)

// REST is the RemoteClusterConfiguration resource. It fills an unset
// spec.syncOptions.overlayRoutingMode before the object is validated, and
// returns inline credentials only to the readers of its CredentialPolicy.
type REST struct {
	*registry.REST
	defaults *OverlayDefaulter
	creds    CredentialPolicy
}

// OverlayDefaulter decides the overlay routing mode of a
// RemoteClusterConfiguration that does not set one, as the original
// product does: Enabled when the "default" FelixConfiguration enables
// WireGuard or any local IPPool uses VXLAN, Disabled otherwise.
type OverlayDefaulter struct {
	// Pools lists the IPPools.
	Pools rest.Lister
	// Felix reads FelixConfigurations.
	Felix rest.Getter
}

// Mode returns the default overlay routing mode.
func (d *OverlayDefaulter) Mode(ctx context.Context) (v3.OverlayRoutingMode, error) {
	obj, err := d.Felix.Get(ctx, "default", &metav1.GetOptions{})
	switch {
	case err == nil:
		if fc := obj.(*v3.FelixConfiguration); fc.Spec.WireguardEnabled != nil && *fc.Spec.WireguardEnabled {
			return v3.OverlayRoutingModeEnabled, nil
		}
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("reading FelixConfiguration \"default\": %w", err)
	}
	list, err := d.Pools.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing IPPools: %w", err)
	}
	for _, p := range list.(*v3.IPPoolList).Items {
		if _, mirrored := p.Labels[v3.LabelCluster]; !mirrored && p.Spec.VXLANMode != "" && p.Spec.VXLANMode != v3.EncapModeNever {
			return v3.OverlayRoutingModeEnabled, nil
		}
	}
	return v3.OverlayRoutingModeDisabled, nil
}

// apply fills the overlay routing mode of obj when it is unset.
func (d *OverlayDefaulter) apply(ctx context.Context, obj runtime.Object) error {
	rcc, ok := obj.(*v3.RemoteClusterConfiguration)
	if !ok || rcc.Spec.SyncOptions.OverlayRoutingMode != "" {
		return nil
	}
	mode, err := d.Mode(ctx)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("defaulting spec.syncOptions.overlayRoutingMode: %w", err))
	}
	rcc.Spec.SyncOptions.OverlayRoutingMode = mode
	return nil
}

// Create defaults the overlay routing mode, then stores the object and
// returns it stripped.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if err := r.defaults.apply(ctx, obj); err != nil {
		return nil, err
	}
	out, err := r.REST.Create(ctx, obj, createValidation, options)
	return r.creds.strip(ctx, out), err
}

// Update defaults the overlay routing mode when the update clears it,
// keeps the inline credentials a user who cannot see them left out, and
// returns the object stripped.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	out, created, err := r.REST.Update(ctx, name, defaultingObjectInfo{objInfo, r.defaults, r.creds}, createValidation, updateValidation, forceAllowCreate, options)
	return r.creds.strip(ctx, out), created, err
}

// defaultingObjectInfo applies the overlay default to the updated object.
type defaultingObjectInfo struct {
	rest.UpdatedObjectInfo
	defaults *OverlayDefaulter
	creds    CredentialPolicy
}

// UpdatedObject returns the updated object with the default applied and
// the hidden credentials kept.
func (i defaultingObjectInfo) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	obj, err := i.UpdatedObjectInfo.UpdatedObject(ctx, old)
	if err != nil {
		return nil, err
	}
	i.creds.keepHidden(ctx, obj, old)
	return obj, i.defaults.apply(ctx, obj)
}

// NewREST returns the RemoteClusterConfiguration resource and its status
// subresource; creds says whether inline credentials are admitted and who
// reads them back.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter, defaults *OverlayDefaulter, creds CredentialPolicy) (*REST, *StatusREST, error) {
	main, status, err := registry.NewStore(typer, optsGetter, &registry.Kind[*v3.RemoteClusterConfiguration]{
		Resource:   v3.Resource("remoteclusterconfigurations"),
		Singular:   v3.Resource("remoteclusterconfiguration"),
		ShortNames: []string{"rcc", "rccs"},
		New:        func() *v3.RemoteClusterConfiguration { return &v3.RemoteClusterConfiguration{} },
		NewList:    func() runtime.Object { return &v3.RemoteClusterConfigurationList{} },
		Spec:       func(r *v3.RemoteClusterConfiguration) any { return &r.Spec },
		Status:     func(r *v3.RemoteClusterConfiguration) any { return &r.Status },
		Validate: func(_ context.Context, r *v3.RemoteClusterConfiguration) field.ErrorList {
			return validation.ValidateRemoteClusterConfiguration(r, validation.RemoteClusterOptions{AllowInlineCredentials: creds.AllowInline})
		},
		ValidateUpdate: func(_ context.Context, r, old *v3.RemoteClusterConfiguration) field.ErrorList {
			return validation.ValidateRemoteClusterConfigurationUpdate(r, old)
		},
		ValidateStatus: func(_ context.Context, r *v3.RemoteClusterConfiguration) field.ErrorList {
			return validation.ValidateRemoteClusterConfigurationStatus(r)
		},
		Columns: []registry.Column[*v3.RemoteClusterConfiguration]{
			{Name: "Overlay", Type: "string", Description: "Overlay routing mode.", Cell: func(r *v3.RemoteClusterConfiguration) any { return string(r.Spec.SyncOptions.OverlayRoutingMode) }},
			{Name: "State", Type: "string", Description: "State of the sync with the remote cluster.", Cell: func(r *v3.RemoteClusterConfiguration) any { return string(r.Status.SyncState) }},
			{Name: "Secret", Type: "string", Priority: 1, Description: "Secret holding the remote cluster's kubeconfig.", Cell: func(r *v3.RemoteClusterConfiguration) any {
				if s := r.Spec.ClusterAccessSecret; s != nil {
					return s.Namespace + "/" + s.Name
				}
				return "<inline>"
			}},
			{Name: "Endpoints", Type: "integer", Priority: 1, Description: "Workload endpoints mirrored.", Cell: func(r *v3.RemoteClusterConfiguration) any {
				if r.Status.MirroredObjects == nil {
					return int64(0)
				}
				return int64(r.Status.MirroredObjects.WorkloadEndpoints)
			}},
			{Name: "Last Error", Type: "string", Priority: 1, Description: "Last sync error.", Cell: func(r *v3.RemoteClusterConfiguration) any { return r.Status.LastError }},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return &REST{REST: main, defaults: defaults, creds: creds}, &StatusREST{StatusREST: status, creds: creds}, nil
}
