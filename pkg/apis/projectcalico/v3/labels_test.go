package v3

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

func TestMirrorName(t *testing.T) {
	cases := []struct {
		cluster, name, want string
	}{
		{cluster: "cluster-b", name: "host-1", want: "cluster-b.host-1"},
		{cluster: "cluster-b", name: "node1-k8s-pod-eth0", want: "cluster-b.node1-k8s-pod-eth0"},
		{cluster: "c", name: "kns.default", want: "c.kns.default"},
	}
	for _, tc := range cases {
		if got := MirrorName(tc.cluster, tc.name); got != tc.want {
			t.Errorf("MirrorName(%q, %q) = %q, want %q", tc.cluster, tc.name, got, tc.want)
		}
	}
}

func TestTrimMirrorName(t *testing.T) {
	cases := []struct {
		cluster, name, want string
	}{
		{cluster: "cluster-b", name: "cluster-b.host-1", want: "host-1"},
		{cluster: "cluster-b", name: "cluster-b.kns.default", want: "kns.default"},
		// Only the cluster's own prefix is removed.
		{cluster: "cluster-b", name: "cluster-c.host-1", want: "cluster-c.host-1"},
		{cluster: "cluster-b", name: "host-1", want: "host-1"},
	}
	for _, tc := range cases {
		if got := TrimMirrorName(tc.cluster, tc.name); got != tc.want {
			t.Errorf("TrimMirrorName(%q, %q) = %q, want %q", tc.cluster, tc.name, got, tc.want)
		}
		if got := TrimMirrorName(tc.cluster, MirrorName(tc.cluster, tc.want)); got != tc.want {
			t.Errorf("TrimMirrorName(%q, MirrorName(%q, %q)) = %q", tc.cluster, tc.cluster, tc.want, got)
		}
	}
}

func TestMirroredFrom(t *testing.T) {
	cases := []struct {
		labels      map[string]string
		wantCluster string
		wantOK      bool
	}{
		{labels: map[string]string{LabelCluster: "cluster-b", "app": "web"}, wantCluster: "cluster-b", wantOK: true},
		{labels: map[string]string{"app": "web"}},
		{labels: nil},
	}
	for _, tc := range cases {
		if c, ok := MirroredFrom(tc.labels); c != tc.wantCluster || ok != tc.wantOK {
			t.Errorf("MirroredFrom(%v) = (%q, %v), want (%q, %v)", tc.labels, c, ok, tc.wantCluster, tc.wantOK)
		}
	}
}

func TestNameInOwnCluster(t *testing.T) {
	cases := []struct {
		annotations map[string]string
		name, want  string
	}{
		{annotations: map[string]string{AnnotationRemoteName: "host-1"}, name: "cluster-b.host-1", want: "host-1"},
		{annotations: map[string]string{AnnotationRemoteName: ""}, name: "cluster-b.host-1", want: "cluster-b.host-1"},
		{annotations: nil, name: "host-1", want: "host-1"},
	}
	for _, tc := range cases {
		if got := NameInOwnCluster(tc.annotations, tc.name); got != tc.want {
			t.Errorf("NameInOwnCluster(%v, %q) = %q, want %q", tc.annotations, tc.name, got, tc.want)
		}
	}
}
