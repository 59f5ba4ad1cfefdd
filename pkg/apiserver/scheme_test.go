package apiserver

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestWithoutProtobufMediaTypes(t *testing.T) {
	_, codecs := NewScheme()
	all := map[string]bool{}
	for _, info := range codecs.SupportedMediaTypes() {
		all[info.MediaType] = true
	}
	got := map[string]bool{}
	for _, info := range (withoutProtobuf{codecs}).SupportedMediaTypes() {
		got[info.MediaType] = true
	}
	cases := []struct {
		mediaType string
		want      bool
	}{
		{runtime.ContentTypeJSON, true},
		{runtime.ContentTypeYAML, true},
		{runtime.ContentTypeProtobuf, false},
	}
	for _, tc := range cases {
		if got[tc.mediaType] != tc.want {
			t.Errorf("withoutProtobuf offers %s: %v, want %v (offered: %v)", tc.mediaType, got[tc.mediaType], tc.want, got)
		}
	}
	// Everything else the codec factory offers is kept.
	for mt := range all {
		if mt != runtime.ContentTypeProtobuf && !got[mt] {
			t.Errorf("withoutProtobuf dropped %s", mt)
		}
	}
	if !all[runtime.ContentTypeProtobuf] {
		t.Errorf("the codec factory does not offer protobuf; the filter is untested")
	}
}

func TestNewSchemeRecognizesEveryKind(t *testing.T) {
	scheme, _ := NewScheme()
	internal := schema.GroupVersion{Group: v3.GroupName, Version: runtime.APIVersionInternal}
	cases := []struct {
		kind string
		obj  runtime.Object
	}{
		{"RemoteClusterConfiguration", &v3.RemoteClusterConfiguration{}},
		{"RemoteClusterConfigurationList", &v3.RemoteClusterConfigurationList{}},
		{"IPPool", &v3.IPPool{}},
		{"IPPoolList", &v3.IPPoolList{}},
		{"IPAMBlock", &v3.IPAMBlock{}},
		{"IPAMBlockList", &v3.IPAMBlockList{}},
		{"IPAMConfiguration", &v3.IPAMConfiguration{}},
		{"IPAMConfigurationList", &v3.IPAMConfigurationList{}},
		{"FelixConfiguration", &v3.FelixConfiguration{}},
		{"FelixConfigurationList", &v3.FelixConfigurationList{}},
		{"Node", &v3.Node{}},
		{"NodeList", &v3.NodeList{}},
		{"HostEndpoint", &v3.HostEndpoint{}},
		{"HostEndpointList", &v3.HostEndpointList{}},
		{"Profile", &v3.Profile{}},
		{"ProfileList", &v3.ProfileList{}},
		{"Tier", &v3.Tier{}},
		{"TierList", &v3.TierList{}},
		{"GlobalNetworkPolicy", &v3.GlobalNetworkPolicy{}},
		{"GlobalNetworkPolicyList", &v3.GlobalNetworkPolicyList{}},
		{"WorkloadEndpoint", &v3.WorkloadEndpoint{}},
		{"WorkloadEndpointList", &v3.WorkloadEndpointList{}},
		{"NetworkPolicy", &v3.NetworkPolicy{}},
		{"NetworkPolicyList", &v3.NetworkPolicyList{}},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			gvks, unversioned, err := scheme.ObjectKinds(tc.obj)
			if err != nil {
				t.Fatalf("ObjectKinds: %v", err)
			}
			if unversioned {
				t.Errorf("%s is unversioned", tc.kind)
			}
			want := map[schema.GroupVersionKind]bool{
				v3.SchemeGroupVersion.WithKind(tc.kind): true,
				internal.WithKind(tc.kind):              true,
			}
			got := map[schema.GroupVersionKind]bool{}
			for _, gvk := range gvks {
				got[gvk] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("kinds %v, want %v", gvks, want)
			}
			for gvk := range want {
				if !scheme.Recognizes(gvk) {
					t.Errorf("scheme does not recognize %s", gvk)
				}
				obj, err := scheme.New(gvk)
				if err != nil {
					t.Fatalf("New(%s): %v", gvk, err)
				}
				if reflect.TypeOf(obj) != reflect.TypeOf(tc.obj) {
					t.Errorf("New(%s) is a %T, want a %T", gvk, obj, tc.obj)
				}
			}
		})
	}
}

func TestNewSchemeMetaTypes(t *testing.T) {
	scheme, _ := NewScheme()
	cases := []struct {
		name            string
		obj             runtime.Object
		wantUnversioned bool
	}{
		{"Status", &metav1.Status{}, true},
		{"APIGroupList", &metav1.APIGroupList{}, true},
		{"ListOptions", &metav1.ListOptions{}, false},
		{"GetOptions", &metav1.GetOptions{}, false},
		{"DeleteOptions", &metav1.DeleteOptions{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gvks, unversioned, err := scheme.ObjectKinds(tc.obj)
			if err != nil {
				t.Fatalf("ObjectKinds: %v", err)
			}
			if unversioned != tc.wantUnversioned {
				t.Errorf("unversioned %v, want %v", unversioned, tc.wantUnversioned)
			}
			if len(gvks) == 0 {
				t.Errorf("no kinds")
			}
		})
	}
}

func TestConvertToInternalIsIdentity(t *testing.T) {
	scheme, _ := NewScheme()
	internal := schema.GroupVersion{Group: v3.GroupName, Version: runtime.APIVersionInternal}
	pool := &v3.IPPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: "IPPool"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}, ResourceVersion: "5"},
		Spec: v3.IPPoolSpec{CIDR: "10.244.0.0/16", VXLANMode: v3.EncapModeAlways, IPIPMode: v3.EncapModeNever,
			NATOutgoing: true, BlockSize: 26, NodeSelector: "all()"},
	}
	cases := []struct {
		name   string
		target runtime.GroupVersioner
		want   schema.GroupVersionKind
	}{
		// The internal version has no apiVersion/kind of its own.
		{name: "to internal", target: internal},
		{name: "back to v3", target: v3.SchemeGroupVersion, want: v3.SchemeGroupVersion.WithKind("IPPool")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := pool.DeepCopy()
			out, err := scheme.ConvertToVersion(in, tc.target)
			if err != nil {
				t.Fatalf("ConvertToVersion: %v", err)
			}
			got, ok := out.(*v3.IPPool)
			if !ok {
				t.Fatalf("converted to a %T, want a *v3.IPPool", out)
			}
			if got.GetObjectKind().GroupVersionKind() != tc.want {
				t.Errorf("converted kind %v, want %v", got.GetObjectKind().GroupVersionKind(), tc.want)
			}
			if !reflect.DeepEqual(got.ObjectMeta, pool.ObjectMeta) || !reflect.DeepEqual(got.Spec, pool.Spec) || !reflect.DeepEqual(got.Status, pool.Status) {
				t.Errorf("converted %+v, want the same object as %+v", got, pool)
			}
			if !reflect.DeepEqual(in, pool) {
				t.Errorf("ConvertToVersion changed its input to %+v", in)
			}
		})
	}
}
