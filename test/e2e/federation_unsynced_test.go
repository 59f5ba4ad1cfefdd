package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshapi/meshapi/test/e2e/framework"
)

// fedNamespace is the namespace of TestFederationUnsyncedRemote.
const fedNamespace = "fed-unsynced"

// fedBackend creates in c a Service labelled app=api and a ready pod
// behind it at ip, in fedNamespace.
func fedBackend(t *testing.T, c *framework.Cluster, name, ip string) {
	t.Helper()
	kubectl(t, c, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n", "apply", "-f", "-")
	kubectl(t, c, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app: api
spec:
  selector:
    backend: %[1]s
  ports:
  - name: http
    port: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: %[1]s-pod
  namespace: %[2]s
  labels:
    backend: %[1]s
spec:
  nodeName: node-1
  containers:
  - name: api
    image: registry.k8s.io/pause:3.10
`, name, fedNamespace), "apply", "-f", "-")
	kubectl(t, c, "", "patch", "pod", name+"-pod", "-n", fedNamespace, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"conditions":[{"type":"Ready","status":"True"}]}}`, ip, ip))
}

// fedIPs returns the ready IPs of the federated Service "api".
func fedIPs(t *testing.T, c *framework.Cluster) string {
	out, err := c.Kubectl(ctxT(t), "", "get", "endpoints", "api", "-n", fedNamespace, "-o", "jsonpath={.subsets[*].addresses[*].ip}")
	if err != nil {
		return err.Error()
	}
	return strings.Join(slices.Sorted(slices.Values(strings.Fields(out))), ",")
}

// TestFederationUnsyncedRemote: a federated Service keeps a remote
// cluster's backends while the restarted controller has not listed that
// cluster's Services (the remote is down): the new controller never acts
// on an empty cache.
func TestFederationUnsyncedRemote(t *testing.T) {
	ctx := ctxT(t)
	one, three := clusters[0], clusters[2]
	for _, c := range []*framework.Cluster{one, three} {
		if err := c.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		ensureOverlay(t, c)
		createNamespace(t, c, fedNamespace)
		t.Cleanup(func() { kubectl(t, c, "", "delete", "namespace", fedNamespace, "--wait=false") })
	}
	connect(t, one, three.Name, remoteKubeconfig(t, three))
	t.Cleanup(func() { kubectl(t, one, "", "delete", "rcc", three.Name, "--ignore-not-found") })
	fedBackend(t, one, "api-local", "198.18.200.21")
	fedBackend(t, three, "api-remote", "198.18.202.22")
	kubectl(t, one, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: %s
  annotations:
    federation.tigera.io/serviceSelector: app == "api"
spec:
  ports:
  - name: http
    port: 8080
`, fedNamespace), "apply", "-f", "-")
	want := func(ips string) func() (bool, string) {
		return func() (bool, string) { got := fedIPs(t, one); return got == ips, got }
	}
	waitFor(t, one, time.Minute, "api backed locally and remotely", want("198.18.200.21,198.18.202.22"))

	// The remote goes down, then the controller restarts: its syncer
	// cannot list the remote Services.
	if err := three.StopKubeAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := three.StartKubeAPIServer(ctx); err != nil {
				t.Error(err)
			}
		}
	})
	waitSyncState(t, one, clientFor(t, one), three.Name, "ConnectionFailed", time.Minute)
	if err := one.StopController(); err != nil {
		t.Fatal(err)
	}
	if err := one.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	// A new local backend: once it shows, the new controller has
	// federated "api" — with the remote still unlisted.
	fedBackend(t, one, "api-local2", "198.18.200.23")
	waitFor(t, one, time.Minute, "the restarted controller federates api", func() (bool, string) {
		got := fedIPs(t, one)
		return strings.Contains(got, "198.18.200.23"), got
	})
	if got := fedIPs(t, one); got != "198.18.200.21,198.18.200.23,198.18.202.22" {
		t.Errorf("after the restart with the remote down: %s; want the remote backend kept", got)
	}

	restarted = true
	if err := three.StartKubeAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := three.WaitAPIServiceAvailable(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitSyncState(t, one, clientFor(t, one), three.Name, "InSync", 2*time.Minute)
	kubectl(t, three, "", "delete", "service", "api-remote", "-n", fedNamespace)
	waitFor(t, one, time.Minute, "the remote backend goes once listed and deleted", want("198.18.200.21,198.18.200.23"))
}
