package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// Issue 8 with the netns dataplane: a pod in cluster A reaches a backend
// pod in cluster B through the federated Service's endpoints. The backend
// is a pod behind a node of B wired by the CNI plugin, its Pod object carrying its IP, so
// B's EndpointSlice controller lists it for the backing Service and B's
// controller gives it its WorkloadEndpoint; A's federation controller
// writes the federated EndpointSlice, whose address the client in A
// connects to over the overlay. When the backend goes, A's endpoints drop
// it.
func TestFederatedServiceTraffic(t *testing.T) {
	const ns = "fedtraffic"
	ctx := ctxT(t)
	topo := newTopology(t, framework.TopologyConfig{Name: "ft", Nodes: 1, VXLANPort: dpVXLANPort, Namespaces: []string{ns},
		Pools: [2]netip.Prefix{netip.MustParsePrefix("198.18.68.0/24"), netip.MustParsePrefix("198.18.69.0/24")}})
	topo.connect()
	a, b := topo.a, topo.b
	a1, b1 := topo.node("a1"), topo.node("b1")
	client := topo.addPod(a1, ns, "client-0", map[string]string{"app": "client"})

	// The backend in B: a pod through the plugin serving TCP 8080 on node
	// b1 (a Kubernetes Node of that name, so that the EndpointSlice
	// controller takes the pod), behind the backing Service echo-b.
	kubeB := topo.Kube[b]
	if _, err := kubeB.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: b1.Name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kubeB.CoreV1().Nodes().Delete(context.Background(), b1.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting the Kubernetes Node %s: %v", b1.Name, err)
		}
	})
	kubectl(t, b, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: echo-b
  namespace: %s
  labels:
    app: echo
spec:
  selector:
    app: echo-backend
  ports:
  - name: http
    port: 8080
    targetPort: 8080
`, ns), "apply", "-f", "-")
	// AddPodObject reports the pod's IP and readiness as a kubelet would,
	// and waits for its WorkloadEndpoint on the plugin's veth.
	backend, err := topo.AddPodObject(ctx, b1, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-0", Namespace: ns, Labels: map[string]string{"app": "echo-backend"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "registry.k8s.io/pause:3.10",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, topo.agentLogs())
	}
	server, err := backend.ServeSourceAddress(8080)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })

	// The federated Service in A.
	kubectl(t, a, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: %s
  annotations:
    federation.tigera.io/serviceSelector: app == "echo"
spec:
  ports:
  - name: http
    port: 8080
    protocol: TCP
`, ns), "apply", "-f", "-")
	t.Cleanup(func() { kubectl(t, a, "", "delete", "service", "echo", "-n", ns, "--ignore-not-found") })
	kubeA := topo.Kube[a]
	// remoteEndpoints returns the ready addresses and the http port of A's
	// federated EndpointSlices for cluster B.
	remoteEndpoints := func() ([]netip.AddrPort, string) {
		slices, err := kubeA.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=echo," + v3.LabelCluster + "=" + b.Name})
		if err != nil {
			return nil, err.Error()
		}
		var out []netip.AddrPort
		for _, s := range slices.Items {
			var port int32
			for _, p := range s.Ports {
				if p.Name != nil && *p.Name == "http" && p.Port != nil {
					port = *p.Port
				}
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && !*e.Conditions.Ready {
					continue
				}
				for _, addr := range e.Addresses {
					if ip, err := netip.ParseAddr(addr); err == nil && port > 0 {
						out = append(out, netip.AddrPortFrom(ip, uint16(port)))
					}
				}
			}
		}
		return out, fmt.Sprintf("%d slices: %v", len(slices.Items), out)
	}
	var target netip.AddrPort
	topo.eventually("A's federated endpoints list the backend of B", func() (bool, string) {
		eps, state := remoteEndpoints()
		if len(eps) == 1 {
			target = eps[0]
		}
		return len(eps) == 1, state
	})
	t.Logf("federated endpoint of echo in %s for %s: %s (the backend pod is %s)", a.Name, b.Name, target, backend.IP)

	// The client in A connects to the address A's endpoints give, over
	// the overlay, and gets the backend's answer: its own address.
	before, err := topo.underlay.UDPCount()
	if err != nil {
		t.Fatal(err)
	}
	seen, err := client.SourceSeen(target, 5*time.Second)
	if err != nil || seen != client.IP.String() {
		t.Fatalf("client %s -> federated endpoint %s: answer %q, want the client's own address; %v\n%s", client.IP, target, seen, err, topo.dump())
	}
	if after, err := topo.underlay.UDPCount(); err != nil || after == before {
		t.Errorf("no VXLAN packets crossed the underlay for the connection (%d -> %d, %v)", before, after, err)
	}

	// The backend goes away in B: A's endpoints drop it.
	kubectl(t, b, "", "delete", "pod", "echo-0", "-n", ns, "--grace-period=0", "--force")
	topo.eventually("A's federated endpoints drop the backend", func() (bool, string) {
		eps, state := remoteEndpoints()
		return len(eps) == 0, state
	})
	topo.eventually("the backend's endpoint gone from B and its mirror from A", func() (bool, string) {
		_, errB := topo.cs[b].ProjectcalicoV3().WorkloadEndpoints(ns).Get(context.Background(), backend.EndpointName(), metav1.GetOptions{})
		_, errA := topo.cs[a].ProjectcalicoV3().WorkloadEndpoints(ns).Get(context.Background(), b.Name+"."+backend.EndpointName(), metav1.GetOptions{})
		return apierrors.IsNotFound(errA) && apierrors.IsNotFound(errB), fmt.Sprint(errA, " ", errB)
	})
}
