package ippool

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/embeddedetcd"
)

// etcdOptions gives every resource an etcd store built from config, with
// the watch cache's place taken by the undecorated storage.
type etcdOptions struct {
	config *storagebackend.Config
}

func (o etcdOptions) GetRESTOptions(gr schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:  o.config.ForResource(gr),
		Decorator:      generic.UndecoratedStorage,
		ResourcePrefix: gr.Group + "/" + gr.Resource,
	}, nil
}

// replicas starts an etcd and returns two IPPool stores on it, each with
// its own etcd clients, as two API server replicas have.
func replicas(t *testing.T) [2]*REST {
	t.Helper()
	dir := t.TempDir()
	etcd, err := embeddedetcd.Start(t.Context(), filepath.Join(dir, "etcd"), filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(etcd.Stop)
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var stores [2]*REST
	for i := range stores {
		config := storagebackend.NewDefaultConfig("/registry/projectcalico.org", serializer.NewCodecFactory(scheme).LegacyCodec(v3.SchemeGroupVersion))
		config.Transport.ServerList = []string{etcd.ClientURL}
		s, _, err := NewREST(scheme, etcdOptions{config: config})
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(s.Destroy)
		stores[i] = s
	}
	return stores
}

// Two pools created at the same moment through two stores on one etcd:
// disjoint pools are both stored, overlapping ones never both, and the
// refused one's error names spec.cidr, its value and the stored pool.
func TestCreateAcrossReplicas(t *testing.T) {
	stores := replicas(t)
	ctx := genericapirequest.WithNamespace(t.Context(), metav1.NamespaceNone)
	const rounds = 20
	for _, tc := range []struct {
		name     string
		cidrA    string
		cidrB    string
		overlaps bool
		offset   int // keeps each case's /24s apart from the others'
	}{
		{name: "disjoint", cidrA: "198.18.%d.0/25", cidrB: "198.18.%d.128/25"},
		{name: "nested", cidrA: "198.18.%d.0/24", cidrB: "198.18.%d.64/26", overlaps: true, offset: 100},
		{name: "equal", cidrA: "198.19.%d.0/24", cidrB: "198.19.%d.0/24", overlaps: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < rounds; i++ {
				pools := [2]*v3.IPPool{
					{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-a", tc.name, i)}, Spec: v3.IPPoolSpec{CIDR: fmt.Sprintf(tc.cidrA, tc.offset+i)}},
					{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-b", tc.name, i)}, Spec: v3.IPPoolSpec{CIDR: fmt.Sprintf(tc.cidrB, tc.offset+i)}},
				}
				var errs [2]error
				var wg sync.WaitGroup
				start := make(chan struct{})
				for j := range pools {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[j] = stores[j].Create(ctx, pools[j], rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
					}()
				}
				close(start)
				wg.Wait()
				checkRound(t, i, tc.overlaps, pools, errs)
			}
		})
	}
}

// checkRound checks the outcome of one round.
func checkRound(t *testing.T, round int, overlaps bool, pools [2]*v3.IPPool, errs [2]error) {
	t.Helper()
	if !overlaps {
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("round %d: disjoint pools refused: %v; %v", round, errs[0], errs[1])
		}
		return
	}
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("round %d: errors %v; %v; want exactly one of two overlapping pools stored", round, errs[0], errs[1])
		return
	}
	loser, winner := 0, 1
	if errs[1] != nil {
		loser, winner = 1, 0
	}
	msg := errs[loser].Error()
	if !apierrors.IsInvalid(errs[loser]) || !strings.Contains(msg, "spec.cidr") ||
		!strings.Contains(msg, fmt.Sprintf("%q", pools[loser].Spec.CIDR)) || !strings.Contains(msg, fmt.Sprintf("%q", pools[winner].Name)) {
		t.Errorf("round %d: refusal %q; want Invalid naming spec.cidr, %q and %q", round, msg, pools[loser].Spec.CIDR, pools[winner].Name)
	}
}
