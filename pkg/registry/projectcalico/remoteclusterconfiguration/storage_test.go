package remoteclusterconfiguration

import (
	"fmt"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/felixconfiguration"
	"github.com/meshapi/meshapi/pkg/registry/projectcalico/ippool"
)

// etcdOptions gives every resource an undecorated etcd store built from config.
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

// startEtcd runs an embedded etcd for the test, logging to a file beside
// its data.
func startEtcd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	dir := t.TempDir()
	etcd, err := embeddedetcd.Start(t.Context(), filepath.Join(dir, "etcd"), filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(etcd.Stop)
	return etcd.ClientURL
}

// testOptions returns a scheme with projectcalico.org/v3 and REST options
// storing on the etcd at url, with every key under prefix so that each
// caller starts empty.
func testOptions(t *testing.T, url, prefix string) (*runtime.Scheme, etcdOptions) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	config := storagebackend.NewDefaultConfig(prefix, serializer.NewCodecFactory(scheme).LegacyCodec(v3.SchemeGroupVersion))
	config.Transport.ServerList = []string{url}
	return scheme, etcdOptions{config: config}
}

// testStores returns IPPool and FelixConfiguration stores on the etcd at
// url, under prefix.
func testStores(t *testing.T, url, prefix string) (pools, felix rest.StandardStorage) {
	t.Helper()
	scheme, opts := testOptions(t, url, prefix)
	p, _, err := ippool.NewREST(scheme, opts)
	if err != nil {
		t.Fatalf("ippool store: %v", err)
	}
	t.Cleanup(p.Destroy)
	f, err := felixconfiguration.NewREST(scheme, opts)
	if err != nil {
		t.Fatalf("felixconfiguration store: %v", err)
	}
	t.Cleanup(f.Destroy)
	return p, f
}

func TestOverlayDefaulterMode(t *testing.T) {
	url := startEtcd(t)
	pool := func(name, cidr string, vxlan, ipip v3.EncapMode, lbls map[string]string) *v3.IPPool {
		return &v3.IPPool{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
			Spec:       v3.IPPoolSpec{CIDR: cidr, VXLANMode: vxlan, IPIPMode: ipip, Disabled: lbls[v3.LabelCluster] != ""},
		}
	}
	felix := func(wireguard *bool) *v3.FelixConfiguration {
		return &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v3.FelixConfigurationSpec{WireguardEnabled: wireguard}}
	}
	on, off := true, false
	mirrored := map[string]string{v3.LabelCluster: "cluster-b"}
	cases := []struct {
		name  string
		pools []*v3.IPPool
		felix []*v3.FelixConfiguration
		want  v3.OverlayRoutingMode
	}{
		{name: "no pools, no felix", want: v3.OverlayRoutingModeDisabled},
		{name: "VXLAN Always pool", pools: []*v3.IPPool{pool("vxlan", "10.10.0.0/16", v3.EncapModeAlways, "", nil)}, want: v3.OverlayRoutingModeEnabled},
		{name: "VXLAN CrossSubnet pool", pools: []*v3.IPPool{pool("cross", "10.11.0.0/16", v3.EncapModeCrossSubnet, "", nil)}, want: v3.OverlayRoutingModeEnabled},
		{name: "VXLAN Never pool", pools: []*v3.IPPool{pool("plain", "10.12.0.0/16", v3.EncapModeNever, "", nil)}, want: v3.OverlayRoutingModeDisabled},
		{name: "pool with the VXLAN mode left to defaulting", pools: []*v3.IPPool{pool("unset", "10.13.0.0/16", "", "", nil)}, want: v3.OverlayRoutingModeDisabled},
		{name: "IP-in-IP pool", pools: []*v3.IPPool{pool("ipip", "10.14.0.0/16", v3.EncapModeNever, v3.EncapModeAlways, nil)}, want: v3.OverlayRoutingModeDisabled},
		{name: "mirrored VXLAN pool ignored", pools: []*v3.IPPool{pool("cluster-b.vxlan", "10.15.0.0/16", v3.EncapModeAlways, "", mirrored)}, want: v3.OverlayRoutingModeDisabled},
		{name: "local VXLAN pool beside a mirrored one", pools: []*v3.IPPool{
			pool("cluster-b.vxlan", "10.16.0.0/16", v3.EncapModeAlways, "", mirrored),
			pool("plain", "10.17.0.0/16", v3.EncapModeNever, "", nil),
			pool("vxlan", "10.18.0.0/16", v3.EncapModeAlways, "", nil),
		}, want: v3.OverlayRoutingModeEnabled},
		{name: "wireguardEnabled true", felix: []*v3.FelixConfiguration{felix(&on)}, want: v3.OverlayRoutingModeEnabled},
		{name: "wireguardEnabled false", felix: []*v3.FelixConfiguration{felix(&off)}, want: v3.OverlayRoutingModeDisabled},
		{name: "wireguardEnabled unset", felix: []*v3.FelixConfiguration{felix(nil)}, want: v3.OverlayRoutingModeDisabled},
		{name: "wireguardEnabled false with a VXLAN pool", felix: []*v3.FelixConfiguration{felix(&off)},
			pools: []*v3.IPPool{pool("vxlan", "10.19.0.0/16", v3.EncapModeAlways, "", nil)}, want: v3.OverlayRoutingModeEnabled},
		{name: "WireGuard enabled only in a node's FelixConfiguration", felix: []*v3.FelixConfiguration{
			{ObjectMeta: metav1.ObjectMeta{Name: "node.worker-1"}, Spec: v3.FelixConfigurationSpec{WireguardEnabled: &on}},
		}, want: v3.OverlayRoutingModeDisabled},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := genericapirequest.WithNamespace(t.Context(), metav1.NamespaceNone)
			pools, felix := testStores(t, url, fmt.Sprintf("/overlay-%d", i))
			for _, p := range tc.pools {
				if _, err := pools.Create(ctx, p, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
					t.Fatalf("creating IPPool %s: %v", p.Name, err)
				}
			}
			for _, f := range tc.felix {
				if _, err := felix.Create(ctx, f, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
					t.Fatalf("creating FelixConfiguration %s: %v", f.Name, err)
				}
			}
			d := &OverlayDefaulter{Pools: pools, Felix: felix}
			got, err := d.Mode(ctx)
			if err != nil {
				t.Fatalf("Mode: %v", err)
			}
			if got != tc.want {
				t.Errorf("Mode = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOverlayDefaulterApply(t *testing.T) {
	url := startEtcd(t)
	ctx := genericapirequest.WithNamespace(t.Context(), metav1.NamespaceNone)
	pools, felix := testStores(t, url, "/apply")
	if _, err := pools.Create(ctx, &v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: "vxlan"},
		Spec:       v3.IPPoolSpec{CIDR: "10.20.0.0/16", VXLANMode: v3.EncapModeAlways},
	}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := &OverlayDefaulter{Pools: pools, Felix: felix}
	cases := []struct {
		name string
		set  v3.OverlayRoutingMode
		want v3.OverlayRoutingMode
	}{
		{name: "unset mode filled from the pools", want: v3.OverlayRoutingModeEnabled},
		{name: "explicit Disabled kept", set: v3.OverlayRoutingModeDisabled, want: v3.OverlayRoutingModeDisabled},
		{name: "explicit Enabled kept", set: v3.OverlayRoutingModeEnabled, want: v3.OverlayRoutingModeEnabled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"}}
			rcc.Spec.SyncOptions.OverlayRoutingMode = tc.set
			if err := d.apply(ctx, rcc); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if got := rcc.Spec.SyncOptions.OverlayRoutingMode; got != tc.want {
				t.Errorf("overlayRoutingMode %q, want %q", got, tc.want)
			}
		})
	}
	// Objects of other kinds pass through untouched.
	other := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "not-an-rcc"}}
	if err := d.apply(ctx, other); err != nil || other.Name != "not-an-rcc" {
		t.Errorf("apply to an IPPool: %v, %+v", err, other)
	}
}

