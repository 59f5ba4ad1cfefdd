package cni_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/cni"
	"github.com/meshapi/meshapi/pkg/cni/cnitest"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipam"
	"github.com/meshapi/meshapi/pkg/podendpoints"
	"github.com/meshapi/meshapi/test/integration/framework"
)

const poolCIDR = "198.18.0.0/24"

// env is one node namespace with the plugin installed, on a real API
// server with one pool.
type env struct {
	node *cnitest.Node
	cs   versioned.Interface
	ipam *ipam.Client
	pfx  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	ctx := t.Context()
	srv, err := framework.StartStandalone(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	cs, err := versioned.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	pool := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Spec: v3.IPPoolSpec{CIDR: poolCIDR, BlockSize: 28}}
	if _, err := cs.ProjectcalicoV3().IPPools().Create(ctx, pool, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating IPPool %s: %v", poolCIDR, err)
	}
	pfx := fmt.Sprintf("mcni%d", os.Getpid())
	plugin := cnitest.BuildPlugin(t, t.TempDir())
	node := cnitest.NewNode(t, plugin, "node-a", pfx+"-node", srv.Kubeconfig)
	return &env{node: node, cs: cs, ipam: ipam.NewClient(cs), pfx: pfx}
}

// pod creates a sandbox namespace and its runtime configuration.
func (e *env) pod(t *testing.T, name string) *libcni.RuntimeConf {
	t.Helper()
	path := cnitest.Netns(t, e.pfx+"-"+name)
	return cnitest.Runtime("ctr-"+name, path, "default", name)
}

func TestPluginThroughLibcni(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a, b := e.pod(t, "a"), e.pod(t, "b")

	resA := mustAdd(t, e, a)
	resB := mustAdd(t, e, b)
	addrA, addrB := podAddr(t, resA), podAddr(t, resB)
	if addrA == addrB {
		t.Fatalf("pods a and b both got %s", addrA)
	}
	checkWiring(t, e, a, resA, addrA)

	if err := e.node.Check(ctx, a); err != nil {
		t.Fatalf("CHECK of pod a: %v", err)
	}
	// The kubelet copies the result's IPs to status.podIPs; the endpoint
	// the controller derives from that Pod names the plugin's interface.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a"},
		Spec:       corev1.PodSpec{NodeName: "node-a"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: addrA.String()}}, PodIP: addrA.String()},
	}
	wep := podendpoints.WorkloadEndpoint(pod)
	if wep.Spec.InterfaceName != resA.Interfaces[0].Name || len(wep.Spec.IPNetworks) != 1 || wep.Spec.IPNetworks[0] != addrA.String()+"/32" {
		t.Errorf("derived endpoint: interface %q networks %v; want %q [%s/32]", wep.Spec.InterfaceName, wep.Spec.IPNetworks, resA.Interfaces[0].Name, addrA)
	}
	// The node reaches its pod, and the pods reach their node and each
	// other, through proxy ARP and the host routes.
	cnitest.Run(t, "ip", "netns", "exec", e.pfx+"-a", "ping", "-c1", "-W5", cnitest.NodeAddr)
	cnitest.Run(t, "ip", "netns", "exec", e.pfx+"-node", "ping", "-c1", "-W5", addrA.String())
	cnitest.Run(t, "ip", "netns", "exec", e.pfx+"-a", "ping", "-c1", "-W5", addrB.String())
	cnitest.Run(t, "ip", "netns", "exec", e.pfx+"-b", "ping", "-c1", "-W5", addrA.String())

	// DEL twice: the second finds nothing and succeeds.
	for i := range 2 {
		if err := e.node.Del(ctx, a); err != nil {
			t.Fatalf("DEL %d of pod a: %v", i+1, err)
		}
	}
	if e.nodeLink(t, podendpoints.InterfaceName("default", "a")) != nil {
		t.Errorf("host interface of pod a still exists after DEL")
	}
	if held := handleAddrs(t, e, a); len(held) != 0 {
		t.Errorf("handle of pod a still holds %v after DEL", held)
	}
	// DEL after the sandbox is gone.
	cnitest.Run(t, "ip", "netns", "del", e.pfx+"-b")
	if err := e.node.Del(ctx, b); err != nil {
		t.Fatalf("DEL of pod b without its namespace: %v", err)
	}
	if held := handleAddrs(t, e, b); len(held) != 0 {
		t.Errorf("handle of pod b still holds %v after DEL", held)
	}
}

