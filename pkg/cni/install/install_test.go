package install

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/cni"
	"github.com/meshapi/meshapi/pkg/ipamwire"
)

func TestInstall(t *testing.T) {
	src := filepath.Join(t.TempDir(), "meshapi-cni")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	sa := t.TempDir()
	for name, data := range map[string]string{"token": "tok3n", "ca.crt": "-----BEGIN CERTIFICATE-----\n"} {
		if err := os.WriteFile(filepath.Join(sa, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		o          Options
		err        string
		kubeconfig string // as named in the conflist
		server     string // of the written kubeconfig; "" when none is written
	}{
		{"from the ServiceAccount", Options{ServiceAccountDir: sa, APIHost: "10.96.0.1", APIPort: "443", HostConfDir: "/etc/cni/net.d", NodeName: "n1", IPAMSocket: "/run/n1/ipam.sock"},
			"", "/etc/cni/net.d/" + KubeconfigName, "https://10.96.0.1:443"},
		{"IPv6 service host", Options{ServiceAccountDir: sa, APIHost: "fd00::1", APIPort: "6443"},
			"", "", "https://[fd00::1]:6443"},
		{"existing kubeconfig", Options{Kubeconfig: "/etc/kubernetes/cni.conf", MTU: 1400}, "", "/etc/kubernetes/cni.conf", ""},
		{"no service host", Options{ServiceAccountDir: sa}, "KUBERNETES_SERVICE_HOST", "", ""},
		{"no token", Options{ServiceAccountDir: t.TempDir(), APIHost: "h", APIPort: "1"}, "token", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Binary, o.BinDir, o.ConfDir = src, t.TempDir(), t.TempDir()
			var out bytes.Buffer
			err := Install(o, &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Install: %v", err)
			}
			checkInstalled(t, o, tt.kubeconfig, tt.server, out.String())
		})
	}
}

// checkInstalled checks the binary, the conflist (as a runtime and the
// plugin parse it) and the kubeconfig Install wrote.
func checkInstalled(t *testing.T, o Options, kubeconfig, server, out string) {
	t.Helper()
	if st, err := os.Stat(filepath.Join(o.BinDir, BinaryName)); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("binary: %v, mode %v", err, st)
	}
	list, err := libcni.ConfListFromFile(filepath.Join(o.ConfDir, ConflistName))
	if err != nil {
		t.Fatalf("libcni cannot parse the conflist: %v", err)
	}
	if list.Name != NetworkName || list.CNIVersion != "1.1.0" || len(list.Plugins) != 1 {
		t.Fatalf("conflist %s %s with %d plugins", list.Name, list.CNIVersion, len(list.Plugins))
	}
	// libcni gives each plugin the list's name and version.
	var m map[string]any
	if err := json.Unmarshal(list.Plugins[0].Bytes, &m); err != nil {
		t.Fatal(err)
	}
	m["name"], m["cniVersion"] = list.Name, list.CNIVersion
	stdin, _ := json.Marshal(m)
	conf, err := cni.ParseConf(stdin)
	if err != nil {
		t.Fatalf("the plugin rejects its conflist: %v", err)
	}
	if kubeconfig == "" {
		kubeconfig = filepath.Join(o.ConfDir, KubeconfigName)
	}
	if conf.Kubeconfig != kubeconfig || conf.MTU != o.MTU || (o.NodeName != "" && conf.NodeName != o.NodeName) {
		t.Errorf("plugin conf: kubeconfig %q mtu %d nodename %q", conf.Kubeconfig, conf.MTU, conf.NodeName)
	}
	wantSocket := o.IPAMSocket
	if wantSocket == "" {
		wantSocket = ipamwire.DefaultSocket
	}
	if conf.IPAMSocket != wantSocket {
		t.Errorf("plugin conf: ipamSocket %q, want %q", conf.IPAMSocket, wantSocket)
	}
	if !strings.Contains(out, ConflistName) {
		t.Errorf("output does not say what was written: %q", out)
	}
	if server == "" {
		if _, err := os.Stat(filepath.Join(o.ConfDir, KubeconfigName)); err == nil {
			t.Errorf("wrote a kubeconfig although one was given")
		}
		return
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(o.ConfDir, KubeconfigName))
	if err != nil {
		t.Fatalf("loading the written kubeconfig: %v", err)
	}
	if cfg.Host != server || cfg.BearerToken != "tok3n" || len(cfg.CAData) == 0 {
		t.Errorf("kubeconfig: host %q token %q CA %d bytes", cfg.Host, cfg.BearerToken, len(cfg.CAData))
	}
}
