package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"

	"github.com/meshapi/meshapi/pkg/mcs"
	"github.com/meshapi/meshapi/pkg/sliceapply"
)

// fieldManager names meshapi-controller's writes.
const fieldManager = "meshapi-controller"

// setExportConditions writes the conditions of the local ServiceExport
// when they changed (a condition's transition time changes with its status).
func (c *Controller) setExportConditions(ctx context.Context, se *mcsv1alpha1.ServiceExport, want []metav1.Condition) error {
	updated := se.DeepCopy()
	for _, cond := range want {
		cond.ObservedGeneration = se.Generation
		meta.SetStatusCondition(&updated.Status.Conditions, cond)
	}
	if apiequality.Semantic.DeepEqual(updated.Status, se.Status) {
		return nil
	}
	if _, err := c.mcs.MulticlusterV1alpha1().ServiceExports(se.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("setting the conditions of ServiceExport %s/%s: %w", se.Namespace, se.Name, err)
	}
	klog.FromContext(ctx).V(2).Info("Set ServiceExport conditions", "serviceExport", se.Namespace+"/"+se.Name, "conditions", summary(want))
	return nil
}

// summary shows conditions as Type=Status/Reason.
func summary(cs []metav1.Condition) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Type + "=" + string(c.Status) + "/" + c.Reason
	}
	return out
}

// removeImport deletes the import ns/name, its derived Service and its
// slices (the last export is gone).
func (c *Controller) removeImport(ctx context.Context, ns, name string) error {
	if _, err := c.imports.ServiceImports(ns).Get(name); apierrors.IsNotFound(err) && len(c.managedSlices(ns, name)) == 0 {
		if _, err := c.services.Services(ns).Get(mcs.DerivedName(ns, name)); apierrors.IsNotFound(err) {
			return nil
		}
	}
	for _, s := range c.managedSlices(ns, name) {
		if err := c.kube.DiscoveryV1().EndpointSlices(ns).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting EndpointSlice %s/%s of the removed import: %w", ns, s.Name, err)
		}
	}
	derived := mcs.DerivedName(ns, name)
	if svc, err := c.services.Services(ns).Get(derived); err == nil && svc.Labels[mcs.LabelManagedBy] == mcs.ManagedBy {
		if err := c.kube.CoreV1().Services(ns).Delete(ctx, derived, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting derived Service %s/%s: %w", ns, derived, err)
		}
	}
	if err := c.mcs.MulticlusterV1alpha1().ServiceImports(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting ServiceImport %s/%s: %w", ns, name, err)
	}
	klog.FromContext(ctx).Info("Removed multi-cluster service import: no cluster exports it", "serviceImport", ns+"/"+name)
	return nil
}

// applyImport writes the ServiceImport and its derived Service, and puts
// the derived Service's ClusterIP in spec.ips. It returns nil, nil when
// the namespace does not exist here (nothing is imported into it).
func (c *Controller) applyImport(ctx context.Context, ns, name string, res mcs.Result) (*mcsv1alpha1.ServiceImport, error) {
	spec := res.Import.DeepCopy()
	if spec.Ports == nil {
		spec.Ports = []mcsv1alpha1.ServicePort{}
	}
	client := c.mcs.MulticlusterV1alpha1().ServiceImports(ns)
	imp, err := c.imports.ServiceImports(ns).Get(name)
	if apierrors.IsNotFound(err) {
		imp, err = client.Create(ctx, &mcsv1alpha1.ServiceImport{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: *spec}, metav1.CreateOptions{FieldManager: fieldManager})
		if apierrors.IsNotFound(err) {
			klog.FromContext(ctx).V(2).Info("Not importing: no such namespace here", "serviceImport", ns+"/"+name)
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("creating ServiceImport %s/%s: %w", ns, name, err)
		}
		klog.FromContext(ctx).Info("Imported multi-cluster service", "serviceImport", ns+"/"+name, "type", spec.Type, "clusters", res.Sources)
	} else if err != nil {
		return nil, err
	}
	derived, err := c.applyDerived(ctx, imp, spec)
	if err != nil {
		return nil, err
	}
	if spec.Type == mcsv1alpha1.ClusterSetIP && derived.Spec.ClusterIP != "" && derived.Spec.ClusterIP != corev1.ClusterIPNone {
		spec.IPs = []string{derived.Spec.ClusterIP}
	}
	if !apiequality.Semantic.DeepEqual(imp.Spec, *spec) {
		updated := imp.DeepCopy()
		updated.Spec = *spec
		if imp, err = client.Update(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			return nil, fmt.Errorf("updating ServiceImport %s/%s: %w", ns, name, err)
		}
		klog.FromContext(ctx).V(2).Info("Updated multi-cluster service import", "serviceImport", ns+"/"+name, "type", spec.Type, "ips", spec.IPs, "clusters", res.Sources)
	}
	return c.applyImportStatus(ctx, imp, res.Sources)
}

