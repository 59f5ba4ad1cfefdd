package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/dataplane/filter"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned/fake"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
)

// seedPolicy reads the seeds' default.app-to-db NetworkPolicy.
func seedPolicy(t *testing.T) *v3.NetworkPolicy {
	t.Helper()
	b, err := os.ReadFile("../../test/integration/testdata/seeds/000-networkpolicy-app-to-db.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var np v3.NetworkPolicy
	if err := yaml.UnmarshalStrict(b, &np); err != nil {
		t.Fatal(err)
	}
	return &np
}

// policyWEP returns a local WorkloadEndpoint of node-1, or with cluster a
// mirror of that cluster's endpoint.
func policyWEP(cluster, name, iface, ip string, labels map[string]string) *v3.WorkloadEndpoint {
	node := "node-1"
	if cluster != "" {
		labels[v3.LabelCluster] = cluster
		name, node = cluster+"."+name, cluster+"/"+node
	}
	return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "myapp", Name: name, Labels: labels},
		Spec: v3.WorkloadEndpointSpec{Node: node, InterfaceName: iface, IPNetworks: []string{ip + "/32"}}}
}

// startInformers returns the policy informers of a fake API holding objs,
// started and synced.
func startInformers(t *testing.T, ctx context.Context, objs ...runtime.Object) (*fake.Clientset, [][]cache.SharedIndexInformer) {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	stages := policyInformers(factory.Projectcalico().V3())
	factory.Start(ctx.Done())
	t.Cleanup(factory.Shutdown)
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("%v did not sync", typ)
		}
	}
	return client, stages
}

// The policy state learns of every policy object before the first
// endpoint, however the informers happen to deliver.
func TestFeedInOrderPolicyBeforeEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	objs := []runtime.Object{
		&v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "security"}},
		&v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "kns.myapp"}},
		seedPolicy(t),
		&v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default.deny-all"}},
		&v3.HostEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "node-1-eth0"}},
	}
	for i := range 50 {
		objs = append(objs, policyWEP("", fmt.Sprintf("pod-%d", i), "cali0", fmt.Sprintf("198.18.1.%d", i), map[string]string{}))
	}
	_, stages := startInformers(t, ctx, objs...)

	var mu sync.Mutex
	var kinds []string
	record := func(obj any) {
		mu.Lock()
		defer mu.Unlock()
		switch obj.(type) {
		case *v3.WorkloadEndpoint, *v3.HostEndpoint:
			kinds = append(kinds, "endpoint")
		default:
			kinds = append(kinds, "policy")
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: record}
	if err := feedInOrder(ctx, h, stages...); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kinds) != len(objs) {
		t.Fatalf("%d objects delivered, want %d", len(kinds), len(objs))
	}
	for i, k := range kinds {
		if want := map[bool]string{true: "policy", false: "endpoint"}[i < 4]; k != want {
			t.Fatalf("delivery %d is a %s object, want %s: %v", i, k, want, kinds)
		}
	}
}

// The enforcer, fed by informers, programs the seed policy into a filter
// in a network namespace the test creates, follows a relabel and the
// policy's deletion, and reports the table's size; with enforcement off
// the table is removed.
func TestPolicyEnforcerProgramsNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	name := fmt.Sprintf("mapt-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v\n%s", err, out)
		}
	})
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg := policyWEP("cluster-b", "postgres-0", "", "198.18.9.1", map[string]string{"app": "postgres"})
	client, stages := startInformers(t, ctx, seedPolicy(t),
		policyWEP("", "backend-0", "calib0", "198.18.1.1", map[string]string{"app": "backend-app"}), pg)

	f, err := filter.New(filter.Options{NetNS: int(ns)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := NewMetrics(prometheus.NewRegistry())
	p, err := newPolicyEnforcer(PolicyConfig{Filter: f}, "node-1", m, slog.New(slog.DiscardHandler), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p.ready() == nil {
		t.Error("ready before anything was programmed")
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := feedInOrder(runCtx, p.handler(), stages...); err != nil {
			t.Error(err)
			return
		}
		p.run(runCtx)
	}()
	defer func() { stop(); <-done }()

	eventually := func(what string, sets, elements float64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			gs, ge := testutil.ToFloat64(m.PolicySets), testutil.ToFloat64(m.PolicySetElements)
			ks, ke, err := tableSize(int(ns), filter.DefaultTableName)
			if p.ready() == nil && gs == sets && ge == elements && float64(ks) == sets && float64(ke) == elements && err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: metrics %v sets, %v elements; kernel %d, %d (%v); want %v, %v", what, gs, ge, ks, ke, err, sets, elements)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// One rule selector: an IPv4 and an IPv6 set, postgres's /32 in the first.
	eventually("seed policy", 2, 1)
	if n := testutil.CollectAndCount(m.ApplyDuration); n == 0 {
		t.Error("no commit latency recorded")
	}

	relabeled := pg.DeepCopy()
	relabeled.Labels["app"] = "postgres-retired"
	if _, err := client.ProjectcalicoV3().WorkloadEndpoints("myapp").Update(ctx, relabeled, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("postgres relabelled", 2, 0)

	if err := client.ProjectcalicoV3().NetworkPolicies("myapp").Delete(ctx, "default.app-to-db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("policy deleted", 0, 0)
	if errs := testutil.ToFloat64(m.Errors.WithLabelValues("policy")); errs != 0 {
		t.Errorf("policy errors: %v", errs)
	}

	stop()
	<-done
	if err := teardownPolicy(ctx, int(ns), nil); err != nil {
		t.Fatal(err)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	if tables, err := conn.ListTables(); err != nil || len(tables) != 0 {
		t.Errorf("tables left after teardown: %v, %v", tables, err)
	}
}

// tableSize counts the sets of the inet table name in the namespace netNS
// (0: our own) and their elements, an interval counting once; a missing
// table is empty.
func tableSize(netNS int, name string) (sets, elements int, err error) {
	var opts []nftables.ConnOption
	if netNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(netNS))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return 0, 0, fmt.Errorf("nftables connection: %w", err)
	}
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	all, err := conn.GetSets(t)
	if err != nil {
		if _, lerr := conn.ListTableOfFamily(name, nftables.TableFamilyINet); lerr != nil {
			return 0, 0, nil // no table (yet)
		}
		return 0, 0, fmt.Errorf("listing the sets of table %s: %w", name, err)
	}
	for _, s := range all {
		if s.Anonymous {
			continue
		}
		sets++
		els, err := conn.GetSetElements(s)
		if err != nil {
			return 0, 0, fmt.Errorf("listing the elements of set %s: %w", s.Name, err)
		}
		for _, e := range els {
			if !e.IntervalEnd {
				elements++
			}
		}
	}
	return sets, elements, nil
}