func TestGCAndStatus(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.node.Status(ctx); err != nil {
		t.Fatalf("STATUS with an enabled pool: %v", err)
	}
	a, b := e.pod(t, "a"), e.pod(t, "b")
	mustAdd(t, e, a)
	mustAdd(t, e, b)
	// The runtime still knows a only: GC releases b's allocation.
	if err := e.node.GC(ctx, a); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if held := handleAddrs(t, e, a); len(held) != 1 {
		t.Errorf("GC released the valid attachment a: handle holds %v", held)
	}
	if held := handleAddrs(t, e, b); len(held) != 0 {
		t.Errorf("GC kept the stale attachment b: handle holds %v", held)
	}

	pool, err := e.cs.ProjectcalicoV3().IPPools().Get(ctx, "pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool.Spec.Disabled = true
	if _, err := e.cs.ProjectcalicoV3().IPPools().Update(ctx, pool, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("disabling the pool: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		code uint
		msg  string
	}{
		{"STATUS without an enabled pool", func() error { return e.node.Status(ctx) }, 50, "no enabled IPPool"},
		{"ADD without an enabled pool", func() error { _, err := e.node.Add(ctx, e.pod(t, "c")); return err }, cni.ErrNoPool, "node-a"},
		{"ADD without the sandbox's namespace", func() error {
			_, err := e.node.Add(ctx, cnitest.Runtime("ctr-gone", "/var/run/netns/"+e.pfx+"-gone", "default", "gone"))
			return err
		}, types.ErrInvalidNetNS, "CNI_NETNS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ce, ok := cnitest.CNIError(tt.call())
			if !ok {
				t.Fatalf("got no CNI error")
			}
			if ce.Code != tt.code || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("got code %d %q, want code %d naming %q", ce.Code, ce.Msg, tt.code, tt.msg)
			}
		})
	}
}

func TestPoolExhausted(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// A pool of 4 addresses in place of the /24: the fifth ADD fails.
	if err := e.cs.ProjectcalicoV3().IPPools().Delete(ctx, "pods", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	small := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "small"}, Spec: v3.IPPoolSpec{CIDR: "198.18.1.0/30", BlockSize: 30}}
	if _, err := e.cs.ProjectcalicoV3().IPPools().Create(ctx, small, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var last error
	for i := range 5 {
		if _, last = e.node.Add(ctx, e.pod(t, fmt.Sprintf("p%d", i))); last != nil {
			break
		}
	}
	ce, ok := cnitest.CNIError(last)
	if !ok {
		t.Fatalf("5 ADDs in a pool of 4 addresses: last error %v, want a CNI error", last)
	}
	if ce.Code != cni.ErrPoolsExhausted || !strings.Contains(ce.Msg, "small") || !strings.Contains(ce.Msg, "node-a") {
		t.Errorf("got code %d %q, want %d naming pool small and node node-a", ce.Code, ce.Msg, cni.ErrPoolsExhausted)
	}
}

func mustAdd(t *testing.T, e *env, rt *libcni.RuntimeConf) *current.Result {
	t.Helper()
	res, err := e.node.Add(t.Context(), rt)
	if err != nil {
		t.Fatalf("ADD of %s: %v", rt.ContainerID, err)
	}
	return res
}

// podAddr is the one address of a result, in the pool, as a /32.
func podAddr(t *testing.T, res *current.Result) netip.Addr {
	t.Helper()
	if len(res.IPs) != 1 {
		t.Fatalf("result has %d IPs, want 1: %v", len(res.IPs), res)
	}
	p, err := netip.ParsePrefix(res.IPs[0].Address.String())
	if err != nil {
		t.Fatal(err)
	}
	if p.Bits() != 32 || !netip.MustParsePrefix(poolCIDR).Contains(p.Addr()) {
		t.Fatalf("result address %s: want a /32 in %s", p, poolCIDR)
	}
	return p.Addr()
}

