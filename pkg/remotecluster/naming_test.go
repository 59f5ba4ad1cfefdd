package remotecluster

import (
	"testing"
)

func TestRemoteName(t *testing.T) {
	cases := []struct {
		cluster, name, want string
	}{
		{cluster: "cluster-b", name: "host-1", want: "cluster-b/host-1"},
		{cluster: "cluster-b", name: "kns.default", want: "cluster-b/kns.default"},
		{cluster: "c", name: "", want: "c/"},
	}
	for _, tc := range cases {
		if got := RemoteName(tc.cluster, tc.name); got != tc.want {
			t.Errorf("RemoteName(%q, %q) = %q, want %q", tc.cluster, tc.name, got, tc.want)
		}
	}
}

func TestSplitRemoteName(t *testing.T) {
	cases := []struct {
		ref                   string
		wantCluster, wantName string
		wantOK                bool
	}{
		{ref: "cluster-b/host-1", wantCluster: "cluster-b", wantName: "host-1", wantOK: true},
		{ref: "cluster-b/kns.default", wantCluster: "cluster-b", wantName: "kns.default", wantOK: true},
		// Only the first separator splits: the name keeps the rest.
		{ref: "cluster-b/a/b", wantCluster: "cluster-b", wantName: "a/b", wantOK: true},
		{ref: "host-1", wantCluster: "host-1", wantName: "", wantOK: false},
		{ref: "", wantCluster: "", wantName: "", wantOK: false},
		// A mirror's object name ("<cluster>.<name>") is not a remote reference.
		{ref: "cluster-b.host-1", wantCluster: "cluster-b.host-1", wantName: "", wantOK: false},
	}
	for _, tc := range cases {
		c, n, ok := SplitRemoteName(tc.ref)
		if c != tc.wantCluster || n != tc.wantName || ok != tc.wantOK {
			t.Errorf("SplitRemoteName(%q) = (%q, %q, %v), want (%q, %q, %v)", tc.ref, c, n, ok, tc.wantCluster, tc.wantName, tc.wantOK)
		}
	}
}

func TestSplitRemoteNameInvertsRemoteName(t *testing.T) {
	for _, tc := range []struct{ cluster, name string }{
		{"cluster-b", "host-1"},
		{"c", "x.y.z"},
		{"cluster-b", "a/b"},
	} {
		c, n, ok := SplitRemoteName(RemoteName(tc.cluster, tc.name))
		if !ok || c != tc.cluster || n != tc.name {
			t.Errorf("SplitRemoteName(RemoteName(%q, %q)) = (%q, %q, %v)", tc.cluster, tc.name, c, n, ok)
		}
	}
}

func TestMirrorObjectName(t *testing.T) {
	cases := []struct {
		cluster, name, want string
	}{
		{cluster: "cluster-b", name: "host-1", want: "cluster-b.host-1"},
		{cluster: "cluster-b", name: "node1-k8s-pod-eth0", want: "cluster-b.node1-k8s-pod-eth0"},
		{cluster: "c", name: "kns.default", want: "c.kns.default"},
	}
	for _, tc := range cases {
		if got := MirrorObjectName(tc.cluster, tc.name); got != tc.want {
			t.Errorf("MirrorObjectName(%q, %q) = %q, want %q", tc.cluster, tc.name, got, tc.want)
		}
	}
}