// applyImportStatus writes the import's status (mcs.ImportStatus: the
// source clusters, endpointSliceObjects and the Ready condition) when it
// changed.
func (c *Controller) applyImportStatus(ctx context.Context, imp *mcsv1alpha1.ServiceImport, sources []string) (*mcsv1alpha1.ServiceImport, error) {
	want := mcs.ImportStatus(imp.Status, imp.Spec, sources, imp.Generation)
	if apiequality.Semantic.DeepEqual(imp.Status, want) {
		return imp, nil
	}
	updated := imp.DeepCopy()
	updated.Status = want
	out, err := c.mcs.MulticlusterV1alpha1().ServiceImports(imp.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, fmt.Errorf("writing the status of ServiceImport %s/%s: %w", imp.Namespace, imp.Name, err)
	}
	return out, nil
}

// ownedBy makes an object owned by the import, so that the garbage
// collector removes it with the import.
func ownedBy(imp *mcsv1alpha1.ServiceImport) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: mcsv1alpha1.GroupVersion.String(), Kind: mcsv1alpha1.ServiceImportKindName,
		Name: imp.Name, UID: imp.UID, Controller: ptr.To(true)}}
}

// applyDerived writes the derived Service of an import; one whose
// headlessness changed is recreated (spec.clusterIP is immutable).
func (c *Controller) applyDerived(ctx context.Context, imp *mcsv1alpha1.ServiceImport, spec *mcsv1alpha1.ServiceImportSpec) (*corev1.Service, error) {
	want := mcs.DerivedService(imp.Namespace, imp.Name, spec)
	want.OwnerReferences = ownedBy(imp)
	client := c.kube.CoreV1().Services(imp.Namespace)
	have, err := c.services.Services(imp.Namespace).Get(want.Name)
	if err == nil && (have.Spec.ClusterIP == corev1.ClusterIPNone) != (spec.Type == mcsv1alpha1.Headless) {
		if err := client.Delete(ctx, want.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting derived Service %s/%s to change its type to %s: %w", want.Namespace, want.Name, spec.Type, err)
		}
		err = apierrors.NewNotFound(corev1.Resource("services"), want.Name)
	}
	switch {
	case apierrors.IsNotFound(err):
		out, err := client.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager})
		if err != nil {
			return nil, fmt.Errorf("creating derived Service %s/%s: %w", want.Namespace, want.Name, err)
		}
		return out, nil
	case err != nil:
		return nil, err
	case have.Labels[mcs.LabelManagedBy] != mcs.ManagedBy:
		return nil, fmt.Errorf("derived Service %s/%s exists and is not meshapi's (label %s=%q)", have.Namespace, have.Name, mcs.LabelManagedBy, have.Labels[mcs.LabelManagedBy])
	case !derivedDiffers(have, want):
		return have, nil
	}
	updated := have.DeepCopy()
	updated.Spec.Ports = want.Spec.Ports
	updated.Spec.SessionAffinity, updated.Spec.SessionAffinityConfig = want.Spec.SessionAffinity, want.Spec.SessionAffinityConfig
	if want.Spec.InternalTrafficPolicy != nil {
		updated.Spec.InternalTrafficPolicy = want.Spec.InternalTrafficPolicy
	}
	updated.Spec.TrafficDistribution = want.Spec.TrafficDistribution
	out, err := client.Update(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating derived Service %s/%s: %w", want.Namespace, want.Name, err)
	}
	return out, nil
}

// derivedDiffers compares the fields of a derived Service meshapi sets
// (the API server defaults others, such as targetPort).
func derivedDiffers(have, want *corev1.Service) bool {
	if len(have.Spec.Ports) != len(want.Spec.Ports) || have.Spec.SessionAffinity != want.Spec.SessionAffinity ||
		!apiequality.Semantic.DeepEqual(have.Spec.TrafficDistribution, want.Spec.TrafficDistribution) {
		return true
	}
	if want.Spec.SessionAffinityConfig != nil && !apiequality.Semantic.DeepEqual(have.Spec.SessionAffinityConfig, want.Spec.SessionAffinityConfig) {
		return true
	}
	if want.Spec.InternalTrafficPolicy != nil && !apiequality.Semantic.DeepEqual(have.Spec.InternalTrafficPolicy, want.Spec.InternalTrafficPolicy) {
		return true
	}
	for i, p := range want.Spec.Ports {
		h := have.Spec.Ports[i]
		if h.Name != p.Name || h.Port != p.Port || h.Protocol != p.Protocol || !apiequality.Semantic.DeepEqual(h.AppProtocol, p.AppProtocol) {
			return true
		}
	}
	return false
}

// applySlices makes the import's EndpointSlices the wanted ones.
func (c *Controller) applySlices(ctx context.Context, imp *mcsv1alpha1.ServiceImport, want []*discoveryv1.EndpointSlice) error {
	deleted, err := sliceapply.Apply(ctx, c.kube.DiscoveryV1().EndpointSlices(imp.Namespace), imp.Namespace, c.managedSlices(imp.Namespace, imp.Name), want,
		sliceapply.Options{FieldManager: fieldManager, Owners: ownedBy(imp), Describe: func(s *discoveryv1.EndpointSlice) string {
			return "endpoints of cluster " + s.Labels[mcsv1alpha1.LabelSourceCluster]
		}})
	for _, s := range deleted {
		klog.FromContext(ctx).V(2).Info("Removed the endpoints of a cluster from a multi-cluster service", "serviceImport", imp.Namespace+"/"+imp.Name, "cluster", s.Labels[mcsv1alpha1.LabelSourceCluster])
	}
	return err
}
