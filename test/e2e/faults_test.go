package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/meshapi/meshapi/pkg/agent/heartbeat"
	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/meshctl"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// The fault-injection suite (issue 18): one two-cluster topology (a node
// each, wired by the CNI plugin), a client pod in A keeping long-lived TCP
// connections to an echo server pod in B and opening new ones, a sink pod
// in A whose policy admits B's churning endpoints (so A's node holds an
// nftables set of them), and a churn generator changing B's endpoints at
// about 100 operations per second. A's controller runs two replicas with
// leader election, its meshapi etcd is three etcd processes, and it
// reaches B's kube-apiserver through a Blackhole (a relay the partition
// fault cuts). The suite runs its own two clusters (fx-a, fx-b) for
// that etcd. Each fault is injected under the churn,
// held, healed; then the suite measures how long the fault took to show
// in A's RemoteClusterConfiguration status and in meshctl check, how long
// after the heal A was InSync and equal to B again (mirrors, routes, set
// members), what stayed lost, and what the connections saw.

// Addresses of the suite, in 198.18.0.0/15 and apart from other tests'.
var (
	faultPoolA = netip.MustParsePrefix("198.18.176.0/24")
	faultPoolB = netip.MustParsePrefix("198.18.178.0/23")
	// faultChurn are the churning endpoints' addresses: in B's pool,
	// outside the block of b1 (B's first /26), so that A's node routes
	// each with a /32 of its own.
	faultChurn = netip.MustParsePrefix("198.18.179.0/24")
)

// faultHeartbeat is the agents' heartbeat period in the suite.
const faultHeartbeat = 2 * time.Second

const (
	faultNS         = "faults"
	faultEchoPort   = 7070
	faultChurnRate  = 100
	faultChurnNames = 60
)

// faultEnv is the suite's running setup.
type faultEnv struct {
	topo      *topology
	a1, b1    *framework.TopoNode
	blackhole *framework.Blackhole
	ctrls     *framework.Controllers
	traffic   *framework.Traffic
	meshctl   *meshctlEnv
	// access is A's access Secret's data for B as the suite runs it
	// (through the Blackhole).
	access map[string][]byte
	// healUnderlay ends the underlay partition.
	healUnderlay func() error
	// api is a user's kubectl against A's API, through the aggregator.
	api *framework.APIRequests
	// etcdKilled is the member of A's meshapi etcd EtcdMemberKill killed.
	etcdKilled int
}

// faultCase is one fault: inject breaks something, hold is how long it
// lasts (or hold returns when it has done its work), heal restores it.
type faultCase struct {
	name string
	// prepare, if set, runs before the churn and the measurement start.
	prepare func(ctx context.Context, e *faultEnv) error
	inject  func(ctx context.Context, e *faultEnv) error
	hold    func(ctx context.Context, e *faultEnv) error
	heal    func(ctx context.Context, e *faultEnv) error
	// reported: status and meshctl check must show the fault while it
	// lasts. quiet: neither may show it (nothing a user must act on
	// broke). unbroken: no long-lived connection may break and no new one
	// fail. apiUnbroken: no request to A's API (kubectl, through the
	// aggregator) started after the injection may fail (one in flight on
	// a server killed -9 fails with it). A's controllers' errors are
	// counted, not asserted, and the test logs what they logged
	// (TESTING.md).
	reported, quiet, unbroken, apiUnbroken bool
	// statusReport, if set, is what "detected (status)" watches instead of
	// A's RCC status (which a dead controller cannot write, and which
	// says nothing of agents): a Lease in A's API.
	statusReport func(ctx context.Context, e *faultEnv) bool
	// localCheck, if set, is the meshctl check step whose FAIL lines about
	// A itself (not about B) report the fault.
	localCheck string
}

// faultRow is the suite's figures for one fault.
type faultRow struct {
	name                             string
	detectStatus, detectCheck, heal  time.Duration // since the injection; -1: not reported
	recover                          time.Duration // since the heal
	lost                             int
	broken, newFailed, newOK, stalls int64
	churnOps, churnErrs              int64
	churnFor                         time.Duration
	// apiFailed and apiOK count A's API requests; ctrlErrors A's
	// controllers' remote_cluster_errors_total for B, ctrlErrorsHeld
	// those until the heal.
	apiFailed, apiOK, ctrlErrors, ctrlErrorsHeld int64
}

