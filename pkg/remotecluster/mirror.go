package remotecluster

import (
	"maps"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// mirrorMeta is the metadata of the mirror of a remote object, named and
// marked as pkg/apis/projectcalico/v3 defines (labels.go): prefixed name,
// the remote's labels plus the cluster label, and where it came from.
// Remote annotations, owners, finalizers and managed fields stay behind.
func mirrorMeta(cluster string, remote metav1.ObjectMeta) metav1.ObjectMeta {
	labels := maps.Clone(remote.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v3.LabelCluster] = cluster
	return metav1.ObjectMeta{
		Name:      v3.MirrorName(cluster, remote.Name),
		Namespace: remote.Namespace,
		Labels:    labels,
		Annotations: map[string]string{
			v3.AnnotationRemoteName: remote.Name,
			v3.AnnotationRemoteUID:  string(remote.UID),
		},
	}
}

// prefixAll returns refs with each name prefixed "<cluster>/".
func prefixAll(cluster string, refs []string) []string {
	if refs == nil {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = v3.RemoteName(cluster, r)
	}
	return out
}

// MirrorWorkloadEndpoint returns the local mirror of a remote endpoint.
func MirrorWorkloadEndpoint(cluster string, remote *v3.WorkloadEndpoint) *v3.WorkloadEndpoint {
	m := &v3.WorkloadEndpoint{ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta), Spec: *remote.Spec.DeepCopy()}
	m.Spec.Node = v3.RemoteName(cluster, remote.Spec.Node)
	m.Spec.Profiles = prefixAll(cluster, remote.Spec.Profiles)
	return m
}

// MirrorHostEndpoint returns the local mirror of a remote host endpoint.
func MirrorHostEndpoint(cluster string, remote *v3.HostEndpoint) *v3.HostEndpoint {
	m := &v3.HostEndpoint{ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta), Spec: *remote.Spec.DeepCopy()}
	m.Spec.Node = v3.RemoteName(cluster, remote.Spec.Node)
	m.Spec.Profiles = prefixAll(cluster, remote.Spec.Profiles)
	return m
}

// MirrorProfile returns the local mirror of a remote profile: its labels
// only. A remote cluster's rules never apply here.
func MirrorProfile(cluster string, remote *v3.Profile) *v3.Profile {
	return &v3.Profile{
		ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta),
		Spec:       v3.ProfileSpec{LabelsToApply: maps.Clone(remote.Spec.LabelsToApply)},
	}
}

// MirrorNode returns the local mirror of a remote node.
func MirrorNode(cluster string, remote *v3.Node) *v3.Node {
	m := &v3.Node{ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta), Spec: *remote.Spec.DeepCopy(), Status: *remote.Status.DeepCopy()}
	// What the remote node's agent programmed into its own kernel means
	// nothing here, and would rewrite the mirror whenever it changes.
	m.Status.Dataplane = nil
	for i := range m.Spec.OrchRefs {
		if m.Spec.OrchRefs[i].NodeName != "" {
			m.Spec.OrchRefs[i].NodeName = v3.RemoteName(cluster, m.Spec.OrchRefs[i].NodeName)
		}
	}
	return m
}

// MirrorIPPool returns the local mirror of a remote pool, always disabled
// and never NAT-outgoing: local IPAM must not allocate from it, and NAT
// must not apply to traffic towards it.
func MirrorIPPool(cluster string, remote *v3.IPPool) *v3.IPPool {
	m := &v3.IPPool{ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta), Spec: *remote.Spec.DeepCopy()}
	m.Spec.Disabled = true
	m.Spec.NATOutgoing = false
	m.Spec.NodeSelector = "!all()"
	return m
}

// MirrorIPAMBlock returns the local mirror of a remote block, its affinity
// naming the remote node "host:<cluster>/<node>". The mirror carries what
// routing needs, not the remote's allocation record: that changes with every
// pod the remote starts, and who holds which address is the remote's own
// business (its WorkloadEndpoints are mirrored on their own).
func MirrorIPAMBlock(cluster string, remote *v3.IPAMBlock) *v3.IPAMBlock {
	m := &v3.IPAMBlock{ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta), Spec: v3.IPAMBlockSpec{
		CIDR:           remote.Spec.CIDR,
		StrictAffinity: remote.Spec.StrictAffinity,
		Deleted:        remote.Spec.Deleted,
	}}
	if a := remote.Spec.Affinity; a != nil {
		affinity := *a
		if node, ok := strings.CutPrefix(affinity, "host:"); ok {
			affinity = "host:" + v3.RemoteName(cluster, node)
		}
		m.Spec.Affinity = &affinity
	}
	return m
}

// MirrorFelixConfiguration returns the local mirror of a remote cluster's
// "default" FelixConfiguration, named "<cluster>.default": the settings the
// mesh's requirements compare. No node takes it for its own configuration.
func MirrorFelixConfiguration(cluster string, remote *v3.FelixConfiguration) *v3.FelixConfiguration {
	return &v3.FelixConfiguration{ObjectMeta: mirrorMeta(cluster, remote.ObjectMeta), Spec: *remote.Spec.DeepCopy()}
}
