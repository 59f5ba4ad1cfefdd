package meshctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/ipamgc"
)

// ipamBlock builds a block of cidr affine to node; each pod "ns/name" in
// pods is allocated at the ordinal of its position (nil: no record).
func ipamBlock(name, cidr, node string, pods ...string) v3.IPAMBlock {
	aff := "host:" + node
	b := v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPAMBlockSpec{CIDR: cidr, Affinity: &aff}}
	if pods == nil {
		return b
	}
	b.Spec.Allocations = make(v3.Allocations, 1<<(32-netip.MustParsePrefix(cidr).Bits()))
	for i, p := range pods {
		if p == "" {
			continue
		}
		idx, h := len(b.Spec.Attributes), "k8s-pod-network."+p
		ns, pod, _ := strings.Cut(p, "/")
		b.Spec.Allocations[i] = &idx
		b.Spec.Attributes = append(b.Spec.Attributes, v3.AllocationAttribute{HandleID: &h,
			Secondary: map[string]string{ipamgc.AttrNamespace: ns, ipamgc.AttrPod: pod, ipamgc.AttrNode: node, ipamgc.AttrType: ipamgc.TypePod}})
	}
	for o, a := range b.Spec.Allocations {
		if a == nil {
			b.Spec.Unallocated = append(b.Spec.Unallocated, o)
		}
	}
	return b
}

func ipPool(name, cidr string) v3.IPPool {
	return v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr}}
}

func TestIPAMUsage(t *testing.T) {
	pools := []v3.IPPool{ipPool("default", "198.18.0.0/24"), ipPool("other", "198.19.0.0/16")}
	blocks := []v3.IPAMBlock{
		ipamBlock("a", "198.18.0.0/29", "n1", "ns/p1", "", "ns/p2"),
		ipamBlock("b", "198.18.0.8/29", "n2", "ns/p3"),
		ipamBlock("hand", "198.18.0.16/29", "n2"),
	}
	got := IPAMUsage(pools, blocks)
	want := IPAMShow{
		Pools: []IPAMPoolUsage{{Name: "default", CIDR: "198.18.0.0/24", Size: 256, Blocks: 3, Used: 3, Free: 253},
			{Name: "other", CIDR: "198.19.0.0/16", Size: 65536, Free: 65536}},
		Nodes: []IPAMNodeUsage{{Node: "n1", Blocks: 1, Used: 2}, {Node: "n2", Blocks: 2, Used: 1}},
	}
	if !slices.Equal(got.Pools, want.Pools) || !slices.Equal(got.Nodes, want.Nodes) {
		t.Errorf("IPAMUsage = %+v\nwant %+v", got, want)
	}
	var out bytes.Buffer
	o := &options{out: &out, output: "table"}
	if err := o.printIPAMShow(got); err != nil {
		t.Fatal(err)
	}
	table := "POOL     CIDR           SIZE   BLOCKS  USED  FREE\n" +
		"default  198.18.0.0/24  256    3       3     253\n" +
		"other    198.19.0.0/16  65536  0       0     65536\n" +
		"\nNODE  BLOCKS  USED\nn1    1       2\nn2    2       1\n"
	if out.String() != table {
		t.Errorf("ipam show table:\n%s\nwant\n%s", out.String(), table)
	}
}

func TestIPAMChecks(t *testing.T) {
	broken := ipamBlock("broken", "198.18.0.32/29", "n1", "ns/live")
	broken.Spec.Attributes = append(broken.Spec.Attributes, v3.AllocationAttribute{})
	badIndex := ipamBlock("bad-index", "198.18.0.48/29", "n1", "ns/live")
	seven := 7
	badIndex.Spec.Allocations[0] = &seven
	remote := ipamBlock("cluster-b.x", "203.0.113.0/29", "cluster-b/n1", "ns/gone")
	remote.Labels = map[string]string{v3.LabelCluster: "cluster-b"}
	tests := []struct {
		name   string
		blocks []v3.IPAMBlock
		want   []string // "<check> <block> <address>"
	}{{
		name:   "healthy; mirrored and hand-made blocks are not judged",
		blocks: []v3.IPAMBlock{ipamBlock("a", "198.18.0.0/29", "n1", "ns/live"), ipamBlock("hand", "198.18.0.8/29", "n1"), remote},
	}, {
		name:   "leaked pod address",
		blocks: []v3.IPAMBlock{ipamBlock("a", "198.18.0.0/29", "n1", "ns/live", "ns/gone")},
		want:   []string{"leaked a 198.18.0.1"},
	}, {
		name: "same address in two overlapping blocks, one outside the pools",
		blocks: []v3.IPAMBlock{ipamBlock("a", "198.18.0.0/29", "n1", "ns/live"),
			ipamBlock("wide", "198.18.0.0/23", "n1", "ns/live")},
		want: []string{"duplicate-address a 198.18.0.0", "duplicate-address wide 198.18.0.0", "outside-pools wide -"},
	}, {
		name:   "unused attribute and an allocation naming no attribute",
		blocks: []v3.IPAMBlock{broken, badIndex},
		want:   []string{"inconsistent-record bad-index -", "inconsistent-record broken -"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &ipamgc.State{Blocks: tc.blocks, Pods: map[string]ipamgc.Pod{"ns/live": {Node: "n1"}}, Nodes: map[string]bool{"n1": true}}
			problems, err := IPAMChecks([]v3.IPPool{ipPool("default", "198.18.0.0/24")}, s)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, fmt.Sprintf("%s %s %s", p.Check, p.Block, orDash(p.Address)))
				if p.Detail == "" || p.Fix == "" {
					t.Errorf("problem without detail or fix: %+v", p)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("IPAMChecks = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrintIPAMCheck(t *testing.T) {
	problems := []IPAMProblem{{Check: IPAMCheckOutsidePools, Block: "wide", Detail: "lies outside", Fix: "delete it"}}
	for _, tc := range []struct {
		output, want string
		problems     []IPAMProblem
		fails        bool
	}{
		{"table", "No IPAM problems in 2 block(s).\n", nil, false},
		{"table", "CHECK          BLOCK  ADDRESS  HANDLE  DETAIL\noutside-pools  wide   -        -       lies outside; fix: delete it\n", problems, true},
		{"json", "[]\n", []IPAMProblem{}, false},
	} {
		var out bytes.Buffer
		o := &options{out: &out, output: tc.output}
		err := o.printIPAMCheck(tc.problems, 2)
		if (err != nil) != tc.fails || out.String() != tc.want {
			t.Errorf("-o %s: %q, err %v; want %q, failing %v", tc.output, out.String(), err, tc.want, tc.fails)
		}
	}
	var out bytes.Buffer
	o := &options{out: &out, output: "json"}
	if err := o.printIPAMCheck(problems, 1); err == nil {
		t.Error("-o json with a problem: no error")
	}
	var back []IPAMProblem
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || !slices.Equal(back, problems) {
		t.Errorf("-o json: %s (%v)", out.String(), err)
	}
}
