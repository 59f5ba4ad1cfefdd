package federation

import (
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestKeptSlices(t *testing.T) {
	managed := func(name, cluster string) *discoveryv1.EndpointSlice {
		labels := map[string]string{discoveryv1.LabelServiceName: "reviews", discoveryv1.LabelManagedBy: ManagedBy}
		if cluster != "" {
			labels[v3.LabelCluster] = cluster
		}
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bookinfo", Labels: labels},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"198.18.5.1"}}}}
	}
	all := []*discoveryv1.EndpointSlice{
		managed("reviews-local-1", ""), managed("reviews-east-2", "east"), managed("reviews-east-1", "east"), managed("reviews-west-1", "west"),
	}
	tests := []struct {
		cluster string
		want    []string
	}{
		{"east", []string{"reviews-east-1", "reviews-east-2"}},
		{"west", []string{"reviews-west-1"}},
		{"north", nil},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			got := keptSlices(all, tt.cluster)
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Fatalf("kept %v, want %v", names, tt.want)
			}
			for _, s := range got {
				if i := slices.IndexFunc(all, func(o *discoveryv1.EndpointSlice) bool { return o.Name == s.Name }); all[i] == s {
					t.Errorf("%s: the informer's object is returned, not a copy", s.Name)
				}
			}
		})
	}
}
