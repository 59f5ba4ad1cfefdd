// Package federation computes the endpoints of federated Services: a
// Service annotated federation.tigera.io/serviceSelector, with no
// spec.selector, is backed by the Services of its namespace, in this
// cluster and in every remote cluster of the mesh, whose labels match the
// annotation's selector. Its EndpointSlices carry the backing Services'
// endpoint addresses, pod IPs preserved, with ports matched by name and
// protocol; each slice holds the addresses of one cluster.
package federation

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// AnnotationServiceSelector marks a federated Service, as in the original.
const AnnotationServiceSelector = "federation.tigera.io/serviceSelector"

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// slices meshapi writes, so that the EndpointSlice controller leaves them
// alone.
const ManagedBy = "federation.meshapi.projectcalico.org"

// maxEndpointsPerSlice is the EndpointSlice controller's default.
const maxEndpointsPerSlice = 100

// Backing is a Service that may back a federated Service, with its
// EndpointSlices, from one cluster ("" for the local cluster).
type Backing struct {
	// Cluster is the RemoteClusterConfiguration name, or "" for local.
	Cluster string
	// Service is the backing Service.
	Service *corev1.Service
	// Slices are the Service's EndpointSlices.
	Slices []*discoveryv1.EndpointSlice
}

// IsFederated reports whether svc is a federated Service (it has the
// annotation, whatever else is wrong with it).
func IsFederated(svc *corev1.Service) bool {
	_, ok := svc.Annotations[AnnotationServiceSelector]
	return ok
}

// Selector parses the federated Service's selector and checks that the
// Service can be federated; the error says what to fix.
func Selector(fed *corev1.Service) (selector.Selector, error) {
	if len(fed.Spec.Selector) > 0 {
		return nil, fmt.Errorf("a federated Service must not have spec.selector: remove it, or the annotation %s", AnnotationServiceSelector)
	}
	sel, err := selector.Parse(fed.Annotations[AnnotationServiceSelector])
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationServiceSelector, err)
	}
	return sel, nil
}

// Selects reports whether the backing Service b backs fed: the same
// namespace, labels matching the selector, and not itself federated.
func Selects(fed *corev1.Service, sel selector.Selector, b *corev1.Service) bool {
	return b.Namespace == fed.Namespace && !IsFederated(b) && sel.Evaluate(b.Labels)
}

// addressKey identifies an address of the federated Service: one per IP.
type addressKey struct {
	cluster, ip string
}

// address is one endpoint of the federated Service.
type address struct {
	cluster  string
	ip       string
	ready    bool
	target   *corev1.ObjectReference
	hostname *string
	ports    []discoveryv1.EndpointPort
}

// Slices returns the EndpointSlices of fed from its backing Services: one
// or more per cluster and address family, named "<fed>-<cluster>-<n>" (the
// local cluster is "local"), labelled with the Service name, managed-by
// meshapi and, for remote clusters, projectcalico.org/cluster. An address
// appears once per IP even when several backing Services have it; it is
// ready if any of them says so. Ports are the federated Service's ports,
// matched by name and protocol in each backing slice; an address whose
// backing slice has none of them is left out.
func Slices(fed *corev1.Service, backings []Backing) []*discoveryv1.EndpointSlice {
	addrs := map[addressKey]*address{}
	for _, b := range backings {
		for _, slice := range b.Slices {
			ports := matchPorts(fed, slice.Ports)
			if len(ports) == 0 {
				continue
			}
			for _, ep := range slice.Endpoints {
				ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
				if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
					ready = false
				}
				for _, ip := range ep.Addresses {
					k := addressKey{b.Cluster, ip}
					a := addrs[k]
					if a == nil {
						a = &address{cluster: b.Cluster, ip: ip, target: remoteTarget(b.Cluster, ep.TargetRef), hostname: ep.Hostname, ports: ports}
						addrs[k] = a
					}
					a.ready = a.ready || ready
				}
			}
		}
	}
	type group struct {
		cluster string
		family  discoveryv1.AddressType
		portKey string
	}
	grouped := map[group][]*address{}
	for _, a := range addrs {
		family := discoveryv1.AddressTypeIPv4
		if strings.Contains(a.ip, ":") {
			family = discoveryv1.AddressTypeIPv6
		}
		g := group{a.cluster, family, portsKey(a.ports)}
		grouped[g] = append(grouped[g], a)
	}
	groups := make([]group, 0, len(grouped))
	for g := range grouped {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(x, y group) int {
		return cmp.Or(cmp.Compare(x.cluster, y.cluster), cmp.Compare(x.family, y.family), cmp.Compare(x.portKey, y.portKey))
	})
	var out []*discoveryv1.EndpointSlice
	n := map[string]int{}
	for _, g := range groups {
		as := grouped[g]
		slices.SortFunc(as, func(x, y *address) int { return cmp.Compare(x.ip, y.ip) })
		for start := 0; start < len(as); start += maxEndpointsPerSlice {
			chunk := as[start:min(start+maxEndpointsPerSlice, len(as))]
			clusterName := g.cluster
			if clusterName == "" {
				clusterName = "local"
			}
			n[clusterName]++
			out = append(out, newSlice(fed, g.cluster, fmt.Sprintf("%s-%s-%d", fed.Name, clusterName, n[clusterName]), g.family, chunk))
		}
	}
	return out
}

