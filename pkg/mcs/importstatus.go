package mcs

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

// ImportStatus is the status a ServiceImport with spec (spec.ips filled
// from the derived Service) should have when it is backed by the source
// clusters, starting from have (whose condition transition times are
// kept while a status does not change): status.clusters lists the
// sources; endpointSliceObjects is Present (the controller writes one
// EndpointSlice set per source cluster); Ready is True once the import
// can be reached, that is a Headless import or a ClusterSetIP one whose
// derived Service has its ClusterIP, else False with reason Pending.
func ImportStatus(have mcsv1alpha1.ServiceImportStatus, spec mcsv1alpha1.ServiceImportSpec, sources []string, generation int64) mcsv1alpha1.ServiceImportStatus {
	out := *have.DeepCopy()
	out.Clusters = make([]mcsv1alpha1.ClusterStatus, len(sources))
	for i, s := range sources {
		out.Clusters[i] = mcsv1alpha1.ClusterStatus{Cluster: s}
	}
	out.EndpointSliceObjects = mcsv1alpha1.EndpointSliceObjectsPresent
	ready := metav1.Condition{Type: string(mcsv1alpha1.ServiceImportConditionReady), ObservedGeneration: generation}
	switch {
	case spec.Type == mcsv1alpha1.Headless:
		ready.Status, ready.Reason = metav1.ConditionTrue, string(mcsv1alpha1.ServiceImportReasonReady)
		ready.Message = fmt.Sprintf("headless import of the endpoints of %s", strings.Join(sources, ", "))
	case len(spec.IPs) > 0 && spec.IPs[0] != corev1.ClusterIPNone:
		ready.Status, ready.Reason = metav1.ConditionTrue, string(mcsv1alpha1.ServiceImportReasonReady)
		ready.Message = fmt.Sprintf("ClusterSetIP %s, endpoints of %s", strings.Join(spec.IPs, ", "), strings.Join(sources, ", "))
	default:
		ready.Status, ready.Reason = metav1.ConditionFalse, string(mcsv1alpha1.ServiceImportReasonPending)
		ready.Message = "waiting for the ClusterIP of the derived Service (spec.ips is empty)"
	}
	meta.SetStatusCondition(&out.Conditions, ready)
	return out
}