// The REST's Create and Update fill an unset mode, and only an unset one.
func TestRESTDefaultsOverlayRoutingMode(t *testing.T) {
	url := startEtcd(t)
	ctx := genericapirequest.WithNamespace(t.Context(), metav1.NamespaceNone)
	pools, felix := testStores(t, url, "/rest")
	scheme, opts := testOptions(t, url, "/rest")
	rccs, _, err := NewREST(scheme, opts, &OverlayDefaulter{Pools: pools, Felix: felix}, CredentialPolicy{})
	if err != nil {
		t.Fatalf("remoteclusterconfiguration store: %v", err)
	}
	t.Cleanup(rccs.Destroy)
	if _, err := pools.Create(ctx, &v3.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: "vxlan"},
		Spec:       v3.IPPoolSpec{CIDR: "10.30.0.0/16", VXLANMode: v3.EncapModeAlways},
	}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name            string
		create, update  v3.OverlayRoutingMode
		wantAfterCreate v3.OverlayRoutingMode
		wantAfterUpdate v3.OverlayRoutingMode
	}{
		{name: "unset on create and update", wantAfterCreate: v3.OverlayRoutingModeEnabled, wantAfterUpdate: v3.OverlayRoutingModeEnabled},
		{name: "explicit on create, cleared by update", create: v3.OverlayRoutingModeDisabled,
			wantAfterCreate: v3.OverlayRoutingModeDisabled, wantAfterUpdate: v3.OverlayRoutingModeEnabled},
		{name: "unset on create, explicit on update", update: v3.OverlayRoutingModeDisabled,
			wantAfterCreate: v3.OverlayRoutingModeEnabled, wantAfterUpdate: v3.OverlayRoutingModeDisabled},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("cluster-%d", i)
			rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
			rcc.Spec.ClusterAccessSecret = &corev1.ObjectReference{Kind: "Secret", Namespace: "calico-system", Name: name}
			rcc.Spec.SyncOptions.OverlayRoutingMode = tc.create
			created, err := rccs.Create(ctx, rcc, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			got := created.(*v3.RemoteClusterConfiguration)
			if m := got.Spec.SyncOptions.OverlayRoutingMode; m != tc.wantAfterCreate {
				t.Errorf("after create: mode %q, want %q", m, tc.wantAfterCreate)
			}
			next := got.DeepCopy()
			next.Spec.SyncOptions.OverlayRoutingMode = tc.update
			updated, _, err := rccs.Update(ctx, name, rest.DefaultUpdatedObjectInfo(next), rest.ValidateAllObjectFunc,
				rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if m := updated.(*v3.RemoteClusterConfiguration).Spec.SyncOptions.OverlayRoutingMode; m != tc.wantAfterUpdate {
				t.Errorf("after update: mode %q, want %q", m, tc.wantAfterUpdate)
			}
		})
	}
}
