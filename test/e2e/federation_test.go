package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// backend creates a Service and a ready pod behind it; the cluster's
// EndpointSlice controller gives the Service its slice.
func backend(t *testing.T, c *framework.Cluster, name, version, ip string) {
	t.Helper()
	// The EndpointSlice controller skips pods on nodes it does not know.
	kubectl(t, c, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n", "apply", "-f", "-")
	kubectl(t, c, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: bookinfo
  labels:
    app: reviews
spec:
  selector:
    app: reviews
    version: %[2]s
  ports:
  - name: http
    port: 9080
    targetPort: 9080
---
apiVersion: v1
kind: Pod
metadata:
  name: %[1]s-pod
  namespace: bookinfo
  labels:
    app: reviews
    version: %[2]s
spec:
  nodeName: node-1
  containers:
  - name: reviews
    image: registry.k8s.io/pause:3.10
    ports:
    - name: http
      containerPort: 9080
`, name, version), "apply", "-f", "-")
	// No kubelet runs here: the pod reports its IP and readiness as a kubelet would.
	kubectl(t, c, "", "patch", "pod", name+"-pod", "-n", "bookinfo", "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"conditions":[{"type":"Ready","status":"True"}]}}`, ip, ip))
}

// endpointIPs returns the sorted ready IPs of the Endpoints of svc.
func endpointIPs(t *testing.T, c *framework.Cluster, svc string) []string {
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := kube.CoreV1().Endpoints("bookinfo").Get(ctxT(t), svc, metav1.GetOptions{}) //nolint:staticcheck // what kubectl get endpoints reads
	if err != nil {
		return nil
	}
	var ips []string
	for _, s := range ep.Subsets {
		for _, a := range s.Addresses {
			ips = append(ips, a.IP)
		}
	}
	sort.Strings(ips)
	return ips
}

// The seeds' bookinfo example: reviews federated in cluster 1 over
// reviews-v1 there and reviews-v2, reviews-v3 in cluster 3.
func TestFederatedServicesBookinfo(t *testing.T) {
	ctx := ctxT(t)
	one, three := clusters[0], clusters[2]
	for _, c := range []*framework.Cluster{one, three} {
		if err := c.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		ensureOverlay(t, c)
		createNamespace(t, c, "bookinfo")
		defer kubectl(t, c, "", "delete", "namespace", "bookinfo", "--wait=false")
	}
	connect(t, one, three.Name, remoteKubeconfig(t, three))
	defer kubectl(t, one, "", "delete", "rcc", three.Name, "--ignore-not-found")
	backend(t, one, "reviews-v1", "v1", "198.18.200.11")
	backend(t, three, "reviews-v2", "v2", "198.18.202.12")
	backend(t, three, "reviews-v3", "v3", "198.18.202.13")

	// The seed's federated Service, as written there.
	kubectl(t, one, `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: bookinfo
  annotations:
    federation.tigera.io/serviceSelector: app == "reviews"
spec:
  ports:
  - name: http
    port: 9080
    protocol: TCP
  type: ClusterIP
`, "apply", "-f", "-")
	want := func(ips ...string) func() (bool, string) {
		return func() (bool, string) {
			got := endpointIPs(t, one, "reviews")
			return strings.Join(got, ",") == strings.Join(ips, ","), fmt.Sprint(got)
		}
	}
	waitFor(t, one, time.Minute, "reviews backed by v1, v2 and v3", want("198.18.200.11", "198.18.202.12", "198.18.202.13"))
	out := kubectl(t, one, "", "get", "endpointslices", "-n", "bookinfo", "-l", "kubernetes.io/service-name=reviews,projectcalico.org/cluster=cluster-c",
		"-o", "jsonpath={.items[*].endpoints[*].targetRef.name}")
	if out != "cluster-c/reviews-v2-pod cluster-c/reviews-v3-pod" {
		t.Errorf("remote slice targets %q", out)
	}

	// Deleting a backing Service in cluster 3 updates cluster 1.
	kubectl(t, three, "", "delete", "service", "reviews-v3", "-n", "bookinfo")
	waitFor(t, one, time.Minute, "reviews-v3 gone", want("198.18.200.11", "198.18.202.12"))

	// Cluster 3 down: its addresses stay (grace period 0, as the original).
	if err := three.StopKubeAPIServer(); err != nil {
		t.Fatal(err)
	}
	waitSyncState(t, one, clientFor(t, one), three.Name, "ConnectionFailed", time.Minute)
	time.Sleep(3 * time.Second)
	if got := endpointIPs(t, one, "reviews"); strings.Join(got, ",") != "198.18.200.11,198.18.202.12" {
		t.Errorf("during the outage: %v", got)
	}
	if err := three.StartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := three.WaitAPIServiceAvailable(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitSyncState(t, one, clientFor(t, one), three.Name, "InSync", 2*time.Minute)

	// A federated Service that also has spec.selector is refused, with an
	// annotation and an Event, and gets no endpoints.
	kubectl(t, one, `apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: bookinfo
  annotations:
    federation.tigera.io/serviceSelector: app == "ratings"
spec:
  selector:
    app: ratings
  ports:
  - name: http
    port: 9080
`, "apply", "-f", "-")
	waitFor(t, one, 30*time.Second, "ratings refused", func() (bool, string) {
		out, err := one.Kubectl(ctx, "", "get", "service", "ratings", "-n", "bookinfo", "-o", "jsonpath={.metadata.annotations.projectcalico\\.org/federation-error}")
		return err == nil && strings.Contains(out, "must not have spec.selector"), out
	})
	events := kubectl(t, one, "", "get", "events", "-n", "bookinfo", "--field-selector", "involvedObject.name=ratings", "-o", "jsonpath={.items[*].reason}")
	if !strings.Contains(events, "FederationInvalid") {
		t.Errorf("events of ratings: %q", events)
	}
}
