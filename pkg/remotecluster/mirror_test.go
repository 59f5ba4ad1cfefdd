package remotecluster

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

const testCluster = "cluster-b"

// remoteMeta is the metadata of a remote object carrying everything that
// must stay behind in its mirror.
func remoteMeta(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	deleted := metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	grace := int64(30)
	ctrl := true
	return metav1.ObjectMeta{
		Name:                       name,
		Namespace:                  namespace,
		UID:                        types.UID("uid-" + name),
		ResourceVersion:            "4242",
		Generation:                 7,
		CreationTimestamp:          metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)),
		DeletionTimestamp:          &deleted,
		DeletionGracePeriodSeconds: &grace,
		Labels:                     labels,
		Annotations:                map[string]string{"remote.example.com/note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
		OwnerReferences:            []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", UID: "pod-uid", Controller: &ctrl}},
		Finalizers:                 []string{"example.com/finalizer"},
		ManagedFields:              []metav1.ManagedFieldsEntry{{Manager: "calico-node", Operation: metav1.ManagedFieldsOperationApply}},
	}
}

// wantMirrorMeta is the complete metadata of the mirror of an object with
// the given remote metadata: nothing else may be set.
func wantMirrorMeta(cluster string, remote metav1.ObjectMeta) metav1.ObjectMeta {
	labels := map[string]string{}
	for k, v := range remote.Labels {
		labels[k] = v
	}
	labels[v3.LabelCluster] = cluster
	return metav1.ObjectMeta{
		Name:      cluster + "." + remote.Name,
		Namespace: remote.Namespace,
		Labels:    labels,
		Annotations: map[string]string{
			v3.AnnotationRemoteName: remote.Name,
			v3.AnnotationRemoteUID:  string(remote.UID),
		},
	}
}

func checkMirrorMeta(t *testing.T, remote, got metav1.ObjectMeta) {
	t.Helper()
	if want := wantMirrorMeta(testCluster, remote); !reflect.DeepEqual(got, want) {
		t.Errorf("mirror metadata =\n%#v\nwant\n%#v", got, want)
	}
	// The mirror's labels are its own map.
	if remote.Labels != nil && got.Labels != nil && reflect.ValueOf(remote.Labels).Pointer() == reflect.ValueOf(got.Labels).Pointer() {
		t.Errorf("mirror shares the remote object's labels map")
	}
}

func TestMirrorMetaLabels(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   map[string]string
	}{
		{name: "nil labels get the cluster label", labels: nil, want: map[string]string{v3.LabelCluster: testCluster}},
		{name: "empty labels get the cluster label", labels: map[string]string{}, want: map[string]string{v3.LabelCluster: testCluster}},
		{name: "labels copied", labels: map[string]string{"app": "web", "projectcalico.org/namespace": "default"},
			want: map[string]string{"app": "web", "projectcalico.org/namespace": "default", v3.LabelCluster: testCluster}},
		{name: "a cluster label of the remote is overwritten", labels: map[string]string{v3.LabelCluster: "cluster-c"},
			want: map[string]string{v3.LabelCluster: testCluster}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote := remoteMeta("x", "ns", tc.labels)
			before := *remote.DeepCopy()
			got := mirrorMeta(testCluster, remote)
			if !reflect.DeepEqual(got.Labels, tc.want) {
				t.Errorf("labels = %v, want %v", got.Labels, tc.want)
			}
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote metadata changed: %#v, was %#v", remote, before)
			}
		})
	}
}

