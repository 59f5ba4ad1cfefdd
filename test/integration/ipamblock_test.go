package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// TestIPAMBlockAllocationRecord stores a block with an allocation record
// (free addresses are JSON nulls, as in Calico's model) and reads it back
// unchanged, through create, update and the server-side apply bookkeeping.
func TestIPAMBlockAllocationRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	blocks := clientset(t).ProjectcalicoV3().IPAMBlocks()
	zero := 0
	handle := "k8s-pod-network.c0ffee"
	affinity := "host:record-node"
	b := &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: "198-18-200-0-30"}, Spec: v3.IPAMBlockSpec{
		CIDR: "198.18.200.0/30", Affinity: &affinity,
		Allocations: v3.Allocations{nil, &zero, nil, nil}, Unallocated: []int{0, 2, 3},
		Attributes:     []v3.AllocationAttribute{{HandleID: &handle, Secondary: map[string]string{"namespace": "ns", "pod": "p", "node": "record-node"}}},
		SequenceNumber: 1,
	}}
	got, err := blocks.Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = blocks.Delete(context.Background(), b.Name, metav1.DeleteOptions{}) })
	if len(got.Spec.Allocations) != 4 || got.Spec.Allocations[0] != nil || got.Spec.Allocations[1] == nil || *got.Spec.Allocations[1] != 0 {
		t.Fatalf("allocations after create = %v", got.Spec.Allocations)
	}
	got.Spec.Allocations[1], got.Spec.Unallocated = nil, []int{0, 2, 3, 1}
	got.Spec.Attributes, got.Spec.SequenceNumber = nil, 2
	if got, err = blocks.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, a := range got.Spec.Allocations {
		if a != nil {
			t.Errorf("allocations[%d] = %d after release, want null", i, *a)
		}
	}
	// An inconsistent record is refused, naming the field.
	got.Spec.Unallocated = got.Spec.Unallocated[:3]
	if _, err := blocks.Update(ctx, got, metav1.UpdateOptions{}); err == nil {
		t.Fatal("update with ordinal 1 neither allocated nor free was accepted")
	} else if want := "spec.unallocated: Invalid value: 1"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}
