package integration

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned/scheme"
)

func corev1Ref(name string) corev1.ObjectReference {
	return *secretRef(name)
}

func clientScheme() runtime.NegotiatedSerializer {
	return serializer.NewCodecFactory(scheme.Scheme).WithoutConversion()
}
