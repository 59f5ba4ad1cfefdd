package registry

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
)

// Uncached gives the options of the wrapped getter without the watch
// cache: a store built on them (NewStore) reads and lists from etcd. A
// kind keeps such a store beside its main one for the reads that must
// be consistent without waiting: a consistent list from the watch cache
// waits until the cache has caught up with etcd's revision, which after
// a write to another resource takes the cache's next progress
// notification (up to 100 ms).
type Uncached struct{ generic.RESTOptionsGetter }

// GetRESTOptions returns the wrapped options with an undecorated storage.
func (u Uncached) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := u.RESTOptionsGetter.GetRESTOptions(resource, example)
	opts.Decorator = generic.UndecoratedStorage
	return opts, err
}
