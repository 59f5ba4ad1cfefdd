// Package cnitest runs meshapi-cni the way a container runtime does, for
// the plugin's network-namespace tests and benchmarks: it builds the
// binary, installs it with its own install step into temporary
// directories, and invokes it through libcni inside a "node" network
// namespace the caller created, against a real meshapi API server.
// Nothing here changes the namespace the test runs in.
package cnitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/cni/install"
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

// BuildPlugin builds cmd/meshapi-cni into dir and returns its path.
func BuildPlugin(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "meshapi-cni")
	Run(tb, "go", "build", "-o", bin, "github.com/meshapi/meshapi/cmd/meshapi-cni")
	return bin
}

// Relay listens on 127.0.0.1 inside the network namespace nsPath and
// relays every connection to target (an address of the test's own
// namespace), so that a plugin running in that namespace reaches the API
// server. It stops when tb ends.
func Relay(tb testing.TB, nsPath, target string) string {
	tb.Helper()
	var ln net.Listener
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	})
	if err != nil {
		tb.Fatalf("listening in %s: %v", nsPath, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { relay(c, target) })
		}
	})
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// relay copies both ways between c and a new connection to target.
func relay(c net.Conn, target string) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}

// RelayedKubeconfig writes a copy of kubeconfig whose servers point at
// relayAddr (same host name, so the certificate still matches).
func RelayedKubeconfig(tb testing.TB, kubeconfig, relayAddr, out string) {
	tb.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		tb.Fatalf("loading %s: %v", kubeconfig, err)
	}
	_, port, _ := net.SplitHostPort(relayAddr)
	for name, c := range cfg.Clusters {
		u, err := url.Parse(c.Server)
		if err != nil {
			tb.Fatalf("cluster %s server %q: %v", name, c.Server, err)
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
		c.Server = u.String()
	}
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		tb.Fatalf("writing %s: %v", out, err)
	}
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
}

// NewNode creates the node's namespace nsName (forwarding on, an uplink
// with NodeAddr and the default route), installs
// plugin into it with `meshapi-cni install` and a kubeconfig relayed to
// the API server of kubeconfig, and parses the conflist it wrote.
func NewNode(tb testing.TB, plugin, name, nsName, kubeconfig string) *Node {
	tb.Helper()
	dir := tb.TempDir()
	n := &Node{Name: name, Netns: Netns(tb, nsName), BinDir: filepath.Join(dir, "bin"), ConfDir: filepath.Join(dir, "net.d")}
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
	server, err := kubeconfigServer(kubeconfig)
	if err != nil {
		tb.Fatal(err)
	}
	kc := filepath.Join(n.ConfDir, "relayed-kubeconfig")
	RelayedKubeconfig(tb, kubeconfig, Relay(tb, n.Netns, server), kc)
	tb.Log(Run(tb, plugin, "install", "--bin-dir", n.BinDir, "--conf-dir", n.ConfDir, "--kubeconfig", kc, "--nodename", name))
	n.Conflist, err = libcni.ConfListFromFile(filepath.Join(n.ConfDir, install.ConflistName))
	if err != nil {
		tb.Fatalf("parsing the installed conflist: %v", err)
	}
	n.CNI = libcni.NewCNIConfigWithCacheDir([]string{n.BinDir}, filepath.Join(dir, "cache"), nil)
	return n
}

// kubeconfigServer is host:port of the current cluster of kubeconfig.
func kubeconfigServer(kubeconfig string) (string, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return "", fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return "", fmt.Errorf("server %q of %s: %w", cfg.Host, kubeconfig, err)
	}
	return u.Host, nil
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
