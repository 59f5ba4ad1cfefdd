package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	v3apply "github.com/meshapi/meshapi/pkg/generated/applyconfiguration/projectcalico/v3"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The main resource never writes the status and the status subresource
// never writes the spec.
func TestStatusSubresource(t *testing.T) {
	ctx := ctxT(t)
	rccs := clientset(t).ProjectcalicoV3().RemoteClusterConfigurations()
	rcc := &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "status-b"},
		Spec: v3.RemoteClusterConfigurationSpec{
			ClusterAccessSecret: secretRef("status-b"),
			SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled},
		},
		Status: v3.RemoteClusterConfigurationStatus{SyncState: v3.SyncStateInSync},
	}
	created, err := rccs.Create(ctx, rcc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rccs.Delete(ctx, rcc.Name, metav1.DeleteOptions{})
	if created.Status.SyncState != "" {
		t.Errorf("create stored status %q; the main resource must not write status", created.Status.SyncState)
	}

	created.Status = v3.RemoteClusterConfigurationStatus{
		SyncState:       v3.SyncStateInSync,
		MirroredObjects: &v3.MirroredObjectCounts{WorkloadEndpoints: 3},
		Conditions: []metav1.Condition{{
			Type: v3.RemoteClusterConditionSynced, Status: metav1.ConditionTrue, Reason: "InSync",
			Message: "mirror matches the remote cluster", LastTransitionTime: metav1.Now(),
		}},
	}
	created.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeDisabled
	afterStatus, err := rccs.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if afterStatus.Status.SyncState != v3.SyncStateInSync || afterStatus.Status.MirroredObjects == nil || afterStatus.Status.MirroredObjects.WorkloadEndpoints != 3 {
		t.Errorf("status update did not store the status: %+v", afterStatus.Status)
	}
	if afterStatus.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled {
		t.Errorf("status update changed the spec to %q", afterStatus.Spec.SyncOptions.OverlayRoutingMode)
	}
	if afterStatus.Generation != 1 {
		t.Errorf("status update bumped generation to %d", afterStatus.Generation)
	}

	afterStatus.Status.SyncState = v3.SyncStateConnectionFailed
	afterStatus.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeDisabled
	afterSpec, err := rccs.Update(ctx, afterStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if afterSpec.Status.SyncState != v3.SyncStateInSync {
		t.Errorf("spec update changed the status to %q", afterSpec.Status.SyncState)
	}
	if afterSpec.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeDisabled || afterSpec.Generation != 2 {
		t.Errorf("spec update: mode %q generation %d", afterSpec.Spec.SyncOptions.OverlayRoutingMode, afterSpec.Generation)
	}

	// A bad status is rejected with the field named.
	afterSpec.Status.SyncState = "Sleeping"
	_, err = rccs.UpdateStatus(ctx, afterSpec, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.syncState") {
		t.Errorf("bad syncState: got %v, want an Invalid error naming status.syncState", err)
	}
}

// Errors name the field and the value, and every violation is reported.
func TestValidationErrors(t *testing.T) {
	ctx := ctxT(t)
	cs := clientset(t).ProjectcalicoV3()
	_, err := cs.RemoteClusterConfigurations().Create(ctx, &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-rcc"},
		Spec: v3.RemoteClusterConfigurationSpec{
			ClusterAccessSecret: secretRef("s"),
			DatastoreType:       v3.DatastoreTypeKubernetes,
			KubeConfig:          v3.KubeConfig{K8sAPIEndpoint: "https://198.18.0.1:6443"},
			SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: "Sometimes"},
		},
	}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want Invalid", err)
	}
	for _, want := range []string{
		"spec.datastoreType", "spec.k8sAPIEndpoint", "when clusterAccessSecret is set, no other datastore connection field may be set",
		`spec.syncOptions.overlayRoutingMode: Unsupported value: "Sometimes"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if causes := len(err.(*apierrors.StatusError).ErrStatus.Details.Causes); causes < 3 {
		t.Errorf("got %d causes, want every violation (>= 3): %v", causes, err)
	}

	if _, err := cs.IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "overlap-1"}, Spec: v3.IPPoolSpec{CIDR: "198.18.100.0/24"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.IPPools().Delete(ctx, "overlap-1", metav1.DeleteOptions{})
	_, err = cs.IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "overlap-2"}, Spec: v3.IPPoolSpec{CIDR: "198.18.100.128/25"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `overlaps IPPool "overlap-1" (198.18.100.0/24)`) {
		t.Errorf("overlapping pool: got %v", err)
	}

	p, err := cs.IPPools().Get(ctx, "overlap-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.VXLANMode != v3.EncapModeNever || p.Spec.IPIPMode != v3.EncapModeNever || p.Spec.NodeSelector != "all()" {
		t.Errorf("IPPool defaults not applied: %+v", p.Spec)
	}
	p.Spec.CIDR = "198.18.101.0/24"
	if _, err := cs.IPPools().Update(ctx, p, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.cidr") || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("changing cidr: got %v, want spec.cidr immutable", err)
	}
}

// An RCC without overlayRoutingMode gets the original product's default.
func TestOverlayRoutingModeDefault(t *testing.T) {
	ctx := ctxT(t)
	cs := clientset(t).ProjectcalicoV3()
	create := func(name string) v3.OverlayRoutingMode {
		t.Helper()
		rcc, err := cs.RemoteClusterConfigurations().Create(ctx, &v3.RemoteClusterConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: secretRef(name)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.RemoteClusterConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		return rcc.Spec.SyncOptions.OverlayRoutingMode
	}
	if got := create("default-none"); got != v3.OverlayRoutingModeDisabled {
		t.Errorf("no VXLAN pool, no WireGuard: mode %q, want Disabled", got)
	}
	if _, err := cs.IPPools().Create(ctx, &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "default-vxlan"},
		Spec: v3.IPPoolSpec{CIDR: "198.18.110.0/24", VXLANMode: v3.EncapModeAlways}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := create("default-vxlan"); got != v3.OverlayRoutingModeEnabled {
		t.Errorf("with a VXLAN pool: mode %q, want Enabled", got)
	}
	if err := cs.IPPools().Delete(ctx, "default-vxlan", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	enabled := true
	if _, err := cs.FelixConfigurations().Create(ctx, &v3.FelixConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v3.FelixConfigurationSpec{WireguardEnabled: &enabled}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cs.FelixConfigurations().Delete(ctx, "default", metav1.DeleteOptions{})
	if got := create("default-wg"); got != v3.OverlayRoutingModeEnabled {
		t.Errorf("with WireGuard: mode %q, want Enabled", got)
	}
}

// Server-side apply with the generated apply configurations.
func TestServerSideApply(t *testing.T) {
	ctx := ctxT(t)
	pools := clientset(t).ProjectcalicoV3().IPPools()
	apply := v3apply.IPPool("ssa-pool").WithLabels(map[string]string{"team": "net"}).
		WithSpec(v3apply.IPPoolSpec().WithCIDR("198.18.120.0/24").WithVXLANMode(v3.EncapModeAlways).WithNATOutgoing(true))
	got, err := pools.Apply(ctx, apply, metav1.ApplyOptions{FieldManager: "team-net"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	defer pools.Delete(ctx, "ssa-pool", metav1.DeleteOptions{})
	if got.Spec.VXLANMode != v3.EncapModeAlways || !got.Spec.NATOutgoing || got.Labels["team"] != "net" {
		t.Fatalf("applied object: %+v", got)
	}
	// A second manager taking a field the first owns conflicts...
	_, err = pools.Apply(ctx, v3apply.IPPool("ssa-pool").WithSpec(v3apply.IPPoolSpec().WithCIDR("198.18.120.0/24").WithNATOutgoing(false)),
		metav1.ApplyOptions{FieldManager: "intruder"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("conflicting apply: got %v, want a conflict", err)
	}
	// ...unless it forces.
	got, err = pools.Apply(ctx, v3apply.IPPool("ssa-pool").WithSpec(v3apply.IPPoolSpec().WithCIDR("198.18.120.0/24").WithNATOutgoing(false)),
		metav1.ApplyOptions{FieldManager: "intruder", Force: true})
	if err != nil || got.Spec.NATOutgoing {
		t.Fatalf("forced apply: %v, natOutgoing %v", err, got.Spec.NATOutgoing)
	}
	managers := map[string]bool{}
	for _, mf := range got.ManagedFields {
		managers[mf.Manager] = true
	}
	if !managers["team-net"] || !managers["intruder"] {
		t.Errorf("managed fields %v, want both managers", managers)
	}

	// The status subresource applies too.
	rccs := clientset(t).ProjectcalicoV3().RemoteClusterConfigurations()
	if _, err := rccs.Apply(ctx, v3apply.RemoteClusterConfiguration("ssa-rcc").WithSpec(v3apply.RemoteClusterConfigurationSpec().
		WithClusterAccessSecret(corev1Ref("ssa-rcc")).WithSyncOptions(v3apply.RemoteClusterSyncOptions().WithOverlayRoutingMode(v3.OverlayRoutingModeEnabled))),
		metav1.ApplyOptions{FieldManager: "meshctl"}); err != nil {
		t.Fatalf("apply rcc: %v", err)
	}
	defer rccs.Delete(ctx, "ssa-rcc", metav1.DeleteOptions{})
	st, err := rccs.ApplyStatus(ctx, v3apply.RemoteClusterConfiguration("ssa-rcc").WithStatus(
		v3apply.RemoteClusterConfigurationStatus().WithSyncState(v3.SyncStateConnecting)), metav1.ApplyOptions{FieldManager: "meshapi-controller"})
	if err != nil || st.Status.SyncState != v3.SyncStateConnecting || st.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled {
		t.Fatalf("apply status: %v %+v", err, st)
	}
}

// The dynamic client sees the same objects as unstructured data.
func TestDynamicClient(t *testing.T) {
	ctx := ctxT(t)
	dyn := dynamicClient(t).Resource(v3.SchemeGroupVersion.WithResource("networkpolicies")).Namespace("dyn")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "default.app-to-db", "namespace": "dyn"},
		"spec": map[string]any{
			"selector": "app == 'backend-app'", "tier": "default",
			"egress": []any{map[string]any{
				"action": "Allow", "protocol": "TCP",
				"destination": map[string]any{"selector": "app == 'postgres'", "ports": []any{int64(5432)}},
			}},
		},
	}}
	created, err := dyn.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer dyn.Delete(ctx, "default.app-to-db", metav1.DeleteOptions{})
	ports, _, _ := unstructured.NestedSlice(created.Object, "spec", "egress")
	if len(ports) != 1 {
		t.Fatalf("egress = %v", ports)
	}
	list, err := dyn.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %d items", err, len(list.Items))
	}
	if err := unstructured.SetNestedField(created.Object, float64(5), "spec", "order"); err != nil {
		t.Fatal(err)
	}
	updated, err := dyn.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if order, _, _ := unstructured.NestedFieldNoCopy(updated.Object, "spec", "order"); order != int64(5) && order != float64(5) {
		t.Errorf("order = %v (%T)", order, order)
	}
}

// The metadata client (namespace deletion, garbage collection) works and a
// protobuf-preferring client gets JSON.
func TestMetadataClientAndMediaTypes(t *testing.T) {
	ctx := ctxT(t)
	cs := clientset(t).ProjectcalicoV3()
	for _, name := range []string{"meta-a", "meta-b"} {
		if _, err := cs.WorkloadEndpoints("meta").Create(ctx, &v3.WorkloadEndpoint{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "meta"},
			Spec:       v3.WorkloadEndpointSpec{Node: "node-1", IPNetworks: []string{"198.18.50.1/32"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	meta := metadataClient(t).Resource(v3.SchemeGroupVersion.WithResource("workloadendpoints")).Namespace("meta")
	list, err := meta.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("metadata list: %v", err)
	}
	if len(list.Items) != 2 || list.Items[0].Name != "meta-a" {
		t.Fatalf("metadata list = %+v", list.Items)
	}
	one, err := meta.Get(ctx, "meta-b", metav1.GetOptions{})
	if err != nil || one.UID == "" {
		t.Fatalf("metadata get: %v %+v", err, one)
	}
	// Namespace deletion removes a namespace's objects with DeleteCollection.
	if err := meta.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatalf("metadata delete collection: %v", err)
	}
	if left, err := cs.WorkloadEndpoints("meta").List(ctx, metav1.ListOptions{}); err != nil || len(left.Items) != 0 {
		t.Fatalf("after delete collection: %v, %d left", err, len(left.Items))
	}

	// A client that prefers protobuf is answered in JSON, not with an error.
	cfg := rest.CopyConfig(server.Config)
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.ContentType = "application/json"
	cfg.GroupVersion = &v3.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = clientScheme()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := rc.Get().Resource("ippools").Do(ctx)
	var ct string
	res.ContentType(&ct)
	raw, err := res.Raw()
	if err != nil {
		t.Fatalf("list with protobuf preferred: %v", err)
	}
	if !strings.HasPrefix(ct, "application/json") || !json.Valid(raw) {
		t.Errorf("content type %q, want JSON", ct)
	}
	// YAML is served too.
	raw, err = rc.Get().Resource("ippools").SetHeader("Accept", "application/yaml").DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), "kind: IPPoolList") {
		t.Errorf("YAML list: %v\n%s", err, raw)
	}
}

// A watch resumes from a resourceVersion and sees what happened since.
func TestWatchResume(t *testing.T) {
	ctx := ctxT(t)
	profiles := clientset(t).ProjectcalicoV3().Profiles()
	first, err := profiles.Create(ctx, &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "resume-1", Labels: map[string]string{"resume": "yes"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer profiles.Delete(ctx, "resume-1", metav1.DeleteOptions{})
	defer profiles.Delete(ctx, "resume-2", metav1.DeleteOptions{})
	if _, err := profiles.Create(ctx, &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "resume-2", Labels: map[string]string{"resume": "yes"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := profiles.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, LabelSelector: "resume=yes"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		p, ok := ev.Object.(*v3.Profile)
		if ev.Type != watch.Added || !ok || p.Name != "resume-2" {
			t.Fatalf("first event after resume: %s %v, want ADDED resume-2", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no event after resuming the watch")
	}
}

// Field selectors on spec.node let an agent watch its own endpoints.
func TestFieldSelectorSpecNode(t *testing.T) {
	ctx := ctxT(t)
	weps := clientset(t).ProjectcalicoV3().WorkloadEndpoints("fields")
	for i, node := range []string{"node-1", "cluster-b/node-1", "node-2"} {
		name := []string{"a", "b", "c"}[i]
		if _, err := weps.Create(ctx, &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "fields"},
			Spec: v3.WorkloadEndpointSpec{Node: node}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer weps.Delete(ctx, name, metav1.DeleteOptions{})
	}
	list, err := weps.List(ctx, metav1.ListOptions{FieldSelector: "spec.node=cluster-b/node-1"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "b" {
		t.Fatalf("spec.node=cluster-b/node-1: %v %+v", err, list)
	}
	if _, err := weps.List(ctx, metav1.ListOptions{FieldSelector: "spec.pod=x"}); err == nil || !strings.Contains(err.Error(), "spec.pod") {
		t.Errorf("unsupported field selector: got %v", err)
	}
}