func TestMirrorWorkloadEndpoint(t *testing.T) {
	spec := func(profiles []string) v3.WorkloadEndpointSpec {
		return v3.WorkloadEndpointSpec{
			Orchestrator: "k8s", Workload: "", Node: "host-1", ContainerID: "abc", Pod: "web-0", Endpoint: "eth0",
			ServiceAccountName: "sa", IPNetworks: []string{"10.0.0.5/32", "fd00::5/128"}, Profiles: profiles,
			InterfaceName: "cali1234", MAC: "ee:ee:ee:ee:ee:ee",
			Ports: []v3.WorkloadEndpointPort{{Name: "http", Protocol: v3.ProtocolFromString("TCP"), Port: 80, HostPort: 8080, HostIP: "1.2.3.4"}},
		}
	}
	cases := []struct {
		name         string
		labels       map[string]string
		profiles     []string
		wantProfiles []string
	}{
		{name: "profiles prefixed", labels: map[string]string{"app": "web"},
			profiles: []string{"kns.default", "ksa.default.sa"}, wantProfiles: []string{"cluster-b/kns.default", "cluster-b/ksa.default.sa"}},
		{name: "nil profiles stay nil", labels: map[string]string{"app": "web"}, profiles: nil, wantProfiles: nil},
		{name: "empty profiles stay empty", profiles: []string{}, wantProfiles: []string{}},
		{name: "no labels", labels: nil, profiles: []string{"p"}, wantProfiles: []string{"cluster-b/p"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote := &v3.WorkloadEndpoint{
				TypeMeta:   metav1.TypeMeta{Kind: "WorkloadEndpoint", APIVersion: "projectcalico.org/v3"},
				ObjectMeta: remoteMeta("host--1-k8s-web--0-eth0", "default", tc.labels),
				Spec:       spec(tc.profiles),
			}
			before := remote.DeepCopy()
			got := MirrorWorkloadEndpoint(testCluster, remote)

			checkMirrorMeta(t, remote.ObjectMeta, got.ObjectMeta)
			if got.Name != "cluster-b.host--1-k8s-web--0-eth0" || got.Namespace != "default" {
				t.Errorf("mirror is %s/%s, want default/cluster-b.host--1-k8s-web--0-eth0", got.Namespace, got.Name)
			}
			want := spec(tc.wantProfiles)
			want.Node = "cluster-b/host-1"
			if !reflect.DeepEqual(got.Spec, want) {
				t.Errorf("spec =\n%#v\nwant\n%#v", got.Spec, want)
			}
			if (got.Spec.Profiles == nil) != (tc.wantProfiles == nil) {
				t.Errorf("profiles nil = %v, want nil = %v", got.Spec.Profiles == nil, tc.wantProfiles == nil)
			}
			// The spec is a copy: changing the mirror leaves the remote alone.
			got.Spec.IPNetworks[0] = "192.0.2.1/32"
			got.Spec.Ports[0].Port = 1
			got.Labels["app"] = "changed"
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote object changed:\n%#v\nwas\n%#v", remote, before)
			}
		})
	}
}

func TestMirrorHostEndpoint(t *testing.T) {
	spec := func(node string, profiles []string) v3.HostEndpointSpec {
		return v3.HostEndpointSpec{
			Node: node, InterfaceName: "eth0", ExpectedIPs: []string{"198.18.0.1"}, Profiles: profiles,
			Ports: []v3.EndpointPort{{Name: "ssh", Protocol: v3.ProtocolFromString("TCP"), Port: 22}},
		}
	}
	cases := []struct {
		name         string
		profiles     []string
		wantProfiles []string
	}{
		{name: "profiles prefixed", profiles: []string{"hep-profile"}, wantProfiles: []string{"cluster-b/hep-profile"}},
		{name: "nil profiles stay nil", profiles: nil, wantProfiles: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote := &v3.HostEndpoint{
				ObjectMeta: remoteMeta("host-1-eth0", "", map[string]string{"role": "gw"}),
				Spec:       spec("host-1", tc.profiles),
			}
			before := remote.DeepCopy()
			got := MirrorHostEndpoint(testCluster, remote)

			checkMirrorMeta(t, remote.ObjectMeta, got.ObjectMeta)
			if got.Name != "cluster-b.host-1-eth0" || got.Namespace != "" {
				t.Errorf("mirror is %q/%q, want cluster-scoped cluster-b.host-1-eth0", got.Namespace, got.Name)
			}
			if want := spec("cluster-b/host-1", tc.wantProfiles); !reflect.DeepEqual(got.Spec, want) {
				t.Errorf("spec =\n%#v\nwant\n%#v", got.Spec, want)
			}
			got.Spec.ExpectedIPs[0] = "192.0.2.1"
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote object changed:\n%#v\nwas\n%#v", remote, before)
			}
		})
	}
}

