// Package e2e tests meshapi as users meet it: real kube-apiservers with the
// aggregation layer, real kube-controller-managers, meshapi-apiserver
// processes registered with an APIService, and the real kubectl, several
// clusters side by side on one machine.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// clusterCount clusters start for the whole test binary; tests keep apart
// by object names.
const clusterCount = 3

// clusters are the running clusters of this test binary.
var clusters []*framework.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "meshapi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins, err := framework.FindBinaries(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := time.Now()
	clusters = make([]*framework.Cluster, clusterCount)
	errs := make([]error, clusterCount)
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("cluster-%c", 'a'+i)
			clusters[i], errs[i] = framework.StartCluster(ctx, name, filepath.Join(dir, name), bins)
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clusters {
			if c != nil {
				if err := c.Stop(); err != nil {
					fmt.Fprintln(os.Stderr, err)
				}
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting clusters:", err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: %d clusters Available in %s\n", clusterCount, time.Since(start).Round(time.Second))
	return m.Run()
}

// ctxT returns a context that ends with the test or after five minutes.
func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// kubectl runs kubectl as cluster c's administrator and fails the test on error.
func kubectl(t *testing.T, c *framework.Cluster, stdin string, args ...string) string {
	t.Helper()
	out, err := c.Kubectl(ctxT(t), stdin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, c.Logs(20))
	}
	return out
}

// seed returns the path of one of the seeds' YAML files.
func seed(name string) string {
	return filepath.Join(framework.RepoRoot(), "test", "integration", "testdata", "seeds", name)
}

// createNamespace creates namespace ns in c and waits up to two minutes
// for its default ServiceAccount, without which kube-apiserver refuses
// Pods in it: after an earlier test restarted a kube-apiserver, the
// controller manager's informers relist with a backoff of up to 30 s
// before the ServiceAccount controller sees a new namespace.
func createNamespace(t *testing.T, c *framework.Cluster, ns string) {
	t.Helper()
	kubectl(t, c, "", "create", "namespace", ns)
	waitFor(t, c, 2*time.Minute, "the default ServiceAccount of namespace "+ns, func() (bool, string) {
		out, err := c.Kubectl(ctxT(t), "", "get", "serviceaccount", "default", "-n", ns, "-o", "name")
		return err == nil, out + fmt.Sprint(err)
	})
}

// deleteNamespace deletes ns and waits until it is gone, so that later
// tests on the shared clusters do not see what this one left; when it
// does not go, it fails with what is still in it. Its Pods are bound to
// nodes without a kubelet, which would never confirm a graceful delete,
// so they go first, forced.
func deleteNamespace(t *testing.T, c *framework.Cluster, ns string) {
	t.Helper()
	if _, err := c.Kubectl(ctxT(t), "", "delete", "pods", "--all", "-n", ns, "--grace-period=0", "--force"); err != nil {
		t.Errorf("%s: deleting the Pods of namespace %s: %v", c.Name, ns, err)
	}
	if _, err := c.Kubectl(ctxT(t), "", "delete", "namespace", ns, "--timeout=2m"); err != nil {
		left, _ := c.Kubectl(ctxT(t), "", "get", "namespace", ns, "-o", "yaml")
		content, _ := c.Kubectl(ctxT(t), "", "get", "all,serviceimports,serviceexports,endpointslices", "-n", ns, "-o", "yaml")
		t.Errorf("%s: namespace %s not deleted: %v\n%s\n%s", c.Name, ns, err, left, content)
	}
}
