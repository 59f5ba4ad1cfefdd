package registry

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/warning"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// testScheme returns a scheme with projectcalico.org/v3.
func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	return scheme
}

// poolKind is a cluster-scoped kind with a status subresource.
func poolKind() *Kind[*v3.IPPool] {
	return &Kind[*v3.IPPool]{
		Resource: v3.Resource("ippools"),
		Singular: v3.Resource("ippool"),
		New:      func() *v3.IPPool { return &v3.IPPool{} },
		NewList:  func() runtime.Object { return &v3.IPPoolList{} },
		Spec:     func(p *v3.IPPool) any { return &p.Spec },
		Status:   func(p *v3.IPPool) any { return &p.Status },
	}
}

// policyKind is a namespaced kind without a status that normalizes its rules.
func policyKind() *Kind[*v3.NetworkPolicy] {
	return &Kind[*v3.NetworkPolicy]{
		Resource:   v3.Resource("networkpolicies"),
		Singular:   v3.Resource("networkpolicy"),
		Namespaced: true,
		New:        func() *v3.NetworkPolicy { return &v3.NetworkPolicy{} },
		NewList:    func() runtime.Object { return &v3.NetworkPolicyList{} },
		Spec:       func(p *v3.NetworkPolicy) any { return &p.Spec },
		Normalize: func(p *v3.NetworkPolicy) []string {
			return append(NormalizeRules("spec.ingress", p.Spec.Ingress), NormalizeRules("spec.egress", p.Spec.Egress)...)
		},
	}
}

// endpointKind is a namespaced kind with an extra selectable field.
func endpointKind() *Kind[*v3.WorkloadEndpoint] {
	return &Kind[*v3.WorkloadEndpoint]{
		Resource:   v3.Resource("workloadendpoints"),
		Singular:   v3.Resource("workloadendpoint"),
		Namespaced: true,
		New:        func() *v3.WorkloadEndpoint { return &v3.WorkloadEndpoint{} },
		NewList:    func() runtime.Object { return &v3.WorkloadEndpointList{} },
		Spec:       func(w *v3.WorkloadEndpoint) any { return &w.Spec },
		SelectableFields: func(w *v3.WorkloadEndpoint) fields.Set {
			return fields.Set{"spec.node": w.Spec.Node}
		},
	}
}

// warningRecorder collects the warnings a strategy adds to its context.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *warningRecorder) AddWarning(_, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

func readyCondition(status metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: "Ready", Status: status, Reason: "Test", LastTransitionTime: metav1.Unix(1700000000, 0)}
}

func TestStrategyPrepareForCreate(t *testing.T) {
	s := strategy[*v3.IPPool]{ObjectTyper: testScheme(t), kind: poolKind()}
	cases := []struct {
		name string
		in   *v3.IPPool
	}{
		{name: "status cleared", in: &v3.IPPool{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}},
			Spec:       v3.IPPoolSpec{CIDR: "10.0.0.0/16", NATOutgoing: true},
			Status:     v3.IPPoolStatus{Conditions: []metav1.Condition{readyCondition(metav1.ConditionTrue)}},
		}},
		{name: "client generation replaced", in: &v3.IPPool{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 7},
			Spec:       v3.IPPoolSpec{CIDR: "fd00::/64"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.in.DeepCopy()
			s.PrepareForCreate(context.Background(), obj)
			if obj.Generation != 1 {
				t.Errorf("generation %d, want 1", obj.Generation)
			}
			if !reflect.DeepEqual(obj.Status, v3.IPPoolStatus{}) {
				t.Errorf("status %+v, want it cleared", obj.Status)
			}
			if !reflect.DeepEqual(obj.Spec, tc.in.Spec) || !reflect.DeepEqual(obj.Labels, tc.in.Labels) {
				t.Errorf("spec %+v labels %v changed, want %+v %v", obj.Spec, obj.Labels, tc.in.Spec, tc.in.Labels)
			}
		})
	}
}

