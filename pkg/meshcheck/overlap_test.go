package meshcheck

import (
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestCheckIPPool(t *testing.T) {
	b := func(pools ...v3.IPPool) ClusterView { return ClusterView{Name: "cluster-b", Pools: pools} }
	c := func(pools ...v3.IPPool) ClusterView { return ClusterView{Name: "cluster-c", Pools: pools} }
	v4 := ippool("default-ipv4-ippool", "10.244.0.0/16")
	v6 := ippool("default-ipv6-ippool", "fd00:10:244::/48")

	tests := []struct {
		name    string
		pool    *v3.IPPool
		remotes []ClusterView
		want    []string
	}{
		{name: "no remote clusters", pool: &v4},
		{name: "remote cluster without pools", pool: &v4, remotes: []ClusterView{b()}},
		{name: "disjoint pools", pool: &v4, remotes: []ClusterView{b(ippool("p", "10.245.0.0/16"), ippool("q", "192.168.0.0/16"))}},
		{
			name: "same CIDR", pool: &v4, remotes: []ClusterView{b(v4)},
			want: []string{`spec.cidr: Invalid value: "10.244.0.0/16": overlaps IPPool "default-ipv4-ippool" (10.244.0.0/16) of remote cluster "cluster-b"`},
		},
		{
			name: "remote pool inside the new pool", pool: ptr(ippool("big", "10.0.0.0/8")), remotes: []ClusterView{b(v4)},
			want: []string{`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "default-ipv4-ippool" (10.244.0.0/16) of remote cluster "cluster-b"`},
		},
		{
			name: "new pool inside a remote pool", pool: ptr(ippool("small", "10.244.3.0/24")), remotes: []ClusterView{b(v4)},
			want: []string{`spec.cidr: Invalid value: "10.244.3.0/24": overlaps IPPool "default-ipv4-ippool" (10.244.0.0/16) of remote cluster "cluster-b"`},
		},
		{name: "adjacent pools do not overlap", pool: &v4, remotes: []ClusterView{b(ippool("next", "10.245.0.0/16"), ippool("prev", "10.243.0.0/16"))}},
		{
			name: "IPv6 overlap", pool: ptr(ippool("v6", "fd00:10:244:1::/64")), remotes: []ClusterView{b(v6)},
			want: []string{`spec.cidr: Invalid value: "fd00:10:244:1::/64": overlaps IPPool "default-ipv6-ippool" (fd00:10:244::/48) of remote cluster "cluster-b"`},
		},
		{name: "IPv6 disjoint", pool: ptr(ippool("v6", "fd00:10:245::/48")), remotes: []ClusterView{b(v6)}},
		{name: "IPv4 and IPv6 never overlap", pool: ptr(ippool("all-v6", "::/0")), remotes: []ClusterView{b(ippool("all-v4", "0.0.0.0/0"))}},
		{
			name: "disabled remote pool counts", pool: &v4, remotes: []ClusterView{b(ippool("old", "10.244.128.0/17", disabled))},
			want: []string{`spec.cidr: Invalid value: "10.244.0.0/16": overlaps IPPool "old" (10.244.128.0/17) of remote cluster "cluster-b"`},
		},
		{
			name: "every overlap, by remote name then pool name",
			pool: ptr(ippool("wide", "10.0.0.0/8")),
			remotes: []ClusterView{
				c(ippool("z", "10.1.0.0/16"), ippool("a", "10.2.0.0/16"), ippool("far", "172.16.0.0/12")),
				b(ippool("y", "10.3.0.0/16"), ippool("x", "10.4.0.0/16")),
			},
			want: []string{
				`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "x" (10.4.0.0/16) of remote cluster "cluster-b"`,
				`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "y" (10.3.0.0/16) of remote cluster "cluster-b"`,
				`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "a" (10.2.0.0/16) of remote cluster "cluster-c"`,
				`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "z" (10.1.0.0/16) of remote cluster "cluster-c"`,
			},
		},
		{
			name: "pools of one name ordered by CIDR", pool: ptr(ippool("wide", "10.0.0.0/8")),
			remotes: []ClusterView{b(ippool("p", "10.9.0.0/16"), ippool("p", "10.1.0.0/16"))},
			want: []string{
				`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "p" (10.1.0.0/16) of remote cluster "cluster-b"`,
				`spec.cidr: Invalid value: "10.0.0.0/8": overlaps IPPool "p" (10.9.0.0/16) of remote cluster "cluster-b"`,
			},
		},
		{
			name: "mirrored pools passed by mistake are ignored", pool: &v4,
			remotes: []ClusterView{b(ippool("cluster-a.default-ipv4-ippool", "10.244.0.0/16", mirroredFrom("cluster-a")))},
		},
		{name: "a mirrored pool is not checked", pool: ptr(ippool("cluster-b.p", "10.244.0.0/16", mirroredFrom("cluster-b"))), remotes: []ClusterView{b(v4)}},
		{name: "unparseable CIDR is left to validation", pool: ptr(ippool("bad", "10.244.0.0/33")), remotes: []ClusterView{b(v4)}},
		{name: "nil pool", pool: nil, remotes: []ClusterView{b(v4)}},
		{
			name: "unparseable remote pool skipped, others reported", pool: &v4,
			remotes: []ClusterView{b(ippool("bad", "nonsense"), ippool("good", "10.244.0.0/20"))},
			want:    []string{`spec.cidr: Invalid value: "10.244.0.0/16": overlaps IPPool "good" (10.244.0.0/20) of remote cluster "cluster-b"`},
		},
		{
			name: "CIDR shown as written", pool: ptr(ippool("p", "10.244.1.0/16")), remotes: []ClusterView{b(ippool("q", "10.244.7.0/24"))},
			want: []string{`spec.cidr: Invalid value: "10.244.1.0/16": overlaps IPPool "q" (10.244.7.0/24) of remote cluster "cluster-b"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectStrings(t, errStrings(CheckIPPool(tt.pool, tt.remotes)), tt.want)
		})
	}
}
