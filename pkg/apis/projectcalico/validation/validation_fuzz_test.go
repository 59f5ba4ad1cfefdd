package validation

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/yaml"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// fuzzKind is one validator entry point under fuzzing: how to run it on
// fuzzed bytes decoded as JSON/YAML, how to run it on an object filled
// from fuzzed bytes, and seed objects (valid ones, so the mutator starts
// from the shapes the validators accept).
type fuzzKind struct {
	name string
	// decode decodes data into the kind, applies the API server's
	// defaults and validates; ok is false when data does not decode.
	decode func(scheme *runtime.Scheme, data []byte) (errs field.ErrorList, ok bool)
	// fill fills the kind from f and validates.
	fill  func(f *randfill.Filler) field.ErrorList
	seeds []any
}

// single is the fuzzKind of a validator of one object of type T.
func single[T any](name string, validate func(*T) field.ErrorList, seeds ...*T) fuzzKind {
	k := fuzzKind{
		name: name,
		decode: func(scheme *runtime.Scheme, data []byte) (field.ErrorList, bool) {
			obj := new(T)
			if yaml.Unmarshal(data, obj) != nil {
				return nil, false
			}
			if ro, ok := any(obj).(runtime.Object); ok {
				scheme.Default(ro)
			}
			return validate(obj), true
		},
		fill: func(f *randfill.Filler) field.ErrorList {
			obj := new(T)
			f.Fill(obj)
			return validate(obj)
		},
	}
	for _, s := range seeds {
		k.seeds = append(k.seeds, s)
	}
	return k
}

// pair is the fuzzKind of a validator of a new object against an old one
// (an update), or of an object against others (overlap): the fuzzed
// document is a list whose first item is the object and whose rest are
// the others; a list shorter than min items is skipped.
func pair[T any](name string, minItems int, validate func(first *T, rest []T) field.ErrorList, seeds ...[]T) fuzzKind {
	k := fuzzKind{
		name: name,
		decode: func(scheme *runtime.Scheme, data []byte) (field.ErrorList, bool) {
			var items []T
			if yaml.Unmarshal(data, &items) != nil || len(items) < minItems {
				return nil, false
			}
			for i := range items {
				if ro, ok := any(&items[i]).(runtime.Object); ok {
					scheme.Default(ro)
				}
			}
			return validate(&items[0], items[1:]), true
		},
		fill: func(f *randfill.Filler) field.ErrorList {
			items := make([]T, minItems+1)
			for i := range items {
				f.Fill(&items[i])
			}
			return validate(&items[0], items[1:])
		},
	}
	for _, s := range seeds {
		k.seeds = append(k.seeds, s)
	}
	return k
}

// fuzzKinds lists every validator entry point of the package with seeds.
func fuzzKinds() []fuzzKind {
	block := &v3.IPAMBlock{
		ObjectMeta: metav1.ObjectMeta{Name: "198-18-1-0-30"},
		Spec: v3.IPAMBlockSpec{
			CIDR: "198.18.1.0/30", Affinity: ptr("host:worker-1"),
			Allocations: v3.Allocations{ptr(0), nil, ptr(1), nil},
			Unallocated: []int{3, 1},
			Attributes: []v3.AllocationAttribute{
				{HandleID: ptr("k8s-pod-network.c1")}, {HandleID: ptr("k8s-pod-network.c2")},
			},
		},
	}
	tier := &v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "security"}, Spec: v3.TierSpec{Order: ptr(100.0), DefaultAction: ptr(v3.Pass)}}
	profile := &v3.Profile{
		ObjectMeta: metav1.ObjectMeta{Name: "kns.myapp"},
		Spec:       v3.ProfileSpec{Ingress: []v3.Rule{*baseRule()}, Egress: []v3.Rule{allowRule()}, LabelsToApply: map[string]string{"team": "a"}},
	}
	ipamConfig := &v3.IPAMConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.IPAMConfigurationSpec{MaxBlocksPerHost: 4}}
	otherPool := ipPool()
	otherPool.Name, otherPool.Spec.CIDR = "other", "198.19.0.0/16"
	rccStatus := rccWithSecret()
	rccStatus.Status.Conditions = []metav1.Condition{validCondition("Ready")}
	strict := func(r *v3.RemoteClusterConfiguration) field.ErrorList {
		return ValidateRemoteClusterConfiguration(r, RemoteClusterOptions{})
	}
	optIn := func(r *v3.RemoteClusterConfiguration) field.ErrorList {
		return ValidateRemoteClusterConfiguration(r, RemoteClusterOptions{AllowInlineCredentials: true})
	}
	return []fuzzKind{
		single("RemoteClusterConfiguration", strict, rccWithSecret(), rccKubernetes(), rccEtcd()),
		single("RemoteClusterConfiguration/inline", optIn, rccKubernetes(), rccEtcd()),
		single("RemoteClusterConfiguration/status", ValidateRemoteClusterConfigurationStatus, rccStatus),
		pair("RemoteClusterConfiguration/update", 2, func(n *v3.RemoteClusterConfiguration, old []v3.RemoteClusterConfiguration) field.ErrorList {
			return ValidateRemoteClusterConfigurationUpdate(n, &old[0])
		}, []v3.RemoteClusterConfiguration{*rccKubernetes(), *rccWithSecret()}),
		single("IPPool", ValidateIPPool, ipPool()),
		single("IPPool/status", ValidateIPPoolStatus, ipPool()),
		pair("IPPool/update", 2, func(n *v3.IPPool, old []v3.IPPool) field.ErrorList {
			return ValidateIPPoolUpdate(n, &old[0])
		}, []v3.IPPool{*ipPool(), *ipPool()}),
		pair("IPPool/overlap", 1, ValidateIPPoolOverlap, []v3.IPPool{*ipPool(), *otherPool}),
		single("IPAMBlock", ValidateIPAMBlock, block),
		single("IPAMConfiguration", ValidateIPAMConfiguration, ipamConfig),
		single("NetworkPolicy", ValidateNetworkPolicy, networkPolicy()),
		single("GlobalNetworkPolicy", ValidateGlobalNetworkPolicy, globalNetworkPolicy()),
		single("Tier", ValidateTier, tier),
		single("Profile", ValidateProfile, profile),
		single("HostEndpoint", ValidateHostEndpoint, hostEndpoint()),
		single("WorkloadEndpoint", ValidateWorkloadEndpoint, workloadEndpoint()),
		single("Node", ValidateNode, calicoNode()),
		single("FelixConfiguration", ValidateFelixConfiguration, felixConfig()),
	}
}