func TestMirrorProfile(t *testing.T) {
	rules := []v3.Rule{{Action: v3.Allow, Source: v3.EntityRule{Selector: "all()"}}}
	cases := []struct {
		name          string
		labelsToApply map[string]string
	}{
		{name: "labelsToApply kept", labelsToApply: map[string]string{"pcns.projectcalico.org/name": "default", "team": "a"}},
		{name: "nil labelsToApply stays nil", labelsToApply: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote := &v3.Profile{
				ObjectMeta: remoteMeta("kns.default", "", nil),
				Spec:       v3.ProfileSpec{Ingress: rules, Egress: rules, LabelsToApply: tc.labelsToApply},
			}
			before := remote.DeepCopy()
			got := MirrorProfile(testCluster, remote)

			checkMirrorMeta(t, remote.ObjectMeta, got.ObjectMeta)
			if got.Name != "cluster-b.kns.default" {
				t.Errorf("name = %q, want cluster-b.kns.default", got.Name)
			}
			if want := (v3.ProfileSpec{LabelsToApply: tc.labelsToApply}); !reflect.DeepEqual(got.Spec, want) {
				t.Errorf("spec = %#v, want %#v (labels only, no rules)", got.Spec, want)
			}
			if got.Spec.Ingress != nil || got.Spec.Egress != nil {
				t.Errorf("rules copied: ingress %v, egress %v", got.Spec.Ingress, got.Spec.Egress)
			}
			if got.Spec.LabelsToApply != nil {
				got.Spec.LabelsToApply["team"] = "changed"
			}
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote object changed:\n%#v\nwas\n%#v", remote, before)
			}
		})
	}
}

func TestMirrorNode(t *testing.T) {
	asn := int64(64512)
	spec := func(orch []v3.OrchRef) v3.NodeSpec {
		return v3.NodeSpec{
			BGP:                &v3.NodeBGPSpec{IPv4Address: "198.18.0.1/24", IPv4IPIPTunnelAddr: "10.0.0.1", ASNumber: &asn},
			Addresses:          []v3.NodeAddress{{Address: "198.18.0.1", Type: v3.InternalIP}},
			VXLANTunnelMACAddr: "66:00:00:00:00:01",
			OrchRefs:           orch,
			Wireguard:          &v3.NodeWireguardSpec{InterfaceIPv4Address: "10.0.0.2"},
		}
	}
	status := v3.NodeStatus{WireguardPublicKey: "pub4", WireguardPublicKeyV6: "pub6", PodCIDRs: []string{"10.0.0.0/24"}}
	cases := []struct {
		name     string
		orch     []v3.OrchRef
		wantOrch []v3.OrchRef
	}{
		{name: "orchRefs nodeName prefixed", orch: []v3.OrchRef{{NodeName: "host-1", Orchestrator: "k8s"}},
			wantOrch: []v3.OrchRef{{NodeName: "cluster-b/host-1", Orchestrator: "k8s"}}},
		{name: "empty nodeName stays empty", orch: []v3.OrchRef{{Orchestrator: "k8s"}, {NodeName: "h", Orchestrator: "openstack"}},
			wantOrch: []v3.OrchRef{{Orchestrator: "k8s"}, {NodeName: "cluster-b/h", Orchestrator: "openstack"}}},
		{name: "no orchRefs", orch: nil, wantOrch: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The remote agent's dataplane status is not mirrored.
			remoteStatus := *status.DeepCopy()
			remoteStatus.Dataplane = &v3.NodeDataplaneStatus{VXLANDevice: "vxlan.calico", Routes: 12,
				RemoteClusters: []v3.NodeRemoteClusterStatus{{Cluster: "cluster-a", OverlayRoutingMode: "Enabled", Nodes: 2, Routes: 4}}}
			remote := &v3.Node{ObjectMeta: remoteMeta("host-1", "", map[string]string{"kubernetes.io/hostname": "host-1"}), Spec: spec(tc.orch), Status: remoteStatus}
			before := remote.DeepCopy()
			got := MirrorNode(testCluster, remote)

			checkMirrorMeta(t, remote.ObjectMeta, got.ObjectMeta)
			if got.Name != "cluster-b.host-1" {
				t.Errorf("name = %q, want cluster-b.host-1", got.Name)
			}
			if want := spec(tc.wantOrch); !reflect.DeepEqual(got.Spec, want) {
				t.Errorf("spec =\n%#v\nwant\n%#v", got.Spec, want)
			}
			if !reflect.DeepEqual(got.Status, status) {
				t.Errorf("status = %#v, want %#v", got.Status, status)
			}
			if got.Spec.BGP == remote.Spec.BGP || got.Spec.BGP.ASNumber == remote.Spec.BGP.ASNumber {
				t.Errorf("spec.bgp shared with the remote object")
			}
			got.Status.PodCIDRs[0] = "192.0.2.0/24"
			got.Spec.Addresses[0].Address = "192.0.2.1"
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote object changed:\n%#v\nwas\n%#v", remote, before)
			}
		})
	}
}

