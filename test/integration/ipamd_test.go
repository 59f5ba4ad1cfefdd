package integration

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/ipamd"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// ipamServices runs one node-local IPAM service (pkg/ipamd, as
// meshapi-agent runs it) per node on sockets of a temporary directory,
// until the test ends, and returns each node's client.
func ipamServices(t *testing.T, nodes ...string) map[string]ipamwire.Client {
	t.Helper()
	cfg := rest.CopyConfig(server.Config)
	cfg.QPS, cfg.Burst = -1, 0
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := map[string]ipamwire.Client{}
	for _, node := range nodes {
		sock := filepath.Join(dir, node+".sock")
		srv, err := ipamd.New(ipamd.Config{Node: node, Socket: sock, Client: ipamClientset(t), Pods: core})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("IPAM service of %s: %v", node, err)
			}
		})
		out[node] = ipamwire.Client{Socket: sock}
	}
	return out
}

// serviceBurst sends n ADDs to the nodes' services from workers
// goroutines, container i on node i%len(nodes), repeating an ADD that
// failed (as the kubelet re-runs one) until it succeeds; after each
// success it calls onDone with the number of successes so far. It
// returns each handle's address and how many ADDs failed.
func serviceBurst(ctx context.Context, t *testing.T, svc map[string]ipamwire.Client, nodes []string, network string, n, workers int, onDone func(int)) (map[string]netip.Addr, int) {
	t.Helper()
	work := make(chan int)
	var mu sync.Mutex
	got := make(map[string]netip.Addr, n)
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range work {
				node := nodes[i%len(nodes)]
				req := ipamwire.Request{Op: ipamwire.OpAdd, Node: node, Network: network, ContainerID: fmt.Sprintf("c%04d", i), Namespace: "ns", Pod: fmt.Sprintf("pod-%d", i)}
				resp, err := svc[node].Call(ctx, req)
				for retries := 0; err != nil && ctx.Err() == nil; retries++ {
					failed.Add(1)
					if retries%20 == 0 {
						t.Logf("ADD of %s failed, retrying: %v", req.ContainerID, err)
					}
					time.Sleep(50 * time.Millisecond)
					resp, err = svc[node].Call(ctx, req)
				}
				if err != nil || len(resp.Addrs) != 1 {
					t.Errorf("ADD of %s: %v, %v; want one address", req.ContainerID, resp, err)
					continue
				}
				mu.Lock()
				got[ipamwire.Handle(network, req.ContainerID)] = resp.Addrs[0]
				mu.Unlock()
				if onDone != nil {
					onDone(int(done.Add(1)))
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return got, int(failed.Load())
}

// TestIPAMServiceBurst: 500 ADDs from 8 goroutines to the IPAM services
// of 5 nodes give 500 distinct addresses, recorded with their handles and
// attributes in the nodes' own blocks; DELs through the services release
// them all, and a second DEL finds nothing.
func TestIPAMServiceBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	pool := ipamPool(ctx, t, cs, "ipamd-burst", "198.18.216.0/22", 26)
	nodes := []string{"svc-n0", "svc-n1", "svc-n2", "svc-n3", "svc-n4"}
	svc := ipamServices(t, nodes...)
	got, failed := serviceBurst(ctx, t, svc, nodes, "svcnet", 500, 8, nil)
	if failed > 0 {
		t.Errorf("%d ADDs failed and were retried, want none", failed)
	}
	checkDistinct(t, got, 500, pool)
	if n := allocatedIn(ctx, t, cs, pool); n != 500 {
		t.Fatalf("%d allocations recorded in the pool's blocks, want 500", n)
	}
	c := ipam.NewClient(cs)
	for _, node := range nodes {
		allocs, err := c.Handles(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		if len(allocs) != 100 {
			t.Errorf("node %s holds %d allocations in its blocks, want 100", node, len(allocs))
		}
		for _, a := range allocs {
			if got[a.Handle] != a.Addr || a.Attrs["node"] != node || a.Attrs["namespace"] != "ns" || a.Attrs["type"] != "pod" {
				t.Errorf("allocation %+v of node %s does not match what ADD gave (%s)", a, node, got[a.Handle])
			}
		}
	}
	for i := range 500 {
		node := nodes[i%len(nodes)]
		req := ipamwire.Request{Op: ipamwire.OpDel, Node: node, Network: "svcnet", ContainerID: fmt.Sprintf("c%04d", i)}
		resp, err := svc[node].Call(ctx, req)
		if h := ipamwire.Handle("svcnet", req.ContainerID); err != nil || len(resp.Addrs) != 1 || resp.Addrs[0] != got[h] {
			t.Fatalf("DEL of %s: %v, %v; want [%s]", req.ContainerID, resp, err, got[h])
		}
		if i == 0 {
			if again, err := svc[node].Call(ctx, req); err != nil || len(again.Addrs) != 0 {
				t.Errorf("a second DEL of %s: %v, %v; want nothing released", req.ContainerID, again, err)
			}
		}
	}
	if n := allocatedIn(ctx, t, cs, pool); n != 0 {
		t.Fatalf("%d allocations left after every DEL", n)
	}
}

// TestIPAMServiceRestartDuringBurst restarts the API server (same etcd
// data) while 8 goroutines send 300 ADDs to the services of 5 nodes; ADDs
// that fail are sent again with the same container, as the kubelet does.
// Every handle ends with exactly one address, none shared, none leaked.
func TestIPAMServiceRestartDuringBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := ipamClientset(t)
	pool := ipamPool(ctx, t, cs, "ipamd-restart", "198.18.212.0/22", 26)
	nodes := []string{"svr-n0", "svr-n1", "svr-n2", "svr-n3", "svr-n4"}
	svc := ipamServices(t, nodes...)
	got, failed := serviceBurst(ctx, t, svc, nodes, "svrnet", 300, 8, func(done int) {
		if done == 60 {
			if err := server.Restart(ctx); err != nil {
				t.Errorf("restarting the API server: %v", err)
			}
		}
	})
	t.Logf("%d ADDs failed during the restart and were retried", failed)
	if failed == 0 {
		t.Fatal("no ADD was in flight while the server was down")
	}
	checkDistinct(t, got, 300, pool)
	if n := allocatedIn(ctx, t, cs, pool); n != 300 {
		t.Fatalf("%d allocations recorded after the restart, want 300 (one per handle)", n)
	}
	c := ipam.NewClient(cs)
	for h, a := range got {
		if addrs, err := c.AddressesByHandle(ctx, h); err != nil || len(addrs) != 1 || addrs[0] != a {
			t.Fatalf("handle %s holds %v (%v), want [%s]", h, addrs, err, a)
		}
	}
	releaseAll(ctx, t, c, got, 8)
}

// TestIPAMServiceOtherNode: a request naming another node than the
// service's (a conflist pointing at another node's socket) is refused
// with code 7, naming both nodes.
func TestIPAMServiceOtherNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc := ipamServices(t, "svx-n0")
	_, err := svc["svx-n0"].Call(ctx, ipamwire.Request{Op: ipamwire.OpAdd, Node: "svx-other", Network: "svx", ContainerID: "x", Namespace: "ns", Pod: "p"})
	if we, ok := ipamwire.AsError(err); !ok || we.Code != 7 || !strings.Contains(we.Msg, "svx-other") || !strings.Contains(we.Msg, "svx-n0") {
		t.Errorf("a request for another node: %v, want code 7 naming svx-other and svx-n0", err)
	}
}

