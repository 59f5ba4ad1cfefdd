// Package podendpoints keeps one WorkloadEndpoint per Pod that has an IP,
// and one Profile "kns.<namespace>" per Namespace, in the local
// projectcalico.org/v3 API, so that a cluster's pods are federated (and
// selectable by policy in every cluster of the mesh) whatever its CNI.
package podendpoints

import (
	"crypto/sha1" //nolint:gosec // an interface name, as the original derives it; not security
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Labels and name prefixes of the original product, so that selectors
// written for it keep working.
const (
	LabelNamespace       = "projectcalico.org/namespace"
	LabelOrchestrator    = "projectcalico.org/orchestrator"
	LabelServiceAccount  = "projectcalico.org/serviceaccount"
	LabelName            = "projectcalico.org/name"
	NamespaceLabelPrefix = "pcns."
	NamespaceProfile     = "kns."
	ServiceAccountPrefix = "ksa."
	OrchestratorK8s      = v3.OrchestratorK8s
	endpointName         = "eth0"
)

// EndpointName is the WorkloadEndpoint name of a pod's interface, as the
// original names it: node, orchestrator, pod and interface joined by "-",
// with every "-" inside them doubled.
func EndpointName(node, pod string) string {
	esc := func(s string) string { return strings.ReplaceAll(s, "-", "--") }
	return strings.Join([]string{esc(node), OrchestratorK8s, esc(pod), esc(endpointName)}, "-")
}

// InterfaceName is the host-side interface the original's CNI gives a pod:
// "cali" and the first 11 hex digits of sha1("<namespace>.<pod>").
func InterfaceName(namespace, pod string) string {
	sum := sha1.Sum([]byte(namespace + "." + pod)) //nolint:gosec // see import
	return "cali" + hex.EncodeToString(sum[:])[:11]
}

// hasEndpoint says whether a pod should have a WorkloadEndpoint: scheduled,
// with an IP, on the pod network, and not finished.
func hasEndpoint(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && !pod.Spec.HostNetwork && len(podIPs(pod)) > 0 &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil
}

// podIPs returns the pod's addresses as host CIDRs.
func podIPs(pod *corev1.Pod) []string {
	var ips []string
	seen := map[string]bool{}
	add := func(s string) {
		addr, err := netip.ParseAddr(s)
		if err != nil || seen[addr.String()] {
			return
		}
		seen[addr.String()] = true
		ips = append(ips, netip.PrefixFrom(addr, addr.BitLen()).String())
	}
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	add(pod.Status.PodIP)
	return ips
}

// WorkloadEndpoint returns the endpoint of a pod: the pod's labels plus
// the namespace, orchestrator and service account labels; the namespace and
// service account profiles; the pod's named container ports. The pod owns
// it, so garbage collection removes it with the pod.
func WorkloadEndpoint(pod *corev1.Pod) *v3.WorkloadEndpoint {
	labels := maps.Clone(pod.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelNamespace] = pod.Namespace
	labels[LabelOrchestrator] = OrchestratorK8s
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	labels[LabelServiceAccount] = sa
	var ports []v3.WorkloadEndpointPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == "" {
				continue
			}
			proto := string(p.Protocol)
			if proto == "" {
				proto = string(corev1.ProtocolTCP)
			}
			ports = append(ports, v3.WorkloadEndpointPort{Name: p.Name, Protocol: v3.ProtocolFromString(proto), Port: uint16(p.ContainerPort)})
		}
	}
	controller := true
	return &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{
			Name:      EndpointName(pod.Spec.NodeName, pod.Name),
			Namespace: pod.Namespace,
			Labels:    labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: &controller,
			}},
		},
		Spec: v3.WorkloadEndpointSpec{
			Orchestrator:       OrchestratorK8s,
			Node:               pod.Spec.NodeName,
			Pod:                pod.Name,
			Endpoint:           endpointName,
			ServiceAccountName: sa,
			IPNetworks:         podIPs(pod),
			Profiles:           []string{NamespaceProfile + pod.Namespace, fmt.Sprintf("%s%s.%s", ServiceAccountPrefix, pod.Namespace, sa)},
			InterfaceName:      InterfaceName(pod.Namespace, pod.Name),
			Ports:              ports,
		},
	}
}

// NamespaceProfileFor returns the profile "kns.<namespace>" whose labels
// endpoints of the namespace inherit: each namespace label prefixed "pcns."
// and the namespace's name.
func NamespaceProfileFor(ns *corev1.Namespace) *v3.Profile {
	labels := map[string]string{NamespaceLabelPrefix + LabelName: ns.Name}
	for k, v := range ns.Labels {
		labels[NamespaceLabelPrefix+k] = v
	}
	controller := true
	return &v3.Profile{
		ObjectMeta: metav1.ObjectMeta{
			Name:   NamespaceProfile + ns.Name,
			Labels: map[string]string{LabelOrchestrator: OrchestratorK8s},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Namespace", Name: ns.Name, UID: ns.UID, Controller: &controller,
			}},
		},
		Spec: v3.ProfileSpec{LabelsToApply: labels},
	}
}
