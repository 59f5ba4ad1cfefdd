package sliceapply

import (
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestDiffer(t *testing.T) {
	slice := func(addr string, port int32, label string, owner string) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{"k": label}, ResourceVersion: "7"},
			Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{addr}}},
			Ports:      []discoveryv1.EndpointPort{{Port: ptr.To(port)}},
		}
		if owner != "" {
			s.OwnerReferences = []metav1.OwnerReference{{UID: types.UID("uid-" + owner)}}
		}
		return s
	}
	owners := []metav1.OwnerReference{{UID: "uid-a"}}
	for _, tc := range []struct {
		name     string
		old, new *discoveryv1.EndpointSlice
		owners   []metav1.OwnerReference
		want     bool
	}{
		{"same", slice("198.18.1.1", 80, "x", ""), slice("198.18.1.1", 80, "x", ""), nil, false},
		{"resourceVersion alone is no difference", slice("198.18.1.1", 80, "x", ""), func() *discoveryv1.EndpointSlice {
			s := slice("198.18.1.1", 80, "x", "")
			s.ResourceVersion = ""
			return s
		}(), nil, false},
		{"endpoint address", slice("198.18.1.1", 80, "x", ""), slice("198.18.1.2", 80, "x", ""), nil, true},
		{"port", slice("198.18.1.1", 80, "x", ""), slice("198.18.1.1", 81, "x", ""), nil, true},
		{"label", slice("198.18.1.1", 80, "x", ""), slice("198.18.1.1", 80, "y", ""), nil, true},
		{"owners not managed: other owner ignored", slice("198.18.1.1", 80, "x", "b"), slice("198.18.1.1", 80, "x", ""), nil, false},
		{"owners managed: same owner", slice("198.18.1.1", 80, "x", "a"), slice("198.18.1.1", 80, "x", ""), owners, false},
		{"owners managed: other owner", slice("198.18.1.1", 80, "x", "b"), slice("198.18.1.1", 80, "x", ""), owners, true},
		{"owners managed: none yet", slice("198.18.1.1", 80, "x", ""), slice("198.18.1.1", 80, "x", ""), owners, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Options{Owners: tc.owners}).differ(tc.old, tc.new); got != tc.want {
				t.Errorf("differ = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"c": "cluster-b"}}}
	if got := (Options{}).describe(s); got != "" {
		t.Errorf("describe without Describe = %q, want empty", got)
	}
	o := Options{Describe: func(s *discoveryv1.EndpointSlice) string { return "endpoints of cluster " + s.Labels["c"] }}
	if got, want := o.describe(s), " (endpoints of cluster cluster-b)"; got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}