// newSlice builds one EndpointSlice of fed.
func newSlice(fed *corev1.Service, cluster, name string, family discoveryv1.AddressType, as []*address) *discoveryv1.EndpointSlice {
	labels := map[string]string{
		discoveryv1.LabelServiceName: fed.Name,
		discoveryv1.LabelManagedBy:   ManagedBy,
	}
	if cluster != "" {
		labels[v3.LabelCluster] = cluster
	}
	controller := true
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: fed.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: fed.Name, UID: fed.UID, Controller: &controller}},
		},
		AddressType: family,
		Ports:       as[0].ports,
	}
	for _, a := range as {
		ready := a.ready
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{a.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			Hostname:   a.hostname,
			TargetRef:  a.target,
		})
	}
	return s
}

// matchPorts returns the federated Service's ports found, by name and
// protocol, among a backing slice's ports, with the backing port number.
func matchPorts(fed *corev1.Service, backing []discoveryv1.EndpointPort) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for _, fp := range fed.Spec.Ports {
		proto := fp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		for _, bp := range backing {
			bproto := corev1.ProtocolTCP
			if bp.Protocol != nil {
				bproto = *bp.Protocol
			}
			bname := ""
			if bp.Name != nil {
				bname = *bp.Name
			}
			if bname != fp.Name || bproto != proto || bp.Port == nil {
				continue
			}
			name, p := fp.Name, proto
			port := *bp.Port
			out = append(out, discoveryv1.EndpointPort{Name: &name, Protocol: &p, Port: &port, AppProtocol: bp.AppProtocol})
			break
		}
	}
	return out
}

// portsKey identifies a port list, to group addresses that share one.
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port)
	}
	return strings.Join(parts, ",")
}

// remoteTarget names a remote pod "<cluster>/<pod>", so that every address
// says where it came from.
func remoteTarget(cluster string, ref *corev1.ObjectReference) *corev1.ObjectReference {
	if ref == nil {
		return nil
	}
	r := ref.DeepCopy()
	if cluster != "" {
		r.Name = cluster + "/" + r.Name
		r.UID = ""
		r.ResourceVersion = ""
	}
	return r
}

// Endpoints returns the Endpoints object of fed from its EndpointSlices,
// for clients that still read Endpoints (kubectl get endpoints): one
// subset per port list, not-ready addresses apart.
func Endpoints(fed *corev1.Service, endpointSlices []*discoveryv1.EndpointSlice) *corev1.Endpoints {
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: fed.Name, Namespace: fed.Namespace,
		Labels: map[string]string{discoveryv1.LabelManagedBy: ManagedBy},
	}}
	subsets := map[string]*corev1.EndpointSubset{}
	var order []string
	for _, s := range endpointSlices {
		key := portsKey(s.Ports)
		sub := subsets[key]
		if sub == nil {
			sub = &corev1.EndpointSubset{}
			for _, p := range s.Ports {
				sub.Ports = append(sub.Ports, corev1.EndpointPort{Name: *p.Name, Protocol: *p.Protocol, Port: *p.Port, AppProtocol: p.AppProtocol})
			}
			subsets[key] = sub
			order = append(order, key)
		}
		for _, e := range s.Endpoints {
			for _, ip := range e.Addresses {
				a := corev1.EndpointAddress{IP: ip, TargetRef: e.TargetRef}
				if e.Hostname != nil {
					a.Hostname = *e.Hostname
				}
				if e.Conditions.Ready != nil && !*e.Conditions.Ready {
					sub.NotReadyAddresses = append(sub.NotReadyAddresses, a)
				} else {
					sub.Addresses = append(sub.Addresses, a)
				}
			}
		}
	}
	slices.Sort(order)
	for _, k := range order {
		ep.Subsets = append(ep.Subsets, *subsets[k])
	}
	return ep
}

// keptSlices returns copies of the slices of managed (the ones meshapi
// wrote for a federated Service) that hold cluster's addresses, to be
// written again unchanged while cluster's cache has not synced.
func keptSlices(managed []*discoveryv1.EndpointSlice, cluster string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, s := range managed {
		if s.Labels[v3.LabelCluster] == cluster {
			out = append(out, s.DeepCopy())
		}
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
