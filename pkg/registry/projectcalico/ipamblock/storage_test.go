package ipamblock

import (
	"testing"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestConsistent(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts *metainternalversion.ListOptions
		want bool
	}{
		{"no options", nil, true},
		{"resourceVersion unset", &metainternalversion.ListOptions{}, true},
		{"the first page of a paginated list", &metainternalversion.ListOptions{Limit: 500}, true},
		{"the continuation of a consistent list", &metainternalversion.ListOptions{Continue: "token"}, true},
		{"resourceVersion 0, any cached state", &metainternalversion.ListOptions{ResourceVersion: "0"}, false},
		{"not older than a resourceVersion", &metainternalversion.ListOptions{ResourceVersion: "42", ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}, false},
		{"exactly a resourceVersion", &metainternalversion.ListOptions{ResourceVersion: "42", ResourceVersionMatch: metav1.ResourceVersionMatchExact}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := consistent(tt.opts); got != tt.want {
				t.Errorf("consistent(%+v) = %v, want %v", tt.opts, got, tt.want)
			}
		})
	}
}
