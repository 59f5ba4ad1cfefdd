package meshcheck

import (
	"slices"
	"testing"
)

func TestOwnNodes(t *testing.T) {
	got := ownNodes([]string{"b", "", "a", "cluster-c/a", "b", "c"})
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("ownNodes = %q, want %q", got, want)
	}
}

// TestNodeNameRule covers the unique-node-name rule through
// CheckRemoteCluster.
func TestNodeNameRule(t *testing.T) {
	vx := vxlanPools
	local := func(nodes ...string) ClusterView { return ClusterView{Pools: vx("10.244.0.0/16"), Nodes: nodes} }
	remote := func(nodes ...string) ClusterView {
		return ClusterView{Name: "cluster-b", Pools: vx("10.245.0.0/16"), Nodes: nodes}
	}
	other := func(nodes ...string) ClusterView {
		return ClusterView{Name: "cluster-c", Pools: vx("10.246.0.0/16"), Nodes: nodes}
	}
	tests := []struct {
		name   string
		local  ClusterView
		remote ClusterView
		others []ClusterView
		want   []string
	}{
		{name: "unique names", local: local("a-1", "a-2"), remote: remote("b-1"), others: []ClusterView{other("c-1")}},
		{
			name: "name in this cluster and the remote", local: local("a-1", "node-1"), remote: remote("node-1", "b-1"),
			want: []string{`spec: Invalid value: "cluster-b": node name "node-1" is used in both this cluster and remote cluster "cluster-b"`},
		},
		{
			name: "name in the remote and another remote", local: local("a-1"), remote: remote("node-1"), others: []ClusterView{other("node-1")},
			want: []string{`spec: Invalid value: "cluster-b": node name "node-1" is used in both remote cluster "cluster-b" and remote cluster "cluster-c"`},
		},
		{
			name: "name in all three, several names, sorted", local: local("node-2", "node-1"), remote: remote("node-2", "node-1", "node-3"),
			others: []ClusterView{other("node-3", "node-1")},
			want: []string{
				`spec: Invalid value: "cluster-b": node name "node-1" is used in both this cluster and remote cluster "cluster-b"`,
				`spec: Invalid value: "cluster-b": node name "node-2" is used in both this cluster and remote cluster "cluster-b"`,
				`spec: Invalid value: "cluster-b": node name "node-1" is used in both remote cluster "cluster-b" and remote cluster "cluster-c"`,
				`spec: Invalid value: "cluster-b": node name "node-3" is used in both remote cluster "cluster-b" and remote cluster "cluster-c"`,
			},
		},
		{
			name: "duplicates within one list reported once", local: local("node-1", "node-1"), remote: remote("node-1", "node-1"),
			want: []string{`spec: Invalid value: "cluster-b": node name "node-1" is used in both this cluster and remote cluster "cluster-b"`},
		},
		{
			name: "mirrored node names passed by mistake are ignored", local: local("a-1", "cluster-c/c-1"),
			remote: remote("b-1", "cluster-c/c-1", "cluster-a/a-1"), others: []ClusterView{other("c-1", "cluster-b/b-1")},
		},
		{name: "empty names ignored", local: local(""), remote: remote("")},
		{name: "names are case-sensitive", local: local("Node-1"), remote: remote("node-1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectStrings(t, errStrings(CheckRemoteCluster("cluster-b", tt.local, tt.remote, tt.others)), tt.want)
		})
	}
}
