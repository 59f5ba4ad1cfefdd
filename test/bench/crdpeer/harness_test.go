package crdpeer

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// Tunables, as test binary flags:
//
//	go test ... ./test/bench/crdpeer/ -args -crdpeer.endpoints=10000
var (
	endpointsFlag = flag.Int("crdpeer.endpoints", 3000, "WorkloadEndpoints created in each API")
	writersFlag   = flag.Int("crdpeer.writers", 8, "goroutines creating them")
	listsFlag     = flag.Int("crdpeer.lists", 5, "times each list is repeated; the median is reported")
	updatesFlag   = flag.Int("crdpeer.updates", 200, "updates timed one at a time for watch delivery; the median is reported")
	keepFlag      = flag.Bool("crdpeer.keep", false, "keep the cluster's directory (logs) after the run")
)

const (
	// namespaces is how many namespaces the endpoints spread over.
	namespaces = 10
	// nodes is how many node names they spread over (spec.node).
	nodes = 100
	// apps is how many values their app label takes.
	apps = 10
)

// The two resources compared.
var (
	meshapiResource = schema.GroupVersionResource{Group: "projectcalico.org", Version: "v3", Resource: "workloadendpoints"}
	crdResource     = schema.GroupVersionResource{Group: "crd.projectcalico.org", Version: "v1", Resource: "workloadendpoints"}
)

// crdManifest is a CRD with the schema of meshapi's WorkloadEndpoint
// (pkg/apis/projectcalico/v3/endpoint_types.go) and spec.node selectable,
// as meshapi's is.
const crdManifest = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: workloadendpoints.crd.projectcalico.org
spec:
  group: crd.projectcalico.org
  scope: Namespaced
  names:
    kind: WorkloadEndpoint
    listKind: WorkloadEndpointList
    plural: workloadendpoints
    singular: workloadendpoint
  versions:
  - name: v1
    served: true
    storage: true
    selectableFields:
    - jsonPath: .spec.node
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            properties:
              orchestrator: {type: string}
              workload: {type: string}
              node: {type: string}
              containerID: {type: string}
              pod: {type: string}
              endpoint: {type: string}
              serviceAccountName: {type: string}
              ipNetworks: {type: array, items: {type: string}}
              ipv4Gateway: {type: string}
              ipv6Gateway: {type: string}
              profiles: {type: array, items: {type: string}}
              interfaceName: {type: string}
              mac: {type: string}
              ports:
                type: array
                items:
                  type: object
                  required: [name, protocol, port]
                  properties:
                    name: {type: string}
                    protocol: {type: string}
                    port: {type: integer, minimum: 0, maximum: 65535}
                    hostPort: {type: integer, minimum: 0, maximum: 65535}
                    hostIP: {type: string}
