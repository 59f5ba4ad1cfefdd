package validation

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// want is one expected error: its type, exact field path and a substring of
// its full text (which includes the value).
type want struct {
	typ   field.ErrorType
	field string
	msg   string
}

func invalid(f, msg string) want      { return want{field.ErrorTypeInvalid, f, msg} }
func required(f, msg string) want     { return want{field.ErrorTypeRequired, f, msg} }
func forbidden(f, msg string) want    { return want{field.ErrorTypeForbidden, f, msg} }
func notSupported(f, msg string) want { return want{field.ErrorTypeNotSupported, f, msg} }
func duplicate(f, msg string) want    { return want{field.ErrorTypeDuplicate, f, msg} }

// checkErrors asserts that got holds exactly the wanted errors, in any order.
func checkErrors(t *testing.T, got field.ErrorList, wants ...want) {
	t.Helper()
	used := make([]bool, len(got))
	var missing []want
	for _, w := range wants {
		found := false
		for i, g := range got {
			if !used[i] && g.Type == w.typ && g.Field == w.field && strings.Contains(g.Error(), w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	var extra []string
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g.Error()+" ["+string(g.Type)+"]")
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("errors mismatch\nmissing: %+v\nunexpected:\n  %s\nall (%d):\n  %s",
			missing, strings.Join(extra, "\n  "), len(got), strings.Join(errorStrings(got), "\n  "))
	}
}

func errorStrings(l field.ErrorList) []string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return s
}

// tcase mutates a valid base object and lists the errors expected; none for
// an accepted case.
type tcase[T any] struct {
	name string
	mut  func(*T)
	want []want
}

// runCases runs each case on a fresh base object.
func runCases[T any](t *testing.T, base func() *T, validate func(*T) field.ErrorList, cases []tcase[T]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := base()
			if c.mut != nil {
				c.mut(obj)
			}
			checkErrors(t, validate(obj), c.want...)
		})
	}
}

// fromYAML decodes a document strictly (unknown fields fail).
func fromYAML[T any](t *testing.T, doc string) *T {
	t.Helper()
	var obj T
	if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
		t.Fatalf("decoding YAML: %v", err)
	}
	return &obj
}

func ptr[T any](v T) *T { return &v }

func proto(name string) *v3.Protocol { p := v3.ProtocolFromString(name); return &p }
func protoN(n uint8) *v3.Protocol    { p := v3.ProtocolFromInt(n); return &p }

// jsonFieldNames returns the JSON names of the fields of the given structs.
func jsonFieldNames(structs ...any) []string {
	var names []string
	for _, st := range structs {
		t := reflect.TypeOf(st)
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
	}
	return names
}
