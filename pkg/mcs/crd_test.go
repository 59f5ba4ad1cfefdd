package mcs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	mcscrd "sigs.k8s.io/mcs-api/config/crd"
)

// The CRDs in artifacts/mcs are the mcs-api module's, byte for byte, so
// that they cannot drift from the types the controller compiles against.
func TestCRDsMatchModule(t *testing.T) {
	for file, want := range map[string][]byte{
		"multicluster.x-k8s.io_serviceexports.yaml": mcscrd.ServiceExportCRD,
		"multicluster.x-k8s.io_serviceimports.yaml": mcscrd.ServiceImportCRD,
	} {
		got, err := os.ReadFile(filepath.Join("..", "..", "artifacts", "mcs", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("artifacts/mcs/%s differs from sigs.k8s.io/mcs-api's config/crd: run cp $(go list -m -f '{{.Dir}}' sigs.k8s.io/mcs-api)/config/crd/*.yaml artifacts/mcs/", file)
		}
	}
}
