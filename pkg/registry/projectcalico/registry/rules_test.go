package registry

import (
	"math"
	"reflect"
	"testing"

	"k8s.io/utils/ptr"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestNormalizeRules(t *testing.T) {
	tcp := v3.ProtocolFromString(v3.ProtocolTCP)
	p5432 := []v3.Port{v3.SinglePort(5432)}
	p80 := []v3.Port{v3.SinglePort(80), v3.NamedPort("http")}
	cases := []struct {
		name         string
		path         string
		rules        []v3.Rule
		want         []v3.Rule
		wantWarnings []string
	}{
		{
			name:  "ports moved to destination.ports",
			path:  "spec.egress",
			rules: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: p5432}},
			want:  []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: p5432}}},
			wantWarnings: []string{
				"spec.egress[0].ports is deprecated: moved to spec.egress[0].destination.ports",
			},
		},
		{
			name: "only the rules with ports are moved, each warned about at its index",
			path: "spec.ingress",
			rules: []v3.Rule{
				{Action: v3.Deny},
				{Action: v3.Allow, Protocol: &tcp, Ports: p80, Destination: v3.EntityRule{Selector: "app == 'web'"}},
				{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: p5432}},
				{Action: v3.Allow, Protocol: &tcp, Ports: p5432},
			},
			want: []v3.Rule{
				{Action: v3.Deny},
				{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Selector: "app == 'web'", Ports: p80}},
				{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: p5432}},
				{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: p5432}},
			},
			wantWarnings: []string{
				"spec.ingress[1].ports is deprecated: moved to spec.ingress[1].destination.ports",
				"spec.ingress[3].ports is deprecated: moved to spec.ingress[3].destination.ports",
			},
		},
		{
			name:  "destination.notPorts does not stop the move",
			path:  "spec.egress",
			rules: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: p5432, Destination: v3.EntityRule{NotPorts: p80}}},
			want:  []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: p5432, NotPorts: p80}}},
			wantWarnings: []string{
				"spec.egress[0].ports is deprecated: moved to spec.egress[0].destination.ports",
			},
		},
		{
			name:  "rule with both set is left for validation",
			path:  "spec.egress",
			rules: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: p80, Destination: v3.EntityRule{Ports: p5432}}},
			want:  []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: p80, Destination: v3.EntityRule{Ports: p5432}}},
		},
		{
			name:  "nothing to move",
			path:  "spec.ingress",
			rules: []v3.Rule{{Action: v3.Allow, Source: v3.EntityRule{Ports: p80}}, {Action: v3.Deny}},
			want:  []v3.Rule{{Action: v3.Allow, Source: v3.EntityRule{Ports: p80}}, {Action: v3.Deny}},
		},
		{
			name: "no rules",
			path: "spec.ingress",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			warnings := NormalizeRules(tc.path, tc.rules)
			if !reflect.DeepEqual(warnings, tc.wantWarnings) {
				t.Errorf("warnings %q, want %q", warnings, tc.wantWarnings)
			}
			if !reflect.DeepEqual(tc.rules, tc.want) {
				t.Errorf("rules\n%#v\nwant\n%#v", tc.rules, tc.want)
			}
		})
	}
}

func TestFormatOrder(t *testing.T) {
	cases := []struct {
		name  string
		order *float64
		want  string
	}{
		{name: "unset", want: "<none>"},
		{name: "zero", order: ptr.To(0.0), want: "0"},
		{name: "integer", order: ptr.To(100.0), want: "100"},
		{name: "fraction", order: ptr.To(1.5), want: "1.5"},
		{name: "shortest decimal", order: ptr.To(0.1), want: "0.1"},
		{name: "negative", order: ptr.To(-3.0), want: "-3"},
		{name: "large", order: ptr.To(1e21), want: "1e+21"},
		{name: "infinity", order: ptr.To(math.Inf(1)), want: "+Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatOrder(tc.order); got != tc.want {
				t.Errorf("FormatOrder = %q, want %q", got, tc.want)
			}
		})
	}
}
