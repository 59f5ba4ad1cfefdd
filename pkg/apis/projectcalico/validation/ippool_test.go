package validation

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestIPPoolDocumentation(t *testing.T) {
	pool := fromYAML[v3.IPPool](t, `
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: cluster2-main-pool
spec:
  cidr: 10.245.0.0/16
  disabled: true
`)
	checkErrors(t, ValidateIPPool(pool))
}

func ipPool() *v3.IPPool {
	return &v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: "default-ipv4-ippool"},
		Spec: v3.IPPoolSpec{
			CIDR:         "10.244.0.0/16",
			VXLANMode:    v3.EncapModeAlways,
			IPIPMode:     v3.EncapModeNever,
			NATOutgoing:  true,
			NodeSelector: "all()",
		},
	}
}

func ipPool6() *v3.IPPool {
	p := ipPool()
	p.Name = "default-ipv6-ippool"
	p.Spec.CIDR = "fd00:10:244::/64"
	return p
}

func TestValidateIPPool(t *testing.T) {
	runCases(t, ipPool, ValidateIPPool, []tcase[v3.IPPool]{
		{name: "IPv4 VXLAN pool"},
		{name: "IPv4 IPIP pool", mut: func(p *v3.IPPool) { p.Spec.VXLANMode, p.Spec.IPIPMode = v3.EncapModeNever, v3.EncapModeAlways }},
		{name: "cross-subnet VXLAN", mut: func(p *v3.IPPool) { p.Spec.VXLANMode = v3.EncapModeCrossSubnet }},
		{name: "modes left to defaulting", mut: func(p *v3.IPPool) { p.Spec.VXLANMode, p.Spec.IPIPMode = "", "" }},
		{name: "IPIP enabled with VXLAN empty", mut: func(p *v3.IPPool) { p.Spec.VXLANMode, p.Spec.IPIPMode = "", v3.EncapModeCrossSubnet }},
		{name: "smallest IPv4 block size", mut: func(p *v3.IPPool) { p.Spec.BlockSize = 20 }},
		{name: "largest IPv4 block size", mut: func(p *v3.IPPool) { p.Spec.BlockSize = 32 }},
		{name: "enabled pool exactly one default block", mut: func(p *v3.IPPool) { p.Spec.CIDR = "10.244.0.0/26" }},
		{name: "disabled pool smaller than a block", mut: func(p *v3.IPPool) { p.Spec.CIDR, p.Spec.Disabled = "10.244.0.0/28", true }},
		{name: "node selector", mut: func(p *v3.IPPool) { p.Spec.NodeSelector = "topology.kubernetes.io/zone == 'eu-1a'" }},
		{name: "empty node selector", mut: func(p *v3.IPPool) { p.Spec.NodeSelector = "" }},
		{name: "workload and tunnel uses", mut: func(p *v3.IPPool) {
			p.Spec.AllowedUses = []v3.IPPoolAllowedUse{v3.IPPoolAllowedUseWorkload, v3.IPPoolAllowedUseTunnel}
		}},
		{name: "load balancer use alone", mut: func(p *v3.IPPool) {
			p.Spec.AllowedUses = []v3.IPPoolAllowedUse{v3.IPPoolAllowedUseLoadBalancer}
		}},
		{
			name: "cidr missing",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "" },
			want: []want{required("spec.cidr", "a CIDR such as")},
		},
		{
			name: "cidr without prefix length",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "10.244.0.0" },
			want: []want{invalid("spec.cidr", `"10.244.0.0": must be a CIDR in address/prefix-length form`)},
		},
		{
			name: "cidr garbage",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "ten.two.four/16" },
			want: []want{invalid("spec.cidr", `"ten.two.four/16"`)},
		},
		{
			name: "cidr prefix too long",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "10.244.0.0/33" },
			want: []want{invalid("spec.cidr", `"10.244.0.0/33"`)},
		},
		{
			name: "cidr with host bits",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "10.244.0.1/16" },
			want: []want{invalid("spec.cidr", `"10.244.0.1/16": must be a network address (did you mean "10.244.0.0/16"?)`)},
		},
		{
			name: "IPv4 link-local",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "169.254.0.0/16" },
			want: []want{invalid("spec.cidr", "must not overlap the IPv4 link-local range 169.254.0.0/16")},
		},
		{
			name: "inside IPv4 link-local",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "169.254.10.0/24" },
			want: []want{invalid("spec.cidr", "IPv4 link-local")},
		},
		{
			name: "IPv4 loopback",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "127.0.0.0/16" },
			want: []want{invalid("spec.cidr", "must not overlap the IPv4 loopback range 127.0.0.0/8")},
		},
		{
			name: "IPv4 multicast",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "239.1.0.0/16" },
			want: []want{invalid("spec.cidr", "must not overlap the IPv4 multicast range 224.0.0.0/4")},
		},
		{
			name: "everything overlaps every reserved range",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "0.0.0.0/0" },
			want: []want{
				invalid("spec.cidr", "IPv4 link-local"),
				invalid("spec.cidr", "IPv4 loopback"),
				invalid("spec.cidr", "IPv4 multicast"),
			},
		},
		{
			name: "block size below the IPv4 range",
			mut:  func(p *v3.IPPool) { p.Spec.BlockSize = 19 },
			want: []want{invalid("spec.blockSize", "19: must be from 20 to 32 for an IPv4 pool")},
		},
		{
			name: "block size above the IPv4 range",
			mut:  func(p *v3.IPPool) { p.Spec.BlockSize = 33 },
			want: []want{invalid("spec.blockSize", "33: must be from 20 to 32")},
		},
		{
			name: "IPv6 block size on an IPv4 pool",
			mut:  func(p *v3.IPPool) { p.Spec.BlockSize = 122 },
			want: []want{invalid("spec.blockSize", "122: must be from 20 to 32 for an IPv4 pool")},
		},
		{
			name: "enabled pool smaller than the default block",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "10.244.0.0/28" },
			want: []want{invalid("spec.blockSize", "blocks of /26 do not fit in the pool 10.244.0.0/28 (blockSize 0 means the IPv4 default, 26)")},
		},
		{
			name: "enabled pool smaller than its block",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR, p.Spec.BlockSize = "10.244.0.0/24", 22 },
			want: []want{invalid("spec.blockSize", "22: blocks of /22 do not fit in the pool 10.244.0.0/24")},
		},
		{
			name: "block size out of both ranges with an unparseable cidr",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR, p.Spec.BlockSize = "bad", 50 },
			want: []want{
				invalid("spec.cidr", `"bad"`),
				invalid("spec.blockSize", "50: must be from 20 to 32 for an IPv4 pool or from 116 to 128 for an IPv6 pool"),
			},
		},
		{
			name: "vxlanMode lower case",
			mut:  func(p *v3.IPPool) { p.Spec.VXLANMode = "always" },
			want: []want{notSupported("spec.vxlanMode", `"always": supported values: "Never", "Always", "CrossSubnet"`)},
		},
		{
			name: "ipipMode unknown",
			mut:  func(p *v3.IPPool) { p.Spec.IPIPMode = "Sometimes" },
			want: []want{notSupported("spec.ipipMode", `"Sometimes"`)},
		},
		{
			name: "VXLAN and IPIP both enabled",
			mut:  func(p *v3.IPPool) { p.Spec.IPIPMode = v3.EncapModeCrossSubnet },
			want: []want{invalid("spec.ipipMode", `"CrossSubnet": IP-in-IP and VXLAN cannot both be enabled (vxlanMode is "Always")`)},
		},
		{
			name: "invalid node selector",
			mut:  func(p *v3.IPPool) { p.Spec.NodeSelector = "zone ==" },
			want: []want{invalid("spec.nodeSelector", `"zone ==": invalid selector at column`)},
		},
		{
			name: "unknown allowed use",
			mut:  func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{"Workload", "Storage"} },
			want: []want{notSupported("spec.allowedUses[1]", `"Storage": supported values: "Workload", "Tunnel", "LoadBalancer"`)},
		},
		{
			name: "duplicate allowed use",
			mut:  func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{"Workload", "Tunnel", "Workload"} },
			want: []want{duplicate("spec.allowedUses[2]", `"Workload"`)},
		},
		{
			name: "load balancer with workload",
			mut:  func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{"LoadBalancer", "Workload"} },
			want: []want{invalid("spec.allowedUses", `["LoadBalancer","Workload"]: LoadBalancer cannot be combined with Workload or Tunnel`)},
		},
		{
			name: "load balancer with tunnel",
			mut:  func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{"Tunnel", "LoadBalancer"} },
			want: []want{invalid("spec.allowedUses", "LoadBalancer cannot be combined")},
		},
		{
			name: "all violations reported at once",
			mut: func(p *v3.IPPool) {
				p.Spec.CIDR = "10.244.0.1/28"
				p.Spec.IPIPMode = v3.EncapModeAlways
				p.Spec.NodeSelector = "!"
				p.Spec.AllowedUses = []v3.IPPoolAllowedUse{"Tunnel", "Tunnel", "LoadBalancer"}
			},
			want: []want{
				invalid("spec.cidr", `did you mean "10.244.0.0/28"?`),
				invalid("spec.blockSize", "do not fit"),
				invalid("spec.ipipMode", "cannot both be enabled"),
				invalid("spec.nodeSelector", `"!"`),
				duplicate("spec.allowedUses[1]", "Tunnel"),
				invalid("spec.allowedUses", "LoadBalancer cannot be combined"),
			},
		},
	})
}

