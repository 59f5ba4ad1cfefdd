package remotecluster

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// compactMeta is the metadata a cache of this package keeps of an object
// it holds thousands of: its name, namespace, UID, resourceVersion and
// labels, in 72 bytes where a metav1.ObjectMeta takes 264. It implements
// metav1.Object, so client-go's stores key and index it as they do a
// decoded object. The other fields read as empty, and setting one is
// ignored: the cache never needs them (cached objects are read-only, and
// nothing in this package reads them).
type compactMeta struct {
	name, namespace string
	uid             types.UID
	resourceVersion string
	labels          map[string]string
}

// newCompactMeta returns the compactMeta of o. Its namespace and labels
// are o's (interned and shared by the compactor); the strings that are
// o's own (name, UID, resourceVersion) are packed with those of more,
// all into one allocation (packStrings).
func newCompactMeta(o metav1.Object, more ...*string) compactMeta {
	name, uid, rv := o.GetName(), string(o.GetUID()), o.GetResourceVersion()
	packStrings(append([]*string{&name, &uid, &rv}, more...)...)
	return compactMeta{name: name, namespace: o.GetNamespace(), uid: types.UID(uid), resourceVersion: rv, labels: o.GetLabels()}
}

// maxPacked is the most strings packStrings packs.
const maxPacked = 16

// packStrings makes the strings that ps point to share one allocation that
// holds each distinct one once (an endpoint's pod and workload are often
// its name). A decoded object has its own allocation for every string,
// each rounded up to its size class and scattered over the heap among
// the decoder's garbage; packed, a cached object's strings cost one. Only
// the first maxPacked are packed.
func packStrings(ps ...*string) {
	ps = ps[:min(len(ps), maxPacked)]
	var from [maxPacked]int // where in the packed string *ps[i] starts; -1: empty
	var b strings.Builder
	n := 0
	for _, p := range ps {
		n += len(*p)
	}
	b.Grow(n)
	for i, p := range ps {
		from[i] = -1
		if *p == "" {
			continue
		}
		for j := range i {
			if from[j] >= 0 && *ps[j] == *p {
				from[i] = from[j]
				break
			}
		}
		if from[i] < 0 {
			from[i] = b.Len()
			b.WriteString(*p)
		}
	}
	all := b.String()
	for i, p := range ps {
		if from[i] >= 0 {
			*p = all[from[i] : from[i]+len(*p)]
		}
	}
}

// objectMeta returns the metadata m keeps as a metav1.ObjectMeta.
func (m *compactMeta) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.name, Namespace: m.namespace, UID: m.uid, ResourceVersion: m.resourceVersion, Labels: m.labels}
}

func (m *compactMeta) GetNamespace() string                  { return m.namespace }
func (m *compactMeta) SetNamespace(namespace string)         { m.namespace = namespace }
func (m *compactMeta) GetName() string                       { return m.name }
func (m *compactMeta) SetName(name string)                   { m.name = name }
func (m *compactMeta) GetUID() types.UID                     { return m.uid }
func (m *compactMeta) SetUID(uid types.UID)                  { m.uid = uid }
func (m *compactMeta) GetResourceVersion() string            { return m.resourceVersion }
func (m *compactMeta) SetResourceVersion(version string)     { m.resourceVersion = version }
func (m *compactMeta) GetLabels() map[string]string          { return m.labels }
func (m *compactMeta) SetLabels(labels map[string]string)    { m.labels = labels }
func (m *compactMeta) GetGenerateName() string               { return "" }
func (m *compactMeta) SetGenerateName(string)                {}
func (m *compactMeta) GetGeneration() int64                  { return 0 }
func (m *compactMeta) SetGeneration(int64)                   {}
func (m *compactMeta) GetSelfLink() string                   { return "" }
func (m *compactMeta) SetSelfLink(string)                    {}
func (m *compactMeta) GetCreationTimestamp() metav1.Time     { return metav1.Time{} }
func (m *compactMeta) SetCreationTimestamp(metav1.Time)      {}
func (m *compactMeta) GetDeletionTimestamp() *metav1.Time    { return nil }
func (m *compactMeta) SetDeletionTimestamp(*metav1.Time)     {}
func (m *compactMeta) GetDeletionGracePeriodSeconds() *int64 { return nil }
func (m *compactMeta) SetDeletionGracePeriodSeconds(*int64)  {}
func (m *compactMeta) GetAnnotations() map[string]string     { return nil }
func (m *compactMeta) SetAnnotations(map[string]string)      {}
func (m *compactMeta) GetFinalizers() []string               { return nil }
func (m *compactMeta) SetFinalizers([]string)                {}
func (m *compactMeta) GetOwnerReferences() []metav1.OwnerReference {
	return nil
}
func (m *compactMeta) SetOwnerReferences([]metav1.OwnerReference) {}
func (m *compactMeta) GetManagedFields() []metav1.ManagedFieldsEntry {
	return nil
}
func (m *compactMeta) SetManagedFields([]metav1.ManagedFieldsEntry) {}

var _ metav1.Object = &compactMeta{}

// cachedEndpoint is what the syncer's cache keeps of a remote
// WorkloadEndpoint: what its mirror is built from (MirrorWorkloadEndpoint
// reads the name, namespace, UID, labels and spec), without the type
// meta, annotations and empty fields of the decoded object, about 330
// bytes where the decoded object took 570.
type cachedEndpoint struct {
	compactMeta
	spec v3.WorkloadEndpointSpec
}

// cacheEndpoint returns what the syncer's cache keeps of the remote
// endpoint e (its spec shared, not copied).
func cacheEndpoint(e *v3.WorkloadEndpoint) metav1.Object {
	s := e.Spec
	own := []*string{&s.Workload, &s.ContainerID, &s.Pod, &s.InterfaceName, &s.MAC}
	for i := range s.IPNetworks {
		own = append(own, &s.IPNetworks[i])
	}
	return &cachedEndpoint{compactMeta: newCompactMeta(e, own...), spec: s}
}

// cachedEndpointObject returns the remote endpoint that o, a
// *cachedEndpoint, keeps, sharing its labels and spec: read-only, as
// every cached object.
func cachedEndpointObject(o metav1.Object) (*v3.WorkloadEndpoint, bool) {
	c, ok := o.(*cachedEndpoint)
	if !ok {
		return nil, false
	}
	return &v3.WorkloadEndpoint{ObjectMeta: c.objectMeta(), Spec: c.spec}, true
}
