package mcs

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// EndpointSlices meshapi-controller writes for ServiceImports, and the
// app.kubernetes.io/managed-by value of their derived Services.
const ManagedBy = "mcs-controller.meshapi.projectcalico.org"

// LabelManagedBy marks a derived Service as meshapi's.
const LabelManagedBy = "app.kubernetes.io/managed-by"

// DerivedName is the name of the Service that gives the import
// namespace/name its ClusterSetIP: "derived-" and ten characters of a
// hash of namespace/name, as the mcs-api reference controller and
// Cilium name it (no clash with a user's Service of the import's name).
func DerivedName(namespace, name string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return "derived-" + strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:10]
}

// DerivedService is the Service without selector whose ClusterIP
// kube-proxy programs for the import ("ClusterSetIP"): the import's ports,
// session affinity and internalTrafficPolicy; clusterIP None for a
// Headless import.
func DerivedService(namespace, name string, spec *mcsv1alpha1.ServiceImportSpec) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: DerivedName(namespace, name), Namespace: namespace,
			Labels: map[string]string{mcsv1alpha1.LabelServiceName: name, LabelManagedBy: ManagedBy},
		},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			SessionAffinity:       spec.SessionAffinity,
			SessionAffinityConfig: spec.SessionAffinityConfig.DeepCopy(),
			InternalTrafficPolicy: spec.InternalTrafficPolicy,
			TrafficDistribution:   spec.TrafficDistribution,
		},
	}
	if spec.Type == mcsv1alpha1.Headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	for _, p := range spec.Ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, AppProtocol: p.AppProtocol})
	}
	return svc
}

// Source is one source cluster's EndpointSlices of an exported Service.
type Source struct {
	// Cluster is the source cluster's id.
	Cluster string
	// Local is true for this cluster's own export: its endpoints keep
	// their targetRef and nodeName, which name local objects.
	Local bool
	// Slices are the exported Service's EndpointSlices in that cluster.
	Slices []*discoveryv1.EndpointSlice
}

// Slices returns the EndpointSlices of the import namespace/name from one
// source cluster: one per address type and set of ports (one in
// practice), labelled as KEP-1645 says ("EndpointSlice":
// multicluster.kubernetes.io/service-name and source-cluster, managed-by
// meshapi) and with kubernetes.io/service-name the derived Service, so
// that kube-proxy programs the ClusterSetIP. Endpoints of a Headless
// import carry a hostname (the endpoint's, else its Pod's name) for
// <hostname>.<cluster>.<svc>.<ns>.svc.clusterset.local.
func Slices(namespace, name string, typ mcsv1alpha1.ServiceImportType, src Source) []*discoveryv1.EndpointSlice {
	groups := map[string]*discoveryv1.EndpointSlice{}
	for _, s := range src.Slices {
		key := string(s.AddressType) + "|" + portsKey(s.Ports)
		out, ok := groups[key]
		if !ok {
			out = &discoveryv1.EndpointSlice{AddressType: s.AddressType, Ports: s.Ports}
			groups[key] = out
		}
		for _, ep := range s.Endpoints {
			out.Endpoints = append(out.Endpoints, importedEndpoint(ep, typ, src.Local))
		}
	}
	if len(groups) == 0 {
		// A source without endpoints still has its (empty) slice: the
		// import shows every exporting cluster.
		groups[""] = &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*discoveryv1.EndpointSlice, 0, len(keys))
	for i, k := range keys {
		s := groups[k]
		s.Name = SliceName(namespace, name, src.Cluster, i)
		s.Namespace = namespace
		s.Labels = map[string]string{
			mcsv1alpha1.LabelServiceName:   name,
			mcsv1alpha1.LabelSourceCluster: src.Cluster,
			discoveryv1.LabelManagedBy:     ManagedBy,
			discoveryv1.LabelServiceName:   DerivedName(namespace, name),
		}
		sort.Slice(s.Endpoints, func(a, b int) bool {
			return strings.Join(s.Endpoints[a].Addresses, ",") < strings.Join(s.Endpoints[b].Addresses, ",")
		})
		out = append(out, s)
	}
	return out
}

// SliceName names the i-th EndpointSlice of an import from a cluster:
// the derived Service's name, the cluster, and the index after the first.
func SliceName(namespace, name, cluster string, i int) string {
	n := DerivedName(namespace, name) + "-" + cluster
	if i > 0 {
		n += fmt.Sprintf("-%d", i)
	}
	return n
}

// importedEndpoint copies an endpoint; a remote one loses the names of
// objects of its own cluster (targetRef, nodeName).
func importedEndpoint(ep discoveryv1.Endpoint, typ mcsv1alpha1.ServiceImportType, local bool) discoveryv1.Endpoint {
	out := *ep.DeepCopy()
	if typ == mcsv1alpha1.Headless && out.Hostname == nil && ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
		h := ep.TargetRef.Name
		out.Hostname = &h
	}
	if !local {
		out.TargetRef, out.NodeName = nil, nil
	}
	return out
}

// portsKey identifies a set of EndpointSlice ports.
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		var name, proto string
		var port int32
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		if p.Port != nil {
			port = *p.Port
		}
		parts = append(parts, fmt.Sprintf("%s/%d/%s", name, port, proto))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
