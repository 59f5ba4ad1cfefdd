package framework

import (
	"slices"
	"testing"
)

// TestOthers checks which clusters Connect pairs each cluster with: every
// other one, in the topology's order (A, B, then More).
func TestOthers(t *testing.T) {
	a, b, c, d := &Cluster{Name: "a"}, &Cluster{Name: "b"}, &Cluster{Name: "c"}, &Cluster{Name: "d"}
	names := func(cs []*Cluster) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		more []*Cluster
		of   *Cluster
		want []string
	}{
		{"two clusters: A's other is B", nil, a, []string{"b"}},
		{"two clusters: B's other is A", nil, b, []string{"a"}},
		{"three clusters: A", []*Cluster{c}, a, []string{"b", "c"}},
		{"three clusters: C", []*Cluster{c}, c, []string{"a", "b"}},
		{"four clusters: B", []*Cluster{c, d}, b, []string{"a", "c", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo := &Topology{A: a, B: b, More: tc.more}
			if got := names(topo.others(tc.of)); !slices.Equal(got, tc.want) {
				t.Errorf("others(%s) = %v, want %v", tc.of.Name, got, tc.want)
			}
			if got, want := names(topo.Clusters()), append([]string{"a", "b"}, names(tc.more)...); !slices.Equal(got, want) {
				t.Errorf("Clusters() = %v, want %v", got, want)
			}
		})
	}
}
