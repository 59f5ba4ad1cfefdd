package v3

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestBGPDefaults(t *testing.T) {
	as := func(n int64) *int64 { return &n }
	boolp := func(b bool) *bool { return &b }
	cases := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{
			name: "default configuration",
			in:   &BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
			want: &BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
				Spec: BGPConfigurationSpec{ASNumber: as(64512), NodeToNodeMeshEnabled: boolp(true), ListenPort: 179}},
		},
		{
			name: "default configuration keeps what it says",
			in: &BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
				Spec: BGPConfigurationSpec{ASNumber: as(65001), NodeToNodeMeshEnabled: boolp(false), ListenPort: 1179}},
			want: &BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "default"},
				Spec: BGPConfigurationSpec{ASNumber: as(65001), NodeToNodeMeshEnabled: boolp(false), ListenPort: 1179}},
		},
		{
			name: "per-node configuration inherits AS and mesh",
			in:   &BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "node.worker-1"}},
			want: &BGPConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "node.worker-1"}, Spec: BGPConfigurationSpec{ListenPort: 179}},
		},
		{
			name: "peer source address",
			in:   &BGPPeer{Spec: BGPPeerSpec{PeerIP: "198.18.0.1", ASNumber: 65001}},
			want: &BGPPeer{Spec: BGPPeerSpec{PeerIP: "198.18.0.1", ASNumber: 65001, SourceAddress: SourceAddressUseNodeIP}},
		},
		{
			name: "peer source address None kept",
			in:   &BGPPeer{Spec: BGPPeerSpec{SourceAddress: SourceAddressNone}},
			want: &BGPPeer{Spec: BGPPeerSpec{SourceAddress: SourceAddressNone}},
		},
	}
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopyObject()
			scheme.Default(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("defaulted %+v, want %+v", got, tc.want)
			}
		})
	}
}