`

// bench is one round's cluster and client.
type bench struct {
	cluster *framework.Cluster
	client  dynamic.Interface
	dir     string
}

// startBench starts a cluster, installs the CRD and creates the namespaces.
func startBench(ctx context.Context, b *testing.B) *bench {
	b.Helper()
	dir, err := os.MkdirTemp("", "meshapi-crdpeer-")
	if err != nil {
		b.Fatal(err)
	}
	bins, err := framework.FindBinaries(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	c, err := framework.StartCluster(ctx, "crdpeer", dir, bins)
	if err != nil {
		b.Fatal(err)
	}
	bn := &bench{cluster: c, dir: dir}
	b.Cleanup(func() {
		if err := c.Stop(); err != nil {
			b.Errorf("stopping the cluster: %v", err)
		}
		if !*keepFlag {
			os.RemoveAll(dir)
		}
	})
	if _, err := c.Kubectl(ctx, crdManifest, "apply", "-f", "-"); err != nil {
		b.Fatalf("installing the CRD: %v", err)
	}
	if _, err := c.Kubectl(ctx, "", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/workloadendpoints.crd.projectcalico.org"); err != nil {
		b.Fatalf("waiting for the CRD: %v", err)
	}
	var ns strings.Builder
	for i := range namespaces {
		fmt.Fprintf(&ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", namespace(i))
	}
	if _, err := c.Kubectl(ctx, ns.String(), "apply", "-f", "-"); err != nil {
		b.Fatalf("creating the namespaces: %v", err)
	}
	cfg := *c.Config
	cfg.QPS, cfg.Burst = 1e6, 1e6 // the client must not be what limits the rates
	if bn.client, err = dynamic.NewForConfig(&cfg); err != nil {
		b.Fatal(err)
	}
	// The CRD's discovery and the aggregator's route settle; wait until
	// both resources answer.
	for _, r := range []schema.GroupVersionResource{meshapiResource, crdResource} {
		err := framework.Poll(ctx, time.Minute, r.String()+" lists", func() (bool, string) {
			_, err := bn.client.Resource(r).List(ctx, metav1.ListOptions{Limit: 1})
			return err == nil, fmt.Sprint(err)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return bn
}

// namespace is the namespace of endpoint i.
func namespace(i int) string { return fmt.Sprintf("crdpeer-%02d", i%namespaces) }

// nodeName is the node of endpoint i.
func nodeName(i int) string { return fmt.Sprintf("host-%02d", i%nodes) }

// endpoint returns endpoint i of r as the dynamic client sends it: the same
// fields for both resources, the shape meshapi-cni writes.
func endpoint(r schema.GroupVersionResource, i int) *unstructured.Unstructured {
	name := fmt.Sprintf("host-%02d-k8s-pod--%05d-eth0", i%nodes, i)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": r.GroupVersion().String(),
		"kind":       "WorkloadEndpoint",
		"metadata": map[string]any{
			"name":      name,
			"namespace": namespace(i),
			"labels": map[string]any{
				"app":                              fmt.Sprintf("app-%d", i%apps),
				"projectcalico.org/namespace":      namespace(i),
				"projectcalico.org/orchestrator":   "k8s",
				"projectcalico.org/serviceaccount": "default",
				"pod-template-hash":                fmt.Sprintf("%08x", i),
			},
		},
		"spec": map[string]any{
			"orchestrator":       "k8s",
			"workload":           fmt.Sprintf("pod-%05d", i),
			"node":               nodeName(i),
			"containerID":        fmt.Sprintf("%064x", i),
			"pod":                fmt.Sprintf("pod-%05d", i),
			"endpoint":           "eth0",
			"serviceAccountName": "default",
			"ipNetworks":         []any{fmt.Sprintf("198.18.%d.%d/32", i/256, i%256)},
			"profiles":           []any{"kns." + namespace(i), "ksa." + namespace(i) + ".default"},
			"interfaceName":      fmt.Sprintf("cali%011x", i),
			"mac":                fmt.Sprintf("ee:ee:ee:ee:%02x:%02x", i/256%256, i%256),
		},
	}}
}

// createAll creates endpoints 0..n-1 of r from writers goroutines and
// returns the creates per second.
func (bn *bench) createAll(ctx context.Context, r schema.GroupVersionResource, n, writers int) (float64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				ep := endpoint(r, i)
				if _, err := bn.client.Resource(r).Namespace(ep.GetNamespace()).Create(ctx, ep, metav1.CreateOptions{}); err != nil {
					cancel(fmt.Errorf("creating %s %s/%s: %w", r.Resource, ep.GetNamespace(), ep.GetName(), err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// listMedian lists r across namespaces with opts repeats times, checks
// that each list returns want items, and returns the median duration.
func (bn *bench) listMedian(ctx context.Context, r schema.GroupVersionResource, opts metav1.ListOptions, want, repeats int) (time.Duration, error) {
	var took []time.Duration
	for range repeats {
		start := time.Now()
		l, err := bn.client.Resource(r).List(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("listing %s (%+v): %w", r.Resource, opts, err)
		}
		took = append(took, time.Since(start))
		if len(l.Items) != want {
			return 0, fmt.Errorf("listing %s (label %q, field %q): %d items, want %d",
				r.Resource, opts.LabelSelector, opts.FieldSelector, len(l.Items), want)
		}
	}
	return median(took), nil
}

// watchDelivery watches r in the namespace of endpoint 0, then updates a
// label of endpoint 0 updates times, one at a time, each time waiting for
// the MODIFIED event carrying the new value, and returns the median time
// from sending the update to receiving its event.
func (bn *bench) watchDelivery(ctx context.Context, r schema.GroupVersionResource, updates int) (time.Duration, error) {
	ep := endpoint(r, 0)
	res := bn.client.Resource(r).Namespace(ep.GetNamespace())
	cur, err := res.Get(ctx, ep.GetName(), metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	w, err := res.Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + ep.GetName(), ResourceVersion: cur.GetResourceVersion(),
	})
	if err != nil {
		return 0, fmt.Errorf("watching %s: %w", r.Resource, err)
	}
	defer w.Stop()
	var took []time.Duration
	for u := range updates {
		value := fmt.Sprintf("round-%d", u)
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{"crdpeer-update":%q}}}`, value)
		start := time.Now()
		if _, err := res.Patch(ctx, ep.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return 0, fmt.Errorf("patching %s %s: %w", r.Resource, ep.GetName(), err)
		}
		if err := awaitLabel(ctx, w, "crdpeer-update", value); err != nil {
			return 0, fmt.Errorf("%s: %w", r.Resource, err)
		}
		took = append(took, time.Since(start))
	}
	return median(took), nil
}

// awaitLabel reads w until a MODIFIED event whose object has label key set
// to value.
func awaitLabel(ctx context.Context, w watch.Interface, key, value string) error {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed waiting for %s=%s", key, value)
			}
			if ev.Type == watch.Error {
				return fmt.Errorf("watch error waiting for %s=%s: %v", key, value, ev.Object)
			}
			if u, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type == watch.Modified && u.GetLabels()[key] == value {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("no MODIFIED event with %s=%s within 30s", key, value)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deleteAll deletes every endpoint of r in the benchmark's namespaces.
func (bn *bench) deleteAll(ctx context.Context, r schema.GroupVersionResource) error {
	for i := range namespaces {
		if err := bn.client.Resource(r).Namespace(namespace(i)).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("deleting the %s of %s: %w", r.Resource, namespace(i), err)
		}
	}
	return nil
}

// median returns the median of d (the upper one of an even count).
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
