package v3

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group served by meshapi.
const GroupName = "projectcalico.org"

// SchemeGroupVersion is the one served group version, projectcalico.org/v3.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v3"}

// internalGroupVersion registers the same Go types as the group's internal
// version. The generic API server converts every request to the internal
// version before it reaches a strategy; registering the served types there
// too makes that conversion the identity, without a separate hub type.
var internalGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

var (
	// SchemeBuilder collects the functions that add this group to a scheme.
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	// AddToScheme adds projectcalico.org/v3 (types, defaulters) to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// Generated defaulters register themselves in zz_generated.defaults.go.
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addFieldLabelConversions)
}

// Resource returns the group-qualified resource for an unqualified resource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// knownTypes lists every kind of the group with its list kind (MirrorBatch,
// which is never stored, has none).
func knownTypes() []runtime.Object {
	return []runtime.Object{
		&RemoteClusterConfiguration{}, &RemoteClusterConfigurationList{},
		&IPPool{}, &IPPoolList{},
		&IPAMBlock{}, &IPAMBlockList{},
		&IPAMConfiguration{}, &IPAMConfigurationList{},
		&FelixConfiguration{}, &FelixConfigurationList{},
		&Node{}, &NodeList{},
		&HostEndpoint{}, &HostEndpointList{},
		&Profile{}, &ProfileList{},
		&Tier{}, &TierList{},
		&GlobalNetworkPolicy{}, &GlobalNetworkPolicyList{},
		&WorkloadEndpoint{}, &WorkloadEndpointList{},
		&NetworkPolicy{}, &NetworkPolicyList{},
		&BGPConfiguration{}, &BGPConfigurationList{},
		&BGPPeer{}, &BGPPeerList{},
		&MirrorBatch{},
	}
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, knownTypes()...)
	scheme.AddKnownTypes(internalGroupVersion, knownTypes()...)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// addFieldLabelConversions lets field selectors on endpoints use spec.node
// besides the metadata fields every kind has.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	for _, kind := range []string{"WorkloadEndpoint", "HostEndpoint"} {
		if err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "metadata.namespace", "spec.node":
				return label, value, nil
			}
			return "", "", fmt.Errorf("field label %q is not supported for %s: use metadata.name, metadata.namespace or spec.node", label, kind)
		}); err != nil {
			return err
		}
	}
	return nil
}
