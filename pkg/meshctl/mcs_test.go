package meshctl

import (
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

func TestMCSChecks(t *testing.T) {
	export := func(name string, conds ...metav1.Condition) mcsv1alpha1.ServiceExport {
		return mcsv1alpha1.ServiceExport{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Status: mcsv1alpha1.ServiceExportStatus{Conditions: conds}}
	}
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	imp := func(name string, clusters ...string) mcsv1alpha1.ServiceImport {
		i := mcsv1alpha1.ServiceImport{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
		for _, c := range clusters {
			i.Status.Clusters = append(i.Status.Clusters, mcsv1alpha1.ClusterStatus{Cluster: c})
		}
		return i
	}
	slice := func(name, cluster string) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name + "-" + cluster,
			Labels: map[string]string{mcsv1alpha1.LabelServiceName: name, mcsv1alpha1.LabelSourceCluster: cluster}}}
	}
	notReady := imp("web", "b")
	notReady.Status.Conditions = []metav1.Condition{cond("Ready", metav1.ConditionFalse, "Pending", "waiting for the ClusterIP of the derived Service")}
	for _, tt := range []struct {
		name string
		f    MCSFacts
		// want are "RESULT check detail-substring" per line.
		want []string
	}{
		{"a valid export without conflict passes", MCSFacts{Exports: []mcsv1alpha1.ServiceExport{export("web",
			cond("Valid", metav1.ConditionTrue, "Valid", ""), cond("Conflict", metav1.ConditionFalse, "NoConflicts", ""))}},
			[]string{"PASS mcs-exports ServiceExport ns/web is Valid"}},
		{"an export not yet seen by the controller fails", MCSFacts{Exports: []mcsv1alpha1.ServiceExport{export("web")}},
			[]string{"FAIL mcs-exports has no Valid condition yet"}},
		{"an export without Service fails with its reason", MCSFacts{Exports: []mcsv1alpha1.ServiceExport{export("web",
			cond("Valid", metav1.ConditionFalse, "NoService", "cluster b has no Service"))}},
			[]string{"FAIL mcs-exports is not Valid: NoService: cluster b has no Service"}},
		{"an export in conflict fails with the message", MCSFacts{Exports: []mcsv1alpha1.ServiceExport{export("web",
			cond("Valid", metav1.ConditionTrue, "Valid", ""), cond("Conflict", metav1.ConditionTrue, "PortConflict", "spec.ports dns 53/TCP"))}},
			[]string{"FAIL mcs-exports is in Conflict: PortConflict: spec.ports dns 53/TCP"}},
		{"an import with a slice from each cluster passes", MCSFacts{Imports: []mcsv1alpha1.ServiceImport{imp("web", "b", "c")},
			Slices: []discoveryv1.EndpointSlice{slice("web", "b"), slice("web", "c")}},
			[]string{"PASS mcs-imports has endpoints from 2 clusters"}},
		{"an import missing a cluster's slice fails naming it", MCSFacts{Imports: []mcsv1alpha1.ServiceImport{imp("web", "b", "c")},
			Slices: []discoveryv1.EndpointSlice{slice("web", "b"), slice("db", "c")}},
			[]string{"FAIL mcs-imports has no EndpointSlice from c"}},
		{"an import that is not Ready fails with its reason", MCSFacts{Imports: []mcsv1alpha1.ServiceImport{notReady},
			Slices: []discoveryv1.EndpointSlice{slice("web", "b")}},
			[]string{"FAIL mcs-imports is not Ready: Pending: waiting for the ClusterIP"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := MCSChecks(tt.f)
			if len(got) != len(tt.want) {
				t.Fatalf("%d lines, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				parts := strings.SplitN(w, " ", 3)
				if got[i].Result != parts[0] || got[i].Check != parts[1] || !strings.Contains(got[i].Detail, parts[2]) {
					t.Errorf("line %d: %+v, want %s", i, got[i], w)
				}
				if got[i].Result == Fail && got[i].Fix == "" {
					t.Errorf("line %d: a FAIL without fix", i)
				}
			}
		})
	}
}

func TestMCSRows(t *testing.T) {
	f := MCSFacts{
		Imports: []mcsv1alpha1.ServiceImport{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
			Spec:   mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, IPs: []string{"10.0.0.7"}},
			Status: mcsv1alpha1.ServiceImportStatus{Clusters: []mcsv1alpha1.ClusterStatus{{Cluster: "b"}, {Cluster: "c"}}}}},
		Exports: []mcsv1alpha1.ServiceExport{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
			Status: mcsv1alpha1.ServiceExportStatus{Conditions: []metav1.Condition{{Type: "Valid", Status: metav1.ConditionTrue, Reason: "Valid"}}}}},
	}
	rows := MCSRows(f)
	if len(rows) != 2 || rows[0].Kind != "ServiceExport" || rows[0].Conditions != "Valid=True(Valid)" ||
		rows[1].Kind != "ServiceImport" || rows[1].Clusters != "b,c" || rows[1].IPs != "10.0.0.7" || rows[1].Type != "ClusterSetIP" {
		t.Errorf("rows %+v", rows)
	}
	var out strings.Builder
	if err := printMCS(&out, "cluster-a", rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Multi-cluster services of cluster-a:") || !strings.Contains(out.String(), "ServiceImport  ns/web  ClusterSetIP  b,c       10.0.0.7") {
		t.Errorf("table:\n%s", out.String())
	}
}