func TestStrategyPrepareForCreateNormalizes(t *testing.T) {
	s := strategy[*v3.NetworkPolicy]{ObjectTyper: testScheme(t), kind: policyKind()}
	tcp := v3.ProtocolFromString(v3.ProtocolTCP)
	ports := []v3.Port{v3.SinglePort(5432)}
	cases := []struct {
		name         string
		in           v3.NetworkPolicySpec
		want         v3.NetworkPolicySpec
		wantWarnings []string
	}{
		{
			name: "egress ports moved with a warning",
			in:   v3.NetworkPolicySpec{Egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: ports}}},
			want: v3.NetworkPolicySpec{Egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: ports}}}},
			wantWarnings: []string{
				"spec.egress[0].ports is deprecated: moved to spec.egress[0].destination.ports",
			},
		},
		{
			name: "nothing to move, no warning",
			in:   v3.NetworkPolicySpec{Ingress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: ports}}}},
			want: v3.NetworkPolicySpec{Ingress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: ports}}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &warningRecorder{}
			ctx := warning.WithWarningRecorder(context.Background(), rec)
			obj := &v3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: *tc.in.DeepCopy()}
			s.PrepareForCreate(ctx, obj)
			if !reflect.DeepEqual(obj.Spec, tc.want) {
				t.Errorf("spec\n%#v\nwant\n%#v", obj.Spec, tc.want)
			}
			if obj.Generation != 1 {
				t.Errorf("generation %d, want 1", obj.Generation)
			}
			if !reflect.DeepEqual(rec.warnings, tc.wantWarnings) {
				t.Errorf("warnings %q, want %q", rec.warnings, tc.wantWarnings)
			}
		})
	}
}

func TestStrategyPrepareForUpdate(t *testing.T) {
	s := strategy[*v3.IPPool]{ObjectTyper: testScheme(t), kind: poolKind()}
	old := &v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 3, Labels: map[string]string{"a": "b"}},
		Spec:       v3.IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: v3.EncapModeAlways},
		Status:     v3.IPPoolStatus{Conditions: []metav1.Condition{readyCondition(metav1.ConditionTrue)}},
	}
	cases := []struct {
		name           string
		mutate         func(p *v3.IPPool)
		wantGeneration int64
	}{
		{name: "spec changed", mutate: func(p *v3.IPPool) { p.Spec.NATOutgoing = true }, wantGeneration: 4},
		{name: "spec changed and status sent", mutate: func(p *v3.IPPool) {
			p.Spec.VXLANMode = v3.EncapModeNever
			p.Status.Conditions = []metav1.Condition{readyCondition(metav1.ConditionFalse)}
		}, wantGeneration: 4},
		{name: "only labels changed", mutate: func(p *v3.IPPool) { p.Labels = map[string]string{"a": "c"} }, wantGeneration: 3},
		{name: "only status changed", mutate: func(p *v3.IPPool) { p.Status = v3.IPPoolStatus{} }, wantGeneration: 3},
		{name: "nil and empty lists are the same spec", mutate: func(p *v3.IPPool) { p.Spec.AllowedUses = []v3.IPPoolAllowedUse{} }, wantGeneration: 3},
		{name: "nothing changed", mutate: func(*v3.IPPool) {}, wantGeneration: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := old.DeepCopy()
			tc.mutate(obj)
			want := obj.DeepCopy()
			s.PrepareForUpdate(context.Background(), obj, old.DeepCopy())
			if obj.Generation != tc.wantGeneration {
				t.Errorf("generation %d, want %d", obj.Generation, tc.wantGeneration)
			}
			if !reflect.DeepEqual(obj.Status, old.Status) {
				t.Errorf("status %+v, want the stored %+v", obj.Status, old.Status)
			}
			if !reflect.DeepEqual(obj.Spec, want.Spec) || !reflect.DeepEqual(obj.Labels, want.Labels) {
				t.Errorf("spec %+v labels %v, want the updated %+v %v", obj.Spec, obj.Labels, want.Spec, want.Labels)
			}
		})
	}
}