func TestValidateIPPoolIPv6(t *testing.T) {
	runCases(t, ipPool6, ValidateIPPool, []tcase[v3.IPPool]{
		{name: "IPv6 VXLAN pool"},
		{name: "IPv6 block size 116", mut: func(p *v3.IPPool) { p.Spec.BlockSize = 116 }},
		{name: "IPv6 block size 128", mut: func(p *v3.IPPool) { p.Spec.BlockSize = 128 }},
		{name: "IPv6 pool of one default block", mut: func(p *v3.IPPool) { p.Spec.CIDR = "fd00:10:244::/122" }},
		{name: "IPv6 IPIP Never", mut: func(p *v3.IPPool) { p.Spec.IPIPMode = v3.EncapModeNever }},
		{
			name: "IPv6 cidr with host bits",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "fd00:10:244::1/64" },
			want: []want{invalid("spec.cidr", `(did you mean "fd00:10:244::/64"?)`)},
		},
		{
			name: "IPv6 link-local",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "fe80::/64" },
			want: []want{invalid("spec.cidr", "must not overlap the IPv6 link-local range fe80::/10")},
		},
		{
			name: "IPv6 loopback",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR, p.Spec.Disabled = "::1/128", true },
			want: []want{invalid("spec.cidr", "IPv6 loopback range ::1/128")},
		},
		{
			name: "IPv6 multicast",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "ff02::/16" },
			want: []want{invalid("spec.cidr", "IPv6 multicast range ff00::/8")},
		},
		{
			name: "IPv4-mapped IPv6 range",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "::ffff:10.244.0.0/112" },
			want: []want{invalid("spec.cidr", `"::ffff:10.244.0.0/112": must not overlap the IPv4-mapped IPv6 range ::ffff:0.0.0.0/96`)},
		},
		{
			name: "IPv4 block size on an IPv6 pool",
			mut:  func(p *v3.IPPool) { p.Spec.BlockSize = 26 },
			want: []want{invalid("spec.blockSize", "26: must be from 116 to 128 for an IPv6 pool (0 means the default, 122)")},
		},
		{
			name: "IPv6 block size above range",
			mut:  func(p *v3.IPPool) { p.Spec.BlockSize = 129 },
			want: []want{invalid("spec.blockSize", "129")},
		},
		{
			name: "enabled IPv6 pool smaller than the default block",
			mut:  func(p *v3.IPPool) { p.Spec.CIDR = "fd00:10:244::/124" },
			want: []want{invalid("spec.blockSize", "blocks of /122 do not fit")},
		},
		{
			name: "IPIP on IPv6",
			mut:  func(p *v3.IPPool) { p.Spec.VXLANMode, p.Spec.IPIPMode = v3.EncapModeNever, v3.EncapModeAlways },
			want: []want{invalid("spec.ipipMode", `"Always": IP-in-IP is not supported on an IPv6 pool`)},
		},
	})
}

