package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/selector"
)

// Synthetic keys of the label sets the State indexes. They contain a NUL,
// which no selector can name, so user selectors never see them.
const (
	// keyNamespace holds the endpoint's namespace; absent for endpoints
	// without one.
	keyNamespace = "\x00namespace"
	// keyNamespaceLabel prefixes the endpoint's namespace labels.
	keyNamespaceLabel = "\x00nslabel\x00"
)

// scopeKind is where a scopedSelector looks for endpoints.
type scopeKind int

const (
	// scopeAll: every endpoint.
	scopeAll scopeKind = iota
	// scopeNamespace: the endpoints of one namespace, in any cluster.
	scopeNamespace
	// scopeNamespaceSelector: the namespaced endpoints whose namespace
	// labels match a selector.
	scopeNamespaceSelector
	// scopeGlobal: the endpoints without a namespace.
	scopeGlobal
)

// scopedSelector is a selector.Selector over the State's indexed label
// sets combining a scope with selector, notSelector and service account
// criteria. Its String is the canonical key of the combination, which
// names the IP set it selects.
type scopedSelector struct {
	scope     scopeKind
	namespace string            // scopeNamespace
	nsSel     selector.Selector // scopeNamespaceSelector
	sel       selector.Selector // nil: no criterion
	notSel    selector.Selector // nil: no criterion
	saNames   []string          // nil: no criterion
	saSel     selector.Selector // nil: no criterion
	key       string
	uid       string
	keys      []string
}

// criteria are the raw selector criteria of an entity or a policy.
type criteria struct {
	namespace   string // the NetworkPolicy's namespace, "" for global
	nsSelector  string
	selector    string
	notSelector string
	saNames     []string
	saSelector  string
}

// has reports whether any selector criterion is present.
func (c criteria) has() bool {
	return c.nsSelector != "" || c.selector != "" || c.notSelector != "" || len(c.saNames) > 0 || c.saSelector != ""
}

// entityCriteria returns the selector criteria of an entity rule in a
// policy of the given namespace ("" for a global policy).
func entityCriteria(namespace string, er *v3.EntityRule) criteria {
	c := criteria{
		namespace:   namespace,
		nsSelector:  strings.TrimSpace(er.NamespaceSelector),
		selector:    strings.TrimSpace(er.Selector),
		notSelector: strings.TrimSpace(er.NotSelector),
	}
	if sa := er.ServiceAccounts; sa != nil {
		if len(sa.Names) > 0 {
			c.saNames = slices.Clone(sa.Names)
		}
		c.saSelector = strings.TrimSpace(sa.Selector)
	}
	return c
}

// parseOptional parses s, returning nil for "".
func parseOptional(field, s string) (selector.Selector, error) {
	if s == "" {
		return nil, nil
	}
	sel, err := selector.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, s, err)
	}
	return sel, nil
}

// newScopedSelector compiles criteria. The scope is the namespaceSelector's
// when there is one, else the policy's namespace, else every endpoint.
func newScopedSelector(c criteria) (*scopedSelector, error) {
	s := &scopedSelector{}
	var err error
	if s.nsSel, err = parseOptional("namespaceSelector", c.nsSelector); err != nil {
		return nil, err
	}
	if s.sel, err = parseOptional("selector", c.selector); err != nil {
		return nil, err
	}
	if s.notSel, err = parseOptional("notSelector", c.notSelector); err != nil {
		return nil, err
	}
	if s.saSel, err = parseOptional("serviceAccounts.selector", c.saSelector); err != nil {
		return nil, err
	}
	if len(c.saNames) > 0 {
		s.saNames = slices.Compact(slices.Sorted(slices.Values(c.saNames)))
	}
	switch {
	case s.nsSel != nil && s.nsSel.String() == "global()":
		s.scope, s.nsSel = scopeGlobal, nil
	case s.nsSel != nil:
		s.scope = scopeNamespaceSelector
	case c.namespace != "":
		s.scope, s.namespace = scopeNamespace, c.namespace
	default:
		s.scope = scopeAll
	}
	s.key = s.canonical()
	sum := sha256.Sum256([]byte(s.key))
	s.uid = hex.EncodeToString(sum[:])
	s.keys = s.labelKeys()
	return s, nil
}

// canonical renders the scope and criteria, e.g.
// `namespace "myapp" selector "app == \"postgres\""`.
func (s *scopedSelector) canonical() string {
	var b strings.Builder
	switch s.scope {
	case scopeAll:
		b.WriteString("all")
	case scopeNamespace:
		b.WriteString("namespace " + strconv.Quote(s.namespace))
	case scopeNamespaceSelector:
		b.WriteString("namespaceSelector " + strconv.Quote(s.nsSel.String()))
	case scopeGlobal:
		b.WriteString("global")
	}
	if s.sel != nil {
		b.WriteString(" selector " + strconv.Quote(s.sel.String()))
	}
	if s.notSel != nil {
		b.WriteString(" notSelector " + strconv.Quote(s.notSel.String()))
	}
	if s.saNames != nil {
		b.WriteString(" serviceAccounts " + fmt.Sprintf("%q", s.saNames))
	}
	if s.saSel != nil {
		b.WriteString(" serviceAccountSelector " + strconv.Quote(s.saSel.String()))
	}
	return b.String()
}

