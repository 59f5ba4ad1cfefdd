package framework

import (
	"fmt"
	"path/filepath"
)

// realNodePaths are a real node's directories and files: its "host"
// paths, all under one directory.
type realNodePaths struct {
	dir                      string
	containerdRoot, state    string
	socket                   string
	runcRoot                 string
	kubeletRoot, podLogs     string
	certs                    string
	cniBin, cniConf          string
	containerdConfig         string
	kubeletConfig, resolv    string
	kubeletKubeconfig        string
	containerdLog, kubeletLg string
}

// newRealNodePaths lays out a node's paths under dir.
func newRealNodePaths(dir, cniBin, cniConf string) realNodePaths {
	return realNodePaths{
		dir:               dir,
		containerdRoot:    filepath.Join(dir, "containerd", "root"),
		state:             filepath.Join(dir, "containerd", "state"),
		socket:            filepath.Join(dir, "containerd", "containerd.sock"),
		runcRoot:          filepath.Join(dir, "runc"),
		kubeletRoot:       filepath.Join(dir, "kubelet"),
		podLogs:           filepath.Join(dir, "pod-logs"),
		certs:             filepath.Join(dir, "pki"),
		cniBin:            cniBin,
		cniConf:           cniConf,
		containerdConfig:  filepath.Join(dir, "containerd.toml"),
		kubeletConfig:     filepath.Join(dir, "kubelet.yaml"),
		resolv:            filepath.Join(dir, "resolv.conf"),
		kubeletKubeconfig: filepath.Join(dir, "kubelet.kubeconfig"),
		containerdLog:     filepath.Join(dir, "containerd.log"),
		kubeletLg:         filepath.Join(dir, "kubelet.log"),
	}
}

// containerdConfig is containerd 2.x's configuration (version 3) for one
// node of several on a host: its own root, state, socket and runc root;
// no NRI (its socket path would be shared); cgroupfs; pod network
// namespaces mounted under its state directory; OOM score adjustments
// restricted (this root shell lacks CAP_SYS_RESOURCE); the loopback of a
// sandbox brought up by containerd itself (no loopback plugin binary);
// the pinned sandbox image the imported pause image.
func (p realNodePaths) containerdConfigTOML(pause string) string {
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = "%[3]s.ttrpc"

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = %[4]q
  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          Root = %[5]q
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [%[6]q]
      conf_dir = %[7]q
      use_internal_loopback = true
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.internal.v1.opt']
    path = %[8]q
`, p.containerdRoot, p.state, p.socket, pause, p.runcRoot, p.cniBin, p.cniConf, filepath.Join(p.dir, "containerd", "opt"))
}

// kubeletConfigYAML is the KubeletConfiguration of a node at ip whose
// pods go in cgroupRoot: cgroup v1 allowed (failCgroupV1: false) with the
// cgroupfs driver, no node allocatable enforcement, swap tolerated, x509
// and webhook authentication, its own serving certificate, the cluster's
// DNS Service, image garbage collection and disk eviction off (the
// imported images must stay: nothing can pull them again).
func (p realNodePaths) kubeletConfigYAML(ip, cgroupRoot, caFile string, serving keyPair) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
enforceNodeAllocatable: []
failSwapOn: false
address: %[2]s
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[3]s
authorization:
  mode: Webhook
tlsCertFile: %[4]s
tlsPrivateKeyFile: %[5]s
clusterDomain: cluster.local
clusterDNS: [%[6]s]
resolvConf: %[7]s
podLogsDir: %[8]s
containerRuntimeEndpoint: unix://%[9]s
imageServiceEndpoint: unix://%[9]s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
serializeImagePulls: false
maxPods: 30
`, "/"+cgroupRoot, ip, caFile, serving.CertFile, serving.KeyFile, KubeDNSServiceIP, p.resolv, p.podLogs, p.socket)
}