func TestValidateIPPoolUpdate(t *testing.T) {
	cases := []struct {
		name     string
		old, new func(*v3.IPPool)
		want     []want
	}{
		{name: "unchanged"},
		{name: "mutable fields change", new: func(p *v3.IPPool) {
			p.Spec.NATOutgoing, p.Spec.Disabled, p.Spec.VXLANMode = false, true, v3.EncapModeCrossSubnet
		}},
		{name: "block size 0 made explicit", new: func(p *v3.IPPool) { p.Spec.BlockSize = 26 }},
		{name: "block size default made implicit", old: func(p *v3.IPPool) { p.Spec.BlockSize = 26 }},
		{name: "same network written differently",
			old: func(p *v3.IPPool) { p.Spec.CIDR = "fd00:10:244:0::/64" },
			new: func(p *v3.IPPool) { p.Spec.CIDR = "fd00:10:244::/64" }},
		{
			name: "cidr changed",
			new:  func(p *v3.IPPool) { p.Spec.CIDR = "10.245.0.0/16" },
			want: []want{invalid("spec.cidr", `"10.245.0.0/16": field is immutable`)},
		},
		{
			name: "block size changed",
			new:  func(p *v3.IPPool) { p.Spec.BlockSize = 28 },
			want: []want{invalid("spec.blockSize", "28: field is immutable")},
		},
		{
			name: "block size changed to the default",
			old:  func(p *v3.IPPool) { p.Spec.BlockSize = 24 },
			new:  func(p *v3.IPPool) { p.Spec.BlockSize = 0 },
			want: []want{invalid("spec.blockSize", "0: field is immutable")},
		},
		{
			name: "both changed; ValidateIPPool's checks are not repeated",
			new: func(p *v3.IPPool) {
				p.Spec.CIDR, p.Spec.BlockSize, p.Spec.IPIPMode = "10.0.0.1/8", 30, "On"
			},
			want: []want{
				invalid("spec.cidr", `"10.0.0.1/8": field is immutable`),
				invalid("spec.blockSize", "30: field is immutable"),
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, n := ipPool(), ipPool()
			if c.old != nil {
				c.old(o)
			}
			if c.new != nil {
				c.new(n)
			}
			checkErrors(t, ValidateIPPoolUpdate(n, o), c.want...)
		})
	}
}

