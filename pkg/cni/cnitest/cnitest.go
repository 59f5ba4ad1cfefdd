// Package cnitest runs meshapi-cni the way a container runtime does, for
// the plugin's network-namespace tests and benchmarks: it builds the
// binary, installs it with its own install step into temporary
// directories, runs the node's IPAM service (pkg/ipamd, meshapi-agent's
// code) against a real meshapi API server on a socket of its own, and
// invokes the plugin through libcni inside a "node" network namespace the
// caller created. Nothing here changes the namespace the test runs in.
package cnitest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/cni/install"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/ipamd"
)

// commandTimeout bounds one helper command.
const commandTimeout = 5 * time.Minute

// Run runs a command and fails tb if it fails.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Netns creates the named network namespace with its loopback up and
// returns its path; it is deleted when tb ends (unless the test deleted
// it already).
func Netns(tb testing.TB, name string) string {
	tb.Helper()
	Run(tb, "ip", "netns", "add", name)
	tb.Cleanup(func() {
		if _, err := os.Stat(filepath.Join("/var/run/netns", name)); err == nil {
			if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
				tb.Errorf("deleting namespace %s: %v\n%s", name, err, out)
			}
		}
	})
	Run(tb, "ip", "-n", name, "link", "set", "lo", "up")
	return filepath.Join("/var/run/netns", name)
}

// BuildPlugin builds cmd/meshapi-cni into dir and returns its path. It
// is built static (CGO_ENABLED=0), as the agent image ships it: a
// dynamically linked Go binary spends about a millisecond more CPU in
// the dynamic loader on every invocation.
func BuildPlugin(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "meshapi-cni")
	Run(tb, "env", "CGO_ENABLED=0", "go", "build", "-o", bin, "github.com/meshapi/meshapi/cmd/meshapi-cni")
	return bin
}

// NodeAddr is the address of every test node, on its uplink.
const NodeAddr = "198.19.255.1"

// Node is one node: a network namespace where the plugin runs, with the
// plugin installed by its install step.
type Node struct {
	// Name is the node's name (the conflist's nodename).
	Name string
	// Netns is the path of the node's network namespace.
	Netns string
	// BinDir and ConfDir are the node's /opt/cni/bin and /etc/cni/net.d.
	BinDir, ConfDir string
	// Conflist is the conflist the install step wrote, as libcni parsed it.
	Conflist *libcni.NetworkConfigList
	// CNI invokes the plugins in BinDir.
	CNI *libcni.CNIConfig
	// IPAMSocket is the socket of the node's IPAM service.
	IPAMSocket string
}

// NewNode creates the node's namespace nsName (forwarding on, an uplink
// with NodeAddr and the default route), starts the node's IPAM service
// (pkg/ipamd) with the credentials of kubeconfig, installs plugin into
// the node with `meshapi-cni install` naming the service's socket, and
// parses the conflist it wrote. The service stops when tb ends.
func NewNode(tb testing.TB, plugin, name, nsName, kubeconfig string) *Node {
	tb.Helper()
	dir := tb.TempDir()
	n := &Node{Name: name, Netns: Netns(tb, nsName), BinDir: filepath.Join(dir, "bin"), ConfDir: filepath.Join(dir, "net.d"),
		IPAMSocket: filepath.Join(dir, "run", "ipam.sock")}
	Run(tb, "ip", "netns", "exec", nsName, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	// An uplink with the node's address and the default route, as a real
	// node has: proxy ARP answers only for destinations the node routes
	// through another interface.
	Run(tb, "ip", "-n", nsName, "link", "add", "uplink", "type", "veth", "peer", "name", "uplink-peer")
	Run(tb, "ip", "-n", nsName, "link", "set", "uplink-peer", "up")
	Run(tb, "ip", "-n", nsName, "addr", "add", NodeAddr+"/32", "dev", "uplink")
	Run(tb, "ip", "-n", nsName, "link", "set", "uplink", "up")
	Run(tb, "ip", "-n", nsName, "route", "add", "default", "dev", "uplink")
	for _, d := range []string{n.BinDir, n.ConfDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	StartIPAMService(tb, name, n.IPAMSocket, kubeconfig)
	tb.Log(Run(tb, plugin, "install", "--bin-dir", n.BinDir, "--conf-dir", n.ConfDir, "--kubeconfig", kubeconfig, "--nodename", name, "--ipam-socket", n.IPAMSocket))
	var err error
	n.Conflist, err = libcni.ConfListFromFile(filepath.Join(n.ConfDir, install.ConflistName))
	if err != nil {
		tb.Fatalf("parsing the installed conflist: %v", err)
	}
	n.CNI = libcni.NewCNIConfigWithCacheDir([]string{n.BinDir}, filepath.Join(dir, "cache"), nil)
	return n
}

// StartIPAMService runs node's IPAM service (pkg/ipamd, as meshapi-agent
// runs it) on socket with the credentials of kubeconfig, until tb ends.
func StartIPAMService(tb testing.TB, node, socket, kubeconfig string) {
	tb.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		tb.Fatalf("loading %s: %v", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // as the agent's: no client-side rate limit on the pods' path
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := ipamd.New(ipamd.Config{Node: node, Socket: socket, Client: cs, Pods: core})
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			tb.Errorf("IPAM service of %s: %v", node, err)
		}
	})
}

// Runtime is the runtime configuration of a pod's sandbox.
func Runtime(containerID, netnsPath, namespace, pod string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: containerID,
		NetNS:       netnsPath,
		IfName:      "eth0",
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", namespace},
			{"K8S_POD_NAME", pod},
			{"K8S_POD_INFRA_CONTAINER_ID", containerID},
		},
	}
}

// InNode runs f with the calling thread in the node's namespace, so that
// the plugins libcni executes run there.
func (n *Node) InNode(f func() error) error {
	return ns.WithNetNSPath(n.Netns, func(ns.NetNS) error { return f() })
}

// Add is the runtime's ADD.
func (n *Node) Add(ctx context.Context, rt *libcni.RuntimeConf) (*current.Result, error) {
	var res types.Result
	err := n.InNode(func() (err error) {
		res, err = n.CNI.AddNetworkList(ctx, n.Conflist, rt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(res)
}

// Check is the runtime's CHECK (with the cached result as prevResult).
func (n *Node) Check(ctx context.Context, rt *libcni.RuntimeConf) error {
	return n.InNode(func() error { return n.CNI.CheckNetworkList(ctx, n.Conflist, rt) })
}

// Del is the runtime's DEL.
func (n *Node) Del(ctx context.Context, rt *libcni.RuntimeConf) error {
	return n.InNode(func() error { return n.CNI.DelNetworkList(ctx, n.Conflist, rt) })
}

// GC is the runtime's GC with these attachments still valid.
func (n *Node) GC(ctx context.Context, valid ...*libcni.RuntimeConf) error {
	args := &libcni.GCArgs{}
	for _, rt := range valid {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: rt.ContainerID, IfName: rt.IfName})
	}
	return n.InNode(func() error { return n.CNI.GCNetworkList(ctx, n.Conflist, args) })
}

// Status is the runtime's STATUS.
func (n *Node) Status(ctx context.Context) error {
	return n.InNode(func() error { return n.CNI.GetStatusNetworkList(ctx, n.Conflist) })
}

// CNIError returns the CNI error object in err, if any.
func CNIError(err error) (*types.Error, bool) {
	var te *types.Error
	ok := errors.As(err, &te)
	return te, ok
}
