package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestNetworkPolicyDocumentation(t *testing.T) {
	np := fromYAML[v3.NetworkPolicy](t, `
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: default.app-to-db
  namespace: myapp
spec:
  tier: default
  selector: app == 'backend-app'
  egress:
  - action: Allow
    protocol: TCP
    destination:
      selector: app == 'postgres'
      ports:
      - 5432
`)
	if got := np.Spec.Egress[0].Destination.Ports; len(got) != 1 || got[0] != v3.SinglePort(5432) {
		t.Fatalf("destination.ports = %v", got)
	}
	checkErrors(t, ValidateNetworkPolicy(np))
}

func networkPolicy() *v3.NetworkPolicy {
	return &v3.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default.app-to-db", Namespace: "myapp"},
		Spec: v3.NetworkPolicySpec{
			Tier:     "default",
			Selector: "app == 'backend-app'",
			Egress: []v3.Rule{{
				Action:      v3.Allow,
				Protocol:    proto("TCP"),
				Destination: v3.EntityRule{Selector: "app == 'postgres'", Ports: []v3.Port{v3.SinglePort(5432)}},
			}},
		},
	}
}

func allowRule() v3.Rule { return v3.Rule{Action: v3.Allow} }

func TestValidateNetworkPolicy(t *testing.T) {
	runCases(t, networkPolicy, ValidateNetworkPolicy, []tcase[v3.NetworkPolicy]{
		{name: "policy in the default tier"},
		{name: "empty tier means default", mut: func(p *v3.NetworkPolicy) { p.Spec.Tier, p.Name = "", "app-to-db" }},
		{name: "default tier without prefix", mut: func(p *v3.NetworkPolicy) { p.Name = "app-to-db" }},
		{name: "policy in another tier", mut: func(p *v3.NetworkPolicy) { p.Spec.Tier, p.Name = "security", "security.app-to-db" }},
		{name: "both types with both rule lists", mut: func(p *v3.NetworkPolicy) {
			p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress}
			p.Spec.Ingress = []v3.Rule{allowRule()}
		}},
		{name: "egress type only", mut: func(p *v3.NetworkPolicy) { p.Spec.Types = []v3.PolicyType{v3.PolicyTypeEgress} }},
		{name: "ingress type without rules denies ingress", mut: func(p *v3.NetworkPolicy) {
			p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress}
		}},
		{name: "no types with both rule lists", mut: func(p *v3.NetworkPolicy) { p.Spec.Ingress = []v3.Rule{allowRule()} }},
		{name: "service account selector", mut: func(p *v3.NetworkPolicy) { p.Spec.ServiceAccountSelector = "role == 'db-client'" }},
		{
			name: "name without the tier prefix",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Tier, p.Name = "security", "app-to-db" },
			want: []want{invalid("metadata.name", `"app-to-db": must be prefixed with the tier name "security."`)},
		},
		{
			name: "name prefixed with a longer tier name",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Tier, p.Name = "security", "securityteam.app-to-db" },
			want: []want{invalid("metadata.name", `must be prefixed with the tier name "security."`)},
		},
		{
			name: "tier name invalid",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Tier, p.Name = "Security", "Security.app-to-db" },
			want: []want{invalid("spec.tier", `"Security"`)},
		},
		{
			name: "selector invalid",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Selector = "app = 'backend-app'" },
			want: []want{invalid("spec.selector", `"app = 'backend-app'": invalid selector at column 5`)},
		},
		{
			name: "service account selector invalid",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.ServiceAccountSelector = "role in {" },
			want: []want{invalid("spec.serviceAccountSelector", `"role in {"`)},
		},
		{
			name: "type lower case",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Types = []v3.PolicyType{"egress"} },
			want: []want{notSupported("spec.types[0]", `"egress": supported values: "Ingress", "Egress"`)},
		},
		{
			name: "type repeated",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Types = []v3.PolicyType{"Egress", "Ingress", "Egress"} },
			want: []want{duplicate("spec.types[2]", `"Egress"`)},
		},
		{
			name: "ingress rules without the Ingress type",
			mut: func(p *v3.NetworkPolicy) {
				p.Spec.Types = []v3.PolicyType{v3.PolicyTypeEgress}
				p.Spec.Ingress = []v3.Rule{allowRule()}
			},
			want: []want{forbidden("spec.ingress", `ingress rules are only allowed when types includes Ingress (types is ["Egress"])`)},
		},
		{
			name: "egress rules without the Egress type",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress} },
			want: []want{forbidden("spec.egress", `egress rules are only allowed when types includes Egress (types is ["Ingress"])`)},
		},
		{
			name: "ingress rule invalid",
			mut:  func(p *v3.NetworkPolicy) { p.Spec.Ingress = []v3.Rule{allowRule(), {Action: "Reject"}} },
			want: []want{notSupported("spec.ingress[1].action", `"Reject"`)},
		},
		{
			name: "all violations reported at once",
			mut: func(p *v3.NetworkPolicy) {
				p.Spec.Tier = "security"
				p.Spec.Selector = "app =="
				p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeIngress}
				p.Spec.Egress[0].Protocol = proto("ICMP")
				p.Spec.Egress[0].ICMP = &v3.ICMPFields{Code: ptr(0)}
				p.Spec.Egress = append(p.Spec.Egress, v3.Rule{Ports: []v3.Port{v3.SinglePort(80)}})
			},
			want: []want{
				invalid("metadata.name", `must be prefixed with the tier name "security."`),
				invalid("spec.selector", `"app =="`),
				duplicate("spec.types[1]", "Ingress"),
				forbidden("spec.egress", "egress rules are only allowed when types includes Egress"),
				invalid("spec.egress[0].destination.ports", "[5432]: "+portsProtocolMsg+` (protocol is "ICMP")`),
				required("spec.egress[0].icmp.type", "an ICMP code requires an ICMP type"),
				required("spec.egress[1].action", ""),
				forbidden("spec.egress[1].ports", "use destination.ports"),
			},
		},
	})
}