func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite takes minutes")
	}
	e := newFaultEnv(t)
	var rows []faultRow
	for _, f := range faultCases() {
		ok := t.Run(f.name, func(t *testing.T) { rows = append(rows, e.run(t, f)) })
		if !ok {
			break // the next fault would start from a broken state
		}
	}
	t.Logf("fault table:\n%s", faultTable(rows))
}

// hold returns a hold that waits d.
func hold(d time.Duration) func(ctx context.Context, e *faultEnv) error {
	return func(ctx context.Context, _ *faultEnv) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
}

// faultCases are the faults, in the order they run.
func faultCases() []faultCase {
	return []faultCase{
		{name: "RemoteKubeAPIServerKill", reported: true,
			inject: func(_ context.Context, e *faultEnv) error { return e.topo.b.KillKubeAPIServer() },
			hold:   hold(25 * time.Second), // meshctl check waits up to 10 s per request on the remote, retried on EOF
			// B's controller loses its leader Lease with its API server and
			// exits, as meshapi-controller does; its Deployment would
			// restart it: here the heal does.
			heal: func(ctx context.Context, e *faultEnv) error {
				if err := e.topo.b.StartKubeAPIServer(ctx); err != nil {
					return err
				}
				return e.topo.b.StartController(ctx)
			}},
		{name: "RemoteMeshapiAPIServerKill", reported: true,
			inject: func(_ context.Context, e *faultEnv) error { return e.topo.b.KillMeshapiAPIServer() },
			hold:   hold(10 * time.Second),
			heal:   func(ctx context.Context, e *faultEnv) error { return e.topo.b.StartMeshapiAPIServer(ctx) }},
		// A runs two meshapi-apiserver replicas: the other one serves.
		{name: "LocalMeshapiReplicaKill", unbroken: true, apiUnbroken: true,
			inject: func(_ context.Context, e *faultEnv) error { return e.topo.a.KillMeshapiAPIServer() },
			hold:   hold(10 * time.Second),
			heal:   func(ctx context.Context, e *faultEnv) error { return e.topo.a.StartMeshapiAPIServer(ctx) }},
		// A's meshapi etcd has three members: the two left keep quorum.
		// Writes that reach the survivors before they notice the leader's
		// death (its election timeout, 1 s) wait for etcd's request
		// timeout (7 s) and fail ("etcdserver: request timed out,
		// possibly due to previous leader failure"): kubectl's are
		// counted, not asserted (TESTING.md).
		{name: "EtcdMemberKill", quiet: true, unbroken: true,
			inject: func(ctx context.Context, e *faultEnv) error {
				m, err := e.topo.a.MeshapiEtcdLeader(ctx)
				if err != nil {
					return err
				}
				e.etcdKilled = m
				e.topo.t.Logf("killing member %d of %s's meshapi etcd, the leader", m, e.topo.a.Name)
				return e.topo.a.KillMeshapiEtcdMember(m)
			},
			hold: hold(10 * time.Second),
			heal: func(ctx context.Context, e *faultEnv) error {
				return e.topo.a.StartMeshapiEtcdMember(ctx, e.etcdKilled)
			}},
		// The dead leader cannot write the RCC's status: status here is
		// the leader Lease as meshctl check judges it.
		{name: "ControllerKill", unbroken: true, localCheck: meshctl.CheckController,
			statusReport: func(ctx context.Context, e *faultEnv) bool { return e.leaseReports(ctx, meshctl.CheckController) },
			inject: func(ctx context.Context, e *faultEnv) error {
				which, err := e.ctrls.KillLeader(ctx)
				e.topo.t.Logf("killed the %s controller replica, the leader", which)
				return err
			},
			// Held until the other replica leads.
			hold: func(ctx context.Context, e *faultEnv) error {
				return framework.Poll(ctx, time.Minute, "the other controller replica leads", func() (bool, string) {
					which, holder, err := e.ctrls.Leader(ctx)
					return which != "", fmt.Sprint(holder, err)
				})
			},
			heal: func(_ context.Context, e *faultEnv) error { return e.ctrls.Restart() }},
		// Held past the heartbeat Lease's duration (3 periods of 2 s).
		{name: "AgentKill", unbroken: true, localCheck: meshctl.CheckAgents,
			statusReport: func(ctx context.Context, e *faultEnv) bool { return e.leaseReports(ctx, meshctl.CheckAgents) },
			inject:       func(_ context.Context, e *faultEnv) error { return e.a1.Agent.Kill() },
			hold:         hold(12 * time.Second),
			heal:         func(ctx context.Context, e *faultEnv) error { return e.topo.StartAgent(ctx, e.a1) }},
		{name: "Partition", reported: true,
			inject: func(ctx context.Context, e *faultEnv) error {
				e.blackhole.Cut()
				heal, err := e.topo.PartitionUnderlay(ctx)
				e.healUnderlay = heal
				return err
			},
			hold: hold(30 * time.Second),
			heal: func(_ context.Context, e *faultEnv) error {
				e.blackhole.Heal()
				return e.healUnderlay()
			}},
		{name: "AccessSecretOtherIdentity", reported: true,
			inject: func(ctx context.Context, e *faultEnv) error {
				kc, err := e.topo.b.IdentityKubeconfig(ctx, "calico-system", "fault-stranger")
				if err != nil {
					return err
				}
				return e.topo.SetAccessSecretData(ctx, e.topo.a, withKubeconfig(e.access, kc))
			},
			hold: hold(10 * time.Second),
			heal: func(ctx context.Context, e *faultEnv) error {
				return e.topo.SetAccessSecretData(ctx, e.topo.a, e.access)
			}},
		{name: "AccessSecretGarbage", reported: true,
			inject: func(ctx context.Context, e *faultEnv) error {
				return e.topo.SetAccessSecretData(ctx, e.topo.a, withKubeconfig(e.access, []byte("\x00garbage: [unclosed")))
			},
			hold: hold(10 * time.Second),
			heal: func(ctx context.Context, e *faultEnv) error {
				return e.topo.SetAccessSecretData(ctx, e.topo.a, e.access)
			}},
		// Item 3: with spec.syncOptions.disconnectedTTL, a remote that
		// stays unreachable loses its mirror here (and the routes and set
		// members it made); it comes back on reconnect.
		{name: "DisconnectedTTL", reported: true,
			// The TTL is set (which restarts the syncer) before the fault.
			prepare: func(ctx context.Context, e *faultEnv) error {
				if _, err := e.topo.a.Kubectl(ctx, "", "patch", "rcc", e.topo.b.Name, "--type=merge",
					"-p", `{"spec":{"syncOptions":{"disconnectedTTL":"10s"}}}`); err != nil {
					return err
				}
				time.Sleep(time.Second) // the restart's Connecting first
				return framework.Poll(ctx, time.Minute, "InSync with the TTL set", e.inSync(ctx))
			},
			inject: func(_ context.Context, e *faultEnv) error { e.blackhole.Cut(); return nil },
			// Held until the mirror is gone (the probe's detection, the
			// TTL, the removal), and with it B's endpoints from A's
			// federated Service and from the sink policy's set on a1, then
			// 10 s more without them.
			hold: func(ctx context.Context, e *faultEnv) error {
				if err := framework.Poll(ctx, time.Minute, "B's mirror removed from A after the disconnectedTTL", func() (bool, string) {
					n := e.mirrorCount(ctx)
					return n == 0, fmt.Sprintf("%d mirrored objects of %s", n, e.topo.b.Name)
				}); err != nil {
					return err
				}
				if err := framework.Poll(ctx, 30*time.Second, "B's endpoint removed from A's federated Service and B's endpoints from a1's policy set", func() (bool, string) {
					fed, ferr := e.federatedIPs(ctx)
					set, err := framework.CompareSet(e.a1, nil)
					return len(fed) == 0 && ferr == nil && err == nil && set.Zero(), fmt.Sprintf("federated endpoints %v (%v); set of a1: %s (%v)", fed, ferr, set, err)
				}); err != nil {
					return err
				}
				return hold(10*time.Second)(ctx, e)
			},
			heal: func(ctx context.Context, e *faultEnv) error {
				e.blackhole.Heal()
				if _, err := e.topo.a.Kubectl(ctx, "", "patch", "rcc", e.topo.b.Name, "--type=merge",
					"-p", `{"spec":{"syncOptions":{"disconnectedTTL":null}}}`); err != nil {
					return err
				}
				return e.waitFederated(ctx)
			}},
	}
}

