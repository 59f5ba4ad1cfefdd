package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/embeddedetcd"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	typedv3 "github.com/meshapi/meshapi/pkg/generated/clientset/versioned/typed/projectcalico/v3"
	"github.com/meshapi/meshapi/test/integration/framework"
)

// haRounds is how many times two overlapping pools race, one per replica.
const haRounds = 200

// replicaPools starts an etcd and two meshapi-apiserver replicas on it,
// stopped when the test ends, and returns an IPPool client per replica.
func replicaPools(t *testing.T) [2]typedv3.IPPoolInterface {
	t.Helper()
	dir := t.TempDir()
	etcd, err := embeddedetcd.Start(context.Background(), filepath.Join(dir, "etcd"), filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	var pools [2]typedv3.IPPoolInterface
	for i := range pools {
		s, err := framework.StartOnEtcd(context.Background(), filepath.Join(dir, fmt.Sprintf("replica-%d", i)), etcd.ClientURL)
		if err != nil {
			t.Fatalf("starting replica %d on %s: %v", i, etcd.ClientURL, err)
		}
		t.Cleanup(func() {
			if err := s.Stop(); err != nil {
				t.Errorf("stopping replica %d: %v", i, err)
			}
		})
		cfg := rest.CopyConfig(s.Config)
		// No client-side rate limit: both requests of a round leave at once.
		cfg.QPS = -1
		c, err := versioned.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pools[i] = c.ProjectcalicoV3().IPPools()
	}
	return pools
}

// createTogether creates each pool through its replica, all requests
// released at the same moment, and returns each request's error.
func createTogether(ctx context.Context, replicas [2]typedv3.IPPoolInterface, pools []*v3.IPPool) []error {
	errs := make([]error, len(pools))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = replicas[i%2].Create(ctx, p, metav1.CreateOptions{})
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func pool(name, cidr string) *v3.IPPool {
	return &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr}}
}

// checkLoser reports what is wrong with the error of a refused pool: it
// must be Invalid and name spec.cidr, the pool's CIDR and the winner.
func checkLoser(err error, loser, winner *v3.IPPool) string {
	msg := err.Error()
	switch {
	case !apierrors.IsInvalid(err):
		return fmt.Sprintf("refused with %v, want Invalid", err)
	case !strings.Contains(msg, "spec.cidr"), !strings.Contains(msg, fmt.Sprintf("%q", loser.Spec.CIDR)),
		!strings.Contains(msg, fmt.Sprintf("%q", winner.Name)):
		return fmt.Sprintf("refusal %q does not name spec.cidr, %q and the stored pool %q", msg, loser.Spec.CIDR, winner.Name)
	}
	return ""
}

// Two overlapping pools created at the same moment through two replicas
// on one etcd: in every round exactly one is stored and the other is
// refused naming the field, its value and the stored pool.
func TestHAOverlappingPoolsAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	replicas := replicaPools(t)
	var bothWon, noneWon int
	for i := 0; i < haRounds; i++ {
		// Alternate which replica gets the wider pool.
		round := []*v3.IPPool{pool(fmt.Sprintf("ha-%d-wide", i), fmt.Sprintf("198.18.%d.0/24", i)),
			pool(fmt.Sprintf("ha-%d-narrow", i), fmt.Sprintf("198.18.%d.128/25", i))}
		if i%2 == 1 {
			round[0], round[1] = round[1], round[0]
		}
		errs := createTogether(ctx, replicas, round)
		switch {
		case errs[0] == nil && errs[1] == nil:
			bothWon++
		case errs[0] != nil && errs[1] != nil:
			noneWon++
			t.Errorf("round %d: both refused: %v; %v", i, errs[0], errs[1])
		case errs[0] == nil:
			if problem := checkLoser(errs[1], round[1], round[0]); problem != "" {
				t.Errorf("round %d: %s", i, problem)
			}
		default:
			if problem := checkLoser(errs[0], round[0], round[1]); problem != "" {
				t.Errorf("round %d: %s", i, problem)
			}
		}
		for j, p := range round {
			if errs[j] == nil {
				if err := replicas[j].Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
					t.Fatalf("round %d: deleting %s: %v", i, p.Name, err)
				}
			}
		}
	}
	t.Logf("%d rounds of two overlapping creates, one per replica: %d with exactly one stored, %d with both stored, %d with none",
		haRounds, haRounds-bothWon-noneWon, bothWon, noneWon)
	if bothWon > 0 {
		t.Errorf("%d of %d rounds stored two overlapping pools", bothWon, haRounds)
	}
}

// Pools that overlap nothing, created at the same moment through both
// replicas, are all stored, and both replicas list all of them.
func TestHADisjointPoolsAcrossReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	replicas := replicaPools(t)
	const n = 64
	pools := make([]*v3.IPPool, n)
	for i := range pools {
		pools[i] = pool(fmt.Sprintf("ha-disjoint-%d", i), fmt.Sprintf("198.19.%d.0/24", i))
	}
	for i, err := range createTogether(ctx, replicas, pools) {
		if err != nil {
			t.Errorf("creating %s (%s) through replica %d: %v", pools[i].Name, pools[i].Spec.CIDR, i%2, err)
		}
	}
	for r, c := range replicas {
		list, err := c.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing through replica %d: %v", r, err)
		}
		if len(list.Items) != n {
			t.Errorf("replica %d lists %d pools, want %d", r, len(list.Items), n)
		}
	}
}
