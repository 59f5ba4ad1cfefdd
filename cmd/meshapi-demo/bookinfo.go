package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// pod is a workload of the demo: a network namespace behind its node and
// the Pod object that reports its address, as a kubelet would; the
// cluster's meshapi-controller makes its WorkloadEndpoint.
type pod struct {
	name, namespace string
	node            *node
	labels          map[string]string
	port            int
	p               *framework.Pod
}

// bookinfoPods is the layout of the concepts seed: productpage and
// reviews-v1 in cluster A, reviews-v2 and reviews-v3 in cluster B, and the
// app-to-db policy's backend-app in A and postgres in B.
func (m *mesh) bookinfoPods() []*pod {
	node := func(name string) *node {
		i := slices.IndexFunc(m.nodes, func(n *node) bool { return n.name == name })
		return m.nodes[i]
	}
	return []*pod{
		{name: "productpage-v1", namespace: "bookinfo", node: node("node-a1"), labels: map[string]string{"app": "productpage", "version": "v1"}, port: 9080},
		{name: "reviews-v1", namespace: "bookinfo", node: node("node-a2"), labels: map[string]string{"app": "reviews", "version": "v1"}, port: 9080},
		{name: "backend-app", namespace: "myapp", node: node("node-a2"), labels: map[string]string{"app": "backend-app"}, port: 8080},
		{name: "reviews-v2", namespace: "bookinfo", node: node("node-b1"), labels: map[string]string{"app": "reviews", "version": "v2"}, port: 9080},
		{name: "reviews-v3", namespace: "bookinfo", node: node("node-b2"), labels: map[string]string{"app": "reviews", "version": "v3"}, port: 9080},
		{name: "postgres", namespace: "myapp", node: node("node-b1"), labels: map[string]string{"app": "postgres"}, port: 5432},
	}
}

// deployBookinfo creates the namespaces, the pods, the backing Services
// (reviews-v1 in A, reviews-23 over v2 and v3 in B, as the seed names
// them), the seed's federated reviews Service in A, and the seed's
// default.app-to-db policy in A, then waits for every pod's
// WorkloadEndpoint.
func (m *mesh) deployBookinfo(ctx context.Context) error {
	for _, c := range m.clusters {
		for _, ns := range []string{"bookinfo", "myapp"} {
			if _, err := c.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
				return err
			}
		}
	}
	m.pods = m.bookinfoPods()
	for _, p := range m.pods {
		if err := m.addPod(ctx, p); err != nil {
			return err
		}
	}
	a, b := m.clusters[0], m.clusters[1]
	for _, s := range []struct {
		c        *framework.Cluster
		manifest string
	}{
		{a, backingService("reviews-v1", "app: reviews\n    version: v1")},
		{b, backingService("reviews-23", "app: reviews")},
		{a, federatedReviews},
	} {
		if _, err := s.c.Kubectl(ctx, s.manifest, "apply", "-f", "-"); err != nil {
			return err
		}
	}
	policy := filepath.Join(framework.RepoRoot(), "test", "integration", "testdata", "seeds", "000-networkpolicy-app-to-db.yaml")
	if _, err := a.Kubectl(ctx, "", "apply", "-f", policy); err != nil {
		return err
	}
	return m.waitEndpoints(ctx)
}

// addPod creates p's network namespace behind its node at the node's next
// address, with the veth name the original's CNI gives it, and its Pod
// object with that address, Running and Ready.
func (m *mesh) addPod(ctx context.Context, p *pod) error {
	n := p.node
	ip := addrAdd(n.block.Addr(), 10+n.pods)
	n.pods++
	var err error
	if p.p, err = n.n.AddPodVeth(netnsPrefix+p.name+"-", ip, podendpoints.InterfaceName(p.namespace, p.name)); err != nil {
		return fmt.Errorf("pod %s/%s: %w", p.namespace, p.name, err)
	}
	if err := m.st.addNetns(p.p.NS.Name); err != nil {
		return err
	}
	c := m.clusters[n.ci]
	var labels strings.Builder
	for _, k := range []string{"app", "version"} {
		if v, ok := p.labels[k]; ok {
			fmt.Fprintf(&labels, "\n    %s: %s", k, v)
		}
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels:%s
spec:
  nodeName: %s
  containers:
  - name: main
    image: registry.k8s.io/pause:3.10
    ports:
    - name: main
      containerPort: %d
`, p.name, p.namespace, labels.String(), n.name, p.port)
	// The namespace's default ServiceAccount appears a moment after it.
	if err := waitFor(ctx, time.Minute, fmt.Sprintf("%s: creating pod %s/%s", c.Name, p.namespace, p.name), func() (bool, string) {
		_, err := c.Kubectl(ctx, manifest, "apply", "-f", "-")
		return err == nil, fmt.Sprint(err)
	}); err != nil {
		return err
	}
	// No kubelet runs: the pod reports its address and readiness as one would.
	_, err = c.Kubectl(ctx, "", "patch", "pod", p.name, "-n", p.namespace, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"conditions":[{"type":"Ready","status":"True"}]}}`, ip, ip))
	return err
}

// backingService is a Service labelled app=reviews over the pods selector
// (YAML lines of spec.selector) picks.
func backingService(name, selector string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: bookinfo
  labels:
    app: reviews
spec:
  selector:
    %s
  ports:
  - name: http
    port: 9080
    targetPort: 9080
`, name, selector)
}

// federatedReviews is the seed's federated Service, as written there.
const federatedReviews = `apiVersion: v1
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
`

// waitEndpoints waits until each pod has its WorkloadEndpoint, on its
// node and veth, in its own cluster.
func (m *mesh) waitEndpoints(ctx context.Context) error {
	for _, p := range m.pods {
		weps := m.cs[p.node.ci].ProjectcalicoV3().WorkloadEndpoints(p.namespace)
		name := podendpoints.EndpointName(p.node.name, p.name)
		if err := waitFor(ctx, time.Minute, fmt.Sprintf("%s: the WorkloadEndpoint %s/%s", clusterNames[p.node.ci], p.namespace, name), func() (bool, string) {
			w, err := weps.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return w.Spec.InterfaceName == p.p.Veth && w.Spec.Node == p.node.name, fmt.Sprintf("%+v", w.Spec)
		}); err != nil {
			return err
		}
	}
	return nil
}
