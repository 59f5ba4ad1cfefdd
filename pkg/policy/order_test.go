package policy

import (
	"slices"
	"testing"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// TestOrdering checks the order of PoliciesFor and the tiers' default
// actions.
func TestOrdering(t *testing.T) {
	pass := v3.Pass
	type pol struct {
		name, tier string
		order      *float64
	}
	cases := []struct {
		name  string
		tiers []*v3.Tier
		pols  []pol
		want  []string // "tier/policy/default action"
	}{
		{name: "tiers by order, unset last",
			tiers: []*v3.Tier{tier("b", nil, nil), tier("a", f64(200), nil), tier("c", f64(100), &pass)},
			pols:  []pol{{"b.p", "b", nil}, {"a.p", "a", nil}, {"c.p", "c", nil}},
			want:  []string{"c/c.p/Pass", "a/a.p/Deny", "b/b.p/Deny"}},
		{name: "equal tier orders by name",
			tiers: []*v3.Tier{tier("y", f64(1), nil), tier("x", f64(1), nil)},
			pols:  []pol{{"y.p", "y", nil}, {"x.p", "x", nil}},
			want:  []string{"x/x.p/Deny", "y/y.p/Deny"}},
		{name: "policies by order, then name, unset last",
			pols: []pol{{"default.z", "", f64(10)}, {"default.b", "", nil}, {"default.a", "", nil}, {"default.y", "", f64(10)}, {"default.m", "", f64(5)}},
			want: []string{"default/default.m/Deny", "default/default.y/Deny", "default/default.z/Deny", "default/default.a/Deny", "default/default.b/Deny"}},
		{name: "implicit default tier comes after ordered tiers",
			tiers: []*v3.Tier{tier("security", f64(100), &pass)},
			pols:  []pol{{"default.p", "", f64(1)}, {"security.p", "security", f64(500)}},
			want:  []string{"security/security.p/Pass", "default/default.p/Deny"}},
		{name: "an explicit default tier replaces the implicit one",
			tiers: []*v3.Tier{tier("default", f64(10), &pass), tier("security", f64(100), nil)},
			pols:  []pol{{"default.p", "", nil}, {"security.p", "security", nil}},
			want:  []string{"default/default.p/Pass", "security/security.p/Deny"}},
		{name: "a policy of a missing tier does not apply",
			pols: []pol{{"ghost.p", "ghost", nil}, {"default.p", "", nil}},
			want: []string{"default/default.p/Deny"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newFixtureState(t)
			for _, tr := range tc.tiers {
				s.UpsertTier(TierFromV3(tr))
			}
			for _, p := range tc.pols {
				pp := np("myapp", p.name, "app == 'backend-app'", nil, nil)
				pp.Tier, pp.Order = p.tier, p.order
				mustUpsert(t, s, pp)
			}
			var got []string
			for _, a := range s.PoliciesFor(keyOf("backend")) {
				got = append(got, a.Tier+"/"+a.Name+"/"+string(a.TierDefaultAction))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order = %v, want %v", got, tc.want)
			}
		})
	}
}

// tier returns a v3 Tier.
func tier(name string, order *float64, action *v3.Action) *v3.Tier {
	t := &v3.Tier{Spec: v3.TierSpec{Order: order, DefaultAction: action}}
	t.Name = name
	return t
}

// TestTierLifecycle checks that deleting a tier stops its policies and
// that deleting "default" reverts to the implicit tier.
func TestTierLifecycle(t *testing.T) {
	s, r := newFixtureState(t)
	backend := keyOf("backend")
	p := np("myapp", "sec.p", "app == 'backend-app'", nil, nil)
	p.Tier = "sec"
	mustUpsert(t, s, p)
	mustUpsert(t, s, np("myapp", "default.p", "app == 'backend-app'", nil, nil))
	if got := len(s.PoliciesFor(backend)); got != 1 {
		t.Fatalf("before the tier exists: %d policies, want 1", got)
	}
	r.take()
	s.UpsertTier(Tier{Name: "sec", Order: f64(1)})
	if got := r.take(); !slices.Equal(got, []string{"policies " + backend}) {
		t.Errorf("tier added: events %v", got)
	}
	if got := s.PoliciesFor(backend); len(got) != 2 || got[0].Name != "sec.p" {
		t.Fatalf("with the tier: %+v", got)
	}
	s.UpsertTier(Tier{Name: "sec", Order: f64(1), DefaultAction: v3.Deny})
	if got := r.take(); len(got) != 0 {
		t.Errorf("unchanged tier: events %v", got)
	}
	s.DeleteTier("sec")
	if got := r.take(); !slices.Equal(got, []string{"policies " + backend}) {
		t.Errorf("tier deleted: events %v", got)
	}
	if got := len(s.PoliciesFor(backend)); got != 1 {
		t.Errorf("after the tier is deleted: %d policies, want 1", got)
	}
	s.UpsertTier(Tier{Name: "default", DefaultAction: v3.Pass})
	if got := s.PoliciesFor(backend); len(got) != 1 || got[0].TierDefaultAction != v3.Pass {
		t.Errorf("explicit default tier: %+v", got)
	}
	s.DeleteTier("default")
	if got := s.PoliciesFor(backend); len(got) != 1 || got[0].TierDefaultAction != v3.Deny {
		t.Errorf("implicit default tier again: %+v", got)
	}
}

// TestTypes checks the defaulting of policy types and that rules of a
// direction the types exclude are dropped.
func TestTypes(t *testing.T) {
	in, eg := v3.PolicyTypeIngress, v3.PolicyTypeEgress
	rule := []v3.Rule{{Action: v3.Allow}}
	cases := []struct {
		name            string
		types           []v3.PolicyType
		ingress, egress []v3.Rule
		want            []v3.PolicyType
		wantIn, wantEg  int
	}{
		{name: "no rules: Ingress", want: []v3.PolicyType{in}},
		{name: "ingress rules only: Ingress", ingress: rule, want: []v3.PolicyType{in}, wantIn: 1},
		{name: "egress rules only: Egress", egress: rule, want: []v3.PolicyType{eg}, wantEg: 1},
		{name: "both: Ingress, Egress", ingress: rule, egress: rule, want: []v3.PolicyType{in, eg}, wantIn: 1, wantEg: 1},
		{name: "explicit Egress without rules", types: []v3.PolicyType{eg}, want: []v3.PolicyType{eg}},
		{name: "explicit types drop rules of other directions", types: []v3.PolicyType{in}, ingress: rule, egress: rule, want: []v3.PolicyType{in}, wantIn: 1},
		{name: "unknown and repeated types are dropped", types: []v3.PolicyType{eg, "Sideways", eg, in}, want: []v3.PolicyType{eg, in}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newFixtureState(t)
			p := np("myapp", "p", "app == 'backend-app'", tc.ingress, tc.egress)
			p.Types = tc.types
			mustUpsert(t, s, p)
			got := s.PoliciesFor(keyOf("backend"))
			if len(got) != 1 {
				t.Fatalf("PoliciesFor = %+v", got)
			}
			a := got[0]
			if !slices.Equal(a.Types, tc.want) || len(a.Ingress) != tc.wantIn || len(a.Egress) != tc.wantEg {
				t.Errorf("types %v with %d ingress and %d egress rules, want %v, %d, %d",
					a.Types, len(a.Ingress), len(a.Egress), tc.want, tc.wantIn, tc.wantEg)
			}
		})
	}
}
