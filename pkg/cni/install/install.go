// Package install puts meshapi's CNI plugin on a node, as calico-node's
// install-cni does: it copies the plugin binary into the CNI binary
// directory, writes a kubeconfig built from the pod's ServiceAccount
// (token, CA and KUBERNETES_SERVICE_HOST/PORT), and writes the conflist
// the container runtime reads. Every file is written to a temporary name
// and renamed, so a runtime never reads half a file.
package install

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
)

// Names of what Install writes.
const (
	BinaryName     = "meshapi"
	ConflistName   = "10-meshapi.conflist"
	KubeconfigName = "meshapi-kubeconfig"
	// NetworkName is the conflist's network name, Calico's, so that
	// IPAM handles read "k8s-pod-network.<containerID>" as Calico's do.
	NetworkName = "k8s-pod-network"
	// ServiceAccountDir is where Kubernetes mounts a pod's ServiceAccount.
	ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// Options say where to install and what to write.
type Options struct {
	// Binary is the plugin binary to copy (normally os.Executable()).
	Binary string
	// BinDir receives the binary as BinaryName (e.g. /host/opt/cni/bin).
	BinDir string
	// ConfDir receives the conflist and the kubeconfig (e.g.
	// /host/etc/cni/net.d).
	ConfDir string
	// HostConfDir is ConfDir as the node (the runtime) sees it; the
	// conflist names the kubeconfig there. "" means ConfDir.
	HostConfDir string
	// Kubeconfig, when not empty, is the path (as the node sees it) of an
	// existing kubeconfig the conflist names; no kubeconfig is written.
	Kubeconfig string
	// ServiceAccountDir holds token and ca.crt when Kubeconfig is empty.
	ServiceAccountDir string
	// APIHost and APIPort reach the API server (KUBERNETES_SERVICE_HOST,
	// KUBERNETES_SERVICE_PORT) when Kubeconfig is empty.
	APIHost, APIPort string
	// NodeName goes into the conflist ("" lets the plugin use the
	// hostname).
	NodeName string
	// MTU goes into the conflist (0: from the FelixConfiguration).
	MTU int
	// CNIVersion of the conflist; "" means 1.1.0.
	CNIVersion string
	// IPAMSocket is the socket of meshapi-agent's IPAM service written
	// into the conflist; "" leaves the plugin's default
	// (ipamwire.DefaultSocket).
	IPAMSocket string
}

// Install copies the binary and writes the kubeconfig and the conflist,
// telling out what it wrote.
func Install(o Options, out io.Writer) error {
	if o.BinDir == "" || o.ConfDir == "" || o.Binary == "" {
		return fmt.Errorf("install: binary %q, bin dir %q and conf dir %q must all be set", o.Binary, o.BinDir, o.ConfDir)
	}
	if o.HostConfDir == "" {
		o.HostConfDir = o.ConfDir
	}
	bin := filepath.Join(o.BinDir, BinaryName)
	if err := copyBinary(o.Binary, bin); err != nil {
		return err
	}
	fmt.Fprintf(out, "installed the plugin binary %s\n", bin)
	kubeconfig := o.Kubeconfig
	if kubeconfig == "" {
		data, err := ServiceAccountKubeconfig(o.ServiceAccountDir, o.APIHost, o.APIPort)
		if err != nil {
			return err
		}
		path := filepath.Join(o.ConfDir, KubeconfigName)
		if err := writeAtomic(path, data, 0o600); err != nil {
			return err
		}
		kubeconfig = filepath.Join(o.HostConfDir, KubeconfigName)
		fmt.Fprintf(out, "wrote the kubeconfig %s (server https://%s)\n", path, net.JoinHostPort(o.APIHost, o.APIPort))
	}
	data, err := Conflist(o, kubeconfig)
	if err != nil {
		return err
	}
	path := filepath.Join(o.ConfDir, ConflistName)
	if err := writeAtomic(path, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote the conflist %s:\n%s\n", path, data)
	return nil
}

// Conflist is the network configuration list Install writes.
func Conflist(o Options, kubeconfig string) ([]byte, error) {
	v := o.CNIVersion
	if v == "" {
		v = "1.1.0"
	}
	plugin := map[string]any{
		"type":       "meshapi",
		"kubeconfig": kubeconfig,
		"mtu":        o.MTU,
		"ipam":       map[string]string{"type": "meshapi-ipam"},
	}
	if o.NodeName != "" {
		plugin["nodename"] = o.NodeName
	}
	if o.IPAMSocket != "" {
		plugin["ipamSocket"] = o.IPAMSocket
	}
	list := map[string]any{"cniVersion": v, "name": NetworkName, "plugins": []any{plugin}}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the conflist: %w", err)
	}
	return data, nil
}

// ServiceAccountKubeconfig is a kubeconfig that reaches https://host:port
// with the token and CA of the ServiceAccount mounted in saDir.
func ServiceAccountKubeconfig(saDir, host, port string) ([]byte, error) {
	if host == "" || port == "" {
		return nil, fmt.Errorf("install: KUBERNETES_SERVICE_HOST %q and KUBERNETES_SERVICE_PORT %q must be set", host, port)
	}
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, fmt.Errorf("install: reading the ServiceAccount token: %w", err)
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("install: reading the ServiceAccount CA: %w", err)
	}
	// A kubeconfig in JSON (which is YAML), written without client-go so
	// that the plugin binary, which carries this install step, does not
	// link it.
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": "meshapi-cni",
		"clusters": []map[string]any{{"name": "local", "cluster": map[string]any{
			"server": "https://" + net.JoinHostPort(host, port), "certificate-authority-data": ca}}},
		"users":    []map[string]any{{"name": "meshapi-cni", "user": map[string]string{"token": string(token)}}},
		"contexts": []map[string]any{{"name": "meshapi-cni", "context": map[string]string{"cluster": "local", "user": "meshapi-cni"}}},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("install: encoding the kubeconfig: %w", err)
	}
	return data, nil
}

// copyBinary copies src to dst atomically, executable.
func copyBinary(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("install: reading the plugin binary %s: %w", src, err)
	}
	return writeAtomic(dst, data, 0o755)
}

// writeAtomic writes data to a temporary file beside path and renames it.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("install: writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install: writing %s: %w", path, werr)
	}
	return nil
}
