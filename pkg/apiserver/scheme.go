package apiserver

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// NewScheme returns a scheme with projectcalico.org/v3 and the meta types
// the generic API server needs, and its codec factory.
func NewScheme() (*runtime.Scheme, serializer.CodecFactory) {
	scheme := runtime.NewScheme()
	utilruntime.Must(v3.AddToScheme(scheme))
	// The generic server decodes list and get options in "v1" of the
	// empty group and serves unversioned status and discovery types.
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
	return scheme, serializer.NewCodecFactory(scheme)
}

// withoutProtobuf is a NegotiatedSerializer that does not offer protobuf.
// projectcalico.org/v3 has no protobuf encoding; advertising it would make
// clients that prefer protobuf (the metadata client used by namespace
// deletion and garbage collection, kube-controller-manager) ask for an
// encoding the objects do not have. Without it they fall back to JSON;
// partial-object metadata is still served as JSON or YAML.
type withoutProtobuf struct {
	runtime.NegotiatedSerializer
}

// SupportedMediaTypes returns every media type of the codec factory but protobuf.
func (s withoutProtobuf) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, info := range s.NegotiatedSerializer.SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeProtobuf {
			continue
		}
		out = append(out, info)
	}
	return out
}
