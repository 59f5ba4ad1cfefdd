package remotesync

import (
	"context"
	"flag"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/remotecluster"
	"github.com/meshapi/meshapi/test/bench/benchserver"
	"github.com/meshapi/meshapi/test/bench/parallel"
)

var requestOverheadObjectsFlag = flag.Int("remotesync.request-overhead-objects", 10000,
	"BenchmarkRequestOverhead: mirrors created and deleted per round.")

// BenchmarkRequestOverhead measures what one request per object costs A's
// API server beyond the work on the object itself: the CPU per object of
// deleting the mirrors with one DELETE each (from the floor's writers)
// against deleting them with deletecollection, whose per-object deletes
// run inside the server. The difference is the request's own share
// (transport, authentication, authorization, the filter chain, decoding
// and encoding), what a write path of many objects per request would
// save: it sizes such a path before it is built. The creates between are
// reported too.
func BenchmarkRequestOverhead(b *testing.B) {
	b.StopTimer()
	f := servers(b)
	ctx := b.Context()
	if err := ensureClean(ctx, f); err != nil {
		b.Fatalf("cleaning up: %v", err)
	}
	const cluster = "request-overhead"
	n := *requestOverheadObjectsFlag
	var create, perRequest, collection costSample
	for range b.N {
		for _, deleteAll := range []struct {
			cost *costSample
			run  func() error
		}{
			{&perRequest, func() error { return deleteOneByOne(ctx, f, cluster, n) }},
			{&collection, func() error { return deleteEndpoints(ctx, f.A.Client, v3.LabelCluster+"="+cluster) }},
		} {
			c, err := measured(ctx, f, func() error { return createMirrors(ctx, f, cluster, n) })
			if err != nil {
				b.Fatal(err)
			}
			create = create.plus(c)
			if c, err = measured(ctx, f, deleteAll.run); err != nil {
				b.Fatal(err)
			}
			*deleteAll.cost = deleteAll.cost.plus(c)
		}
	}
	reportCost(b, "create", 2*n*b.N, create)
	reportCost(b, "delete-per-request", n*b.N, perRequest)
	reportCost(b, "deletecollection", n*b.N, collection)
	overhead := (perRequest.aCPU - collection.aCPU) * 1000 / float64(n*b.N)
	b.ReportMetric(overhead, "request-a-cpu-ms/object")
	b.Logf("a request of its own costs A %.3f ms per object beyond a deletecollection's delete of it", overhead)
}

// measured runs fn and returns what it cost A and this process.
func measured(ctx context.Context, f *benchserver.Pair, fn func() error) (costSample, error) {
	before, err := sampleCost(ctx, f.A)
	if err != nil {
		return costSample{}, err
	}
	if err := fn(); err != nil {
		return costSample{}, err
	}
	after, err := sampleCost(ctx, f.A)
	if err != nil {
		return costSample{}, err
	}
	return after.since(before), nil
}

// createMirrors creates in A the mirrors of endpoints 0..n-1 of cluster,
// one request each from the floor's writers.
func createMirrors(ctx context.Context, f *benchserver.Pair, cluster string, n int) error {
	return parallel.ForEach(ctx, creators, n, func(ctx context.Context, i int) error {
		m := remotecluster.MirrorWorkloadEndpoint(cluster, newEndpoint(cluster, i))
		if _, err := f.A.Client.ProjectcalicoV3().WorkloadEndpoints(m.Namespace).Create(ctx, m, metav1.CreateOptions{FieldManager: remotecluster.FieldManager}); err != nil {
			return fmt.Errorf("creating %s/%s in A: %w", m.Namespace, m.Name, err)
		}
		return nil
	})
}

// deleteOneByOne deletes the mirrors createMirrors made, one DELETE each
// from the floor's writers.
func deleteOneByOne(ctx context.Context, f *benchserver.Pair, cluster string, n int) error {
	return parallel.ForEach(ctx, creators, n, func(ctx context.Context, i int) error {
		m := remotecluster.MirrorWorkloadEndpoint(cluster, newEndpoint(cluster, i))
		if err := f.A.Client.ProjectcalicoV3().WorkloadEndpoints(m.Namespace).Delete(ctx, m.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("deleting %s/%s in A: %w", m.Namespace, m.Name, err)
		}
		return nil
	})
}