// TestIPAMServiceFollowsWatchedConfig: the service decides on the
// IPPools, its own Node and the FelixConfiguration as its informers
// see them, and changes reach its next ADDs as their watch events
// arrive: a pool whose nodeSelector the node does not match gives no
// address (code ErrNoPool, naming the node); once the Node is labelled
// to match, ADDs get addresses from the pool; once the
// FelixConfiguration enables VXLAN with an MTU, ADDs answer that MTU.
func TestIPAMServiceFollowsWatchedConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := ipamClientset(t).ProjectcalicoV3()
	const node = "svw-n0"
	n, err := cs.Nodes().Create(ctx, &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{"rack": "r2"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	prefix := createIPAMPool(ctx, t, ipamClientset(t), &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "ipamd-watched"},
		Spec: v3.IPPoolSpec{CIDR: "198.18.208.0/24", BlockSize: 28, NodeSelector: "rack == 'r1'"}})
	svc := ipamServices(t, node)[node]
	add := func(id string) (*ipamwire.Response, error) {
		return svc.Call(ctx, ipamwire.Request{Op: ipamwire.OpAdd, Node: node, Network: "svwnet", ContainerID: id, Namespace: "ns", Pod: id})
	}
	_, err = add("c0")
	if we, ok := ipamwire.AsError(err); !ok || we.Code != ipamwire.ErrNoPool || !strings.Contains(we.Msg, node) {
		t.Fatalf("ADD on a node no pool selects: %v, want code %d naming %s", err, ipamwire.ErrNoPool, node)
	}
	n.Labels["rack"] = "r1"
	if _, err := cs.Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp := eventually(ctx, t, "an address once the Node is labelled rack=r1", func() (*ipamwire.Response, bool) {
		r, err := add("c1")
		return r, err == nil
	})
	if len(resp.Addrs) != 1 || !prefix.Contains(resp.Addrs[0]) || resp.MTU != ipamd.DefaultMTU {
		t.Fatalf("ADD: %+v, want one address in %s and MTU %d", resp, prefix, ipamd.DefaultMTU)
	}
	on, mtu := true, 1410
	if _, err := cs.FelixConfigurations().Create(ctx, &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v3.FelixConfigurationSpec{VXLANEnabled: &on, VXLANMTU: &mtu}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.FelixConfigurations().Delete(context.Background(), "default", metav1.DeleteOptions{})
	next := 1
	eventually(ctx, t, fmt.Sprintf("ADD answering MTU %d once the FelixConfiguration sets it", mtu), func() (*ipamwire.Response, bool) {
		next++
		r, err := add(fmt.Sprintf("c%d", next))
		if err != nil {
			t.Fatalf("ADD c%d: %v", next, err)
		}
		return r, r.MTU == mtu
	})
}

// eventually calls f every 20ms until it reports true, and returns what
// it returned then; it fails t when ctx ends first.
func eventually[T any](ctx context.Context, t *testing.T, what string, f func() (T, bool)) T {
	t.Helper()
	for {
		v, ok := f()
		if ok {
			return v
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
