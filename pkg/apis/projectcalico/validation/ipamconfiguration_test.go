package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestValidateIPAMConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int32
		wantErr string // "" : valid
	}{
		{"default", 0, ""},
		{"default", 4, ""},
		{"other", 0, `metadata.name: Invalid value: "other"`},
		{"default", -1, "spec.maxBlocksPerHost: Invalid value: -1"},
	} {
		c := &v3.IPAMConfiguration{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: v3.IPAMConfigurationSpec{MaxBlocksPerHost: tc.max}}
		errs := ValidateIPAMConfiguration(c)
		switch {
		case tc.wantErr == "" && len(errs) > 0:
			t.Errorf("%s/%d: %v", tc.name, tc.max, errs.ToAggregate())
		case tc.wantErr != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.wantErr)):
			t.Errorf("%s/%d: errors %v, want %q", tc.name, tc.max, errs, tc.wantErr)
		}
	}
}
