package v3

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

func TestFieldLabelConversions(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	cases := []struct {
		kind    string
		label   string
		wantErr []string
	}{
		{kind: "WorkloadEndpoint", label: "spec.node"},
		{kind: "WorkloadEndpoint", label: "metadata.name"},
		{kind: "WorkloadEndpoint", label: "metadata.namespace"},
		{kind: "WorkloadEndpoint", label: "spec.pod", wantErr: []string{`"spec.pod"`, "WorkloadEndpoint", "spec.node"}},
		{kind: "WorkloadEndpoint", label: "status.phase", wantErr: []string{`"status.phase"`, "WorkloadEndpoint"}},
		{kind: "HostEndpoint", label: "spec.node"},
		{kind: "HostEndpoint", label: "metadata.name"},
		{kind: "HostEndpoint", label: "spec.interfaceName", wantErr: []string{`"spec.interfaceName"`, "HostEndpoint"}},
		// Kinds without their own conversion get the metadata fields only.
		{kind: "IPPool", label: "metadata.name"},
		{kind: "IPPool", label: "spec.node", wantErr: []string{"spec.node"}},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+tc.label, func(t *testing.T) {
			label, value, err := scheme.ConvertFieldLabel(SchemeGroupVersion.WithKind(tc.kind), tc.label, "x")
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ConvertFieldLabel(%s, %s) = %q, %q; want an error", tc.kind, tc.label, label, value)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ConvertFieldLabel(%s, %s): %v", tc.kind, tc.label, err)
			}
			if label != tc.label || value != "x" {
				t.Errorf("ConvertFieldLabel(%s, %s) = %q, %q; want %q, %q", tc.kind, tc.label, label, value, tc.label, "x")
			}
		})
	}
}

func TestResource(t *testing.T) {
	gr := Resource("ippools")
	if gr.Group != GroupName || gr.Resource != "ippools" {
		t.Errorf("Resource(ippools) = %#v, want group %q", gr, GroupName)
	}
}