// Names of the federated Service of the suite: fx-federated in A selects
// B's Service fx-backend, whose one endpoint is a Pod object (no kubelet:
// its status is written as a kubelet would) at faultBackendIP.
const (
	faultFederated = "fx-federated"
	faultBackend   = "fx-backend"
	faultBackendIP = "198.18.178.250" // in B's pool, outside b1's block and the churn
)

// federate creates B's backend Service and A's federated Service
// selecting it, removed when the test ends, and waits until A's Service
// has B's endpoint.
func (e *faultEnv) federate(t *testing.T, ctx context.Context) {
	a, b := e.topo.a, e.topo.b
	kubectl(t, b, "apiVersion: v1\nkind: Node\nmetadata:\n  name: "+faultBackend+"-node\n", "apply", "-f", "-")
	kubectl(t, b, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    federate: %[1]s
spec:
  selector:
    app: %[1]s
  ports:
  - name: echo
    port: %[3]d
---
apiVersion: v1
kind: Pod
metadata:
  name: %[1]s-pod
  namespace: %[2]s
  labels:
    app: %[1]s
spec:
  nodeName: %[1]s-node
  containers:
  - name: echo
    image: registry.k8s.io/pause:3.10
`, faultBackend, faultNS, faultEchoPort), "apply", "-f", "-")
	kubectl(t, b, "", "patch", "pod", faultBackend+"-pod", "-n", faultNS, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"conditions":[{"type":"Ready","status":"True"}]}}`, faultBackendIP, faultBackendIP))
	kubectl(t, a, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    federation.tigera.io/serviceSelector: federate == "%s"
spec:
  ports:
  - name: echo
    port: %d
`, faultFederated, faultNS, faultBackend, faultEchoPort), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectl(t, a, "", "delete", "service", faultFederated, "-n", faultNS, "--ignore-not-found")
		kubectl(t, b, "", "delete", "service", faultBackend, "-n", faultNS, "--ignore-not-found")
		kubectl(t, b, "", "delete", "pod", faultBackend+"-pod", "-n", faultNS, "--ignore-not-found", "--grace-period=0", "--force")
		kubectl(t, b, "", "delete", "node", faultBackend+"-node", "--ignore-not-found")
	})
	if err := e.waitFederated(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFederated waits until A's federated Service has B's endpoint.
func (e *faultEnv) waitFederated(ctx context.Context) error {
	return framework.Poll(ctx, 2*time.Minute, "A's federated Service backed by B's endpoint", func() (bool, string) {
		ips, err := e.federatedIPs(ctx)
		return err == nil && slices.Equal(ips, []string{faultBackendIP}), fmt.Sprint(ips, err)
	})
}

// federatedIPs are the addresses in A's federated Service's
// EndpointSlices.
func (e *faultEnv) federatedIPs(ctx context.Context) ([]string, error) {
	list, err := e.topo.Kube[e.topo.a].DiscoveryV1().EndpointSlices(faultNS).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + faultFederated})
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			ips = append(ips, ep.Addresses...)
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// mirrorCount counts A's mirrored WorkloadEndpoints, Nodes and
// IPAMBlocks of B (-1 if they cannot be read).
func (e *faultEnv) mirrorCount(ctx context.Context) int {
	cs := e.topo.cs[e.topo.a].ProjectcalicoV3()
	opts := metav1.ListOptions{LabelSelector: v3.LabelCluster + "=" + e.topo.b.Name}
	weps, err1 := cs.WorkloadEndpoints("").List(ctx, opts)
	nodes, err2 := cs.Nodes().List(ctx, opts)
	blocks, err3 := cs.IPAMBlocks().List(ctx, opts)
	if err1 != nil || err2 != nil || err3 != nil {
		return -1
	}
	return len(weps.Items) + len(nodes.Items) + len(blocks.Items)
}

// withKubeconfig returns a copy of data with another kubeconfig.
func withKubeconfig(data map[string][]byte, kubeconfig []byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range data {
		out[k] = v
	}
	out["kubeconfig"] = kubeconfig
	return out
}

// newFaultEnv builds the suite's setup; cleanups undo it.
func newFaultEnv(t *testing.T) *faultEnv {
	ctx := ctxT(t)
	fa, fb := startFaultClusters(ctx, t)
	topo := newTopologyOn(t, fa, fb, framework.TopologyConfig{Name: "fx", Nodes: 1, VXLANPort: dpVXLANPort, Namespaces: []string{faultNS},
		Pools: [2]netip.Prefix{faultPoolA, faultPoolB},
		// A heartbeat Lease of 6 s, so that AgentKill is reported soon.
		NodeArgs: func(string) []string { return []string{"--heartbeat-period=" + faultHeartbeat.String()} }})
	topo.connect()
	e := &faultEnv{topo: topo, a1: topo.node("a1"), b1: topo.node("b1"), meshctl: newMeshctlEnvFor(t, []*framework.Cluster{fa, fb})}
	a, b := topo.a, topo.b

	// A reaches B's kube-apiserver through the Blackhole.
	u, err := url.Parse(b.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	if e.blackhole, err = framework.NewBlackhole(u.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.blackhole.Close() })
	if _, err := topo.AccessThrough(ctx, a, e.blackhole.Addr()); err != nil {
		t.Fatal(err)
	}
	if e.access, err = topo.AccessSecretData(ctx, a); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() {
		kubectl(t, b, "", "delete", "serviceaccount", "fault-stranger", "-n", "calico-system", "--ignore-not-found")
	})

	// A second meshapi-apiserver replica in A.
	if err := a.StartMeshapiReplica(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.StopMeshapiReplica(); err != nil {
			t.Error(err)
		}
	})

	// A second controller replica in A.
	if e.ctrls, err = a.StartSecondController(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.ctrls.Stop(); err != nil {
			t.Error(err)
		}
		// The first replica must run for the tests after this one.
		if err := a.StartController(context.Background()); err != nil {
			t.Error(err)
		}
	})

	// The pods, the server, the sink's policy, the traffic.
	client := topo.addPod(e.a1, faultNS, "client", map[string]string{"app": "client"})
	topo.addPod(e.a1, faultNS, "sink", map[string]string{"app": "sink"})
	server := topo.addPod(e.b1, faultNS, "server", map[string]string{"app": "server"})
	echo, err := server.ServeEcho(faultEchoPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	kubectl(t, a, fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: sink-from-churn
  namespace: %s
spec:
  selector: app == 'sink'
  types: [Ingress]
  ingress:
  - action: Allow
    source:
      selector: app == 'churn'
`, faultNS), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectl(t, a, "", "delete", "networkpolicy.projectcalico.org", "sink-from-churn", "-n", faultNS, "--ignore-not-found")
	})
	waitSyncState(t, a, topo.cs[a], b.Name, v3.SyncStateInSync, time.Minute)
	e.federate(t, ctx)
	if e.traffic, err = framework.StartTraffic(context.Background(), client.Pod, netip.AddrPortFrom(server.IP, faultEchoPort), 4, 200*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, topo.dump())
	}
	t.Cleanup(func() { e.traffic.Stop() })
	// A user reading and writing A's meshapi objects with kubectl.
	tick := 0
	e.api = framework.StartAPIRequests(func(ctx context.Context) error {
		tick++
		if _, err := a.Kubectl(ctx, "", "get", "workloadendpoints.projectcalico.org", "-n", faultNS, "-o", "name"); err != nil {
			return err
		}
		_, err := a.Kubectl(ctx, "", "annotate", "networkpolicy.projectcalico.org", "sink-from-churn", "-n", faultNS, "--overwrite", fmt.Sprintf("e2e/tick=%d", tick))
		return err
	}, 250*time.Millisecond, 30*time.Second)
	t.Cleanup(e.api.Stop)
	return e
}

