package registry

import (
	"reflect"
	"testing"

	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Uncached gives the options of the wrapped getter with the undecorated
// storage in place of the watch cache.
func TestUncachedReplacesTheDecorator(t *testing.T) {
	cached := generic.RESTOptions{Decorator: genericregistry.StorageWithCacher(), ResourcePrefix: "projectcalico.org/ippools"}
	got, err := Uncached{cached}.GetRESTOptions(v3.Resource("ippools"), &v3.IPPool{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourcePrefix != cached.ResourcePrefix {
		t.Errorf("ResourcePrefix = %q; want %q kept", got.ResourcePrefix, cached.ResourcePrefix)
	}
	if reflect.ValueOf(got.Decorator).Pointer() != reflect.ValueOf(generic.UndecoratedStorage).Pointer() {
		t.Errorf("Decorator is not generic.UndecoratedStorage")
	}
}
