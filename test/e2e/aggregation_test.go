package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// Every cluster's APIService is Available and discovery through the
// aggregator lists every projectcalico.org/v3 resource.
func TestAPIServiceAvailableEverywhere(t *testing.T) {
	for _, c := range clusters {
		out := kubectl(t, c, "", "get", "apiservice", "v3.projectcalico.org", "-o", "jsonpath={.status.conditions[?(@.type=='Available')].status}")
		if out != "True" {
			t.Errorf("%s: APIService Available=%q", c.Name, out)
		}
		res := kubectl(t, c, "", "api-resources", "--api-group=projectcalico.org", "-o", "name")
		for _, r := range []string{"felixconfigurations", "globalnetworkpolicies", "hostendpoints", "ipamblocks", "ippools",
			"networkpolicies", "nodes", "profiles", "remoteclusterconfigurations", "tiers", "workloadendpoints"} {
			if !strings.Contains(res, r+".projectcalico.org\n") {
				t.Errorf("%s: api-resources lacks %s:\n%s", c.Name, r, res)
			}
		}
	}
}

// kubectl through kube-apiserver: apply, server-side apply, get with
// columns and YAML, explain, watch, delete.
func TestKubectlThroughAggregator(t *testing.T) {
	c := clusters[0]
	// In a cluster, namespaced objects need their namespace (NamespaceLifecycle).
	createNamespace(t, c, "myapp")
	seeds := []string{"-f", seed("000-rcc-overlay-enabled.yaml"), "-f", seed("000-disabled-ippool.yaml"),
		"-f", seed("000-networkpolicy-app-to-db.yaml"), "-f", seed("001-rcc-cluster-b.yaml")}
	// Whatever happens below, later tests find no RCC of this one.
	t.Cleanup(func() {
		if _, err := c.Kubectl(context.Background(), "", append([]string{"delete", "--ignore-not-found"}, seeds...)...); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	})
	out := kubectl(t, c, "", "apply", "-f", seed("000-rcc-overlay-enabled.yaml"), "-f", seed("000-disabled-ippool.yaml"), "-f", seed("000-networkpolicy-app-to-db.yaml"))
	if strings.Count(out, "created") != 3 {
		t.Errorf("kubectl apply: %s", out)
	}
	out = kubectl(t, c, "", "apply", "--server-side", "-f", seed("001-rcc-cluster-b.yaml"))
	if !strings.Contains(out, "serverside-applied") {
		t.Errorf("kubectl apply --server-side: %s", out)
	}
	get := kubectl(t, c, "", "get", "remoteclusterconfigurations")
	if h := strings.Join(strings.Fields(strings.SplitN(get, "\n", 2)[0]), " "); h != "NAME OVERLAY STATE AGE" {
		t.Errorf("header %q", h)
	}
	if !regexp.MustCompile(`(?m)^cluster-2\s+Enabled\s`).MatchString(get) || !regexp.MustCompile(`(?m)^cluster-b\s+Enabled\s`).MatchString(get) {
		t.Errorf("kubectl get remoteclusterconfigurations:\n%s", get)
	}
	y := kubectl(t, c, "", "get", "rcc", "cluster-2", "-o", "yaml")
	if !strings.Contains(y, "overlayRoutingMode: Enabled") || !strings.Contains(y, "name: remote-cluster-secret-name") {
		t.Errorf("kubectl get -o yaml:\n%s", y)
	}
	// kube-apiserver merges an aggregated server's OpenAPI v3 on its own
	// schedule after the APIService becomes Available; until then explain
	// says "couldn't find resource for projectcalico.org/v3".
	waitFor(t, c, time.Minute, "kubectl explain of an RCC field", func() (bool, string) {
		ex, err := c.Kubectl(ctxT(t), "", "explain", "remoteclusterconfiguration.spec.syncOptions")
		return err == nil && strings.Contains(ex, "overlayRoutingMode"), fmt.Sprint(ex, err)
	})

	// kubectl get --watch sees a change made afterwards.
	watchCmd := c.KubectlCommand("get", "rcc", "--watch-only", "--output-watch-events", "--request-timeout=60s")
	var buf syncBuffer
	watchCmd.Stdout, watchCmd.Stderr = &buf, &buf
	if err := watchCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watchCmd.Process.Kill(); _ = watchCmd.Wait() }()
	time.Sleep(2 * time.Second)
	kubectl(t, c, "", "patch", "rcc", "cluster-2", "--type=merge", "-p", `{"spec":{"syncOptions":{"overlayRoutingMode":"Disabled"}}}`)
	deadline := time.Now().Add(30 * time.Second)
	for !regexp.MustCompile(`MODIFIED\s+cluster-2\s+Disabled`).MatchString(buf.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get --watch-only did not see the change:\n%s", buf.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	out = kubectl(t, c, "", append([]string{"delete", "--ignore-not-found"}, seeds...)...)
	if strings.Count(out, "deleted") != 4 {
		t.Errorf("kubectl delete: %s", out)
	}
}