// startFaultClusters starts the suite's own two clusters, stopped when t
// ends: fx-a with a three-member meshapi etcd (etcd processes, which
// EtcdMemberKill kills one of), fx-b with the in-process one as every
// other test's.
func startFaultClusters(ctx context.Context, t *testing.T) (a, b *framework.Cluster) {
	t.Helper()
	dir := t.TempDir()
	bins, err := framework.FindBinaries(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cs := startClustersWith(ctx, t, dir, "fx", bins, []framework.ClusterOptions{{MeshapiEtcdMembers: 3}, {}})
	return cs[0], cs[1]
}

// leaseReports tells whether meshctl check's step check (controller or
// agents) judges a Lease of A failed, from the Lease alone: the
// controller's leader Lease, or a1's agent's heartbeat.
func (e *faultEnv) leaseReports(ctx context.Context, check string) bool {
	leases := e.topo.Kube[e.topo.a].CoordinationV1()
	now := time.Now()
	switch check {
	case meshctl.CheckController:
		l, err := leases.Leases("calico-system").Get(ctx, meshctl.ControllerLeaseName, metav1.GetOptions{})
		return err == nil && meshctl.ControllerCheck(e.topo.a.Name, now, l, nil).Result == meshctl.Fail
	case meshctl.CheckAgents:
		l, err := leases.Leases(heartbeat.DefaultNamespace).Get(ctx, heartbeat.LeaseName(e.a1.Name), metav1.GetOptions{})
		if err != nil {
			return false
		}
		stale, _ := heartbeat.Stale(l, now)
		return stale
	}
	return false
}

// controllerErrors sums A's controller replicas' errors about B.
func (e *faultEnv) controllerErrors(ctx context.Context) []float64 {
	var out []float64
	for _, addr := range e.ctrls.MetricsAddrs() {
		v, _ := framework.CounterValue(ctx, addr, fmt.Sprintf(`remote_cluster_errors_total{remote_cluster_name="%s"}`, e.topo.b.Name))
		out = append(out, v)
	}
	return out
}

// errorsSince is the errors counted since before (a counter that went
// down belongs to a restarted replica: all of it is new).
func errorsSince(before, after []float64) int64 {
	var n float64
	for i := range after {
		switch {
		case i >= len(before) || after[i] < before[i]:
			n += after[i]
		default:
			n += after[i] - before[i]
		}
	}
	return int64(n)
}

// run injects f under churn, measures and checks; it returns the row.
func (e *faultEnv) run(t *testing.T, f faultCase) faultRow {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	row := faultRow{name: f.name, detectStatus: -1, detectCheck: -1}
	if f.prepare != nil {
		if err := f.prepare(ctx, e); err != nil {
			t.Fatalf("preparing %s: %v", f.name, err)
		}
	}
	if d := e.converge(ctx, time.Minute); !d.Zero() {
		t.Fatalf("before the fault, A does not match B: %s", d)
	}
	churn := e.startChurn(t, ctx)
	churnStart := time.Now()
	before := e.traffic.Stats()
	apiBefore, ctrlBefore := e.api.Stats(), e.controllerErrors(ctx)

	logMark := e.ctrls.LogMark()
	start := time.Now()
	watch := e.watchReports(ctx, start, f)
	if err := f.inject(ctx, e); err != nil {
		churn.Stop()
		t.Fatalf("injecting %s: %v", f.name, err)
	}
	injected := time.Now()
	holdErr := f.hold(ctx, e)
	row.heal = time.Since(start)
	row.ctrlErrorsHeld = errorsSince(ctrlBefore, e.controllerErrors(ctx))
	healErr := f.heal(ctx, e)
	healed := time.Now()
	if holdErr != nil || healErr != nil {
		churn.Stop()
		t.Fatalf("%s: hold: %v; heal: %v\n%s", f.name, holdErr, healErr, e.logs())
	}
	// Only what was reported before the heal counts.
	row.detectStatus, row.detectCheck = watch.stop()
	for _, d := range []*time.Duration{&row.detectStatus, &row.detectCheck} {
		if *d > row.heal {
			t.Logf("%s: reported only %v after the injection, after the heal at %v", f.name, *d, row.heal)
			*d = -1
		}
	}

	// The churn goes on until A is InSync again, then stops, and A must
	// match B.
	err := framework.Poll(ctx, 2*time.Minute, "A's RCC for B InSync after the heal", e.inSync(ctx))
	cs := churn.Stop()
	row.churnOps, row.churnErrs, row.churnFor = cs.Ops, cs.Errors, time.Since(churnStart)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.logs())
	}
	d := e.converge(ctx, time.Minute)
	row.recover = time.Since(healed)
	row.lost = d.Missing + d.Extra
	if !d.Zero() {
		t.Errorf("after %s, A does not match B: %s\n%s", f.name, d, e.logs())
	}
	if fails := e.checkFails(ctx, meshctl.CheckController, meshctl.CheckAgents); len(fails) > 0 {
		t.Errorf("after %s, meshctl check still fails: %v", f.name, fails)
	}
	ts := e.traffic.Stats().Sub(before)
	row.broken, row.newFailed, row.newOK, row.stalls = ts.Broken, ts.NewFailed, ts.NewOK, ts.Stalls
	api := e.api.Stats().Sub(apiBefore)
	row.apiFailed, row.apiOK, row.ctrlErrors = api.Failed, api.OK, errorsSince(ctrlBefore, e.controllerErrors(ctx))
	if after := api.FailedStartedAfter(injected); f.apiUnbroken && after > 0 {
		t.Errorf("%s failed %d of %d kubectl requests to A started after the injection (last: %s)", f.name, after, api.Failed+api.OK, api.LastError)
	} else if api.Failed > 0 {
		t.Logf("%s failed %d of %d kubectl requests to A, %d of them in flight at the injection (last: %s)", f.name, api.Failed, api.Failed+api.OK, api.Failed-after, api.LastError)
	}
	t.Logf("%s: %+v; churn %d ops, %d errors (last: %s); traffic %+v", f.name, row, cs.Ops, cs.Errors, cs.LastError, ts)
	if row.ctrlErrors > 0 {
		errs := e.ctrls.ErrorsSince(logMark)
		t.Logf("%s: A's controllers logged, from the injection until A matched B:\n%s", f.name, strings.Join(errs[:min(len(errs), 12)], "\n"))
	}
	if f.reported && (row.detectStatus < 0 || row.detectCheck < 0) {
		t.Errorf("%s was not reported while it lasted: status after %v, meshctl check after %v (-1: never)", f.name, row.detectStatus, row.detectCheck)
	}
	if f.quiet && (row.detectStatus >= 0 || row.detectCheck >= 0) {
		t.Errorf("%s was reported: status after %v, meshctl check after %v (-1: never)", f.name, row.detectStatus, row.detectCheck)
	}
	if f.unbroken && (ts.Broken > 0 || ts.NewFailed > 0) {
		t.Errorf("%s broke %d established connections and failed %d new ones: %s", f.name, ts.Broken, ts.NewFailed, ts.LastError)
	}
	return row
}