// checkWiring checks the result's interfaces and the kernel's state.
func checkWiring(t *testing.T, e *env, rt *libcni.RuntimeConf, res *current.Result, addr netip.Addr) {
	t.Helper()
	hostIf := podendpoints.InterfaceName("default", "a")
	if len(res.Interfaces) != 2 || res.Interfaces[0].Name != hostIf || res.Interfaces[1].Name != "eth0" || res.Interfaces[1].Sandbox != rt.NetNS {
		t.Errorf("result interfaces %v: want %s and eth0 in %s", res.Interfaces, hostIf, rt.NetNS)
	}
	host := e.nodeLink(t, hostIf)
	if host == nil {
		t.Fatalf("host interface %s missing", hostIf)
	}
	if host.Attrs().MTU != cni.DefaultMTU || host.Attrs().HardwareAddr.String() != "ee:ee:ee:ee:ee:ee" {
		t.Errorf("host interface: MTU %d MAC %s, want %d ee:ee:ee:ee:ee:ee", host.Attrs().MTU, host.Attrs().HardwareAddr, cni.DefaultMTU)
	}
	routes := cnitest.Run(t, "ip", "-n", e.pfx+"-node", "route", "show", "proto", "83")
	if want := addr.String() + " dev " + hostIf + " scope link"; !strings.Contains(routes, want) {
		t.Errorf("node routes %q: want %q", routes, want)
	}
	if v := cnitest.Run(t, "ip", "netns", "exec", e.pfx+"-node", "cat", "/proc/sys/net/ipv4/conf/"+hostIf+"/proxy_arp"); strings.TrimSpace(v) != "1" {
		t.Errorf("proxy_arp on %s = %q, want 1", hostIf, v)
	}
	if v := cnitest.Run(t, "ip", "netns", "exec", e.pfx+"-node", "cat", "/proc/sys/net/ipv6/conf/"+hostIf+"/disable_ipv6"); strings.TrimSpace(v) != "1" {
		t.Errorf("disable_ipv6 on %s = %q, want 1", hostIf, v)
	}
	if out := cnitest.Run(t, "ip", "-n", e.pfx+"-node", "-6", "route", "show", "table", "all", "dev", hostIf); strings.TrimSpace(out) != "" {
		t.Errorf("IPv6 routes via %s: %q, want none", hostIf, out)
	}
	podNS := strings.TrimPrefix(rt.NetNS, "/var/run/netns/")
	if res.Interfaces[0].Mac != "ee:ee:ee:ee:ee:ee" {
		t.Errorf("result's host interface MAC %s, want ee:ee:ee:ee:ee:ee", res.Interfaces[0].Mac)
	}
	if out := cnitest.Run(t, "ip", "-n", podNS, "link", "show", "dev", "eth0"); !strings.Contains(out, "link/ether "+res.Interfaces[1].Mac+" ") {
		t.Errorf("eth0 %q: want the result's MAC %s", out, res.Interfaces[1].Mac)
	}
	if out := cnitest.Run(t, "ip", "-n", podNS, "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet "+addr.String()+"/32") {
		t.Errorf("eth0 addresses %q: want %s/32", out, addr)
	}
	if out := cnitest.Run(t, "ip", "-n", podNS, "route", "show", "default"); !strings.Contains(out, "default via 169.254.1.1 dev eth0") {
		t.Errorf("pod default route %q: want via 169.254.1.1 dev eth0", out)
	}
}

// nodeLink is the named link in the node's namespace, or nil.
func (e *env) nodeLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	h, err := netns.GetFromPath(e.node.Netns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	l, err := nl.LinkByName(name)
	if err != nil {
		return nil
	}
	return l
}

// handleAddrs is what IPAM records for the attachment.
func handleAddrs(t *testing.T, e *env, rt *libcni.RuntimeConf) []netip.Addr {
	t.Helper()
	addrs, err := e.ipam.AddressesByHandle(context.Background(), cni.Handle(e.node.Conflist.Name, rt.ContainerID))
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

func TestOlderSpecVersions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, v := range []string{"0.4.0", "1.0.0"} {
		t.Run(v, func(t *testing.T) {
			raw := strings.Replace(string(e.node.Conflist.Bytes), `"cniVersion": "1.1.0"`, `"cniVersion": "`+v+`"`, 1)
			list, err := libcni.ConfListFromBytes([]byte(raw))
			if err != nil || list.CNIVersion != v {
				t.Fatalf("conflist at %s: %v (version %q)", v, err, list.CNIVersion)
			}
			node := *e.node
			node.Conflist = list
			rt := e.pod(t, "v"+strings.ReplaceAll(v, ".", ""))
			res, err := node.Add(ctx, rt)
			if err != nil {
				t.Fatalf("ADD at %s: %v", v, err)
			}
			addr := podAddr(t, res)
			if err := node.Check(ctx, rt); err != nil {
				t.Fatalf("CHECK at %s: %v", v, err)
			}
			if err := node.Del(ctx, rt); err != nil {
				t.Fatalf("DEL at %s: %v", v, err)
			}
			if held := handleAddrs(t, e, rt); len(held) != 0 {
				t.Errorf("handle still holds %v after DEL (had %s)", held, addr)
			}
		})
	}
}

func TestNewSandboxOfSamePod(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	old := e.pod(t, "r1")
	old.Args[2][1] = "r" // K8S_POD_NAME: both sandboxes are pod default/r
	mustAdd(t, e, old)
	cur := e.pod(t, "r2")
	cur.Args[2][1] = "r"
	res := mustAdd(t, e, cur)
	// The runtime deletes the old sandbox after the new one is up: the
	// host-side name is the pod's, and the DEL must not take the new
	// sandbox's interface with it.
	if err := e.node.Del(ctx, old); err != nil {
		t.Fatalf("DEL of the old sandbox: %v", err)
	}
	if err := e.node.Check(ctx, cur); err != nil {
		t.Fatalf("CHECK of the new sandbox after the old one's DEL: %v", err)
	}
	if held := handleAddrs(t, e, cur); len(held) != 1 || held[0] != podAddr(t, res) {
		t.Errorf("new sandbox's handle holds %v, want %s", held, podAddr(t, res))
	}
	if held := handleAddrs(t, e, old); len(held) != 0 {
		t.Errorf("old sandbox's handle still holds %v", held)
	}
}