func TestStrategyPrepareForUpdateNormalizesBeforeComparing(t *testing.T) {
	s := strategy[*v3.NetworkPolicy]{ObjectTyper: testScheme(t), kind: policyKind()}
	tcp := v3.ProtocolFromString(v3.ProtocolTCP)
	ports := []v3.Port{v3.SinglePort(5432)}
	old := &v3.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 2},
		Spec:       v3.NetworkPolicySpec{Egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: ports}}}},
	}
	cases := []struct {
		name           string
		egress         []v3.Rule
		wantGeneration int64
		wantWarnings   int
	}{
		{name: "alias spelling of the stored rule", egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: ports}}, wantGeneration: 2, wantWarnings: 1},
		{name: "stored spelling", egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Destination: v3.EntityRule{Ports: ports}}}, wantGeneration: 2},
		{name: "other port", egress: []v3.Rule{{Action: v3.Allow, Protocol: &tcp, Ports: []v3.Port{v3.SinglePort(80)}}}, wantGeneration: 3, wantWarnings: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &warningRecorder{}
			ctx := warning.WithWarningRecorder(context.Background(), rec)
			obj := old.DeepCopy()
			obj.Spec.Egress = tc.egress
			s.PrepareForUpdate(ctx, obj, old.DeepCopy())
			if obj.Generation != tc.wantGeneration {
				t.Errorf("generation %d, want %d", obj.Generation, tc.wantGeneration)
			}
			if len(rec.warnings) != tc.wantWarnings {
				t.Errorf("warnings %q, want %d", rec.warnings, tc.wantWarnings)
			}
			if len(obj.Spec.Egress[0].Ports) != 0 || len(obj.Spec.Egress[0].Destination.Ports) != 1 {
				t.Errorf("egress rule %+v, want its ports in destination.ports", obj.Spec.Egress[0])
			}
		})
	}
}

func TestStatusStrategyPrepareForUpdate(t *testing.T) {
	ss := statusStrategy[*v3.IPPool]{strategy: strategy[*v3.IPPool]{ObjectTyper: testScheme(t), kind: poolKind()}}
	old := &v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{
			Name: "p", Generation: 5,
			Labels:          map[string]string{"team": "net"},
			Annotations:     map[string]string{"note": "stored"},
			Finalizers:      []string{"example.com/keep"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "u1"}},
		},
		Spec:   v3.IPPoolSpec{CIDR: "10.0.0.0/16", VXLANMode: v3.EncapModeAlways},
		Status: v3.IPPoolStatus{Conditions: []metav1.Condition{readyCondition(metav1.ConditionFalse)}},
	}
	cases := []struct {
		name   string
		mutate func(p *v3.IPPool)
	}{
		{name: "status only", mutate: func(p *v3.IPPool) {
			p.Status.Conditions = []metav1.Condition{readyCondition(metav1.ConditionTrue)}
		}},
		{name: "status with spec and metadata changes", mutate: func(p *v3.IPPool) {
			p.Status.Conditions = []metav1.Condition{readyCondition(metav1.ConditionTrue)}
			p.Spec.CIDR, p.Spec.NATOutgoing = "10.1.0.0/16", true
			p.Labels = map[string]string{"team": "other"}
			p.Annotations = nil
			p.Finalizers = []string{"example.com/other"}
			p.OwnerReferences = nil
		}},
		{name: "status cleared", mutate: func(p *v3.IPPool) {
			p.Status = v3.IPPoolStatus{}
			p.Labels["extra"] = "x"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := old.DeepCopy()
			tc.mutate(obj)
			wantStatus := *obj.Status.DeepCopy()
			ss.PrepareForUpdate(context.Background(), obj, old.DeepCopy())
			if !reflect.DeepEqual(obj.Status, wantStatus) {
				t.Errorf("status %+v, want the new %+v", obj.Status, wantStatus)
			}
			if !reflect.DeepEqual(obj.Spec, old.Spec) {
				t.Errorf("spec %+v, want the stored %+v", obj.Spec, old.Spec)
			}
			if !reflect.DeepEqual(obj.Labels, old.Labels) || !reflect.DeepEqual(obj.Annotations, old.Annotations) {
				t.Errorf("labels %v annotations %v, want the stored %v %v", obj.Labels, obj.Annotations, old.Labels, old.Annotations)
			}
			if !reflect.DeepEqual(obj.Finalizers, old.Finalizers) || !reflect.DeepEqual(obj.OwnerReferences, old.OwnerReferences) {
				t.Errorf("finalizers %v owners %v, want the stored %v %v", obj.Finalizers, obj.OwnerReferences, old.Finalizers, old.OwnerReferences)
			}
			if obj.Generation != old.Generation {
				t.Errorf("generation %d, want the stored %d", obj.Generation, old.Generation)
			}
		})
	}
}