func TestAllViolationsCount(t *testing.T) {
	np := networkPolicy()
	np.Spec.Tier = "security"
	np.Spec.Selector = "app =="
	np.Spec.Types = []v3.PolicyType{"Ingress", "Ingress"}
	np.Spec.Egress[0].Action = ""
	np.Spec.Egress[0].Protocol = proto("ICMP")
	np.Spec.Egress[0].Destination.Nets = []string{"10.0.0.0/33"}
	errs := ValidateNetworkPolicy(np)
	// metadata.name, spec.selector, spec.types[1], spec.egress (no Egress
	// type), action, destination.nets[0], destination.ports.
	if len(errs) != 7 {
		t.Fatalf("got %d errors, want 7:\n%s", len(errs), strings.Join(errorStrings(errs), "\n"))
	}
}

func globalNetworkPolicy() *v3.GlobalNetworkPolicy {
	return &v3.GlobalNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "security.block-metadata"},
		Spec: v3.GlobalNetworkPolicySpec{
			Tier:              "security",
			Selector:          "all()",
			NamespaceSelector: "kubernetes.io/metadata.name != 'kube-system'",
			Types:             []v3.PolicyType{v3.PolicyTypeEgress},
			Egress: []v3.Rule{{
				Action:      v3.Deny,
				Protocol:    proto("TCP"),
				Destination: v3.EntityRule{Nets: []string{"169.254.169.254/32"}, Ports: []v3.Port{v3.SinglePort(80)}},
			}},
		},
	}
}

// preDNATPolicy turns the base policy into a valid preDNAT policy.
func preDNATPolicy(p *v3.GlobalNetworkPolicy) {
	p.Spec.PreDNAT, p.Spec.ApplyOnForward = true, true
	p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress}
	p.Spec.Ingress, p.Spec.Egress = p.Spec.Egress, nil
}

func TestValidateGlobalNetworkPolicy(t *testing.T) {
	runCases(t, globalNetworkPolicy, ValidateGlobalNetworkPolicy, []tcase[v3.GlobalNetworkPolicy]{
		{name: "policy in a tier"},
		{name: "default tier", mut: func(p *v3.GlobalNetworkPolicy) { p.Spec.Tier, p.Name = "", "block-metadata" }},
		{name: "namespace selector global()", mut: func(p *v3.GlobalNetworkPolicy) { p.Spec.NamespaceSelector = "global()" }},
		{name: "doNotTrack with applyOnForward", mut: func(p *v3.GlobalNetworkPolicy) { p.Spec.DoNotTrack, p.Spec.ApplyOnForward = true, true }},
		{name: "preDNAT ingress policy", mut: preDNATPolicy},
		{
			name: "name without the tier prefix",
			mut:  func(p *v3.GlobalNetworkPolicy) { p.Name = "block-metadata" },
			want: []want{invalid("metadata.name", `"block-metadata": must be prefixed with the tier name "security."`)},
		},
		{
			name: "namespace selector invalid",
			mut:  func(p *v3.GlobalNetworkPolicy) { p.Spec.NamespaceSelector = "has(" },
			want: []want{invalid("spec.namespaceSelector", `"has("`)},
		},
		{
			name: "doNotTrack and preDNAT",
			mut: func(p *v3.GlobalNetworkPolicy) {
				preDNATPolicy(p)
				p.Spec.DoNotTrack = true
			},
			want: []want{invalid("spec.preDNAT", "true: preDNAT and doNotTrack cannot both be true")},
		},
		{
			name: "preDNAT with egress rules",
			mut: func(p *v3.GlobalNetworkPolicy) {
				p.Spec.PreDNAT, p.Spec.ApplyOnForward, p.Spec.Types = true, true, nil
			},
			want: []want{forbidden("spec.egress", "a preDNAT policy cannot have egress rules")},
		},
		{
			name: "preDNAT with the Egress type",
			mut: func(p *v3.GlobalNetworkPolicy) {
				preDNATPolicy(p)
				p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress}
			},
			want: []want{forbidden("spec.types[1]", "a preDNAT policy cannot have the Egress type")},
		},
		{
			name: "doNotTrack without applyOnForward",
			mut:  func(p *v3.GlobalNetworkPolicy) { p.Spec.DoNotTrack = true },
			want: []want{invalid("spec.applyOnForward", "false: must be true when doNotTrack or preDNAT is true")},
		},
		{
			name: "preDNAT without applyOnForward",
			mut: func(p *v3.GlobalNetworkPolicy) {
				preDNATPolicy(p)
				p.Spec.ApplyOnForward = false
			},
			want: []want{invalid("spec.applyOnForward", "must be true")},
		},
		{
			name: "egress rules without the Egress type",
			mut:  func(p *v3.GlobalNetworkPolicy) { p.Spec.Types = []v3.PolicyType{v3.PolicyTypeIngress} },
			want: []want{forbidden("spec.egress", "only allowed when types includes Egress")},
		},
	})
}

