package e2e

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// Deleting a namespace completes with meshapi registered: the namespace
// controller finds meshapi's namespaced resources through discovery and
// deletes them with the metadata client, through the aggregator.
func TestNamespaceDeletion(t *testing.T) {
	ctx := ctxT(t)
	c := clusters[1]
	createNamespace(t, c, "doomed")
	kubectl(t, c, "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: default.deny\n  namespace: doomed\nspec:\n  selector: all()\n", "apply", "-f", "-")
	cs, err := versioned.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ProjectcalicoV3().WorkloadEndpoints("doomed").Create(ctx, &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "host-a-k8s-db-eth0"},
		Spec:       v3.WorkloadEndpointSpec{Node: "host-a", IPNetworks: []string{"198.18.70.1/32"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, "", "delete", "namespace", "doomed", "--wait=false")

	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace still there after 2m: %v %+v\n%s", err, ns.Status, c.Logs(30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	weps, err := cs.ProjectcalicoV3().WorkloadEndpoints("doomed").List(ctx, metav1.ListOptions{})
	if err != nil || len(weps.Items) != 0 {
		t.Errorf("endpoints of the deleted namespace: %v %d left", err, len(weps.Items))
	}
	nps, err := cs.ProjectcalicoV3().NetworkPolicies("doomed").List(ctx, metav1.ListOptions{})
	if err != nil || len(nps.Items) != 0 {
		t.Errorf("policies of the deleted namespace: %v %d left", err, len(nps.Items))
	}
}

// meshapi-apiserver and kube-apiserver can be stopped and started again;
// while meshapi is down its API answers 503 through the aggregator, and
// its data survives both restarts.
func TestRestarts(t *testing.T) {
	ctx := ctxT(t)
	c := clusters[2]
	kubectl(t, c, "", "apply", "-f", seed("001-rcc-cluster-b.yaml"))
	defer kubectl(t, c, "", "delete", "--ignore-not-found", "-f", seed("001-rcc-cluster-b.yaml"))

	if err := c.StopMeshapiAPIServer(); err != nil {
		t.Fatal(err)
	}
	out, err := c.Kubectl(ctx, "", "get", "remoteclusterconfigurations")
	if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") && !strings.Contains(err.Error(), "the server is currently unable to handle the request") {
		t.Errorf("with meshapi down: %v %s", err, out)
	}
	if err := c.StartMeshapiAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if out := kubectl(t, c, "", "get", "rcc", "cluster-b", "-o", "jsonpath={.spec.syncOptions.overlayRoutingMode}"); out != "Enabled" {
		t.Errorf("after a meshapi restart: %q", out)
	}

	if err := c.StopKubeAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubectl(ctx, "", "get", "rcc", "--request-timeout=2s"); err == nil {
		t.Errorf("kubectl answered with kube-apiserver down")
	}
	if err := c.StartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAPIServiceAvailable(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if out := kubectl(t, c, "", "get", "rcc", "cluster-b", "-o", "jsonpath={.spec.syncOptions.overlayRoutingMode}"); out != "Enabled" {
		t.Errorf("after a kube-apiserver restart: %q", out)
	}
}
