package cni

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/meshapi/meshapi/pkg/ipamwire"
)

// PluginType is the "type" of the plugin in a network configuration.
const PluginType = "meshapi"

// IPAM types the configuration may name; both mean meshapi's own IPAM.
const (
	IPAMType       = "meshapi-ipam"
	CalicoIPAMType = "calico-ipam"
)

// NetConf is the plugin's network configuration.
type NetConf struct {
	types.PluginConf
	// IPAMSocket is the Unix socket of meshapi-agent's IPAM service on
	// this node; "" means ipamwire.DefaultSocket.
	IPAMSocket string `json:"ipamSocket,omitempty"`
	// Kubeconfig is accepted, as Calico's conflists carry one, and
	// unused: the plugin makes no API call of its own (the agent's IPAM
	// service does).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// NodeName is this node's name; "" means the hostname.
	NodeName string `json:"nodename,omitempty"`
	// MTU of the pod's interface; 0 means the smallest MTU of the enabled
	// overlays of the default FelixConfiguration (or DefaultMTU).
	MTU int `json:"mtu,omitempty"`
}

// K8sArgs are the CNI_ARGS a Kubernetes runtime passes.
type K8sArgs struct {
	types.CommonArgs
	// K8S_POD_NAMESPACE is the pod's namespace.
	K8S_POD_NAMESPACE types.UnmarshallableString //nolint:revive // the runtime's names
	// K8S_POD_NAME is the pod's name.
	K8S_POD_NAME types.UnmarshallableString //nolint:revive
	// K8S_POD_INFRA_CONTAINER_ID is the sandbox's container ID.
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString //nolint:revive
}

// ParseConf decodes and checks a network configuration, and parses its
// prevResult if it has one.
func ParseConf(data []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decoding the network configuration", err.Error())
	}
	if err := conf.check(); err != nil {
		return nil, err
	}
	if err := version.ParsePrevResult(&conf.PluginConf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decoding prevResult", err.Error())
	}
	if conf.IPAMSocket == "" {
		conf.IPAMSocket = ipamwire.DefaultSocket
	}
	if conf.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, "nodename is empty and the hostname is unknown", err.Error())
		}
		conf.NodeName = strings.ToLower(h)
	}
	return conf, nil
}

// check validates the fields the plugin needs.
func (c *NetConf) check() error {
	bad := func(format string, args ...any) error {
		return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf(format, args...), "")
	}
	switch {
	case c.Name == "":
		return bad("name: must not be empty (it prefixes every IPAM handle)")
	case c.Type != PluginType:
		return bad("type %q: this plugin is %q", c.Type, PluginType)
	case c.IPAM.Type != IPAMType && c.IPAM.Type != CalicoIPAMType:
		return bad("ipam.type %q: must be %q or %q (the plugin is its own IPAM)", c.IPAM.Type, IPAMType, CalicoIPAMType)
	case c.MTU < 0 || c.MTU > 65535:
		return bad("mtu %d: must be 0 (from the FelixConfiguration) or 68..65535", c.MTU)
	case c.MTU > 0 && c.MTU < 68:
		return bad("mtu %d: must be 0 (from the FelixConfiguration) or 68..65535", c.MTU)
	}
	return nil
}

// PodRef is the pod an invocation is for.
type PodRef struct {
	// Namespace and Name name the pod; InfraContainerID is its sandbox.
	Namespace, Name, InfraContainerID string
}

// ParseArgs reads the pod from CNI_ARGS; the namespace and the name are
// required.
func ParseArgs(args string) (PodRef, error) {
	k := K8sArgs{}
	if err := types.LoadArgs(args, &k); err != nil {
		return PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS: "+err.Error(), args)
	}
	p := PodRef{Namespace: string(k.K8S_POD_NAMESPACE), Name: string(k.K8S_POD_NAME), InfraContainerID: string(k.K8S_POD_INFRA_CONTAINER_ID)}
	if p.Namespace == "" || p.Name == "" {
		return PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables,
			"CNI_ARGS: K8S_POD_NAMESPACE and K8S_POD_NAME are required", args)
	}
	return p, nil
}

// Handle is the IPAM handle of an attachment: "<network>.<containerID>"
// (ipamwire.Handle).
func Handle(network, containerID string) string {
	return ipamwire.Handle(network, containerID)
}