func TestValidateTier(t *testing.T) {
	base := func() *v3.Tier {
		return &v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "security"}, Spec: v3.TierSpec{Order: ptr(100.0), DefaultAction: ptr(v3.Pass)}}
	}
	runCases(t, base, ValidateTier, []tcase[v3.Tier]{
		{name: "tier passing by default"},
		{name: "tier denying by default", mut: func(t *v3.Tier) { t.Spec.DefaultAction = ptr(v3.Deny) }},
		{name: "default tier", mut: func(t *v3.Tier) { t.Name, t.Spec = "default", v3.TierSpec{} }},
		{
			name: "name not a label",
			mut:  func(t *v3.Tier) { t.Name = "Security" },
			want: []want{invalid("metadata.name", `"Security": a tier name must be a DNS-1123 label`)},
		},
		{
			name: "name with a dot",
			mut:  func(t *v3.Tier) { t.Name = "sec.ops" },
			want: []want{invalid("metadata.name", `"sec.ops"`)},
		},
		{
			name: "name missing",
			mut:  func(t *v3.Tier) { t.Name = "" },
			want: []want{required("metadata.name", "")},
		},
		{
			name: "default action Allow",
			mut:  func(t *v3.Tier) { t.Spec.DefaultAction = ptr(v3.Allow) },
			want: []want{notSupported("spec.defaultAction", `"Allow": supported values: "Deny", "Pass"`)},
		},
		{
			name: "default action Log",
			mut:  func(t *v3.Tier) { t.Spec.DefaultAction = ptr(v3.Log) },
			want: []want{notSupported("spec.defaultAction", `"Log"`)},
		},
	})
}

func TestValidateProfile(t *testing.T) {
	base := func() *v3.Profile {
		return &v3.Profile{
			ObjectMeta: metav1.ObjectMeta{Name: "kns.myapp"},
			Spec: v3.ProfileSpec{
				Ingress:       []v3.Rule{allowRule()},
				Egress:        []v3.Rule{allowRule()},
				LabelsToApply: map[string]string{"pcns.projectcalico.org/name": "myapp", "team": ""},
			},
		}
	}
	runCases(t, base, ValidateProfile, []tcase[v3.Profile]{
		{name: "namespace profile"},
		{name: "no rules or labels", mut: func(p *v3.Profile) { p.Spec = v3.ProfileSpec{} }},
		{
			name: "label key invalid",
			mut:  func(p *v3.Profile) { p.Spec.LabelsToApply["bad key"] = "x" },
			want: []want{invalid("spec.labelsToApply", `"bad key": invalid label key`)},
		},
		{
			name: "label value invalid",
			mut:  func(p *v3.Profile) { p.Spec.LabelsToApply["team"] = "db team!" },
			want: []want{invalid("spec.labelsToApply[team]", `"db team!": invalid label value`)},
		},
		{
			name: "label value too long",
			mut:  func(p *v3.Profile) { p.Spec.LabelsToApply["team"] = strings.Repeat("a", 64) },
			want: []want{invalid("spec.labelsToApply[team]", "must be no more than 63 bytes")},
		},
		{
			name: "ingress rule without action",
			mut:  func(p *v3.Profile) { p.Spec.Ingress[0].Action = "" },
			want: []want{required("spec.ingress[0].action", "Allow, Deny, Log or Pass")},
		},
		{
			name: "egress rule with ports but no protocol",
			mut:  func(p *v3.Profile) { p.Spec.Egress[0].Destination.Ports = []v3.Port{v3.SinglePort(53)} },
			want: []want{invalid("spec.egress[0].destination.ports", portsProtocolMsg+" (protocol is not set)")},
		},
	})
}

func TestValidateSelector(t *testing.T) {
	for _, s := range []string{"", "all()", "global()", "app == 'x' && has(tier)", "k in {'a', 'b'}"} {
		t.Run("valid "+s, func(t *testing.T) {
			checkErrors(t, ValidateSelector(field.NewPath("spec", "selector"), s))
		})
	}
	t.Run("invalid", func(t *testing.T) {
		checkErrors(t, ValidateSelector(field.NewPath("spec", "selector"), "app == "),
			invalid("spec.selector", `"app == ": invalid selector at column 8`))
	})
}
