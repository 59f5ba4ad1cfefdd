package cni

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// FuzzParseConf decodes fuzzed network configurations: ParseConf must not
// panic; a rejected one gets a CNI *types.Error with a decoding or
// invalid-configuration code and a message, and an accepted one has every
// field the plugin relies on.
func FuzzParseConf(f *testing.F) {
	for _, seed := range []string{
		`{"cniVersion":"1.1.0","name":"k8s-pod-network","type":"meshapi","kubeconfig":"/k","nodename":"n1","mtu":1450,"ipam":{"type":"meshapi-ipam"}}`,
		`{"cniVersion":"0.4.0","name":"net","type":"meshapi","kubeconfig":"/k","nodename":"n1","ipam":{"type":"calico-ipam"}}`,
		`{"cniVersion":"1.0.0","name":"net","type":"meshapi","kubeconfig":"/k","nodename":"n1","ipam":{"type":"meshapi-ipam"},` +
			`"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/x"}],"ips":[{"address":"198.18.0.5/32","interface":0}]}}`,
		`{"cniVersion":"0.3.1","name":"net","type":"meshapi","kubeconfig":"/k","ipam":{"type":"meshapi-ipam"},"prevResult":{"ips":[{"version":"4","address":"198.18.0.5/32"}]}}`,
		`{"name":"n","type":"meshapi","kubeconfig":"/k","mtu":-1,"ipam":{"type":"meshapi-ipam"}}`,
		`{"name":"n","type":"meshapi","kubeconfig":"/k","mtu":"1400","ipam":{"type":"meshapi-ipam"}}`,
		`{"name":"n","type":"meshapi","ipam":null}`,
		`null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		conf, err := ParseConf(data)
		if err != nil {
			var te *types.Error
			switch {
			case !errors.As(err, &te):
				t.Fatalf("ParseConf(%q): error %v (%T) is not a CNI *types.Error", data, err, err)
			case te.Code != types.ErrDecodingFailure && te.Code != types.ErrInvalidNetworkConfig:
				t.Fatalf("ParseConf(%q): error %v has code %d, want %d or %d", data, err, te.Code, types.ErrDecodingFailure, types.ErrInvalidNetworkConfig)
			case te.Msg == "":
				t.Fatalf("ParseConf(%q): error with code %d has no message", data, te.Code)
			}
			return
		}
		switch {
		case conf.Name == "" || conf.Type != PluginType || conf.IPAMSocket == "" || conf.NodeName == "":
			t.Fatalf("ParseConf(%q) accepted a configuration without name, type, IPAM socket or node name: %+v", data, conf)
		case conf.IPAM.Type != IPAMType && conf.IPAM.Type != CalicoIPAMType:
			t.Fatalf("ParseConf(%q) accepted ipam.type %q", data, conf.IPAM.Type)
		case conf.MTU != 0 && (conf.MTU < 68 || conf.MTU > 65535):
			t.Fatalf("ParseConf(%q) accepted mtu %d", data, conf.MTU)
		}
	})
}

// FuzzParseArgs parses fuzzed CNI_ARGS: no panic; a rejection is a CNI
// *types.Error with ErrInvalidEnvironmentVariables that names CNI_ARGS,
// and an accepted one names the pod.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=myapp;K8S_POD_NAME=db-0;K8S_POD_INFRA_CONTAINER_ID=c1",
		"K8S_POD_NAMESPACE=myapp;K8S_POD_NAME=db-0",
		"K8S_POD_NAMESPACE=myapp;K8S_POD_NAME=db-0;OTHER=x",
		"IgnoreUnknown=maybe;K8S_POD_NAME=a",
		"K8S_POD_NAMESPACE=a=b", "CommonArgs=x", ";;", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, args string) {
		pod, err := ParseArgs(args)
		if err != nil {
			var te *types.Error
			switch {
			case !errors.As(err, &te):
				t.Fatalf("ParseArgs(%q): error %v (%T) is not a CNI *types.Error", args, err, err)
			case te.Code != types.ErrInvalidEnvironmentVariables:
				t.Fatalf("ParseArgs(%q): error %v has code %d, want %d", args, err, te.Code, types.ErrInvalidEnvironmentVariables)
			case len(te.Msg) < len("CNI_ARGS") || te.Msg[:len("CNI_ARGS")] != "CNI_ARGS":
				t.Fatalf("ParseArgs(%q): error message %q does not name CNI_ARGS", args, te.Msg)
			}
			return
		}
		if pod.Namespace == "" || pod.Name == "" {
			t.Fatalf("ParseArgs(%q) accepted arguments without a pod: %+v", args, pod)
		}
	})
}