func namedPool(name, cidr string, mut ...func(*v3.IPPool)) v3.IPPool {
	p := v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.IPPoolSpec{CIDR: cidr}}
	for _, m := range mut {
		m(&p)
	}
	return p
}

func mirrored(p *v3.IPPool) { p.Labels = map[string]string{v3.LabelCluster: "cluster-b"} }
func disabled(p *v3.IPPool) { p.Spec.Disabled = true }

func TestValidateIPPoolOverlap(t *testing.T) {
	cases := []struct {
		name   string
		pool   v3.IPPool
		others []v3.IPPool
		want   []want
	}{
		{
			name:   "disjoint pools",
			pool:   namedPool("main", "10.244.0.0/16"),
			others: []v3.IPPool{namedPool("other", "10.245.0.0/16"), namedPool("v6", "fd00::/64")},
		},
		{
			name:   "same name is the pool itself",
			pool:   namedPool("main", "10.244.0.0/16"),
			others: []v3.IPPool{namedPool("main", "10.244.0.0/16")},
		},
		{
			name:   "mirrored pools are left to mesh admission",
			pool:   namedPool("main", "10.244.0.0/16"),
			others: []v3.IPPool{namedPool("cluster-b.main", "10.244.0.0/16", mirrored, disabled)},
		},
		{
			name:   "a mirrored pool is not checked against local pools",
			pool:   namedPool("cluster-b.main", "10.244.0.0/16", mirrored, disabled),
			others: []v3.IPPool{namedPool("main", "10.244.0.0/16")},
		},
		{
			name:   "invalid cidrs are left to ValidateIPPool",
			pool:   namedPool("main", "10.244.0.0/16"),
			others: []v3.IPPool{namedPool("broken", "nope")},
		},
		{
			name:   "own invalid cidr",
			pool:   namedPool("main", "nope"),
			others: []v3.IPPool{namedPool("other", "10.0.0.0/8")},
		},
		{
			name:   "overlap with a disabled pool",
			pool:   namedPool("main", "10.244.0.0/16"),
			others: []v3.IPPool{namedPool("other", "10.244.0.0/24", disabled)},
			want:   []want{invalid("spec.cidr", `spec.cidr: Invalid value: "10.244.0.0/16": overlaps IPPool "other" (10.244.0.0/24)`)},
		},
		{
			name:   "pool inside another",
			pool:   namedPool("small", "10.1.0.0/16"),
			others: []v3.IPPool{namedPool("big", "10.0.0.0/8")},
			want:   []want{invalid("spec.cidr", `overlaps IPPool "big" (10.0.0.0/8)`)},
		},
		{
			name:   "IPv6 overlap",
			pool:   namedPool("v6", "fd00:10:244::/64"),
			others: []v3.IPPool{namedPool("v6-wide", "fd00:10::/32")},
			want:   []want{invalid("spec.cidr", `overlaps IPPool "v6-wide" (fd00:10::/32)`)},
		},
		{
			name: "every overlap is reported",
			pool: namedPool("main", "10.244.0.0/16"),
			others: []v3.IPPool{
				namedPool("a", "10.244.1.0/24"),
				namedPool("b", "10.245.0.0/16"),
				namedPool("c", "10.0.0.0/8"),
			},
			want: []want{
				invalid("spec.cidr", `overlaps IPPool "a" (10.244.1.0/24)`),
				invalid("spec.cidr", `overlaps IPPool "c" (10.0.0.0/8)`),
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErrors(t, ValidateIPPoolOverlap(&c.pool, c.others), c.want...)
		})
	}
}

