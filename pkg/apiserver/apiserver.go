// Package apiserver wires the projectcalico.org/v3 API group into a generic
// Kubernetes API server: the scheme, one etcd-backed store per resource, and
// the options of the meshapi-apiserver command (delegated or standalone
// authentication, embedded or external etcd).
package apiserver

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/bgpconfiguration"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/bgppeer"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/felixconfiguration"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/globalnetworkpolicy"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/hostendpoint"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/ipamblock"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/ipamconfiguration"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/ippool"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/mirrorbatch"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/networkpolicy"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/node"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/profile"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/registry"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/remoteclusterconfiguration"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/tier"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/workloadendpoint"
)

// Config is the configuration of a meshapi API server.
type Config struct {
	// GenericConfig is the generic API server's configuration.
	GenericConfig *genericapiserver.RecommendedConfig
	// Scheme and Codecs hold projectcalico.org/v3.
	Scheme *runtime.Scheme
	Codecs serializer.CodecFactory
	// MeshInformers are the admission plugins' informers on the server's
	// own API, started once it serves; nil if no plugin reads it.
	MeshInformers informers.SharedInformerFactory
	// Credentials says whether RemoteClusterConfigurations may hold inline
	// credentials and who reads them back.
	Credentials remoteclusterconfiguration.CredentialPolicy
}

// CompletedConfig is a Config whose defaults have been filled.
type CompletedConfig struct {
	generic       genericapiserver.CompletedConfig
	scheme        *runtime.Scheme
	codecs        serializer.CodecFactory
	meshInformers informers.SharedInformerFactory
	credentials   remoteclusterconfiguration.CredentialPolicy
}

// Complete fills the generic configuration's defaults.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{generic: c.GenericConfig.Complete(), scheme: c.Scheme, codecs: c.Codecs, meshInformers: c.MeshInformers, credentials: c.Credentials}
}

// Server is a meshapi API server.
type Server struct {
	// GenericAPIServer serves the group.
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// New builds the server and installs projectcalico.org/v3.
func (c CompletedConfig) New() (*Server, error) {
	generic, err := c.generic.New("meshapi-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("building the generic API server: %w", err)
	}
	storage, err := newStorage(c.scheme, c.generic.RESTOptionsGetter, c.credentials)
	if err != nil {
		return nil, err
	}
	batches, err := mirrorbatch.NewREST(storage["workloadendpoints"].(rest.Creater), c.generic.Authorization.Authorizer,
		c.generic.AdmissionControl, admission.NewObjectInterfacesFromScheme(c.scheme))
	if err != nil {
		return nil, err
	}
	storage["mirrorbatches"] = batches
	group := genericapiserver.NewDefaultAPIGroupInfo(v3.GroupName, c.scheme, metav1.ParameterCodec, c.codecs)
	group.NegotiatedSerializer = withoutProtobuf{c.codecs}
	group.VersionedResourcesStorageMap[v3.SchemeGroupVersion.Version] = storage
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", v3.SchemeGroupVersion, err)
	}
	if f := c.meshInformers; f != nil {
		if err := generic.AddPostStartHook("start-meshapi-admission-informers", func(ctx genericapiserver.PostStartHookContext) error {
			f.Start(ctx.Done())
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return &Server{GenericAPIServer: generic}, nil
}

// newStorage builds the store of every resource of the group.
func newStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, creds remoteclusterconfiguration.CredentialPolicy) (map[string]rest.Storage, error) {
	storage := map[string]rest.Storage{}
	fail := func(resource string, err error) (map[string]rest.Storage, error) {
		return nil, fmt.Errorf("building storage for %s: %w", resource, err)
	}

	pools, poolStatus, err := ippool.NewREST(scheme, optsGetter)
	if err != nil {
		return fail("ippools", err)
	}
	storage["ippools"], storage["ippools/status"] = pools, poolStatus

	felix, err := felixconfiguration.NewREST(scheme, optsGetter)
	if err != nil {
		return fail("felixconfigurations", err)
	}
	storage["felixconfigurations"] = felix

	rcc, rccStatus, err := remoteclusterconfiguration.NewREST(scheme, optsGetter,
		&remoteclusterconfiguration.OverlayDefaulter{Pools: pools, Felix: felix}, creds)
	if err != nil {
		return fail("remoteclusterconfigurations", err)
	}
	storage["remoteclusterconfigurations"], storage["remoteclusterconfigurations/status"] = rcc, rccStatus

	nodes, nodeStatus, err := node.NewREST(scheme, optsGetter)
	if err != nil {
		return fail("nodes", err)
	}
	storage["nodes"], storage["nodes/status"] = nodes, nodeStatus

	blocks, err := ipamblock.NewREST(scheme, optsGetter)
	if err != nil {
		return fail("ipamblocks", err)
	}
	storage["ipamblocks"] = blocks

	for resource, build := range map[string]func(runtime.ObjectTyper, generic.RESTOptionsGetter) (*registry.REST, error){
		"ipamconfigurations":    ipamconfiguration.NewREST,
		"hostendpoints":         hostendpoint.NewREST,
		"profiles":              profile.NewREST,
		"tiers":                 tier.NewREST,
		"globalnetworkpolicies": globalnetworkpolicy.NewREST,
		"networkpolicies":       networkpolicy.NewREST,
		"workloadendpoints":     workloadendpoint.NewREST,
		"bgpconfigurations":     bgpconfiguration.NewREST,
		"bgppeers":              bgppeer.NewREST,
	} {
		s, err := build(scheme, optsGetter)
		if err != nil {
			return fail(resource, err)
		}
		storage[resource] = s
	}
	return storage, nil
}
