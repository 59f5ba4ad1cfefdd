package remotecluster

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// mirrorDigest is the SHA-256 of the canonical encoding of what a mirror
// is compared by besides its labels: its spec and annotations. SHA-256,
// not a 64-bit hash: a remote cluster chooses the specs, and two different
// ones that collided would leave a mirror stale; finding a SHA-256
// collision is out of anyone's reach, accidental or chosen.
type mirrorDigest [sha256.Size]byte

// digestedMirror is a mirror as the controller's mirror cache keeps it for
// a kind compared by digest (WorkloadEndpoint, the one of which a cluster
// has thousands): the metadata the controller reads (name, namespace,
// labels, UID, resourceVersion, and the remote name of its annotations),
// and the digest of the spec and annotations in place of them. The
// syncer only compares those with the desired mirror's, so the digest of
// the desired one decides exactly as well; a write still sends the whole
// desired mirror. It takes 120 bytes and one allocation for the strings
// it owns (compactMeta), where a decoded object's ObjectMeta alone takes
// 264 bytes before its strings and maps.
type digestedMirror struct {
	compactMeta
	// remoteName is the annotation v3.AnnotationRemoteName.
	remoteName string
	// digest is the mirrorDigest of the mirror's spec and annotations.
	digest mirrorDigest
}

// newDigestedMirror returns what the mirror cache keeps of the mirror o,
// whose spec and annotations have digest d.
func newDigestedMirror(o metav1.Object, d mirrorDigest) *digestedMirror {
	m := &digestedMirror{
		compactMeta: newCompactMeta(o),
		remoteName:  o.GetAnnotations()[v3.AnnotationRemoteName],
		digest:      d,
	}
	// The remote name ends the mirror's own, "<cluster>.<name>": share it.
	if strings.HasSuffix(m.name, v3.MirrorNameSeparator+m.remoteName) {
		m.remoteName = m.name[len(m.name)-len(m.remoteName):]
	}
	return m
}

// endpointDigest is the mirrorDigest of an endpoint's spec and annotations.
// Values that apiequality.Semantic.DeepEqual takes as equal (a nil or an
// empty slice or map) have the same encoding, and different ones a
// different encoding: every string and list is preceded by its length.
func endpointDigest(e *v3.WorkloadEndpoint) mirrorDigest {
	s := &e.Spec
	b := make([]byte, 0, 512)
	for _, f := range []string{s.Orchestrator, s.Workload, s.Node, s.ContainerID, s.Pod, s.Endpoint, s.ServiceAccountName} {
		b = appendString(b, f)
	}
	b = appendStrings(b, s.IPNetworks)
	b = appendString(b, s.IPv4Gateway)
	b = appendString(b, s.IPv6Gateway)
	b = appendStrings(b, s.Profiles)
	b = appendString(b, s.InterfaceName)
	b = appendString(b, s.MAC)
	b = binary.AppendUvarint(b, uint64(len(s.Ports)))
	for _, p := range s.Ports {
		b = appendString(b, p.Name)
		if p.Protocol.Number == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1, *p.Protocol.Number)
		}
		b = appendString(b, p.Protocol.Name)
		b = binary.BigEndian.AppendUint16(b, p.Port)
		b = binary.BigEndian.AppendUint16(b, p.HostPort)
		b = appendString(b, p.HostIP)
	}
	b = appendMap(b, e.Annotations)
	return sha256.Sum256(b)
}

// appendString appends the length of s and s.
func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendStrings appends the length of l and each string of it.
func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// appendMap appends the size of m and its keys and values in key order.
func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendString(appendString(b, k), m[k])
	}
	return b
}