func TestStrategyGetAttrs(t *testing.T) {
	scheme := testScheme(t)
	pools := strategy[*v3.IPPool]{ObjectTyper: scheme, kind: poolKind()}
	policies := strategy[*v3.NetworkPolicy]{ObjectTyper: scheme, kind: policyKind()}
	endpoints := strategy[*v3.WorkloadEndpoint]{ObjectTyper: scheme, kind: endpointKind()}
	cases := []struct {
		name       string
		getAttrs   func(runtime.Object) (labels.Set, fields.Set, error)
		obj        runtime.Object
		wantLabels labels.Set
		wantFields fields.Set
		wantErr    string
	}{
		{
			name: "cluster-scoped", getAttrs: pools.getAttrs,
			obj:        &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool-1", Labels: map[string]string{"team": "net"}}},
			wantLabels: labels.Set{"team": "net"},
			wantFields: fields.Set{"metadata.name": "pool-1"},
		},
		{
			name: "cluster-scoped without labels", getAttrs: pools.getAttrs,
			obj:        &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "pool-2"}},
			wantFields: fields.Set{"metadata.name": "pool-2"},
		},
		{
			name: "namespaced", getAttrs: policies.getAttrs,
			obj:        &v3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allow", Namespace: "prod", Labels: map[string]string{"x": "y"}}},
			wantLabels: labels.Set{"x": "y"},
			wantFields: fields.Set{"metadata.name": "allow", "metadata.namespace": "prod"},
		},
		{
			name: "selectable fields", getAttrs: endpoints.getAttrs,
			obj: &v3.WorkloadEndpoint{
				ObjectMeta: metav1.ObjectMeta{Name: "node1-k8s-pod-eth0", Namespace: "default", Labels: map[string]string{"app": "web"}},
				Spec:       v3.WorkloadEndpointSpec{Node: "node1"},
			},
			wantLabels: labels.Set{"app": "web"},
			wantFields: fields.Set{"metadata.name": "node1-k8s-pod-eth0", "metadata.namespace": "default", "spec.node": "node1"},
		},
		{
			name: "wrong type", getAttrs: pools.getAttrs,
			obj:     &v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "t"}},
			wantErr: "object is a *v3.Tier, not a ippool.projectcalico.org",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, f, err := tc.getAttrs(tc.obj)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("getAttrs = %v, %v, %v; want an error containing %q", l, f, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("getAttrs: %v", err)
			}
			if len(l) != len(tc.wantLabels) || (len(l) > 0 && !reflect.DeepEqual(l, tc.wantLabels)) {
				t.Errorf("labels %v, want %v", l, tc.wantLabels)
			}
			if !reflect.DeepEqual(f, tc.wantFields) {
				t.Errorf("fields %v, want %v", f, tc.wantFields)
			}
		})
	}
}

func TestStrategyMatcher(t *testing.T) {
	s := strategy[*v3.WorkloadEndpoint]{ObjectTyper: testScheme(t), kind: endpointKind()}
	obj := &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "wep", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:       v3.WorkloadEndpointSpec{Node: "node1"},
	}
	cases := []struct {
		labels, fields string
		want           bool
	}{
		{"", "", true},
		{"app=web", "", true},
		{"app=db", "", false},
		{"", "spec.node=node1", true},
		{"", "spec.node=node2", false},
		{"app=web", "metadata.name=wep,metadata.namespace=default", true},
		{"app=web", "metadata.namespace=kube-system", false},
	}
	for _, tc := range cases {
		ls, err := labels.Parse(tc.labels)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := fields.ParseSelector(tc.fields)
		if err != nil {
			t.Fatal(err)
		}
		pred := s.matcher(ls, fs)
		got, err := pred.Matches(obj)
		if err != nil {
			t.Fatalf("Matches(%q, %q): %v", tc.labels, tc.fields, err)
		}
		if got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.labels, tc.fields, got, tc.want)
		}
	}
}

func TestStrategyGetResetFields(t *testing.T) {
	scheme := testScheme(t)
	withStatus := strategy[*v3.IPPool]{ObjectTyper: scheme, kind: poolKind()}
	withoutStatus := strategy[*v3.NetworkPolicy]{ObjectTyper: scheme, kind: policyKind()}
	status := statusStrategy[*v3.IPPool]{strategy: withStatus}
	version := fieldpath.APIVersion("projectcalico.org/v3")
	cases := []struct {
		name string
		got  map[fieldpath.APIVersion]*fieldpath.Set
		want *fieldpath.Set
	}{
		{name: "main resource of a kind with status", got: withStatus.GetResetFields(),
			want: fieldpath.NewSet(fieldpath.MakePathOrDie("status"))},
		{name: "main resource of a kind without status", got: withoutStatus.GetResetFields()},
		{name: "status subresource", got: status.GetResetFields(),
			want: fieldpath.NewSet(
				fieldpath.MakePathOrDie("spec"),
				fieldpath.MakePathOrDie("metadata", "labels"),
				fieldpath.MakePathOrDie("metadata", "annotations"),
			)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				if tc.got != nil {
					t.Fatalf("reset fields %v, want nil", tc.got)
				}
				return
			}
			if len(tc.got) != 1 || tc.got[version] == nil {
				t.Fatalf("reset fields %v, want one entry for %s", tc.got, version)
			}
			if !tc.got[version].Equals(tc.want) {
				t.Errorf("reset fields %s, want %s", tc.got[version], tc.want)
			}
		})
	}
}

