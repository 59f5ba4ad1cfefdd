package e2e

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
)

// Issue 18, HA: a cluster with two meshapi-apiserver replicas on one etcd
// keeps its cross-object invariants whichever replica each write reaches.
// Every request of these tests goes to a chosen replica directly (the
// framework pins each client's connections by the replica's serving
// certificate), not through the aggregator, and the two writes of a round
// are released together.

// haRounds is how many races of each kind run.
const haRounds = 100

// haPools are the addresses of the test, apart from other tests'.
var haPools = netip.MustParsePrefix("198.18.224.0/20")

// haReplicas starts the second meshapi-apiserver replica of cluster-c
// (stopped when the test ends) and returns a client pinned to each.
func haReplicas(t *testing.T) [2]*versioned.Clientset {
	t.Helper()
	c := clusters[2]
	if err := c.StartMeshapiReplica(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.StopMeshapiReplica(); err != nil {
			t.Error(err)
		}
	})
	var cs [2]*versioned.Clientset
	for i := range cs {
		cfg, err := c.MeshapiReplicaConfig(i + 1)
		if err != nil {
			t.Fatal(err)
		}
		if cs[i], err = versioned.NewForConfig(cfg); err != nil {
			t.Fatal(err)
		}
	}
	return cs
}

// race runs write(0) and write(1) released at the same moment and returns
// their errors.
func race(write func(replica int) error) [2]error {
	var errs [2]error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = write(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// raceTally counts the rounds of a race by outcome.
type raceTally struct {
	one, both, none int
	// wonBy counts the rounds each replica's write won.
	wonBy [2]int
}

// add counts a round whose writes returned errs; refused tells whether an
// error is the expected refusal of the loser (any other error fails the
// round as "none" and is returned).
func (r *raceTally) add(errs [2]error, refused func(error) bool) error {
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			r.wonBy[i]++
		case !refused(err):
			r.none++
			return fmt.Errorf("replica %d: %w", i+1, err)
		}
	}
	switch ok {
	case 1:
		r.one++
	case 2:
		r.both++
	default:
		r.none++
	}
	return nil
}

func (r raceTally) String() string {
	return fmt.Sprintf("%d rounds with one write stored, %d with both, %d with none; won by replica 1: %d, replica 2: %d",
		r.one, r.both, r.none, r.wonBy[0], r.wonBy[1])
}

// check fails t unless every round stored exactly one write and each
// replica won some (else the race did not really involve both).
func (r raceTally) check(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %s", what, r)
	if r.one != haRounds || r.wonBy[0] == 0 || r.wonBy[1] == 0 {
		t.Errorf("%s: want %d rounds with exactly one write stored, each replica winning some: %s", what, haRounds, r)
	}
}

// TestHAIPPoolOverlap races two overlapping IPPools, one created through
// each replica, haRounds times: the etcd lock of the IPPool store
// (pkg/registry/projectcalico/guard) must let exactly one in each round.
func TestHAIPPoolOverlap(t *testing.T) {
	ctx := ctxT(t)
	cs := haReplicas(t)
	var tally raceTally
	for round := range haRounds {
		// A /24 and the /25 inside it, the /24 moving each round.
		base := haPools.Addr().As4()
		base[2] += byte(round % 16)
		cidr24 := netip.PrefixFrom(netip.AddrFrom4(base), 24)
		cidr25 := netip.PrefixFrom(netip.AddrFrom4(base), 25)
		names := [2]string{fmt.Sprintf("ha-%d-wide", round), fmt.Sprintf("ha-%d-narrow", round)}
		cidrs := [2]netip.Prefix{cidr24, cidr25}
		errs := race(func(i int) error {
			_, err := cs[i].ProjectcalicoV3().IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: names[i]},
				Spec: v3.IPPoolSpec{CIDR: cidrs[i].String()}}, metav1.CreateOptions{})
			return err
		})
		if err := tally.add(errs, apierrors.IsInvalid); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		for _, n := range names {
			if err := cs[0].ProjectcalicoV3().IPPools().Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("deleting IPPool %s: %v", n, err)
			}
		}
	}
	tally.check(t, "overlapping IPPools")
}

