package integration

import (
	"context"
	"net/netip"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamgc"
)

// TestDeleteEmptyBlockLosesToAllocation: the garbage collector deletes an
// empty block of a gone node only as it saw it; an allocation made in the
// block since (a node of that name back, a borrow) wins, and the block
// with its address stays.
func TestDeleteEmptyBlockLosesToAllocation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := clientset(t)
	const pool, node, handle = "ipamgc-delete", "ipamgc-delete-node", "k8s-pod-network.ipamgc-delete"
	if _, err := cs.ProjectcalicoV3().IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: pool},
		Spec: v3.IPPoolSpec{CIDR: "198.18.151.0/24", BlockSize: 29}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.ProjectcalicoV3().IPPools().Delete(context.Background(), pool, metav1.DeleteOptions{}) })
	client := ipam.NewClient(cs)
	assign := func() netip.Addr {
		t.Helper()
		addrs, err := client.Assign(ctx, ipam.AssignArgs{Handle: handle, Node: node, Pools: []string{pool}})
		if err != nil || len(addrs) != 1 {
			t.Fatalf("assign: %v %v", addrs, err)
		}
		return addrs[0]
	}
	assign()
	if _, err := client.ReleaseByHandle(ctx, handle); err != nil {
		t.Fatal(err)
	}
	const name = "198-18-151-0-29"
	empty, err := cs.ProjectcalicoV3().IPAMBlocks().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.ProjectcalicoV3().IPAMBlocks().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	if got := ipamgc.EmptyBlocksOfGoneNodes(&ipamgc.State{Blocks: []v3.IPAMBlock{*empty}}); len(got) != 1 {
		t.Fatalf("block %s after release is not an empty block of a gone node: %+v", name, empty.Spec)
	}

	addr := assign() // made after the collector read the block
	deleted, err := ipamgc.DeleteEmptyBlock(ctx, cs, empty)
	if err != nil || deleted {
		t.Fatalf("DeleteEmptyBlock of a stale empty block = %v, %v; want false, nil", deleted, err)
	}
	held, err := client.AddressesByHandle(ctx, handle)
	if err != nil || len(held) != 1 || held[0] != addr {
		t.Fatalf("after the refused delete, handle %s holds %v (%v), want %s", handle, held, err, addr)
	}

	if _, err := client.ReleaseByHandle(ctx, handle); err != nil {
		t.Fatal(err)
	}
	fresh, err := cs.ProjectcalicoV3().IPAMBlocks().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err := ipamgc.DeleteEmptyBlock(ctx, cs, fresh); err != nil || !deleted {
		t.Fatalf("DeleteEmptyBlock of the current empty block = %v, %v; want true, nil", deleted, err)
	}
	if _, err := cs.ProjectcalicoV3().IPAMBlocks().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("block %s after deletion: %v", name, err)
	}
	if deleted, err := ipamgc.DeleteEmptyBlock(ctx, cs, fresh); err != nil || deleted {
		t.Fatalf("DeleteEmptyBlock of a deleted block = %v, %v; want false, nil", deleted, err)
	}
}
