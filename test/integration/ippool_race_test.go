package integration

import (
	"fmt"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Two overlapping pools written at the same moment: exactly one is stored.
func TestConcurrentOverlappingPools(t *testing.T) {
	ctx := ctxT(t)
	pools := clientset(t).ProjectcalicoV3().IPPools()
	const pairs = 20
	var wg sync.WaitGroup
	created := make([][2]bool, pairs)
	for i := 0; i < pairs; i++ {
		for j, cidr := range []string{fmt.Sprintf("198.19.%d.0/24", 100+i), fmt.Sprintf("198.19.%d.0/25", 100+i)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := pools.Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("race-%d-%d", i, j)},
					Spec: v3.IPPoolSpec{CIDR: cidr}}, metav1.CreateOptions{})
				created[i][j] = err == nil
			}()
		}
	}
	wg.Wait()
	for i := 0; i < pairs; i++ {
		if created[i][0] == created[i][1] {
			t.Errorf("pair %d: created %v; want exactly one of two overlapping pools", i, created[i])
		}
		for j := 0; j < 2; j++ {
			if created[i][j] {
				_ = pools.Delete(ctx, fmt.Sprintf("race-%d-%d", i, j), metav1.DeleteOptions{})
			}
		}
	}
}