// TestHANodeAndBlockClaims races, through both replicas, the writes whose
// uniqueness rests on the store itself rather than on a lock: two Nodes of
// one name (node names are unique within a cluster, the mesh's
// requirements keep them distinct across clusters), two claims of one
// IPAM block (a Create of the block named after its CIDR, each for
// another node, as pkg/ipam claims a block), and two allocations in one
// claimed block written from the same resourceVersion. etcd's
// create-if-absent and compare-on-revision must let exactly one through
// each round, the other refused with AlreadyExists or Conflict.
func TestHANodeAndBlockClaims(t *testing.T) {
	ctx := ctxT(t)
	cs := haReplicas(t)

	var nodes raceTally
	for round := range haRounds {
		name := fmt.Sprintf("ha-node-%d", round)
		errs := race(func(i int) error {
			_, err := cs[i].ProjectcalicoV3().Nodes().Create(ctx, &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
				Labels: map[string]string{"e2e-writer": fmt.Sprint(i + 1)}}}, metav1.CreateOptions{})
			return err
		})
		if err := nodes.add(errs, apierrors.IsAlreadyExists); err != nil {
			t.Errorf("Node round %d: %v", round, err)
		}
		if err := cs[0].ProjectcalicoV3().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("deleting Node %s: %v", name, err)
		}
	}
	nodes.check(t, "Nodes of one name")

	var claims, allocs raceTally
	for round := range haRounds {
		base := haPools.Addr().As4()
		base[2], base[3] = byte(round/64), byte(round%64)*4
		cidr := netip.PrefixFrom(netip.AddrFrom4(base), 30)
		name := ipam.BlockName(cidr)
		errs := race(func(i int) error {
			_, err := cs[i].ProjectcalicoV3().IPAMBlocks().Create(ctx, haBlock(name, cidr, fmt.Sprintf("ha-claimer-%d", i+1)), metav1.CreateOptions{})
			return err
		})
		if err := claims.add(errs, apierrors.IsAlreadyExists); err != nil {
			t.Errorf("block claim round %d: %v", round, err)
		}
		stored, err := cs[0].ProjectcalicoV3().IPAMBlocks().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading IPAMBlock %s: %v", name, err)
		}
		if winner := haWinner(errs); winner > 0 && *stored.Spec.Affinity != fmt.Sprintf("host:ha-claimer-%d", winner) {
			t.Errorf("block claim round %d: replica %d's claim won, the stored block is affine to %s", round, winner, *stored.Spec.Affinity)
		}
		// Each replica allocates another ordinal from the same read.
		errs = race(func(i int) error {
			_, err := cs[i].ProjectcalicoV3().IPAMBlocks().Update(ctx, haAllocate(stored, i), metav1.UpdateOptions{})
			return err
		})
		if err := allocs.add(errs, apierrors.IsConflict); err != nil {
			t.Errorf("allocation round %d: %v", round, err)
		}
		if after, err := cs[1].ProjectcalicoV3().IPAMBlocks().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatalf("reading IPAMBlock %s: %v", name, err)
		} else if winner := haWinner(errs); winner > 0 && (after.Spec.Allocations[winner-1] == nil || len(after.Spec.Unallocated) != 3) {
			t.Errorf("allocation round %d: replica %d's allocation won, the stored block holds allocations %v, unallocated %v",
				round, winner, after.Spec.Allocations, after.Spec.Unallocated)
		}
		if err := cs[0].ProjectcalicoV3().IPAMBlocks().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("deleting IPAMBlock %s: %v", name, err)
		}
	}
	claims.check(t, "claims of one IPAM block")
	allocs.check(t, "allocations from one read of a block")
}

// haWinner is the replica (1 or 2) whose write alone succeeded, 0 if not
// exactly one did.
func haWinner(errs [2]error) int {
	switch {
	case errs[0] == nil && errs[1] != nil:
		return 1
	case errs[1] == nil && errs[0] != nil:
		return 2
	}
	return 0
}

// haBlock is an empty IPAM block of cidr, affine to node.
func haBlock(name string, cidr netip.Prefix, node string) *v3.IPAMBlock {
	aff := "host:" + node
	n := 1 << (32 - cidr.Bits())
	b := &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.IPAMBlockSpec{CIDR: cidr.String(), Affinity: &aff, Allocations: make(v3.Allocations, n), Unallocated: make([]int, n)}}
	for i := range n {
		b.Spec.Unallocated[i] = i
	}
	return b
}

// haAllocate returns a copy of b with ordinal o allocated to a handle of
// its own.
func haAllocate(b *v3.IPAMBlock, o int) *v3.IPAMBlock {
	out := b.DeepCopy()
	handle := fmt.Sprintf("ha-handle-%d", o)
	out.Spec.Attributes = append(out.Spec.Attributes, v3.AllocationAttribute{HandleID: &handle})
	attr := len(out.Spec.Attributes) - 1
	out.Spec.Allocations[o] = &attr
	var free []int
	for _, u := range out.Spec.Unallocated {
		if u != o {
			free = append(free, u)
		}
	}
	out.Spec.Unallocated = free
	return out
}
