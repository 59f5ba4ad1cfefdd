package ipamgc

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// alloc is one allocation of a test block: ordinal, handle, attributes.
type alloc struct {
	ord    int
	handle string
	attrs  map[string]string
}

func podAlloc(ord int, ns, pod, node string, ts time.Time) alloc {
	return alloc{ord, "k8s-pod-network." + ns + "-" + pod, map[string]string{
		AttrNamespace: ns, AttrPod: pod, AttrNode: node, AttrType: TypePod, AttrTimestamp: ts.Format(time.RFC3339)}}
}

// withHandle gives an allocation another handle (another sandbox of the
// same pod).
func withHandle(a alloc, handle string) alloc {
	a.handle = handle
	return a
}

func vtepAlloc(ord int, node string) alloc {
	return alloc{ord, "vxlan-tunnel-addr-" + node, map[string]string{AttrNode: node, AttrType: TypeVXLANTunnel}}
}

// block builds a /29 block with an allocation record; with no allocs and
// recorded false it has no record at all.
func block(name, cidr, node string, recorded bool, allocs ...alloc) v3.IPAMBlock {
	b := v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "7"}, Spec: v3.IPAMBlockSpec{CIDR: cidr}}
	if node != "" {
		aff := "host:" + node
		b.Spec.Affinity = &aff
	}
	if !recorded {
		return b
	}
	p := netip.MustParsePrefix(cidr)
	b.Spec.Allocations = make(v3.Allocations, 1<<(32-p.Bits()))
	for i, a := range allocs {
		idx, h := i, a.handle
		b.Spec.Allocations[a.ord] = &idx
		b.Spec.Attributes = append(b.Spec.Attributes, v3.AllocationAttribute{HandleID: &h, Secondary: a.attrs})
	}
	for o, a := range b.Spec.Allocations {
		if a == nil {
			b.Spec.Unallocated = append(b.Spec.Unallocated, o)
		}
	}
	return b
}

func mirrored(b v3.IPAMBlock) v3.IPAMBlock {
	b.Labels = map[string]string{v3.LabelCluster: "cluster-b"}
	return b
}

