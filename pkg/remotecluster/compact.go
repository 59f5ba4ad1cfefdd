package remotecluster

import (
	"slices"
	"strings"
	"sync"
	"unique"

	"k8s.io/apimachinery/pkg/api/meta"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// maxSharedLabelSets bounds a compactor's table of label sets, and that of
// profile lists. Once one is full it starts over: the objects already
// cached keep the maps and lists they share, and new ones share new ones.
const maxSharedLabelSets = 4096

// compactor is the transform of the informers that cache remote objects
// and mirrors: it drops managedFields (the mirror compares specs, labels
// and annotations only, and managedFields are a fifth of an endpoint's
// memory; an update sent without them keeps the server's), and stores once
// what many cached objects hold alike. Each decoded object comes with its
// own copy of every string and its own label map, about 300 bytes for a
// map of one or two labels, while a cluster's endpoints have few distinct
// label sets, 50 namespaces and 100 nodes. Identical label maps are shared
// between the objects of one informer, and the strings that repeat
// (namespaces, label keys and values, annotation keys, an endpoint's node,
// orchestrator, interface, service account and profiles) are interned.
// Cached objects are read-only (client-go's rule, which this package
// keeps: a mirror is built from clones), so sharing is safe.
type compactor struct {
	mu sync.Mutex
	// labels maps a label set's canonical form to the map shared by the
	// objects that have it.
	labels map[string]map[string]string
	// profiles maps a profile list's canonical form to the slice shared
	// by the endpoints that have it.
	profiles map[string][]string
}

// newCompactor returns a compactor with an empty table.
func newCompactor() *compactor {
	return &compactor{labels: map[string]map[string]string{}, profiles: map[string][]string{}}
}

// transform is the compactor as a cache.TransformFunc.
func (c *compactor) transform(obj any) (any, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil // a tombstone: nothing to compact
	}
	o.SetManagedFields(nil)
	o.SetNamespace(intern(o.GetNamespace()))
	if l := o.GetLabels(); len(l) > 0 {
		o.SetLabels(c.sharedLabels(l))
	}
	internKeys(o.GetAnnotations())
	switch e := obj.(type) {
	case *v3.WorkloadEndpoint:
		s := &e.Spec
		s.Orchestrator, s.Node, s.Endpoint = intern(s.Orchestrator), intern(s.Node), intern(s.Endpoint)
		s.ServiceAccountName = intern(s.ServiceAccountName)
		s.IPv4Gateway, s.IPv6Gateway = intern(s.IPv4Gateway), intern(s.IPv6Gateway)
		s.Profiles = c.sharedProfiles(s.Profiles)
	case *v3.HostEndpoint:
		e.Spec.Node = intern(e.Spec.Node)
		e.Spec.Profiles = c.sharedProfiles(e.Spec.Profiles)
	}
	return obj, nil
}

// sharedLabels returns the map shared by the objects labelled l, l itself
// (with interned keys and values) if it is the first.
func (c *compactor) sharedLabels(l map[string]string) map[string]string {
	key := labelSetKey(l)
	c.mu.Lock()
	defer c.mu.Unlock()
	return share(c.labels, key, l, func(l map[string]string) {
		for k, v := range l {
			l[intern(k)] = intern(v) // an existing key's entry takes the new key
		}
	})
}

// sharedProfiles returns the slice shared by the endpoints whose profiles
// are p, p itself (its strings interned) if it is the first. An
// endpoint's profiles are its namespace's and service account's, so a
// cluster has few distinct lists.
func (c *compactor) sharedProfiles(p []string) []string {
	if len(p) == 0 {
		return p
	}
	key := string(appendStrings(nil, p)) // length-prefixed: unambiguous
	c.mu.Lock()
	defer c.mu.Unlock()
	return share(c.profiles, key, p, internAll)
}

// share returns the value table holds under key, or else v, made ready
// by first and stored there; a full table (maxSharedLabelSets) starts
// over first. The caller holds the compactor's lock.
func share[V any](table map[string]V, key string, v V, first func(V)) V {
	if shared, ok := table[key]; ok {
		return shared
	}
	if len(table) >= maxSharedLabelSets {
		clear(table)
	}
	first(v)
	table[key] = v
	return v
}

// labelSetKey is the canonical form of a label set: its sorted keys and
// values, each followed by a NUL (which no label key or value contains).
func labelSetKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	n := 0
	for k, v := range l {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}

// internKeys interns the keys of a in place, leaving its values as they
// are (an annotation's value, e.g. a mirror's remote UID, is its own).
func internKeys(a map[string]string) {
	for k, v := range a {
		a[intern(k)] = v // an existing key's entry takes the new key
	}
}

// internAll interns every string of s in place.
func internAll(s []string) {
	for i := range s {
		s[i] = intern(s[i])
	}
}

// intern returns the process's one copy of s; the copy goes once nothing
// refers to it any more.
func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}