func TestValidateIPAMBlock(t *testing.T) {
	base := func() *v3.IPAMBlock {
		return &v3.IPAMBlock{
			ObjectMeta: metav1.ObjectMeta{Name: "10-244-1-0-26"},
			Spec:       v3.IPAMBlockSpec{CIDR: "10.244.1.0/26", Affinity: ptr("host:worker-1")},
		}
	}
	runCases(t, base, ValidateIPAMBlock, []tcase[v3.IPAMBlock]{
		{name: "block with affinity"},
		{name: "block without affinity", mut: func(b *v3.IPAMBlock) { b.Spec.Affinity = nil }},
		{name: "IPv6 block", mut: func(b *v3.IPAMBlock) { b.Spec.CIDR = "fd00:10:244::40/122" }},
		{name: "mirrored node affinity", mut: func(b *v3.IPAMBlock) { b.Spec.Affinity = ptr("host:cluster-b/worker-1") }},
		{
			name: "cidr missing",
			mut:  func(b *v3.IPAMBlock) { b.Spec.CIDR = "" },
			want: []want{required("spec.cidr", "")},
		},
		{
			name: "cidr with host bits",
			mut:  func(b *v3.IPAMBlock) { b.Spec.CIDR = "10.244.1.5/26" },
			want: []want{invalid("spec.cidr", `did you mean "10.244.1.0/26"?`)},
		},
		{
			name: "cidr invalid",
			mut:  func(b *v3.IPAMBlock) { b.Spec.CIDR = "10.244.1.0/40" },
			want: []want{invalid("spec.cidr", `"10.244.1.0/40"`)},
		},
		{
			name: "affinity without host prefix",
			mut:  func(b *v3.IPAMBlock) { b.Spec.Affinity = ptr("worker-1") },
			want: []want{invalid("spec.affinity", `"worker-1": must be "host:<node name>"`)},
		},
		{
			name: "affinity without node",
			mut:  func(b *v3.IPAMBlock) { b.Spec.Affinity = ptr("host:") },
			want: []want{invalid("spec.affinity", `"host:"`)},
		},
		{
			name: "empty affinity",
			mut:  func(b *v3.IPAMBlock) { b.Spec.Affinity = ptr("") },
			want: []want{invalid("spec.affinity", `""`)},
		},
		{name: "allocation record", mut: func(b *v3.IPAMBlock) { recordAllocations(b, 64, 0, 5) }},
		{name: "IPv6 allocation record", mut: func(b *v3.IPAMBlock) { b.Spec.CIDR = "fd00:10:244::40/122"; recordAllocations(b, 64, 3) }},
		{
			name: "allocations of the wrong length",
			mut:  func(b *v3.IPAMBlock) { recordAllocations(b, 32) },
			want: []want{invalid("spec.allocations", "one entry per address of 10.244.1.0/26 (64)")},
		},
		{
			name: "allocation naming no attribute",
			mut:  func(b *v3.IPAMBlock) { recordAllocations(b, 64, 2); b.Spec.Allocations[2] = ptr(7) },
			want: []want{invalid("spec.allocations[2]", "index of one of the 1 attributes")},
		},
		{
			name: "allocated ordinal listed as free",
			mut: func(b *v3.IPAMBlock) {
				recordAllocations(b, 64, 4)
				b.Spec.Unallocated = append(b.Spec.Unallocated, 4)
			},
			want: []want{invalid("spec.unallocated[63]", "is allocated (allocations[4] = 0)")},
		},
		{
			name: "free ordinal listed twice",
			mut: func(b *v3.IPAMBlock) {
				recordAllocations(b, 64)
				b.Spec.Unallocated[1] = b.Spec.Unallocated[0]
			},
			want: []want{duplicate("spec.unallocated[1]", ""), invalid("spec.unallocated", "Invalid value: 1: ordinal 1 is free")},
		},
		{
			name: "ordinal outside the block",
			mut:  func(b *v3.IPAMBlock) { recordAllocations(b, 64); b.Spec.Unallocated[0] = 64 },
			want: []want{invalid("spec.unallocated[0]", "0 to 63"), invalid("spec.unallocated", "Invalid value: 0: ordinal 0 is free")},
		},
		{
			name: "attributes without allocations",
			mut: func(b *v3.IPAMBlock) {
				b.Spec.Attributes = []v3.AllocationAttribute{{HandleID: ptr("k8s-pod-network.c1")}}
			},
			want: []want{required("spec.allocations", "one entry per address")},
		},
		{
			name: "block too large to record",
			mut:  func(b *v3.IPAMBlock) { b.Spec.CIDR = "10.240.0.0/19"; recordAllocations(b, 8192) },
			want: []want{invalid("spec.cidr", "at most 4096 addresses")},
		},
	})
}