func TestStrategyValidation(t *testing.T) {
	scheme := testScheme(t)
	kind := poolKind()
	kind.Validate = func(_ context.Context, p *v3.IPPool) field.ErrorList {
		if p.Spec.CIDR == "" {
			return field.ErrorList{field.Required(field.NewPath("spec", "cidr"), "")}
		}
		return nil
	}
	kind.ValidateUpdate = func(_ context.Context, p, old *v3.IPPool) field.ErrorList {
		if p.Spec.CIDR != old.Spec.CIDR {
			return field.ErrorList{field.Forbidden(field.NewPath("spec", "cidr"), "immutable")}
		}
		return nil
	}
	kind.ValidateStatus = func(_ context.Context, p *v3.IPPool) field.ErrorList {
		if len(p.Status.Conditions) > 1 {
			return field.ErrorList{field.TooMany(field.NewPath("status", "conditions"), len(p.Status.Conditions), 1)}
		}
		return nil
	}
	s := strategy[*v3.IPPool]{ObjectTyper: scheme, kind: kind}
	ss := statusStrategy[*v3.IPPool]{strategy: s}
	bare := strategy[*v3.NetworkPolicy]{ObjectTyper: scheme, kind: policyKind()}
	ctx := context.Background()
	pool := func(cidr string, conditions int) *v3.IPPool {
		p := &v3.IPPool{Spec: v3.IPPoolSpec{CIDR: cidr}}
		for range conditions {
			p.Status.Conditions = append(p.Status.Conditions, readyCondition(metav1.ConditionTrue))
		}
		return p
	}
	cases := []struct {
		name       string
		errs       field.ErrorList
		wantFields []string
	}{
		{name: "create valid", errs: s.Validate(ctx, pool("10.0.0.0/16", 0))},
		{name: "create invalid", errs: s.Validate(ctx, pool("", 0)), wantFields: []string{"spec.cidr"}},
		{name: "update valid", errs: s.ValidateUpdate(ctx, pool("10.0.0.0/16", 0), pool("10.0.0.0/16", 0))},
		{name: "update runs Validate and ValidateUpdate", errs: s.ValidateUpdate(ctx, pool("", 0), pool("10.0.0.0/16", 0)),
			wantFields: []string{"spec.cidr", "spec.cidr"}},
		{name: "status update runs ValidateStatus only", errs: ss.ValidateUpdate(ctx, pool("", 2), pool("10.0.0.0/16", 0)),
			wantFields: []string{"status.conditions"}},
		{name: "status update valid", errs: ss.ValidateUpdate(ctx, pool("", 1), pool("10.0.0.0/16", 0))},
		{name: "kind without validation", errs: bare.Validate(ctx, &v3.NetworkPolicy{})},
		{name: "kind without validation, update", errs: bare.ValidateUpdate(ctx, &v3.NetworkPolicy{}, &v3.NetworkPolicy{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range tc.errs {
				got = append(got, e.Field)
			}
			if !reflect.DeepEqual(got, tc.wantFields) {
				t.Errorf("errors %v, want errors on %v", tc.errs, tc.wantFields)
			}
		})
	}
}

func TestStrategyFlags(t *testing.T) {
	scheme := testScheme(t)
	pools := strategy[*v3.IPPool]{ObjectTyper: scheme, kind: poolKind()}
	policies := strategy[*v3.NetworkPolicy]{ObjectTyper: scheme, kind: policyKind()}
	ctx := context.Background()
	cases := []struct {
		name      string
		got, want bool
	}{
		{"cluster-scoped kind", pools.NamespaceScoped(), false},
		{"namespaced kind", policies.NamespaceScoped(), true},
		{"no create on update", pools.AllowCreateOnUpdate(ctx), false},
		{"unconditional update", pools.AllowUnconditionalUpdate(ctx), true},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