func TestMirrorIPPool(t *testing.T) {
	cases := []struct {
		name string
		spec v3.IPPoolSpec
	}{
		{name: "enabled NAT-outgoing pool", spec: v3.IPPoolSpec{CIDR: "10.244.0.0/16", VXLANMode: v3.EncapModeAlways, IPIPMode: v3.EncapModeNever,
			NATOutgoing: true, BlockSize: 26, NodeSelector: "all()", AllowedUses: []v3.IPPoolAllowedUse{v3.IPPoolAllowedUseWorkload}}},
		{name: "already disabled pool", spec: v3.IPPoolSpec{CIDR: "fd00:10:244::/64", Disabled: true, DisableBGPExport: true, BlockSize: 122, NodeSelector: "rack == 'a'"}},
		{name: "empty selector", spec: v3.IPPoolSpec{CIDR: "10.1.0.0/16"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote := &v3.IPPool{ObjectMeta: remoteMeta("default-ipv4-ippool", "", nil), Spec: tc.spec,
				Status: v3.IPPoolStatus{Conditions: []metav1.Condition{{Type: "Allocatable", Status: metav1.ConditionTrue}}}}
			before := remote.DeepCopy()
			got := MirrorIPPool(testCluster, remote)

			checkMirrorMeta(t, remote.ObjectMeta, got.ObjectMeta)
			want := *tc.spec.DeepCopy()
			want.Disabled, want.NATOutgoing, want.NodeSelector = true, false, "!all()"
			if !reflect.DeepEqual(got.Spec, want) {
				t.Errorf("spec =\n%#v\nwant\n%#v", got.Spec, want)
			}
			if got.Spec.CIDR != tc.spec.CIDR {
				t.Errorf("CIDR = %q, want %q", got.Spec.CIDR, tc.spec.CIDR)
			}
			if !reflect.DeepEqual(got.Status, v3.IPPoolStatus{}) {
				t.Errorf("status copied: %#v", got.Status)
			}
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote object changed:\n%#v\nwas\n%#v", remote, before)
			}
		})
	}
}

func TestMirrorIPAMBlock(t *testing.T) {
	ptr := func(s string) *string { return &s }
	cases := []struct {
		name         string
		affinity     *string
		wantAffinity *string
	}{
		{name: "host affinity prefixed", affinity: ptr("host:host-1"), wantAffinity: ptr("host:cluster-b/host-1")},
		{name: "nil affinity stays nil", affinity: nil, wantAffinity: nil},
		{name: "non-host affinity kept", affinity: ptr("virtual:load-balancer"), wantAffinity: ptr("virtual:load-balancer")},
		{name: "empty affinity kept", affinity: ptr(""), wantAffinity: ptr("")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			remote := &v3.IPAMBlock{ObjectMeta: remoteMeta("10-244-1-0-26", "", nil),
				Spec: v3.IPAMBlockSpec{CIDR: "10.244.1.0/26", Affinity: tc.affinity, StrictAffinity: true,
					// The allocation record stays in the remote cluster.
					Allocations: make([]*int, 64), Unallocated: []int{0, 1, 2}, SequenceNumber: 7,
					Attributes: []v3.AllocationAttribute{{HandleID: ptr("k8s-pod-network.c1"), Secondary: map[string]string{"pod": "p"}}}}}
			before := remote.DeepCopy()
			got := MirrorIPAMBlock(testCluster, remote)

			checkMirrorMeta(t, remote.ObjectMeta, got.ObjectMeta)
			want := v3.IPAMBlockSpec{CIDR: "10.244.1.0/26", Affinity: tc.wantAffinity, StrictAffinity: true}
			if !reflect.DeepEqual(got.Spec, want) {
				t.Errorf("spec = %#v (affinity %v), want %#v (affinity %v)", got.Spec, deref(got.Spec.Affinity), want, deref(want.Affinity))
			}
			if got.Spec.Affinity != nil && got.Spec.Affinity == remote.Spec.Affinity {
				t.Errorf("affinity pointer shared with the remote object")
			}
			if !reflect.DeepEqual(remote, before) {
				t.Errorf("remote object changed:\n%#v\nwas\n%#v", remote, before)
			}
		})
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