func TestValidateIPPoolStatus(t *testing.T) {
	runCases(t, ipPool, ValidateIPPoolStatus, []tcase[v3.IPPool]{
		{name: "no conditions"},
		{name: "valid condition", mut: func(p *v3.IPPool) {
			p.Status.Conditions = []metav1.Condition{validCondition("Ready")}
		}},
		{name: "spec is not checked", mut: func(p *v3.IPPool) { p.Spec.CIDR = "" }},
		{
			name: "condition without transition time",
			mut: func(p *v3.IPPool) {
				c := validCondition("Ready")
				c.LastTransitionTime = metav1.Time{}
				p.Status.Conditions = []metav1.Condition{c}
			},
			want: []want{required("status.conditions[0].lastTransitionTime", "")},
		},
		{
			name: "condition with invalid type and duplicate",
			mut: func(p *v3.IPPool) {
				a, b := validCondition("not a type!"), validCondition("not a type!")
				p.Status.Conditions = []metav1.Condition{a, b}
			},
			want: []want{
				invalid("status.conditions[0].type", `"not a type!"`),
				duplicate("status.conditions[1]", `"not a type!"`),
				invalid("status.conditions[1].type", `"not a type!"`),
			},
		},
	})
}

// recordAllocations gives b an allocation record of size addresses in which
// the ordinals used are allocated, each to an attribute of its own.
func recordAllocations(b *v3.IPAMBlock, size int, used ...int) {
	b.Spec.Allocations = make([]*int, size)
	b.Spec.Attributes, b.Spec.Unallocated = nil, nil
	for _, o := range used {
		b.Spec.Allocations[o] = ptr(len(b.Spec.Attributes))
		b.Spec.Attributes = append(b.Spec.Attributes, v3.AllocationAttribute{HandleID: ptr(fmt.Sprintf("k8s-pod-network.c%d", o))})
	}
	for o := range size {
		if b.Spec.Allocations[o] == nil {
			b.Spec.Unallocated = append(b.Spec.Unallocated, o)
		}
	}
}