// labelKeys lists every indexed key the selector's result depends on.
func (s *scopedSelector) labelKeys() []string {
	var keys []string
	if s.scope != scopeAll {
		keys = append(keys, keyNamespace)
	}
	if s.nsSel != nil {
		for _, k := range s.nsSel.LabelKeys() {
			keys = append(keys, keyNamespaceLabel+k)
		}
	}
	if s.sel != nil {
		keys = append(keys, s.sel.LabelKeys()...)
	}
	if s.notSel != nil {
		keys = append(keys, s.notSel.LabelKeys()...)
	}
	if s.saNames != nil {
		keys = append(keys, LabelServiceAccount)
	}
	if s.saSel != nil {
		keys = append(keys, LabelServiceAccount)
		for _, k := range s.saSel.LabelKeys() {
			keys = append(keys, ServiceAccountLabelPrefix+k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// Evaluate implements selector.Selector over an indexed label set.
func (s *scopedSelector) Evaluate(labels map[string]string) bool {
	ns, namespaced := labels[keyNamespace]
	switch s.scope {
	case scopeNamespace:
		if !namespaced || ns != s.namespace {
			return false
		}
	case scopeGlobal:
		if namespaced {
			return false
		}
	case scopeNamespaceSelector:
		if !namespaced || !s.nsSel.Evaluate(namespaceLabels(labels)) {
			return false
		}
	}
	if s.sel != nil && !s.sel.Evaluate(labels) {
		return false
	}
	if s.notSel != nil && s.notSel.Evaluate(labels) {
		return false
	}
	if s.saNames != nil {
		sa, ok := labels[LabelServiceAccount]
		if _, found := slices.BinarySearch(s.saNames, sa); !ok || !found {
			return false
		}
	}
	if s.saSel != nil && !s.saSel.Evaluate(serviceAccountLabels(labels)) {
		return false
	}
	return true
}

// Requirements implements selector.Requirer over the indexed label sets,
// so that the State's indexes find a new set's members through the
// endpoints having the required namespace or label values, and re-evaluate
// only the sets an endpoint's label change can affect.
func (s *scopedSelector) Requirements() []selector.Clause {
	var out []selector.Clause
	switch s.scope {
	case scopeNamespace:
		out = append(out, selector.Clause{{Key: keyNamespace, Values: []string{s.namespace}}})
	case scopeNamespaceSelector:
		out = append(out, selector.Clause{{Key: keyNamespace}})
		out = append(out, prefixedRequirements(s.nsSel, keyNamespaceLabel, "")...)
	}
	if s.sel != nil {
		out = append(out, selector.RequirementsOf(s.sel)...)
	}
	if s.saNames != nil {
		out = append(out, selector.Clause{{Key: LabelServiceAccount, Values: slices.Clone(s.saNames)}})
	}
	if s.saSel != nil {
		// projectcalico.org/name defaults to the service account label.
		out = append(out, prefixedRequirements(s.saSel, ServiceAccountLabelPrefix, LabelServiceAccount)...)
	}
	return out
}

// prefixedRequirements returns the requirements of sel with prefix added
// to every key; when nameFallback is set, a term on projectcalico.org/name
// may also be satisfied by that key (see serviceAccountLabels).
func prefixedRequirements(sel selector.Selector, prefix, nameFallback string) []selector.Clause {
	reqs := selector.RequirementsOf(sel)
	for i, c := range reqs {
		out := make(selector.Clause, 0, len(c))
		for _, t := range c {
			if t.Key == LabelName && nameFallback != "" {
				out = append(out, selector.Term{Key: nameFallback, Values: slices.Clone(t.Values)})
			}
			out = append(out, selector.Term{Key: prefix + t.Key, Values: t.Values})
		}
		reqs[i] = out
	}
	return reqs
}

// String implements selector.Selector: the canonical key.
func (s *scopedSelector) String() string { return s.key }

// UniqueID implements selector.Selector.
func (s *scopedSelector) UniqueID() string { return s.uid }

// LabelKeys implements selector.Selector.
func (s *scopedSelector) LabelKeys() []string { return slices.Clone(s.keys) }

// setID is the ID of the IP set of a scopedSelector.
func (s *scopedSelector) setID() string { return "s" + s.uid[:24] }

// namespaceLabels extracts the namespace labels from an indexed label set.
func namespaceLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if name, ok := strings.CutPrefix(k, keyNamespaceLabel); ok {
			out[name] = v
		}
	}
	return out
}

// serviceAccountLabels extracts the service account labels ("pcsa."
// prefixed) from an indexed label set; projectcalico.org/name defaults to
// the projectcalico.org/serviceaccount label.
func serviceAccountLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if name, ok := strings.CutPrefix(k, ServiceAccountLabelPrefix); ok {
			out[name] = v
		}
	}
	if _, ok := out[LabelName]; !ok {
		if sa, ok := labels[LabelServiceAccount]; ok {
			out[LabelName] = sa
		}
	}
	return out
}
