package federation

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

// fed is the seed's federated Service, in namespace bookinfo.
func fed(mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "bookinfo", UID: "fed-uid",
			Annotations: map[string]string{AnnotationServiceSelector: `app == "reviews"`}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 9080, Protocol: corev1.ProtocolTCP}}},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func svc(ns, name string, labels map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}}
}

type ep struct {
	ip, pod string
	ready   *bool
	term    *bool
}

func slice(ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4, Ports: ports}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Terminating: e.term},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: e.pod, Namespace: "bookinfo", UID: "u"},
		})
	}
	return s
}

func port(name string, proto corev1.Protocol, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Protocol: ptr(proto), Port: ptr(n)}
}

func TestSelector(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*corev1.Service)
		wantErr string
	}{
		{"the seed's selector", nil, ""},
		{"spec.selector as well", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "reviews"} }, "must not have spec.selector"},
		{"bad selector", func(s *corev1.Service) { s.Annotations[AnnotationServiceSelector] = `app == ` }, "annotation federation.tigera.io/serviceSelector"},
	} {
		_, err := Selector(fed(tc.mutate))
		if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestSelects(t *testing.T) {
	f := fed(nil)
	sel, err := Selector(f)
	if err != nil {
		t.Fatal(err)
	}
	other := fed(nil)
	other.Name, other.Labels = "reviews-all", map[string]string{"app": "reviews"}
	for _, tc := range []struct {
		name string
		b    *corev1.Service
		want bool
	}{
		{"same namespace, matching labels", svc("bookinfo", "reviews-v1", map[string]string{"app": "reviews"}), true},
		{"other namespace", svc("default", "reviews-v1", map[string]string{"app": "reviews"}), false},
		{"labels do not match", svc("bookinfo", "ratings", map[string]string{"app": "ratings"}), false},
		{"no labels", svc("bookinfo", "x", nil), false},
		{"a federated service never backs another", other, false},
	} {
		if got := Selects(f, sel, tc.b); got != tc.want {
			t.Errorf("%s: Selects = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The seed's bookinfo: reviews-v1 locally, reviews-v2 and v3 in cluster 3.
func TestSlicesBookinfo(t *testing.T) {
	http := []discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9080)}
	got := Slices(fed(nil), []Backing{
		{Service: svc("bookinfo", "reviews-v1", nil), Slices: []*discoveryv1.EndpointSlice{slice(http, ep{ip: "198.18.1.10", pod: "reviews-v1-a"})}},
		{Cluster: "uc-aks-prod-03", Service: svc("bookinfo", "reviews-v2", nil), Slices: []*discoveryv1.EndpointSlice{slice(http, ep{ip: "198.18.3.20", pod: "reviews-v2-b"})}},
		{Cluster: "uc-aks-prod-03", Service: svc("bookinfo", "reviews-v3", nil), Slices: []*discoveryv1.EndpointSlice{slice(http, ep{ip: "198.18.3.30", pod: "reviews-v3-c"})}},
	})
	if len(got) != 2 {
		t.Fatalf("%d slices, want one per cluster", len(got))
	}
	local, remote := got[0], got[1]
	if local.Name != "reviews-local-1" || remote.Name != "reviews-uc-aks-prod-03-1" {
		t.Errorf("names %s, %s", local.Name, remote.Name)
	}
	if remote.Labels["projectcalico.org/cluster"] != "uc-aks-prod-03" || local.Labels["projectcalico.org/cluster"] != "" {
		t.Errorf("cluster labels %v / %v", local.Labels, remote.Labels)
	}
	for _, s := range got {
		if s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels[discoveryv1.LabelServiceName] != "reviews" || s.OwnerReferences[0].UID != "fed-uid" {
			t.Errorf("slice %s metadata %+v", s.Name, s.ObjectMeta)
		}
	}
	if len(remote.Endpoints) != 2 || remote.Endpoints[0].Addresses[0] != "198.18.3.20" || remote.Endpoints[0].TargetRef.Name != "uc-aks-prod-03/reviews-v2-b" {
		t.Errorf("remote endpoints %+v", remote.Endpoints)
	}
	if local.Endpoints[0].TargetRef.Name != "reviews-v1-a" || local.Endpoints[0].TargetRef.UID != "u" {
		t.Errorf("local target kept as is: %+v", local.Endpoints[0].TargetRef)
	}
	eps := Endpoints(fed(nil), got)
	if len(eps.Subsets) != 1 || len(eps.Subsets[0].Addresses) != 3 || eps.Subsets[0].Ports[0].Port != 9080 {
		t.Errorf("Endpoints %+v", eps.Subsets)
	}
}

func TestSlicesPortsAndAddresses(t *testing.T) {
	two := fed(func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}
	})
	for _, tc := range []struct {
		name     string
		fed      *corev1.Service
		backings []Backing
		// want: per slice, "ip:ready" addresses and "name/proto/port" ports.
		wantAddrs [][]string
		wantPorts []string
	}{
		{
			name: "ports matched by name and protocol, target port from the backing",
			fed:  two,
			backings: []Backing{{Slices: []*discoveryv1.EndpointSlice{slice(
				[]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 8080), port("dns", corev1.ProtocolTCP, 5353), port("dns", corev1.ProtocolUDP, 5353)},
				ep{ip: "198.18.0.1"})}}},
			wantAddrs: [][]string{{"198.18.0.1:true"}},
			wantPorts: []string{"http/TCP/8080,dns/UDP/5353"},
		},
		{
			name:     "a backing slice without any of the ports is left out",
			fed:      fed(nil),
			backings: []Backing{{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("grpc", corev1.ProtocolTCP, 9000)}, ep{ip: "198.18.0.1"})}}},
		},
		{
			name: "not-ready and terminating addresses are kept, not ready",
			fed:  fed(nil),
			backings: []Backing{{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9080)},
				ep{ip: "198.18.0.1", ready: ptr(false)}, ep{ip: "198.18.0.2", ready: ptr(true), term: ptr(true)}, ep{ip: "198.18.0.3"})}}},
			wantAddrs: [][]string{{"198.18.0.1:false", "198.18.0.2:false", "198.18.0.3:true"}},
			wantPorts: []string{"http/TCP/9080"},
		},
		{
			name: "an IP backing two services appears once, ready if either says so",
			fed:  fed(nil),
			backings: []Backing{
				{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9080)}, ep{ip: "198.18.0.1", ready: ptr(false)})}},
				{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9080)}, ep{ip: "198.18.0.1", ready: ptr(true)})}},
			},
			wantAddrs: [][]string{{"198.18.0.1:true"}},
			wantPorts: []string{"http/TCP/9080"},
		},
		{
			name: "different target ports make different slices",
			fed:  fed(nil),
			backings: []Backing{
				{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9080)}, ep{ip: "198.18.0.1"})}},
				{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9090)}, ep{ip: "198.18.0.2"})}},
			},
			wantAddrs: [][]string{{"198.18.0.1:true"}, {"198.18.0.2:true"}},
			wantPorts: []string{"http/TCP/9080", "http/TCP/9090"},
		},
		{
			name: "an unnamed port matches an unnamed port of the same protocol",
			fed: fed(func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{{Port: 80}}
			}),
			backings:  []Backing{{Slices: []*discoveryv1.EndpointSlice{slice([]discoveryv1.EndpointPort{port("", corev1.ProtocolTCP, 8080)}, ep{ip: "198.18.0.1"})}}},
			wantAddrs: [][]string{{"198.18.0.1:true"}},
			wantPorts: []string{"/TCP/8080"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Slices(tc.fed, tc.backings)
			if len(got) != len(tc.wantAddrs) {
				t.Fatalf("%d slices, want %d", len(got), len(tc.wantAddrs))
			}
			for i, s := range got {
				var addrs []string
				for _, e := range s.Endpoints {
					addrs = append(addrs, e.Addresses[0]+":"+map[bool]string{true: "true", false: "false"}[*e.Conditions.Ready])
				}
				if strings.Join(addrs, " ") != strings.Join(tc.wantAddrs[i], " ") {
					t.Errorf("slice %d addresses %v, want %v", i, addrs, tc.wantAddrs[i])
				}
				if k := portsKey(s.Ports); k != tc.wantPorts[i] {
					t.Errorf("slice %d ports %s, want %s", i, k, tc.wantPorts[i])
				}
			}
		})
	}
}

func TestSlicesSplitAndFamilies(t *testing.T) {
	http := []discoveryv1.EndpointPort{port("http", corev1.ProtocolTCP, 9080)}
	var eps []ep
	for i := 0; i < 250; i++ {
		eps = append(eps, ep{ip: fmt.Sprintf("198.18.%d.%d", i/200, i%200+1)})
	}
	eps = append(eps, ep{ip: "fd00::1"})
	got := Slices(fed(nil), []Backing{{Slices: []*discoveryv1.EndpointSlice{slice(http, eps...)}}})
	var v4, v6, total int
	for _, s := range got {
		if len(s.Endpoints) > maxEndpointsPerSlice {
			t.Errorf("slice %s has %d endpoints", s.Name, len(s.Endpoints))
		}
		total += len(s.Endpoints)
		if s.AddressType == discoveryv1.AddressTypeIPv6 {
			v6++
		} else {
			v4++
		}
	}
	if total != 251 || v4 != 3 || v6 != 1 {
		t.Errorf("total %d endpoints in %d IPv4 and %d IPv6 slices, want 251 in 3 and 1", total, v4, v6)
	}
}
