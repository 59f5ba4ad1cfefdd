package e2e

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// delegatedAuthzRequests returns how many SubjectAccessReviews c's
// meshapi-apiserver has sent kube-apiserver (its
// apiserver_delegated_authz_request_total, over every response code).
func delegatedAuthzRequests(t *testing.T, c *framework.Cluster) float64 {
	t.Helper()
	cfg, err := c.MeshapiReplicaConfig(1)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(cfg.Host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("meshapi-apiserver /metrics: %d %v\n%.500s", resp.StatusCode, err, body)
	}
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "apiserver_delegated_authz_request_total{"); ok {
			v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			total += v
		}
	}
	return total
}

// meshapi-controller updates and deletes mirrors of every name; its
// requests are authorized for the collection first, so that a label change
// on n remote endpoints costs meshapi-apiserver far fewer than n
// SubjectAccessReviews (one per collection and cache period, not one per
// mirror), and mirror writes by the controller still succeed.
func TestMirrorWritesAuthorizedByCollection(t *testing.T) {
	ctx := ctxT(t)
	a, b := clusters[0], clusters[1]
	for _, cl := range []*framework.Cluster{a, b} {
		if err := cl.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		ensureOverlay(t, cl) // B's endpoints are in B's VXLAN pool, 198.18.201.0/24
	}
	connect(t, a, b.Name, remoteKubeconfig(t, b))
	defer kubectl(t, a, "", "delete", "remoteclusterconfiguration", b.Name, "--ignore-not-found")
	csA, csB := clientFor(t, a), clientFor(t, b)
	waitSyncState(t, a, csA, b.Name, v3.SyncStateInSync, time.Minute)

	const ns, n = "collection-authz", 40
	createNamespace(t, b, ns)
	defer kubectl(t, b, "", "delete", "namespace", ns, "--wait=false")
	remote := csB.ProjectcalicoV3().WorkloadEndpoints(ns)
	for i := range n {
		if _, err := remote.Create(ctx, &v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("host-1-k8s-pod-%d-eth0", i), Labels: map[string]string{"round": "1"}},
			Spec: v3.WorkloadEndpointSpec{Node: "host-1", Orchestrator: "k8s", Pod: fmt.Sprintf("pod-%d", i), Endpoint: "eth0",
				IPNetworks: []string{fmt.Sprintf("198.18.201.%d/32", 100+i)}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mirrors := csA.ProjectcalicoV3().WorkloadEndpoints(ns)
	waitMirrors := func(round string) {
		t.Helper()
		waitFor(t, a, time.Minute, fmt.Sprintf("%d mirrors in round %s", n, round), func() (bool, string) {
			l, err := mirrors.List(ctx, metav1.ListOptions{LabelSelector: "round=" + round})
			if err != nil {
				return false, err.Error()
			}
			return len(l.Items) == n, fmt.Sprintf("%d mirrors", len(l.Items))
		})
	}
	waitMirrors("1")

	before := delegatedAuthzRequests(t, a)
	for i := range n {
		name := fmt.Sprintf("host-1-k8s-pod-%d-eth0", i)
		if _, err := remote.Patch(ctx, name, "application/merge-patch+json", []byte(`{"metadata":{"labels":{"round":"2"}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitMirrors("2")
	sars := delegatedAuthzRequests(t, a) - before
	t.Logf("%d mirror updates in %s: %.0f SubjectAccessReviews from its meshapi-apiserver", n, a.Name, sars)
	if sars >= n/2 {
		t.Errorf("%d mirror updates cost %.0f SubjectAccessReviews; want fewer than %d (one per collection and cache period)", n, sars, n/2)
	}
}
