package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshctl"
)

// A Pod with an IP becomes a WorkloadEndpoint in its cluster, with its
// labels and its namespace's profile, whatever the CNI, and is federated
// into the clusters that sync from it; when the pod goes, so do both.
func TestPodsBecomeFederatedEndpoints(t *testing.T) {
	ctx := ctxT(t)
	a, b := clusters[0], clusters[1]
	if err := a.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	ensureOverlay(t, a)
	ensureOverlay(t, b)
	connect(t, a, b.Name, remoteKubeconfig(t, b))
	defer kubectl(t, a, "", "delete", "rcc", b.Name, "--ignore-not-found")
	csA, csB := clientFor(t, a), clientFor(t, b)
	waitSyncState(t, a, csA, b.Name, v3.SyncStateInSync, time.Minute)

	createNamespace(t, b, "shop")
	kubectl(t, b, "", "label", "namespace", "shop", "team=payments")
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: api-7d4b9
  namespace: shop
  labels:
    app: api
spec:
  nodeName: node-1
  containers:
  - name: api
    image: registry.k8s.io/pause:3.10
    ports:
    - name: http
      containerPort: 8080
`
	// The namespace's default ServiceAccount appears a moment after it.
	waitFor(t, b, 2*time.Minute, "pod created", func() (bool, string) {
		_, err := b.Kubectl(ctx, pod, "apply", "-f", "-")
		return err == nil, fmt.Sprint(err)
	})
	// No kubelet runs here: the pod gets its IP as a kubelet would report it,
	// one in B's own pool (a remote endpoint elsewhere is refused).
	kubectl(t, b, "", "patch", "pod", "api-7d4b9", "-n", "shop", "--subresource=status", "--type=merge",
		"-p", `{"status":{"phase":"Running","podIP":"198.18.201.10","podIPs":[{"ip":"198.18.201.10"}]}}`)

	const wepName = "node--1-k8s-api--7d4b9-eth0"
	waitFor(t, b, 30*time.Second, "the pod's WorkloadEndpoint", func() (bool, string) {
		w, err := csB.ProjectcalicoV3().WorkloadEndpoints("shop").Get(ctx, wepName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return w.Spec.IPNetworks[0] == "198.18.201.10/32" && w.Labels["app"] == "api" && w.Labels["projectcalico.org/namespace"] == "shop" &&
			w.Spec.Profiles[0] == "kns.shop" && len(w.Spec.Ports) == 1 && w.Spec.Ports[0].Port == 8080, fmt.Sprintf("%+v %v", w.Spec, w.Labels)
	})
	waitFor(t, b, 30*time.Second, "the namespace's profile", func() (bool, string) {
		p, err := csB.ProjectcalicoV3().Profiles().Get(ctx, "kns.shop", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Spec.LabelsToApply["pcns.team"] == "payments", fmt.Sprint(p.Spec.LabelsToApply)
	})
	waitFor(t, a, 30*time.Second, "the pod federated into A", func() (bool, string) {
		out, err := a.Kubectl(ctx, "", "get", "wep", "-n", "shop", "cluster-b."+wepName, "-o", "jsonpath={.spec.node} {.spec.profiles[0]}")
		return err == nil && out == "cluster-b/node-1 cluster-b/kns.shop", out + fmt.Sprint(err)
	})
	if _, err := csA.ProjectcalicoV3().Profiles().Get(ctx, "cluster-b.kns.shop", metav1.GetOptions{}); err != nil {
		t.Errorf("B's namespace profile in A: %v", err)
	}
	// The seeds' troubleshooting step, calicoq eval, as meshctl eval: remote
	// endpoints carry the RemoteClusterConfiguration's prefix, and inherit
	// their namespace's labels from B.
	var out bytes.Buffer
	cmd := meshctl.NewCommand(&out)
	cmd.SetArgs([]string{"--kubeconfig", a.Kubeconfig, "eval", "pcns.team == 'payments'"})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "Endpoints matching selector pcns.team == 'payments':\n  Workload endpoint cluster-b/node-1/k8s/shop.api-7d4b9/eth0\n"; out.String() != want {
		t.Errorf("meshctl eval in A:\n%s\nwant\n%s", out.String(), want)
	}

	kubectl(t, b, "", "delete", "pod", "api-7d4b9", "-n", "shop", "--grace-period=0", "--force")
	waitFor(t, a, 30*time.Second, "the pod's endpoint gone everywhere", func() (bool, string) {
		_, errB := csB.ProjectcalicoV3().WorkloadEndpoints("shop").Get(ctx, wepName, metav1.GetOptions{})
		_, errA := csA.ProjectcalicoV3().WorkloadEndpoints("shop").Get(ctx, "cluster-b."+wepName, metav1.GetOptions{})
		return apierrors.IsNotFound(errA) && apierrors.IsNotFound(errB), strings.TrimSpace(fmt.Sprint(errA, " ", errB))
	})
}