func TestLeaks(t *testing.T) {
	old := t0.Add(-time.Hour)
	tests := []struct {
		name  string
		state State
		want  []string // "<handle> <addr> <reason>"
	}{{
		name: "live pod, gone pod, vtep of live and gone node",
		state: State{
			Blocks: []v3.IPAMBlock{
				block("b1", "198.18.0.0/29", "n1", true, podAlloc(1, "ns", "live", "n1", old), podAlloc(2, "ns", "gone", "n1", old), vtepAlloc(0, "n1")),
				block("b2", "198.18.0.8/29", "n2", true, vtepAlloc(0, "n2")),
			},
			Pods:  map[string]Pod{"ns/live": {Node: "n1"}},
			Nodes: map[string]bool{"n1": true},
		},
		want: []string{"k8s-pod-network.ns-gone 198.18.0.2 PodGone", "vxlan-tunnel-addr-n2 198.18.0.8 NodeGone"},
	}, {
		name: "pod of the same name on another node; unscheduled pod kept",
		state: State{
			Blocks: []v3.IPAMBlock{block("b1", "198.18.0.0/29", "n1", true, podAlloc(3, "ns", "moved", "n1", old), podAlloc(4, "ns", "pending", "n1", old))},
			Pods:   map[string]Pod{"ns/moved": {Node: "n2"}, "ns/pending": {Node: ""}},
			Nodes:  map[string]bool{"n1": true, "n2": true},
		},
		want: []string{"k8s-pod-network.ns-moved 198.18.0.3 PodOnOtherNode"},
	}, {
		name: "pod of the same name on the same node with other addresses; a pod with this address or none yet kept",
		state: State{
			Blocks: []v3.IPAMBlock{block("b1", "198.18.0.0/29", "n1", true,
				withHandle(podAlloc(1, "ns", "reborn", "n1", old), "k8s-pod-network.old-sandbox"), podAlloc(2, "ns", "reborn", "n1", old),
				podAlloc(3, "ns", "dual", "n1", old), podAlloc(4, "ns", "starting", "n1", old))},
			Pods: map[string]Pod{
				"ns/reborn":   {Node: "n1", IPs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}},
				"ns/dual":     {Node: "n1", IPs: []netip.Addr{netip.MustParseAddr("2001:db8::3"), netip.MustParseAddr("198.18.0.3")}},
				"ns/starting": {Node: "n1"},
			},
			Nodes: map[string]bool{"n1": true},
		},
		want: []string{"k8s-pod-network.old-sandbox 198.18.0.1 NotPodAddress"},
	}, {
		name: "mirrored blocks, blocks without record and allocations without pod or handle are never leaks",
		state: State{
			Blocks: []v3.IPAMBlock{
				mirrored(block("cluster-b.b1", "198.18.1.0/29", "cluster-b/n1", true, podAlloc(1, "ns", "gone", "cluster-b/n1", old))),
				block("hand", "198.18.2.0/29", "n9", false),
				block("b3", "198.18.3.0/29", "n1", true, alloc{1, "", map[string]string{AttrNamespace: "ns", AttrPod: "gone"}}, alloc{2, "h", map[string]string{AttrType: "other"}}, alloc{3, "h2", nil}),
			},
			Nodes: map[string]bool{"n1": true},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leaks, err := Leaks(&tc.state)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range leaks {
				got = append(got, fmt.Sprintf("%s %s %s", l.Handle, l.Addr, l.Reason))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Leaks = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewPlan(t *testing.T) {
	grace := 5 * time.Minute
	old, young := t0.Add(-time.Hour), t0.Add(-time.Minute)
	twoBlocks := block("b2", "198.18.0.8/29", "n1", true, alloc{1, "multi", map[string]string{AttrNamespace: "ns", AttrPod: "gone", AttrNode: "n1"}})
	tests := []struct {
		name        string
		state       State
		seen        map[string]time.Time
		wantRelease []string
		wantDelete  []string
		wantWaiting int
		wantNext    time.Time
	}{{
		name: "first sighting waits the grace",
		state: State{Blocks: []v3.IPAMBlock{block("b1", "198.18.0.0/29", "n1", true, podAlloc(1, "ns", "gone", "n1", old))},
			Nodes: map[string]bool{"n1": true}},
		wantWaiting: 1, wantNext: t0.Add(grace),
	}, {
		name: "seen leaked for the grace and old: released",
		state: State{Blocks: []v3.IPAMBlock{block("b1", "198.18.0.0/29", "n1", true, podAlloc(1, "ns", "gone", "n1", old))},
			Nodes: map[string]bool{"n1": true}},
		seen:        map[string]time.Time{handleKey("k8s-pod-network.ns-gone"): t0.Add(-grace)},
		wantRelease: []string{"k8s-pod-network.ns-gone"},
	}, {
		name: "seen long ago but allocated a minute ago: waits for its timestamp",
		state: State{Blocks: []v3.IPAMBlock{block("b1", "198.18.0.0/29", "n1", true, podAlloc(1, "ns", "gone", "n1", young))},
			Nodes: map[string]bool{"n1": true}},
		seen:        map[string]time.Time{handleKey("k8s-pod-network.ns-gone"): t0.Add(-time.Hour)},
		wantWaiting: 1, wantNext: young.Add(grace),
	}, {
		name: "a handle with a live address elsewhere is kept",
		state: State{Blocks: []v3.IPAMBlock{
			block("b1", "198.18.0.0/29", "n1", true, alloc{1, "multi", map[string]string{AttrNamespace: "ns", AttrPod: "live", AttrNode: "n1"}}),
			twoBlocks},
			Pods: map[string]Pod{"ns/live": {Node: "n1"}}, Nodes: map[string]bool{"n1": true}},
		seen: map[string]time.Time{handleKey("multi"): old},
	}, {
		name: "gone node: vtep released, its empty block deleted, a block with an address and a hand-made block kept",
		state: State{Blocks: []v3.IPAMBlock{
			block("b1", "198.18.0.0/29", "n2", true, vtepAlloc(0, "n2")),
			block("b2", "198.18.0.8/29", "n2", true),
			block("b3", "198.18.0.16/29", "n2", false),
			block("b4", "198.18.0.24/29", "n1", true)},
			Nodes: map[string]bool{"n1": true}},
		seen:        map[string]time.Time{handleKey("vxlan-tunnel-addr-n2"): old, blockKey("b2"): old, blockKey("b1"): old},
		wantRelease: []string{"vxlan-tunnel-addr-n2"},
		wantDelete:  []string{"b2"},
	}, {
		name:        "empty block of a node gone just now waits",
		state:       State{Blocks: []v3.IPAMBlock{block("b2", "198.18.0.8/29", "n2", true)}},
		wantWaiting: 1, wantNext: t0.Add(grace),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(&tc.state, tc.seen, t0, grace)
			if err != nil {
				t.Fatal(err)
			}
			var rel, del []string
			for _, r := range p.Releases {
				rel = append(rel, r.Handle)
			}
			for _, b := range p.DeleteBlocks {
				del = append(del, b.Name)
			}
			if !slices.Equal(rel, tc.wantRelease) || !slices.Equal(del, tc.wantDelete) {
				t.Errorf("releases %q, deletes %q; want %q, %q", rel, del, tc.wantRelease, tc.wantDelete)
			}
			if p.Waiting != tc.wantWaiting || !p.Next.Equal(tc.wantNext) {
				t.Errorf("waiting %d until %s; want %d until %s", p.Waiting, p.Next, tc.wantWaiting, tc.wantNext)
			}
		})
	}
}

func TestNewPlanCarriesSeen(t *testing.T) {
	s := State{Blocks: []v3.IPAMBlock{block("b1", "198.18.0.0/29", "n1", true, podAlloc(1, "ns", "gone", "n1", t0.Add(-time.Hour)))},
		Nodes: map[string]bool{"n1": true}}
	p1, err := NewPlan(&s, nil, t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Releases) != 0 {
		t.Fatalf("released on first sight: %+v", p1.Releases)
	}
	p2, err := NewPlan(&s, p1.Seen, t0.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Releases) != 1 || p2.Releases[0].Leaks[0].Addr != netip.MustParseAddr("198.18.0.1") {
		t.Fatalf("second pass releases %+v, want the handle of 198.18.0.1", p2.Releases)
	}
	s.Pods = map[string]Pod{"ns/gone": {Node: "n1"}} // the pod is back: forgotten
	p3, err := NewPlan(&s, p2.Seen, t0.Add(2*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(p3.Seen) != 0 || len(p3.Releases) != 0 {
		t.Errorf("live pod still tracked: seen %v releases %+v", p3.Seen, p3.Releases)
	}
}

func TestLiveNodes(t *testing.T) {
	node := func(name, cluster, k8s string) v3.Node {
		n := v3.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if cluster != "" {
			n.Labels = map[string]string{v3.LabelCluster: cluster}
		}
		if k8s != "" {
			n.Spec.OrchRefs = []v3.OrchRef{{Orchestrator: v3.OrchestratorK8s, NodeName: k8s}}
		}
		return n
	}
	got := LiveNodes([]string{"k1", "k2"}, []v3.Node{node("agent-only", "", ""), node("k2", "", "k2"),
		node("stale", "", "stale"), node("cluster-b/n1", "cluster-b", "")})
	want := map[string]bool{"k1": true, "k2": true, "agent-only": true}
	if len(got) != len(want) {
		t.Errorf("LiveNodes = %v, want %v", got, want)
	}
	for n := range want {
		if !got[n] {
			t.Errorf("LiveNodes = %v, want %v", got, want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	want := time.Date(2026, 12, 2, 9, 0, 0, 500, time.UTC)
	for _, s := range []string{want.Format(time.RFC3339Nano), want.String(), want.String() + " m=+0.000123"} {
		got, ok := ParseTimestamp(s)
		if !ok || !got.Equal(want) {
			t.Errorf("ParseTimestamp(%q) = %s, %v; want %s", s, got, ok, want)
		}
	}
	if _, ok := ParseTimestamp("yesterday"); ok {
		t.Error(`ParseTimestamp("yesterday") parsed`)
	}
}

func TestPodOf(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want Pod
	}{{
		name: "scheduled, no addresses yet",
		pod:  corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}},
		want: Pod{Node: "n1"},
	}, {
		name: "dual stack; an address that does not parse is left out",
		pod: corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"},
			Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "198.18.0.7"}, {IP: "2001:db8::7"}, {IP: "not-an-ip"}}}},
		want: Pod{Node: "n1", IPs: []netip.Addr{netip.MustParseAddr("198.18.0.7"), netip.MustParseAddr("2001:db8::7")}},
	}, {
		name: "an IPv4-mapped IPv6 spelling is the IPv4 address",
		pod:  corev1.Pod{Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "::ffff:198.18.0.9"}}}},
		want: Pod{IPs: []netip.Addr{netip.MustParseAddr("198.18.0.9")}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PodOf(&tc.pod)
			if got.Node != tc.want.Node || !slices.Equal(got.IPs, tc.want.IPs) {
				t.Errorf("PodOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}