// client-go's typed clientset and the dynamic client, pointed at
// kube-apiserver, do CRUD and watch through the aggregator.
func TestClientsThroughAggregator(t *testing.T) {
	ctx := ctxT(t)
	c := clusters[1]
	cs, err := versioned.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	weps := cs.ProjectcalicoV3().WorkloadEndpoints("default")
	w, err := weps.Watch(ctx, metav1.ListOptions{LabelSelector: "e2e=clients"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	wep := &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "host-a-k8s-web-eth0", Labels: map[string]string{"e2e": "clients", "app": "web"}},
		Spec: v3.WorkloadEndpointSpec{Node: "host-a", Orchestrator: "k8s", Pod: "web", Endpoint: "eth0",
			IPNetworks: []string{"198.18.60.1/32"}, InterfaceName: "cali1234"},
	}
	if _, err := weps.Create(ctx, wep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("typed create through the aggregator: %v", err)
	}
	got, err := weps.Get(ctx, wep.Name, metav1.GetOptions{})
	if err != nil || got.Spec.IPNetworks[0] != "198.18.60.1/32" {
		t.Fatalf("typed get: %v %+v", err, got)
	}
	got.Labels["app"] = "api"
	if _, err := weps.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("typed update: %v", err)
	}

	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	res := dyn.Resource(v3.SchemeGroupVersion.WithResource("workloadendpoints")).Namespace("default")
	list, err := res.List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("dynamic list: %v %v", err, list)
	}
	node, _, _ := unstructured.NestedString(list.Items[0].Object, "spec", "node")
	if node != "host-a" {
		t.Errorf("dynamic list: spec.node %q", node)
	}
	if err := res.Delete(ctx, wep.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("dynamic delete: %v", err)
	}
	for _, want := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted} {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != want {
				t.Fatalf("watch event %s, want %s", ev.Type, want)
			}
		case <-ctx.Done():
			t.Fatalf("no %s event through the aggregator", want)
		}
	}
}

// RBAC is enforced: an identity without rights gets 403 through the
// aggregator; the remote-cluster identity reads and cannot write.
func TestRBACThroughAggregator(t *testing.T) {
	ctx := ctxT(t)
	c := clusters[0]
	kubectl(t, c, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "remote-cluster", "federation-remote-sa.yaml"),
		"-f", filepath.Join(framework.ArtifactsDir(), "remote-cluster", "federation-rem-rbac-kdd.yaml"))
	kubectl(t, c, "", "create", "serviceaccount", "nobody", "-n", "default")
	defer kubectl(t, c, "", "delete", "serviceaccount", "nobody", "-n", "default")

	nobody, err := c.ServiceAccountConfig(ctx, "default", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := versioned.NewForConfig(nobody)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.ProjectcalicoV3().RemoteClusterConfigurations().List(ctx, metav1.ListOptions{})
	if !isForbidden(err) {
		t.Errorf("nobody listing RCCs: got %v, want 403 Forbidden", err)
	}

	remote, err := c.ServiceAccountConfig(ctx, "calico-system", "tigera-federation-remote-cluster")
	if err != nil {
		t.Fatal(err)
	}
	rcs, err := versioned.NewForConfig(remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rcs.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("remote identity listing workloadendpoints: %v", err)
	}
	w, err := rcs.ProjectcalicoV3().IPPools().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("remote identity watching ippools: %v", err)
	} else {
		w.Stop()
	}
	_, err = rcs.ProjectcalicoV3().IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "intruder"},
		Spec: v3.IPPoolSpec{CIDR: "198.18.200.0/24"}}, metav1.CreateOptions{})
	if !isForbidden(err) {
		t.Errorf("remote identity creating an IPPool: got %v, want 403", err)
	}
	kcs, err := kubernetes.NewForConfig(remote)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kcs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("remote identity listing nodes: %v", err)
	}
	if _, err := kcs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "intruder"}}, metav1.CreateOptions{}); !isForbidden(err) {
		t.Errorf("remote identity creating a namespace: got %v, want 403", err)
	}
}
