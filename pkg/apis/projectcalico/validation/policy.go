package validation

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// policyCommon holds the fields NetworkPolicy and GlobalNetworkPolicy share.
type policyCommon struct {
	name                   string
	tier                   string
	selector               string
	serviceAccountSelector string
	types                  []v3.PolicyType
	ingress, egress        []v3.Rule
}

// validatePolicyCommon validates the fields shared by both policy kinds and
// returns whether types lists Egress.
func validatePolicyCommon(pc policyCommon) (field.ErrorList, bool) {
	var errs field.ErrorList
	specPath := field.NewPath("spec")

	tier := pc.tier
	if tier == "" {
		tier = v3.DefaultTierName
	} else {
		for _, msg := range utilvalidation.IsDNS1123Label(tier) {
			errs = append(errs, field.Invalid(specPath.Child("tier"), tier, msg))
		}
	}
	if tier != v3.DefaultTierName && !strings.HasPrefix(pc.name, tier+".") {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), pc.name,
			fmt.Sprintf("must be prefixed with the tier name %q", tier+".")))
	}

	errs = append(errs, ValidateSelector(specPath.Child("selector"), pc.selector)...)
	errs = append(errs, ValidateSelector(specPath.Child("serviceAccountSelector"), pc.serviceAccountSelector)...)

	typesPath := specPath.Child("types")
	var hasIngress, hasEgress bool
	typesOK := true
	for i, t := range pc.types {
		var seen *bool
		switch t {
		case v3.PolicyTypeIngress:
			seen = &hasIngress
		case v3.PolicyTypeEgress:
			seen = &hasEgress
		default:
			errs = append(errs, field.NotSupported(typesPath.Index(i), t, []v3.PolicyType{v3.PolicyTypeIngress, v3.PolicyTypeEgress}))
			typesOK = false
			continue
		}
		if *seen {
			errs = append(errs, field.Duplicate(typesPath.Index(i), t))
		}
		*seen = true
	}
	// With an unknown type, which directions were meant is unclear: the
	// NotSupported error is enough.
	if len(pc.types) > 0 && typesOK {
		if len(pc.ingress) > 0 && !hasIngress {
			errs = append(errs, field.Forbidden(specPath.Child("ingress"),
				fmt.Sprintf("ingress rules are only allowed when types includes Ingress (types is %s)", quoteTypes(pc.types))))
		}
		if len(pc.egress) > 0 && !hasEgress {
			errs = append(errs, field.Forbidden(specPath.Child("egress"),
				fmt.Sprintf("egress rules are only allowed when types includes Egress (types is %s)", quoteTypes(pc.types))))
		}
	}

	errs = append(errs, validateRules(specPath.Child("ingress"), pc.ingress)...)
	errs = append(errs, validateRules(specPath.Child("egress"), pc.egress)...)
	return errs, hasEgress
}

// quoteTypes renders policy types as ["Ingress", "Egress"].
func quoteTypes(types []v3.PolicyType) string {
	q := make([]string, len(types))
	for i, t := range types {
		q[i] = fmt.Sprintf("%q", t)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// ValidateNetworkPolicy validates a NetworkPolicy: an empty tier means
// "default", and in any other tier the name must start with "<tier>.";
// selector and serviceAccountSelector are valid selectors; types are
// unique Ingress or Egress and, when given, must include the direction of
// every rule list present; every rule is valid (see "Rules" in the package
// documentation).
func ValidateNetworkPolicy(np *v3.NetworkPolicy) field.ErrorList {
	errs, _ := validatePolicyCommon(policyCommon{
		name:                   np.Name,
		tier:                   np.Spec.Tier,
		selector:               np.Spec.Selector,
		serviceAccountSelector: np.Spec.ServiceAccountSelector,
		types:                  np.Spec.Types,
		ingress:                np.Spec.Ingress,
		egress:                 np.Spec.Egress,
	})
	return errs
}

// ValidateGlobalNetworkPolicy validates a GlobalNetworkPolicy with the
// NetworkPolicy rules plus: namespaceSelector is a valid selector;
// doNotTrack and preDNAT are exclusive; a preDNAT policy has no egress
// rules and no Egress type; doNotTrack and preDNAT require applyOnForward.
func ValidateGlobalNetworkPolicy(gnp *v3.GlobalNetworkPolicy) field.ErrorList {
	s := &gnp.Spec
	errs, hasEgress := validatePolicyCommon(policyCommon{
		name:                   gnp.Name,
		tier:                   s.Tier,
		selector:               s.Selector,
		serviceAccountSelector: s.ServiceAccountSelector,
		types:                  s.Types,
		ingress:                s.Ingress,
		egress:                 s.Egress,
	})
	specPath := field.NewPath("spec")
	errs = append(errs, ValidateSelector(specPath.Child("namespaceSelector"), s.NamespaceSelector)...)

	if s.DoNotTrack && s.PreDNAT {
		errs = append(errs, field.Invalid(specPath.Child("preDNAT"), s.PreDNAT, "preDNAT and doNotTrack cannot both be true"))
	}
	if s.PreDNAT {
		if len(s.Egress) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("egress"), "a preDNAT policy cannot have egress rules"))
		}
		if hasEgress {
			i := slices.Index(s.Types, v3.PolicyTypeEgress)
			errs = append(errs, field.Forbidden(specPath.Child("types").Index(i), "a preDNAT policy cannot have the Egress type"))
		}
	}
	if (s.DoNotTrack || s.PreDNAT) && !s.ApplyOnForward {
		errs = append(errs, field.Invalid(specPath.Child("applyOnForward"), s.ApplyOnForward,
			"must be true when doNotTrack or preDNAT is true"))
	}
	return errs
}

// ValidateTier validates a Tier: the name is a DNS-1123 label and
// defaultAction, if set, is Deny or Pass.
func ValidateTier(t *v3.Tier) field.ErrorList {
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	if t.Name == "" {
		errs = append(errs, field.Required(namePath, ""))
	} else if msgs := utilvalidation.IsDNS1123Label(t.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(namePath, t.Name, "a tier name must be a DNS-1123 label: "+strings.Join(msgs, "; ")))
	}
	if a := t.Spec.DefaultAction; a != nil && *a != v3.Deny && *a != v3.Pass {
		errs = append(errs, field.NotSupported(field.NewPath("spec", "defaultAction"), *a, []v3.Action{v3.Deny, v3.Pass}))
	}
	return errs
}

// ValidateProfile validates a Profile: its ingress and egress rules are
// valid (see "Rules" in the package documentation), and labelsToApply holds
// valid label keys and values.
func ValidateProfile(p *v3.Profile) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	errs = append(errs, validateRules(specPath.Child("ingress"), p.Spec.Ingress)...)
	errs = append(errs, validateRules(specPath.Child("egress"), p.Spec.Egress)...)

	labelsPath := specPath.Child("labelsToApply")
	keys := make([]string, 0, len(p.Spec.LabelsToApply))
	for k := range p.Spec.LabelsToApply {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, msg := range content.IsLabelKey(k) {
			errs = append(errs, field.Invalid(labelsPath, k, "invalid label key: "+msg))
		}
		v := p.Spec.LabelsToApply[k]
		for _, msg := range content.IsLabelValue(v) {
			errs = append(errs, field.Invalid(labelsPath.Key(k), v, "invalid label value: "+msg))
		}
	}
	return errs
}
