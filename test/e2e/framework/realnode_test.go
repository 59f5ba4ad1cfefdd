package framework

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestReadImagesList(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		want       NodeImages
		wantErr    string
	}{
		{
			name: "arrows and comments",
			list: "# tarball -> tags\npause.tar -> registry.k8s.io/pause:3.10\nagnhost.tar -> registry.k8s.io/e2e-test-images/agnhost:2.56\n" +
				"coredns.tar -> registry.k8s.io/coredns/coredns:v1.12.1\nkube-proxy.tar -> registry.k8s.io/kube-proxy:v1.37.2\n",
			want: NodeImages{Pause: "registry.k8s.io/pause:3.10", Agnhost: "registry.k8s.io/e2e-test-images/agnhost:2.56",
				CoreDNS: "registry.k8s.io/coredns/coredns:v1.12.1", KubeProxy: "registry.k8s.io/kube-proxy:v1.37.2"},
		},
		{
			name: "plain fields, several tags",
			list: "pause.tar registry.k8s.io/pause:3.10 registry.k8s.io/pause:3.10.2\nagnhost.tar registry.k8s.io/e2e-test-images/agnhost:2.56\n" +
				"coredns.tar registry.k8s.io/coredns/coredns:v1.12.1\nkube-proxy.tar registry.k8s.io/kube-proxy:v1.37.2\n",
			want: NodeImages{Pause: "registry.k8s.io/pause:3.10", Agnhost: "registry.k8s.io/e2e-test-images/agnhost:2.56",
				CoreDNS: "registry.k8s.io/coredns/coredns:v1.12.1", KubeProxy: "registry.k8s.io/kube-proxy:v1.37.2"},
		},
		{
			name:    "coredns missing",
			list:    "pause.tar registry.k8s.io/pause:3.10\nagnhost.tar registry.k8s.io/e2e-test-images/agnhost:2.56\nkube-proxy.tar registry.k8s.io/kube-proxy:v1.37.2\n",
			wantErr: "no coredns image",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "images.txt")
			if err := os.WriteFile(path, []byte(tc.list), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readImagesList(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Tarballs) != 4 || got.Tarballs[0] != filepath.Join(dir, "pause.tar") {
				t.Errorf("tarballs %v, want the four under %s", got.Tarballs, dir)
			}
			got.Tarballs = nil
			if got.Pause != tc.want.Pause || got.Agnhost != tc.want.Agnhost || got.CoreDNS != tc.want.CoreDNS || got.KubeProxy != tc.want.KubeProxy {
				t.Errorf("images %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/plain":          "/tmp/plain",
		`/tmp/with\040space`:  "/tmp/with space",
		`/tmp/tab\011and\134`: "/tmp/tab\tand\\",
		`/tmp/trailing\`:      `/tmp/trailing\`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

// The agent DaemonSet's patch is JSON that moves every hostPath volume of
// artifacts/deploy/60-agent.yaml, the conflist's kubeconfig directory and
// its IPAM socket.
func TestAgentPatch(t *testing.T) {
	h := &realHost{cniBin: "/x/opt/cni/bin", cniConf: "/x/etc/cni/net.d", meshapiLib: "/x/var/lib/meshapi", meshapiRun: "/x/var/run/meshapi"}
	var patch struct {
		Spec struct {
			Template struct {
				Spec struct {
					InitContainers []struct {
						Name    string   `json:"name"`
						Command []string `json:"command"`
					} `json:"initContainers"`
					Volumes []struct {
						Name     string `json:"name"`
						HostPath struct {
							Path string `json:"path"`
						} `json:"hostPath"`
					} `json:"volumes"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(agentPatch(h)), &patch); err != nil {
		t.Fatalf("patch is not JSON: %v\n%s", err, agentPatch(h))
	}
	b, err := os.ReadFile(filepath.Join(ArtifactsDir(), "deploy", "60-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hostPaths int
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Volumes []struct {
							Name     string          `json:"name"`
							HostPath json.RawMessage `json:"hostPath"`
						} `json:"volumes"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind != "DaemonSet" {
			continue
		}
		for _, v := range obj.Spec.Template.Spec.Volumes {
			if v.HostPath == nil {
				continue
			}
			hostPaths++
			found := false
			for _, pv := range patch.Spec.Template.Spec.Volumes {
				found = found || pv.Name == v.Name && strings.HasPrefix(pv.HostPath.Path, "/x/")
			}
			if !found {
				t.Errorf("hostPath volume %s of the agent DaemonSet not moved by the patch", v.Name)
			}
		}
	}
	if hostPaths == 0 {
		t.Fatal("no hostPath volume found in the agent DaemonSet")
	}
	cmd := strings.Join(patch.Spec.Template.Spec.InitContainers[0].Command, " ")
	for _, flag := range []string{"--host-conf-dir=" + h.cniConf, "--ipam-socket=/x/var/run/meshapi/ipam.sock"} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("install-cni command %q lacks %s", cmd, flag)
		}
	}
}
