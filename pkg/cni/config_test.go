package cni

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func TestParseConf(t *testing.T) {
	tests := []struct {
		name    string
		conf    string
		code    uint // 0: valid
		msg     string
		wantMTU int
	}{
		{"meshapi-ipam, 1.1.0", `{"cniVersion":"1.1.0","name":"k8s-pod-network","type":"meshapi","kubeconfig":"/k","nodename":"n1","ipam":{"type":"meshapi-ipam"}}`, 0, "", 0},
		{"calico-ipam, 0.4.0", `{"cniVersion":"0.4.0","name":"net","type":"meshapi","kubeconfig":"/k","nodename":"n1","mtu":1400,"ipam":{"type":"calico-ipam"}}`, 0, "", 1400},
		{"1.0.0", `{"cniVersion":"1.0.0","name":"net","type":"meshapi","kubeconfig":"/k","nodename":"n1","ipam":{"type":"meshapi-ipam"}}`, 0, "", 0},
		{"not JSON", `{`, types.ErrDecodingFailure, "decoding", 0},
		{"no name", `{"type":"meshapi","kubeconfig":"/k","ipam":{"type":"meshapi-ipam"}}`, types.ErrInvalidNetworkConfig, "name", 0},
		{"other type", `{"name":"n","type":"calico","kubeconfig":"/k","ipam":{"type":"meshapi-ipam"}}`, types.ErrInvalidNetworkConfig, `type "calico"`, 0},
		{"host-local ipam", `{"name":"n","type":"meshapi","kubeconfig":"/k","ipam":{"type":"host-local"}}`, types.ErrInvalidNetworkConfig, `ipam.type "host-local"`, 0},
		{"no kubeconfig (unused)", `{"name":"n","type":"meshapi","nodename":"n1","ipam":{"type":"meshapi-ipam"}}`, 0, "", 0},
		{"tiny mtu", `{"name":"n","type":"meshapi","kubeconfig":"/k","mtu":10,"ipam":{"type":"meshapi-ipam"}}`, types.ErrInvalidNetworkConfig, "mtu 10", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConf([]byte(tt.conf))
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("ParseConf: %v", err)
				}
				if c.NodeName != "n1" || c.MTU != tt.wantMTU {
					t.Errorf("got nodename %q mtu %d, want n1 %d", c.NodeName, c.MTU, tt.wantMTU)
				}
				return
			}
			var te *types.Error
			if !errors.As(err, &te) || te.Code != tt.code || !strings.Contains(te.Msg, tt.msg) {
				t.Errorf("got %v, want code %d naming %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args string
		want PodRef
		ok   bool
	}{
		{"IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c1", PodRef{"ns", "p", "c1"}, true},
		{"K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p", PodRef{Namespace: "ns", Name: "p"}, true},
		{"IgnoreUnknown=1;K8S_POD_NAME=p", PodRef{}, false},
		{"", PodRef{}, false},
		{"FOO=bar", PodRef{}, false},
	}
	for _, tt := range tests {
		got, err := ParseArgs(tt.args)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseArgs(%q) = %+v, %v; want %+v ok=%v", tt.args, got, err, tt.want, tt.ok)
		}
		var te *types.Error
		if err != nil && (!errors.As(err, &te) || te.Code != types.ErrInvalidEnvironmentVariables) {
			t.Errorf("ParseArgs(%q): error %v is not code %d", tt.args, err, types.ErrInvalidEnvironmentVariables)
		}
	}
}
