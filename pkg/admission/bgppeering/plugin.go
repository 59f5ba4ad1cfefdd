// Package bgppeering is the admission plugin that refuses what breaks BGP
// peering: two local nodes with one router ID (their IPv4 address) in one
// AS, once the cluster uses BGP (BGPInUse), and a BGPPeer whose peerIP is
// the address of a node it selects. AS numbers out of range are refused by
// validation already. Each refusal names the field, its value and the
// object it conflicts with.
package bgppeering

import (
	"context"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	listers "github.com/meshapi/meshapi/pkg/generated/listers/projectcalico/v3"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "BGPPeering"

// Plugin refuses BGP peering conflicts.
type Plugin struct {
	*admission.Handler
	nodes   listers.NodeLister
	peers   listers.BGPPeerLister
	configs listers.BGPConfigurationLister
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin; it needs SetMeshInformers before use.
func New() *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update)}
}

// Register registers the plugin.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) { return New(), nil })
}

// SetMeshInformers registers the informers the plugin reads; it admits
// nothing until they have synced.
func (p *Plugin) SetMeshInformers(f informers.SharedInformerFactory) {
	v3i := f.Projectcalico().V3()
	node, peer, cfg := v3i.Nodes(), v3i.BGPPeers(), v3i.BGPConfigurations()
	p.nodes, p.peers, p.configs = node.Lister(), peer.Lister(), cfg.Lister()
	synced := []func() bool{node.Informer().HasSynced, peer.Informer().HasSynced, cfg.Informer().HasSynced}
	p.SetReadyFunc(func() bool {
		for _, s := range synced {
			if !s() {
				return false
			}
		}
		return true
	})
}

// ValidateInitialization checks that the informers were set.
func (p *Plugin) ValidateInitialization() error {
	if p.nodes == nil {
		return fmt.Errorf("%s needs the projectcalico.org/v3 informers", PluginName)
	}
	return nil
}

// Validate checks Nodes and BGPPeers.
func (p *Plugin) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().Group != v3.GroupName || a.GetSubresource() != "" {
		return nil
	}
	var errs field.ErrorList
	switch obj := a.GetObject().(type) {
	case *v3.Node:
		if obj.Spec.BGP == nil || obj.Spec.BGP.IPv4Address == "" {
			return nil
		}
		if !p.WaitForReady() {
			return admission.NewForbidden(a, fmt.Errorf("not yet ready to check BGP peering"))
		}
		nodes, peers, global, err := p.read()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if !BGPInUse(nodes, peers, global) {
			return nil
		}
		errs = CheckNode(obj, nodes, peers, global)
	case *v3.BGPPeer:
		if obj.Spec.PeerIP == "" {
			return nil
		}
		if !p.WaitForReady() {
			return admission.NewForbidden(a, fmt.Errorf("not yet ready to check BGP peering"))
		}
		nodes, _, _, err := p.read()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		errs = CheckBGPPeer(obj, nodes)
	default:
		return nil
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(a.GetKind().GroupKind(), a.GetName(), errs)
}

// read lists the nodes, the BGPPeers and the "default" BGPConfiguration
// (nil when absent) from the informers.
func (p *Plugin) read() ([]v3.Node, []v3.BGPPeer, *v3.BGPConfiguration, error) {
	nodePtrs, err := p.nodes.List(labels.Everything())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listing nodes: %w", err)
	}
	peerPtrs, err := p.peers.List(labels.Everything())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listing BGPPeers: %w", err)
	}
	global, err := p.configs.Get(v3.BGPConfigurationName)
	if apierrors.IsNotFound(err) {
		global, err = nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading BGPConfiguration %q: %w", v3.BGPConfigurationName, err)
	}
	nodes := make([]v3.Node, len(nodePtrs))
	for i, n := range nodePtrs {
		nodes[i] = *n
	}
	peers := make([]v3.BGPPeer, len(peerPtrs))
	for i, bp := range peerPtrs {
		peers[i] = *bp
	}
	return nodes, peers, global, nil
}
