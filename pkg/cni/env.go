package cni

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// Timeout bounds one invocation of the plugin.
const Timeout = 2 * time.Minute

// AssignRequest asks the IPAM for the addresses of one attachment.
type AssignRequest struct {
	// Handle names the attachment ("<network>.<containerID>").
	Handle string
	// Node allocates from its own blocks first.
	Node string
	// Attrs are recorded with the allocation (namespace, pod, node, type).
	Attrs map[string]string
	// Pools restricts the allocation to these IPPools (by name or CIDR);
	// empty means every enabled pool that admits the node.
	Pools []string
	// Requested are specific addresses to assign instead.
	Requested []netip.Addr
}

// IPAM is the allocator the plugin uses: meshapi's IPAM (pkg/ipam)
// through NewIPAM, or another implementation in tests of the plugin's
// callers.
type IPAM interface {
	// Assign returns the addresses of req.Handle, allocating them if the
	// handle holds none yet.
	Assign(ctx context.Context, req AssignRequest) ([]netip.Addr, error)
	// ReleaseByHandle frees a handle's addresses; an unknown handle is
	// not an error.
	ReleaseByHandle(ctx context.Context, handle string) ([]netip.Addr, error)
	// AddressesByHandle lists a handle's addresses.
	AddressesByHandle(ctx context.Context, handle string) ([]netip.Addr, error)
	// PodHandles lists the handles of the pod allocations made for node
	// (attribute node), in any block.
	PodHandles(ctx context.Context, node string) ([]string, error)
}

// Env is what one invocation works with: its configuration and its
// clients.
type Env struct {
	// Conf is the network configuration.
	Conf *NetConf
	// Pods reads the pod's annotations.
	Pods corev1client.PodsGetter
	// Calico reads the FelixConfiguration and the IPPools.
	Calico versioned.Interface
	// IPAM allocates the addresses.
	IPAM IPAM
}

// NewEnv builds the clients from conf.Kubeconfig; newIPAM makes the
// allocator on the projectcalico.org/v3 client.
func NewEnv(conf *NetConf, newIPAM func(versioned.Interface) IPAM) (*Env, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", conf.Kubeconfig)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig,
			fmt.Sprintf("kubeconfig %s: %v", conf.Kubeconfig, err), "")
	}
	cfg.Timeout = 30 * time.Second
	cfg.QPS, cfg.Burst = 100, 200
	cfg.UserAgent = "meshapi-cni"
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("kubeconfig %s: core client: %v", conf.Kubeconfig, err), "")
	}
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("kubeconfig %s: projectcalico.org/v3 client: %v", conf.Kubeconfig, err), "")
	}
	return &Env{Conf: conf, Pods: core, Calico: cs, IPAM: newIPAM(cs)}, nil
}
