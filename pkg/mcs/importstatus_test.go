package mcs

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

func TestImportStatus(t *testing.T) {
	earlier := metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	readySince := mcsv1alpha1.ServiceImportStatus{Conditions: []metav1.Condition{{
		Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: earlier}}}
	for _, tc := range []struct {
		name                 string
		have                 mcsv1alpha1.ServiceImportStatus
		spec                 mcsv1alpha1.ServiceImportSpec
		sources              []string
		wantClusters         int
		wantStatus           metav1.ConditionStatus
		wantReason, wantText string
		wantSince            *metav1.Time
	}{
		{name: "ClusterSetIP without its IP yet", spec: mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP},
			sources: []string{"cluster-b"}, wantClusters: 1, wantStatus: metav1.ConditionFalse, wantReason: "Pending", wantText: "ClusterIP of the derived Service"},
		{name: "ClusterSetIP with its IP", spec: mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, IPs: []string{"198.19.0.10"}},
			sources: []string{"cluster-b", "cluster-c"}, wantClusters: 2, wantStatus: metav1.ConditionTrue, wantReason: "Ready", wantText: "ClusterSetIP 198.19.0.10, endpoints of cluster-b, cluster-c"},
		{name: "headless", spec: mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.Headless},
			sources: []string{"cluster-c"}, wantClusters: 1, wantStatus: metav1.ConditionTrue, wantReason: "Ready", wantText: "headless import of the endpoints of cluster-c"},
		{name: "still ready: the transition time is kept", have: readySince, spec: mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.Headless},
			sources: []string{"cluster-c"}, wantClusters: 1, wantStatus: metav1.ConditionTrue, wantReason: "Ready", wantText: "headless", wantSince: &earlier},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ImportStatus(tc.have, tc.spec, tc.sources, 3)
			if len(got.Clusters) != tc.wantClusters || got.EndpointSliceObjects != mcsv1alpha1.EndpointSliceObjectsPresent {
				t.Errorf("clusters %v, endpointSliceObjects %q", got.Clusters, got.EndpointSliceObjects)
			}
			c := meta.FindStatusCondition(got.Conditions, "Ready")
			if c == nil || c.Status != tc.wantStatus || c.Reason != tc.wantReason || c.ObservedGeneration != 3 || !strings.Contains(c.Message, tc.wantText) {
				t.Fatalf("Ready condition %+v, want %s/%s containing %q", c, tc.wantStatus, tc.wantReason, tc.wantText)
			}
			if tc.wantSince != nil && !c.LastTransitionTime.Equal(tc.wantSince) {
				t.Errorf("transition time %v, want the earlier %v", c.LastTransitionTime, tc.wantSince)
			}
			if len(tc.have.Conditions) > 0 && &tc.have.Conditions[0] == &got.Conditions[0] {
				t.Error("ImportStatus changed its input's conditions")
			}
		})
	}
}
