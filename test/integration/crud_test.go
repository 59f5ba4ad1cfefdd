package integration

import (
	"context"
	corev1 "k8s.io/api/core/v1"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// typedClient is what every generated typed client offers.
type typedClient[T any, L any] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// object is what every kind's pointer type offers.
type object interface {
	metav1.Object
	comparable
}

// crudCase drives create/get/list/update/watch/delete of one kind.
type crudCase[T object, L any] struct {
	client typedClient[T, L]
	// newObj returns an object named name with labels.
	newObj func(name string, labels map[string]string) T
	// items returns the items of a list.
	items func(L) []T
	// mutate changes the spec for the update step.
	mutate func(T)
	// changed tells whether mutate's change is visible.
	changed func(T) bool
}

func (c crudCase[T, L]) run(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	w, err := c.client.Watch(ctx, metav1.ListOptions{LabelSelector: "crud=watched"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	created, err := c.client.Create(ctx, c.newObj("crud-a", map[string]string{"crud": "watched"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetGeneration() != 1 {
		t.Fatalf("create returned uid %q rv %q generation %d", created.GetUID(), created.GetResourceVersion(), created.GetGeneration())
	}
	if _, err := c.client.Create(ctx, c.newObj("crud-b", map[string]string{"crud": "other"}), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create second: %v", err)
	}

	got, err := c.client.Get(ctx, "crud-a", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.GetUID() != created.GetUID() {
		t.Fatalf("get returned uid %q, want %q", got.GetUID(), created.GetUID())
	}

	for _, tc := range []struct {
		opts metav1.ListOptions
		want []string
	}{
		{metav1.ListOptions{LabelSelector: "crud"}, []string{"crud-a", "crud-b"}},
		{metav1.ListOptions{LabelSelector: "crud=watched"}, []string{"crud-a"}},
		{metav1.ListOptions{LabelSelector: "crud!=watched,crud"}, []string{"crud-b"}},
		{metav1.ListOptions{FieldSelector: "metadata.name=crud-b"}, []string{"crud-b"}},
		{metav1.ListOptions{FieldSelector: "metadata.name!=crud-b", LabelSelector: "crud"}, []string{"crud-a"}},
	} {
		list, err := c.client.List(ctx, tc.opts)
		if err != nil {
			t.Fatalf("list %+v: %v", tc.opts, err)
		}
		var names []string
		for _, it := range c.items(list) {
			names = append(names, it.GetName())
		}
		if len(names) != len(tc.want) || (len(names) > 0 && names[0] != tc.want[0]) || (len(names) > 1 && names[1] != tc.want[1]) {
			t.Errorf("list %+v = %v, want %v", tc.opts, names, tc.want)
		}
	}

	c.mutate(got)
	updated, err := c.client.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if !c.changed(updated) {
		t.Fatalf("update did not change the spec: %+v", updated)
	}
	if updated.GetGeneration() != 2 {
		t.Errorf("generation after a spec update = %d, want 2", updated.GetGeneration())
	}
	// A stale resourceVersion is a conflict, not a silent overwrite.
	if _, err := c.client.Update(ctx, got, metav1.UpdateOptions{}); err == nil {
		t.Errorf("update with a stale resourceVersion succeeded")
	}

	for _, name := range []string{"crud-a", "crud-b"} {
		if err := c.client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	if _, err := c.client.Get(ctx, "crud-a", metav1.GetOptions{}); err == nil {
		t.Fatalf("get after delete succeeded")
	}

	want := []watch.EventType{watch.Added, watch.Modified, watch.Deleted}
	for _, typ := range want {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != typ {
				t.Fatalf("watch event %s, want %s (%+v)", ev.Type, typ, ev.Object)
			}
			if o, ok := ev.Object.(T); !ok || o.GetName() != "crud-a" {
				t.Fatalf("watch event for %T %v, want crud-a", ev.Object, ev.Object)
			}
		case <-ctx.Done():
			t.Fatalf("no %s watch event", typ)
		}
	}
}

func TestCRUDEveryKind(t *testing.T) {
	cs := clientset(t).ProjectcalicoV3()
	meta := func(name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: labels}
	}
	nsMeta := func(name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "crud", Labels: labels}
	}
	order := func(f float64) *float64 { return &f }

	t.Run("RemoteClusterConfiguration", crudCase[*v3.RemoteClusterConfiguration, *v3.RemoteClusterConfigurationList]{
		client: cs.RemoteClusterConfigurations(),
		newObj: func(name string, l map[string]string) *v3.RemoteClusterConfiguration {
			return &v3.RemoteClusterConfiguration{ObjectMeta: meta(name, l), Spec: v3.RemoteClusterConfigurationSpec{
				ClusterAccessSecret: secretRef("remote-" + name),
				SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled},
			}}
		},
		items: func(l *v3.RemoteClusterConfigurationList) []*v3.RemoteClusterConfiguration { return ptrs(l.Items) },
		mutate: func(o *v3.RemoteClusterConfiguration) {
			o.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeDisabled
		},
		changed: func(o *v3.RemoteClusterConfiguration) bool {
			return o.Spec.SyncOptions.OverlayRoutingMode == v3.OverlayRoutingModeDisabled
		},
	}.run)

	pools := map[string]string{"crud-a": "198.18.10.0/24", "crud-b": "198.18.11.0/24"}
	t.Run("IPPool", crudCase[*v3.IPPool, *v3.IPPoolList]{
		client: cs.IPPools(),
		newObj: func(name string, l map[string]string) *v3.IPPool {
			return &v3.IPPool{ObjectMeta: meta(name, l), Spec: v3.IPPoolSpec{CIDR: pools[name]}}
		},
		items:   func(l *v3.IPPoolList) []*v3.IPPool { return ptrs(l.Items) },
		mutate:  func(o *v3.IPPool) { o.Spec.NATOutgoing = true },
		changed: func(o *v3.IPPool) bool { return o.Spec.NATOutgoing },
	}.run)

	blocks := map[string]string{"crud-a": "198.18.20.0/26", "crud-b": "198.18.20.64/26"}
	t.Run("IPAMBlock", crudCase[*v3.IPAMBlock, *v3.IPAMBlockList]{
		client: cs.IPAMBlocks(),
		newObj: func(name string, l map[string]string) *v3.IPAMBlock {
			return &v3.IPAMBlock{ObjectMeta: meta(name, l), Spec: v3.IPAMBlockSpec{CIDR: blocks[name], Affinity: strPtr("host:node-1")}}
		},
		items:   func(l *v3.IPAMBlockList) []*v3.IPAMBlock { return ptrs(l.Items) },
		mutate:  func(o *v3.IPAMBlock) { o.Spec.Affinity = strPtr("host:node-2") },
		changed: func(o *v3.IPAMBlock) bool { return *o.Spec.Affinity == "host:node-2" },
	}.run)

	t.Run("FelixConfiguration", crudCase[*v3.FelixConfiguration, *v3.FelixConfigurationList]{
		client: cs.FelixConfigurations(),
		newObj: func(name string, l map[string]string) *v3.FelixConfiguration {
			return &v3.FelixConfiguration{ObjectMeta: meta(name, l), Spec: v3.FelixConfigurationSpec{VXLANPort: intPtr(4789)}}
		},
		items:   func(l *v3.FelixConfigurationList) []*v3.FelixConfiguration { return ptrs(l.Items) },
		mutate:  func(o *v3.FelixConfiguration) { o.Spec.VXLANVNI = intPtr(4097) },
		changed: func(o *v3.FelixConfiguration) bool { return o.Spec.VXLANVNI != nil && *o.Spec.VXLANVNI == 4097 },
	}.run)

	t.Run("Node", crudCase[*v3.Node, *v3.NodeList]{
		client: cs.Nodes(),
		newObj: func(name string, l map[string]string) *v3.Node {
			return &v3.Node{ObjectMeta: meta(name, l), Spec: v3.NodeSpec{IPv4VXLANTunnelAddr: "198.18.30.1"}}
		},
		items:   func(l *v3.NodeList) []*v3.Node { return ptrs(l.Items) },
		mutate:  func(o *v3.Node) { o.Spec.VXLANTunnelMACAddr = "66:aa:bb:cc:dd:ee" },
		changed: func(o *v3.Node) bool { return o.Spec.VXLANTunnelMACAddr == "66:aa:bb:cc:dd:ee" },
	}.run)

	t.Run("HostEndpoint", crudCase[*v3.HostEndpoint, *v3.HostEndpointList]{
		client: cs.HostEndpoints(),
		newObj: func(name string, l map[string]string) *v3.HostEndpoint {
			return &v3.HostEndpoint{ObjectMeta: meta(name, l), Spec: v3.HostEndpointSpec{Node: "node-1", InterfaceName: "eth0"}}
		},
		items:   func(l *v3.HostEndpointList) []*v3.HostEndpoint { return ptrs(l.Items) },
		mutate:  func(o *v3.HostEndpoint) { o.Spec.InterfaceName = "eth1" },
		changed: func(o *v3.HostEndpoint) bool { return o.Spec.InterfaceName == "eth1" },
	}.run)

	t.Run("Profile", crudCase[*v3.Profile, *v3.ProfileList]{
		client: cs.Profiles(),
		newObj: func(name string, l map[string]string) *v3.Profile {
			return &v3.Profile{ObjectMeta: meta(name, l), Spec: v3.ProfileSpec{LabelsToApply: map[string]string{"team": "a"}}}
		},
		items:   func(l *v3.ProfileList) []*v3.Profile { return ptrs(l.Items) },
		mutate:  func(o *v3.Profile) { o.Spec.LabelsToApply["team"] = "b" },
		changed: func(o *v3.Profile) bool { return o.Spec.LabelsToApply["team"] == "b" },
	}.run)

	t.Run("Tier", crudCase[*v3.Tier, *v3.TierList]{
		client: cs.Tiers(),
		newObj: func(name string, l map[string]string) *v3.Tier {
			return &v3.Tier{ObjectMeta: meta(name, l), Spec: v3.TierSpec{Order: order(100)}}
		},
		items:   func(l *v3.TierList) []*v3.Tier { return ptrs(l.Items) },
		mutate:  func(o *v3.Tier) { o.Spec.Order = order(200) },
		changed: func(o *v3.Tier) bool { return *o.Spec.Order == 200 },
	}.run)

	t.Run("GlobalNetworkPolicy", crudCase[*v3.GlobalNetworkPolicy, *v3.GlobalNetworkPolicyList]{
		client: cs.GlobalNetworkPolicies(),
		newObj: func(name string, l map[string]string) *v3.GlobalNetworkPolicy {
			return &v3.GlobalNetworkPolicy{ObjectMeta: meta(name, l), Spec: v3.GlobalNetworkPolicySpec{Selector: "all()"}}
		},
		items:   func(l *v3.GlobalNetworkPolicyList) []*v3.GlobalNetworkPolicy { return ptrs(l.Items) },
		mutate:  func(o *v3.GlobalNetworkPolicy) { o.Spec.Selector = "app == 'db'" },
		changed: func(o *v3.GlobalNetworkPolicy) bool { return o.Spec.Selector == "app == 'db'" },
	}.run)

	t.Run("WorkloadEndpoint", crudCase[*v3.WorkloadEndpoint, *v3.WorkloadEndpointList]{
		client: cs.WorkloadEndpoints("crud"),
		newObj: func(name string, l map[string]string) *v3.WorkloadEndpoint {
			return &v3.WorkloadEndpoint{ObjectMeta: nsMeta(name, l), Spec: v3.WorkloadEndpointSpec{
				Node: "node-1", Orchestrator: "k8s", Pod: name, Endpoint: "eth0", IPNetworks: []string{"198.18.40.1/32"},
			}}
		},
		items:   func(l *v3.WorkloadEndpointList) []*v3.WorkloadEndpoint { return ptrs(l.Items) },
		mutate:  func(o *v3.WorkloadEndpoint) { o.Spec.IPNetworks = []string{"198.18.40.2/32"} },
		changed: func(o *v3.WorkloadEndpoint) bool { return o.Spec.IPNetworks[0] == "198.18.40.2/32" },
	}.run)

	t.Run("NetworkPolicy", crudCase[*v3.NetworkPolicy, *v3.NetworkPolicyList]{
		client: cs.NetworkPolicies("crud"),
		newObj: func(name string, l map[string]string) *v3.NetworkPolicy {
			return &v3.NetworkPolicy{ObjectMeta: nsMeta(name, l), Spec: v3.NetworkPolicySpec{Selector: "app == 'web'"}}
		},
		items:   func(l *v3.NetworkPolicyList) []*v3.NetworkPolicy { return ptrs(l.Items) },
		mutate:  func(o *v3.NetworkPolicy) { o.Spec.Order = order(10) },
		changed: func(o *v3.NetworkPolicy) bool { return o.Spec.Order != nil && *o.Spec.Order == 10 },
	}.run)
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

func strPtr(s string) *string { return &s }

func intPtr(i int) *int { return &i }

func secretRef(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Secret", Name: name, Namespace: "calico-system"}
}