// startChurn starts the churn of B's endpoints; it stops with ctx.
func (e *faultEnv) startChurn(t *testing.T, ctx context.Context) *framework.Churn {
	// A client of its own, without client-side throttling at the rate.
	cfg := rest.CopyConfig(e.topo.b.Config)
	cfg.QPS, cfg.Burst = 4*faultChurnRate, 4*faultChurnRate
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := framework.StartChurn(ctx, framework.ChurnConfig{Client: client, Namespace: faultNS, Node: e.b1.Name,
		Addresses: faultChurn, Names: faultChurnNames, Rate: faultChurnRate, Labels: map[string]string{"app": "churn"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// inSync reports whether A's RCC for B is InSync.
func (e *faultEnv) inSync(ctx context.Context) func() (bool, string) {
	return func() (bool, string) {
		rcc, err := e.topo.cs[e.topo.a].ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, e.topo.b.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return rcc.Status.SyncState == v3.SyncStateInSync, fmt.Sprintf("%s %q", rcc.Status.SyncState, rcc.Status.LastError)
	}
}

// statusReports reports whether A's RCC for B, read successfully, says
// something else than InSync (a failed read is not a report).
func (e *faultEnv) statusReports(ctx context.Context) bool {
	rcc, err := e.topo.cs[e.topo.a].ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, e.topo.b.Name, metav1.GetOptions{})
	return err == nil && rcc.Status.SyncState != v3.SyncStateInSync
}

// compare is how A differs from B's truth: the mirrors, a1's routes and
// the sink policy's set on a1.
func (e *faultEnv) compare(ctx context.Context) (framework.Diff, error) {
	a, b := e.topo.a, e.topo.b
	d, err := framework.CompareMirrors(ctx, e.topo.cs[a], e.topo.cs[b], b.Name, faultNS)
	if err != nil {
		return d, err
	}
	routes, err := e.topo.CompareRoutes(ctx, e.a1)
	if err != nil {
		return d, err
	}
	d.Missing, d.Extra, d.Examples = d.Missing+routes.Missing, d.Extra+routes.Extra, append(d.Examples, routes.Examples...)
	weps, err := e.topo.cs[b].ProjectcalicoV3().WorkloadEndpoints(faultNS).List(ctx, metav1.ListOptions{LabelSelector: "app=churn"})
	if err != nil {
		return d, err
	}
	var want []netip.Addr
	for _, w := range weps.Items {
		for _, s := range w.Spec.IPNetworks {
			if p, err := netip.ParsePrefix(s); err == nil {
				want = append(want, p.Addr())
			}
		}
	}
	set, err := framework.CompareSet(e.a1, want)
	if err != nil {
		return d, err
	}
	d.Missing, d.Extra, d.Examples = d.Missing+set.Missing, d.Extra+set.Extra, append(d.Examples, set.Examples...)
	return d, nil
}

// converge waits up to timeout for A to match B and returns the last
// difference.
func (e *faultEnv) converge(ctx context.Context, timeout time.Duration) framework.Diff {
	var last framework.Diff
	_ = framework.Poll(ctx, timeout, "A matches B", func() (bool, string) {
		d, err := e.compare(ctx)
		if err != nil {
			last = framework.Diff{Missing: 1, Examples: []string{err.Error()}}
			return false, err.Error()
		}
		last = d
		return d.Zero(), d.String()
	})
	return last
}

// checkFails runs meshctl check on A and returns its FAIL lines about B
// and those of the steps local about A itself.
func (e *faultEnv) checkFails(ctx context.Context, local ...string) []string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.meshctl.bin, "--kubeconfig", e.meshctl.kubeconfig, "check", "-o", "json", "--context", e.topo.a.Name).Output()
	var rs []meshctl.CheckResult
	if jerr := json.Unmarshal(out, &rs); jerr != nil {
		return []string{fmt.Sprintf("meshctl check: %v, output %q: %v", err, out, jerr)}
	}
	var fails []string
	for _, r := range rs {
		if r.Result == meshctl.Fail && (r.Remote == e.topo.b.Name || r.Remote == "" && slices.Contains(local, r.Check)) {
			fails = append(fails, r.Check+": "+r.Detail)
		}
	}
	return fails
}

// reportWatch polls A's status and meshctl check while a fault lasts.
type reportWatch struct {
	stopc         chan struct{}
	wg            sync.WaitGroup
	status, check time.Duration
}

// watchReports starts polling: the first time A's RCC for B is not
// InSync (or f's statusReport), and the first time meshctl check fails
// about B (or in f's localCheck step), since start.
func (e *faultEnv) watchReports(ctx context.Context, start time.Time, f faultCase) *reportWatch {
	status := func() bool { return e.statusReports(ctx) }
	if f.statusReport != nil {
		status = func() bool { return f.statusReport(ctx, e) }
	}
	var local []string
	if f.localCheck != "" {
		local = append(local, f.localCheck)
	}
	w := &reportWatch{stopc: make(chan struct{}), status: -1, check: -1}
	poll := func(every time.Duration, reported func() bool, at *time.Duration) {
		for *at < 0 {
			if reported() {
				*at = time.Since(start)
			}
			select {
			case <-w.stopc:
				return
			case <-time.After(every):
			}
		}
	}
	w.wg.Go(func() { poll(time.Second, func() bool { return len(e.checkFails(ctx, local...)) > 0 }, &w.check) })
	w.wg.Go(func() { poll(250*time.Millisecond, status, &w.status) })
	return w
}

// stop ends the watch and returns when status and meshctl check first
// reported the fault (-1: never).
func (w *reportWatch) stop() (time.Duration, time.Duration) {
	close(w.stopc)
	w.wg.Wait()
	return w.status, w.check
}

// logs are the end of the controllers' and agents' logs, for failures.
func (e *faultEnv) logs() string {
	return e.ctrls.Log(30) + "\n" + e.topo.agentLogs()
}

// faultTable renders the rows as the table TESTING.md keeps.
func faultTable(rows []faultRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| fault | detected (status) | detected (meshctl check) | healed at | recovered after heal | objects lost | connections broken | new connections failed / ok | stalls | churn ops/s (errors) | kubectl to A failed / ok | controller errors (until heal / in all) |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	sec := func(d time.Duration) string {
		if d < 0 {
			return "not reported"
		}
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	for _, r := range rows {
		rate := float64(r.churnOps) / max(r.churnFor.Seconds(), 1)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %d | %d / %d | %d | %.0f (%d) | %d / %d | %d / %d |\n", r.name, sec(r.detectStatus), sec(r.detectCheck),
			sec(r.heal), sec(r.recover), r.lost, r.broken, r.newFailed, r.newOK, r.stalls, rate, r.churnErrs, r.apiFailed, r.apiOK, r.ctrlErrorsHeld, r.ctrlErrors)
	}
	return b.String()
}