// checkFieldErrors asserts what every rejection must carry: a known type,
// a field path rooted at metadata, spec or status, a message, and for
// Invalid, Duplicate and NotSupported the offending value.
func checkFieldErrors(t *testing.T, kind string, errs field.ErrorList) {
	t.Helper()
	knownErrorTypes := []field.ErrorType{
		field.ErrorTypeNotFound, field.ErrorTypeRequired, field.ErrorTypeDuplicate,
		field.ErrorTypeInvalid, field.ErrorTypeNotSupported, field.ErrorTypeForbidden,
		field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeInternal, field.ErrorTypeTypeInvalid,
	}
	for i, e := range errs {
		if e == nil {
			t.Fatalf("%s: error %d is nil", kind, i)
		}
		known := false
		for _, typ := range knownErrorTypes {
			known = known || e.Type == typ
		}
		root, _, _ := strings.Cut(e.Field, ".")
		root, _, _ = strings.Cut(root, "[")
		switch {
		case !known:
			t.Fatalf("%s: error %q has unknown type %q", kind, e.Error(), e.Type)
		case root != "metadata" && root != "spec" && root != "status":
			t.Fatalf("%s: error %q has field %q, not a path under metadata, spec or status", kind, e.Error(), e.Field)
		case strings.TrimSpace(e.ErrorBody()) == "":
			t.Fatalf("%s: error on %q has no message", kind, e.Field)
		}
		switch e.Type {
		case field.ErrorTypeInvalid, field.ErrorTypeDuplicate, field.ErrorTypeNotSupported:
			if _, omitted := e.BadValue.(field.OmitValueType); omitted || e.BadValue == nil {
				t.Fatalf("%s: %s error %q does not carry the bad value", kind, e.Type, e.Error())
			}
		}
	}
}

// FuzzValidate decodes fuzzed bytes as JSON or YAML into the kind chosen
// by the first argument, applies the API server's defaults and runs its
// validator: it must not panic and every error must name its field, with
// the value for Invalid errors.
func FuzzValidate(f *testing.F) {
	kinds := fuzzKinds()
	for i, k := range kinds {
		for _, s := range k.seeds {
			js, err := json.Marshal(s)
			if err != nil {
				f.Fatalf("%s: encoding seed: %v", k.name, err)
			}
			f.Add(uint8(i), js)
			ys, err := yaml.JSONToYAML(js)
			if err != nil {
				f.Fatalf("%s: seed to YAML: %v", k.name, err)
			}
			f.Add(uint8(i), ys)
		}
	}
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		f.Fatalf("building the scheme: %v", err)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		k := kinds[int(which)%len(kinds)]
		if errs, ok := k.decode(scheme, data); ok {
			checkFieldErrors(t, k.name, errs)
		}
	})
}

// FuzzValidateFilled fills the kind chosen by the first argument from the
// fuzzed bytes, field by field (nil pointers, empty and odd strings, out of
// range numbers a JSON document would rarely reach), and runs its
// validator with the same checks as FuzzValidate.
func FuzzValidateFilled(f *testing.F) {
	kinds := fuzzKinds()
	for i := range kinds {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte("0123456789abcdef0123456789abcdef"))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		k := kinds[int(which)%len(kinds)]
		filler := randfill.NewFromGoFuzz(data).NilChance(0.3).NumElements(0, 4).MaxDepth(8)
		checkFieldErrors(t, k.name, k.fill(filler))
	})
}
