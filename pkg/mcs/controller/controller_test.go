package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"

	"github.com/meshapi/meshapi/pkg/mcs"
	"github.com/meshapi/meshapi/pkg/remotecluster"
)

func TestDerivedDiffers(t *testing.T) {
	spec := &mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityNone,
		Ports: []mcsv1alpha1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}
	want := mcs.DerivedService("ns", "web", spec)
	// As the API server returns it: ClusterIP allocated, targetPort and
	// internalTrafficPolicy defaulted.
	served := func(f func(*corev1.Service)) *corev1.Service {
		s := want.DeepCopy()
		s.Spec.ClusterIP = "10.96.0.7"
		s.Spec.Ports[0].TargetPort = intstr.FromInt32(80)
		s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
		if f != nil {
			f(s)
		}
		return s
	}
	for _, tt := range []struct {
		name string
		have *corev1.Service
		want bool
	}{
		{"fields the API server defaults are not a difference", served(nil), false},
		{"another port number", served(func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080 }), true},
		{"a port more", served(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "grpc", Port: 9000, Protocol: corev1.ProtocolTCP})
		}), true},
		{"another session affinity", served(func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := derivedDiffers(tt.have, want); got != tt.want {
				t.Errorf("derivedDiffers = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExportedAndKeptSlices(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{remotecluster.SliceServiceIndex: func(obj any) ([]string, error) {
		s := obj.(*discoveryv1.EndpointSlice)
		return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
	}})
	slice := func(name string, labels map[string]string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: labels}}
	}
	derived := mcs.DerivedName("ns", "web")
	for _, s := range []*discoveryv1.EndpointSlice{
		slice("web-abc", map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}),
		slice(derived+"-b", map[string]string{discoveryv1.LabelServiceName: derived, discoveryv1.LabelManagedBy: mcs.ManagedBy, mcsv1alpha1.LabelSourceCluster: "b"}),
		slice(derived+"-c", map[string]string{discoveryv1.LabelServiceName: derived, discoveryv1.LabelManagedBy: mcs.ManagedBy, mcsv1alpha1.LabelSourceCluster: "c"}),
	} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := exportedSlices(idx, "ns", "web"); len(got) != 1 || got[0].Name != "web-abc" {
		t.Errorf("exportedSlices: %v", got)
	}
	c := &Controller{slices: idx}
	if got := c.managedSlices("ns", "web"); len(got) != 2 {
		t.Errorf("managedSlices: %d, want 2", len(got))
	}
	if got := c.keptSlices("ns", "web", map[string]bool{"c": true}); len(got) != 1 || got[0].Name != derived+"-c" {
		t.Errorf("keptSlices of the unknown cluster c: %v", got)
	}
}
