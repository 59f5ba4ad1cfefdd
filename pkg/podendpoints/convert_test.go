package podendpoints

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshapi/meshapi/pkg/apis/projectcalico/validation"
)

func TestEndpointName(t *testing.T) {
	for _, tc := range []struct{ node, pod, want string }{
		{"node1", "web", "node1-k8s-web-eth0"},
		{"node-1", "api-7d4b9", "node--1-k8s-api--7d4b9-eth0"},
		{"ip-10-0-0-1.ec2.internal", "a-b-c", "ip--10--0--0--1.ec2.internal-k8s-a--b--c-eth0"},
	} {
		if got := EndpointName(tc.node, tc.pod); got != tc.want {
			t.Errorf("EndpointName(%q, %q) = %q, want %q", tc.node, tc.pod, got, tc.want)
		}
	}
}

func TestInterfaceName(t *testing.T) {
	// "cali" and 11 hex digits: 15 characters, the kernel's limit.
	got := InterfaceName("shop", "api-7d4b9")
	if len(got) != 15 || got[:4] != "cali" {
		t.Fatalf("InterfaceName = %q, want cali + 11 hex digits", got)
	}
	if InterfaceName("shop", "api-7d4b9") != got || InterfaceName("shop", "api-7d4b8") == got {
		t.Errorf("InterfaceName is not a function of namespace and pod")
	}
}

func pod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-1", Namespace: "shop", UID: "u-1", Labels: map[string]string{"app": "api"}},
		Spec: corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "api", Containers: []corev1.Container{{
			Name: "api", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {ContainerPort: 9090}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "198.18.5.10", PodIPs: []corev1.PodIP{{IP: "198.18.5.10"}, {IP: "fd00::a"}}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func TestHasEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   bool
	}{
		{"running with an IP", nil, true},
		{"pending with an IP", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }, true},
		{"not scheduled", func(p *corev1.Pod) { p.Spec.NodeName = "" }, false},
		{"no IP yet", func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "", nil }, false},
		{"host network", func(p *corev1.Pod) { p.Spec.HostNetwork = true }, false},
		{"succeeded", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, false},
		{"failed", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, false},
		{"being deleted", func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }, false},
		{"unparsable IP only", func(p *corev1.Pod) { p.Status.PodIP, p.Status.PodIPs = "not-an-ip", nil }, false},
	} {
		if got := hasEndpoint(pod(tc.mutate)); got != tc.want {
			t.Errorf("%s: hasEndpoint = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWorkloadEndpoint(t *testing.T) {
	w := WorkloadEndpoint(pod(nil))
	if w.Name != "node--1-k8s-api--1-eth0" || w.Namespace != "shop" {
		t.Errorf("name %s/%s", w.Namespace, w.Name)
	}
	for k, v := range map[string]string{"app": "api", LabelNamespace: "shop", LabelOrchestrator: "k8s", LabelServiceAccount: "api"} {
		if w.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, w.Labels[k], v)
		}
	}
	if got := w.Spec.IPNetworks; len(got) != 2 || got[0] != "198.18.5.10/32" || got[1] != "fd00::a/128" {
		t.Errorf("ipNetworks %v", got)
	}
	if got := w.Spec.Profiles; len(got) != 2 || got[0] != "kns.shop" || got[1] != "ksa.shop.api" {
		t.Errorf("profiles %v", got)
	}
	if got := w.Spec.Ports; len(got) != 2 || got[0].Name != "http" || got[0].Protocol.String() != "TCP" || got[1].Name != "dns" || got[1].Protocol.String() != "UDP" {
		t.Errorf("ports %+v (unnamed ports are left out)", got)
	}
	if o := w.OwnerReferences; len(o) != 1 || o[0].Kind != "Pod" || o[0].UID != "u-1" || o[0].Controller == nil || !*o[0].Controller {
		t.Errorf("owner %+v", o)
	}
	if w.Spec.InterfaceName != InterfaceName("shop", "api-1") || w.Spec.Node != "node-1" || w.Spec.Pod != "api-1" || w.Spec.Endpoint != "eth0" {
		t.Errorf("spec %+v", w.Spec)
	}
	// The pod's labels are copied, not shared.
	w.Labels["app"] = "changed"
	if p := pod(nil); p.Labels["app"] != "api" {
		t.Errorf("pod labels mutated")
	}
	// What the controller writes passes the API server's validation.
	if errs := validation.ValidateWorkloadEndpoint(WorkloadEndpoint(pod(nil))); len(errs) > 0 {
		t.Errorf("validation: %v", errs)
	}
	// A pod without a service account uses "default".
	if w := WorkloadEndpoint(pod(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "" })); w.Labels[LabelServiceAccount] != "default" {
		t.Errorf("service account label %q", w.Labels[LabelServiceAccount])
	}
}

func TestNamespaceProfile(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "n-1", Labels: map[string]string{"team": "payments", "kubernetes.io/metadata.name": "shop"}}}
	p := NamespaceProfileFor(ns)
	want := map[string]string{"pcns.projectcalico.org/name": "shop", "pcns.team": "payments", "pcns.kubernetes.io/metadata.name": "shop"}
	if len(p.Spec.LabelsToApply) != len(want) {
		t.Errorf("labelsToApply %v, want %v", p.Spec.LabelsToApply, want)
	}
	for k, v := range want {
		if p.Spec.LabelsToApply[k] != v {
			t.Errorf("labelsToApply[%s] = %q, want %q", k, p.Spec.LabelsToApply[k], v)
		}
	}
	if p.Name != "kns.shop" || p.Labels[LabelOrchestrator] != "k8s" || p.OwnerReferences[0].UID != "n-1" {
		t.Errorf("profile %+v", p.ObjectMeta)
	}
	if errs := validation.ValidateProfile(p); len(errs) > 0 {
		t.Errorf("validation: %v", errs)
	}
}
