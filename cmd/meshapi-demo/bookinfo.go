package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// pod is a workload of the demo: a Pod object bound to its node, and a
// network namespace the node's meshapi-cni wired as a container runtime
// would; the cluster's meshapi-controller makes its WorkloadEndpoint.
type pod struct {
	name, namespace string
	node            string // the node's short name: "a1"
	labels          map[string]string
	port            int32
	p               *framework.TopoPod
}

// cluster is the index of the pod's cluster (0 for A, 1 for B).
func (p *pod) cluster() int { return strings.Index("ab", p.node[:1]) }

// bookinfoPods is the layout of the concepts seed: productpage and
// reviews-v1 in cluster A, reviews-v2 and reviews-v3 in cluster B, and the
// app-to-db policy's backend-app in A and postgres in B.
func bookinfoPods() []*pod {
	return []*pod{
		{name: "productpage-v1", namespace: "bookinfo", node: "a1", labels: map[string]string{"app": "productpage", "version": "v1"}, port: 9080},
		{name: "reviews-v1", namespace: "bookinfo", node: "a2", labels: map[string]string{"app": "reviews", "version": "v1"}, port: 9080},
		{name: "backend-app", namespace: "myapp", node: "a2", labels: map[string]string{"app": "backend-app"}, port: 8080},
		{name: "reviews-v2", namespace: "bookinfo", node: "b1", labels: map[string]string{"app": "reviews", "version": "v2"}, port: 9080},
		{name: "reviews-v3", namespace: "bookinfo", node: "b2", labels: map[string]string{"app": "reviews", "version": "v3"}, port: 9080},
		{name: "postgres", namespace: "myapp", node: "b1", labels: map[string]string{"app": "postgres"}, port: 5432},
	}
}

// deployBookinfo creates the pods, the backing Services (reviews-v1 in A,
// reviews-23 over v2 and v3 in B, as the seed names them), the seed's
// federated reviews Service in A, and the seed's default.app-to-db policy
// in A.
func (m *mesh) deployBookinfo(ctx context.Context) error {
	m.pods = bookinfoPods()
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
	_, err := a.Kubectl(ctx, "", "apply", "-f", policy)
	return err
}

// addPod creates p through the topology (Pod object, CNI ADD, status,
// WorkloadEndpoint) and records its network namespace.
func (m *mesh) addPod(ctx context.Context, p *pod) error {
	n, err := m.topo.NodeNamed(p.node)
	if err != nil {
		return err
	}
	if p.p, err = m.topo.AddPodObject(ctx, n, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.namespace, Labels: p.labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10",
			Ports: []corev1.ContainerPort{{Name: "main", ContainerPort: p.port}}}}},
	}); err != nil {
		return fmt.Errorf("pod %s/%s on %s: %w", p.namespace, p.name, n.Name, errors.Join(err, m.recordNetns()))
	}
	return m.st.addNetns(p.p.NS.Name)
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
