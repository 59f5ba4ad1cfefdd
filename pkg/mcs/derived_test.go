package mcs

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

func TestDerivedName(t *testing.T) {
	a, b := DerivedName("ns", "web"), DerivedName("ns2", "web")
	if a == b || !strings.HasPrefix(a, "derived-") || len(a) != len("derived-")+10 {
		t.Errorf("DerivedName: %q and %q", a, b)
	}
	if errs := validation.IsDNS1035Label(a); len(errs) > 0 {
		t.Errorf("%q is not a valid Service name: %v", a, errs)
	}
}

func TestDerivedService(t *testing.T) {
	for _, tt := range []struct {
		name      string
		spec      mcsv1alpha1.ServiceImportSpec
		clusterIP string
	}{
		{"ClusterSetIP: the derived Service gets a ClusterIP from the API", mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.ClusterSetIP, SessionAffinity: corev1.ServiceAffinityClientIP,
			Ports: []mcsv1alpha1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}, ""},
		{"Headless: the derived Service is headless", mcsv1alpha1.ServiceImportSpec{Type: mcsv1alpha1.Headless,
			Ports: []mcsv1alpha1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}, corev1.ClusterIPNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := DerivedService("ns", "web", &tt.spec)
			if s.Spec.ClusterIP != tt.clusterIP || s.Spec.Selector != nil || s.Spec.SessionAffinity != tt.spec.SessionAffinity ||
				len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 80 || s.Labels[mcsv1alpha1.LabelServiceName] != "web" {
				t.Errorf("derived Service %+v", s)
			}
		})
	}
}

func TestSlices(t *testing.T) {
	pod := func(name, ip string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To("node-1"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: name, Namespace: "ns"}}
	}
	ports := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}
	src := []*discoveryv1.EndpointSlice{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}, AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: []discoveryv1.Endpoint{pod("web-b", "198.18.1.2")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-2"}, AddressType: discoveryv1.AddressTypeIPv4, Ports: ports, Endpoints: []discoveryv1.Endpoint{pod("web-a", "198.18.1.1")}},
	}
	for _, tt := range []struct {
		name      string
		typ       mcsv1alpha1.ServiceImportType
		src       Source
		hostnames string
		targets   bool
	}{
		{"EndpointSlice: a remote cluster's endpoints in one slice, without its targetRefs and node names", mcsv1alpha1.ClusterSetIP, Source{Cluster: "cluster-b", Slices: src}, ",", false},
		{"EndpointSlice: the local cluster's endpoints keep their targetRefs", mcsv1alpha1.ClusterSetIP, Source{Cluster: "cluster-a", Local: true, Slices: src}, ",", true},
		{"DNS: a Headless import's endpoints carry a hostname, their Pod's name", mcsv1alpha1.Headless, Source{Cluster: "cluster-b", Slices: src}, "web-a,web-b", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Slices("ns", "web", tt.typ, tt.src)
			if len(got) != 1 {
				t.Fatalf("%d slices, want 1", len(got))
			}
			s := got[0]
			wantLabels := map[string]string{mcsv1alpha1.LabelServiceName: "web", mcsv1alpha1.LabelSourceCluster: tt.src.Cluster,
				discoveryv1.LabelManagedBy: ManagedBy, discoveryv1.LabelServiceName: DerivedName("ns", "web")}
			for k, v := range wantLabels {
				if s.Labels[k] != v {
					t.Errorf("label %s=%q, want %q", k, s.Labels[k], v)
				}
			}
			if s.Name != DerivedName("ns", "web")+"-"+tt.src.Cluster || len(s.Endpoints) != 2 || s.Endpoints[0].Addresses[0] != "198.18.1.1" {
				t.Errorf("slice %s endpoints %+v", s.Name, s.Endpoints)
			}
			var hosts []string
			for _, ep := range s.Endpoints {
				hosts = append(hosts, ptr.Deref(ep.Hostname, ""))
				if (ep.TargetRef != nil) != tt.targets || (ep.NodeName != nil) != tt.targets {
					t.Errorf("endpoint %v: targetRef %v nodeName %v", ep.Addresses, ep.TargetRef, ep.NodeName)
				}
			}
			if strings.Join(hosts, ",") != tt.hostnames {
				t.Errorf("hostnames %q, want %q", strings.Join(hosts, ","), tt.hostnames)
			}
		})
	}
	if got := Slices("ns", "web", mcsv1alpha1.ClusterSetIP, Source{Cluster: "cluster-c"}); len(got) != 1 || len(got[0].Endpoints) != 0 {
		t.Errorf("a source without endpoints: %+v, want one empty slice", got)
	}
}
