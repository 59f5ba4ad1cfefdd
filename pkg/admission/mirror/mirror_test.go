package mirror

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	kubeadmission "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/podendpoints"
)

const (
	writer   = "system:serviceaccount:calico-system:calico-typha"
	someUser = "alice"
	nsCtrl   = "system:serviceaccount:kube-system:namespace-controller"
	gc       = "system:serviceaccount:kube-system:generic-garbage-collector"
)

func mirrored() map[string]string {
	return map[string]string{v3.LabelCluster: "cluster-b", "app": "web"}
}

func wep(ns, name string, labels map[string]string) *v3.WorkloadEndpoint {
	return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: v3.WorkloadEndpointSpec{Node: "cluster-b/host-1"}}
}

func hep(name string, labels map[string]string) *v3.HostEndpoint {
	return &v3.HostEndpoint{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: v3.HostEndpointSpec{Node: "cluster-b/host-1"}}
}

// request describes one admission request.
type request struct {
	obj, old    runtime.Object
	kind        schema.GroupVersionKind
	resource    schema.GroupVersionResource
	subresource string
	ns, name    string
	op          admission.Operation
	user        string
	groups      []string
}

func (r request) attributes() admission.Attributes {
	var opts runtime.Object
	switch r.op {
	case admission.Create:
		opts = &metav1.CreateOptions{}
	case admission.Update:
		opts = &metav1.UpdateOptions{}
	case admission.Delete:
		opts = &metav1.DeleteOptions{}
	}
	return admission.NewAttributesRecord(r.obj, r.old, r.kind, r.ns, r.name, r.resource, r.subresource, r.op, opts, false, &user.DefaultInfo{Name: r.user, Groups: r.groups})
}

// wepRequest is a request on WorkloadEndpoint default/<name>.
func wepRequest(op admission.Operation, u string, obj, old *v3.WorkloadEndpoint) request {
	r := request{kind: v3.SchemeGroupVersion.WithKind("WorkloadEndpoint"), resource: v3.SchemeGroupVersion.WithResource("workloadendpoints"),
		ns: "default", op: op, user: u}
	if obj != nil {
		r.obj, r.name = obj, obj.Name
	}
	if old != nil {
		r.old, r.name = old, old.Name
	}
	return r
}

func TestProtectionValidate(t *testing.T) {
	const readOnly = `is mirrored from remote cluster "cluster-b" and is read-only here`
	const labelMsg = "metadata.labels[projectcalico.org/cluster]"
	unlabelled := map[string]string{"app": "web"}
	mirror := wep("default", "cluster-b.web-0", mirrored())
	changed := wep("default", "cluster-b.web-0", mirrored())
	changed.Spec.IPNetworks = []string{"10.0.0.9/32"}
	local := wep("default", "web-0", unlabelled)

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-0", Labels: mirrored()}}
	podRequest := func(op admission.Operation, obj, old runtime.Object) request {
		return request{obj: obj, old: old, kind: corev1.SchemeGroupVersion.WithKind("Pod"), resource: corev1.SchemeGroupVersion.WithResource("pods"),
			ns: "default", name: "web-0", op: op, user: someUser}
	}
	crdRequest := wepRequest(admission.Create, someUser, mirror, nil)
	crdRequest.resource.Group, crdRequest.kind.Group = "crd.projectcalico.org", "crd.projectcalico.org"
	status := wepRequest(admission.Update, someUser, changed, mirror)
	status.subresource = "status"
	gnpRequest := func(u string) request {
		return request{obj: &v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default.deny-all"}},
			kind: v3.SchemeGroupVersion.WithKind("GlobalNetworkPolicy"), resource: v3.SchemeGroupVersion.WithResource("globalnetworkpolicies"),
			name: "default.deny-all", op: admission.Create, user: u}
	}
	rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"}}
	rccStatus := request{obj: rcc, old: rcc, kind: v3.SchemeGroupVersion.WithKind("RemoteClusterConfiguration"),
		resource: v3.SchemeGroupVersion.WithResource("remoteclusterconfigurations"), subresource: "status", name: "cluster-b", op: admission.Update, user: writer}
	rccSpec := rccStatus
	podWEP := wep("default", "node1-k8s-web--0-eth0", map[string]string{"projectcalico.org/orchestrator": "k8s"})
	gnpWithOrchestrator := gnpRequest(writer)
	gnpWithOrchestrator.obj.(*v3.GlobalNetworkPolicy).Labels = map[string]string{"projectcalico.org/orchestrator": "k8s"}
	mastersWriter := wepRequest(admission.Create, writer, local, nil)
	mastersWriter.groups = []string{"system:masters"}
	rccSpec.subresource = ""
	hepDelete := request{old: hep("cluster-b.host-1-eth0", mirrored()), kind: v3.SchemeGroupVersion.WithKind("HostEndpoint"),
		resource: v3.SchemeGroupVersion.WithResource("hostendpoints"), name: "cluster-b.host-1-eth0", op: admission.Delete, user: someUser}

	block := &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: "198-18-0-0-26"}, Spec: v3.IPAMBlockSpec{CIDR: "198.18.0.0/26"}}
	blockRequest := func(op admission.Operation, obj, old *v3.IPAMBlock) request {
		r := request{kind: v3.SchemeGroupVersion.WithKind("IPAMBlock"), resource: v3.SchemeGroupVersion.WithResource("ipamblocks"),
			name: block.Name, op: op, user: writer}
		if obj != nil {
			r.obj = obj
		}
		if old != nil {
			r.old = old
		}
		return r
	}

	batch := request{obj: &v3.MirrorBatch{Spec: v3.MirrorBatchSpec{Cluster: "cluster-b"}}, kind: v3.SchemeGroupVersion.WithKind("MirrorBatch"),
		resource: v3.SchemeGroupVersion.WithResource("mirrorbatches"), op: admission.Create, user: writer}

	cases := []struct {
		name string
		req  request
		// wantForbidden holds fragments of the message; nil means allowed.
		wantForbidden []string
	}{
		{name: "writer creates a mirrored object", req: wepRequest(admission.Create, writer, mirror, nil)},
		{name: "writer updates a mirrored object", req: wepRequest(admission.Update, writer, changed, mirror)},
		{name: "writer deletes a mirrored object", req: wepRequest(admission.Delete, writer, nil, mirror)},
		{name: "writer may not create a local object", req: wepRequest(admission.Create, writer, local, nil),
			wantForbidden: []string{`WorkloadEndpoint "web-0": the object does not carry the label projectcalico.org/cluster`, `mirror writer "` + writer + `"`}},
		{name: "writer may not update a local object", req: wepRequest(admission.Update, writer, local, local),
			wantForbidden: []string{"the stored object does not carry the label"}},
		{name: "writer may not turn a local object into a mirror", req: wepRequest(admission.Update, writer, wep("default", "web-0", mirrored()), local),
			wantForbidden: []string{"the stored object does not carry the label"}},
		{name: "writer may not unmirror an object", req: wepRequest(admission.Update, writer, wep("default", "cluster-b.web-0", unlabelled), mirror),
			wantForbidden: []string{"the updated object does not carry the label"}},
		{name: "writer may not delete a local object", req: wepRequest(admission.Delete, writer, nil, local),
			wantForbidden: []string{"the stored object does not carry the label"}},
		{name: "writer may not create a local policy", req: gnpRequest(writer),
			wantForbidden: []string{`GlobalNetworkPolicy "default.deny-all": the object does not carry the label`}},
		{name: "writer updates the status of a RemoteClusterConfiguration", req: rccStatus},
		{name: "writer may not update the spec of a RemoteClusterConfiguration", req: rccSpec,
			wantForbidden: []string{`RemoteClusterConfiguration "cluster-b": the stored object does not carry the label`}},
		{name: "a writer in system:masters may write a local object", req: mastersWriter},
		{name: "writer's IPAM garbage collector releases a local block's allocation", req: blockRequest(admission.Update, block, block)},
		{name: "writer's IPAM garbage collector deletes a local block", req: blockRequest(admission.Delete, nil, block)},
		{name: "writer may not create a local block", req: blockRequest(admission.Create, block, nil),
			wantForbidden: []string{`IPAMBlock "198-18-0-0-26": the object does not carry the label`}},
		{name: "writer creates a MirrorBatch (its mirrors are admitted one by one)", req: batch},
		{name: "writer creates a pod endpoint", req: wepRequest(admission.Create, writer, podWEP, nil)},
		{name: "writer updates a pod endpoint", req: wepRequest(admission.Update, writer, podWEP, podWEP)},
		{name: "writer deletes a pod endpoint", req: wepRequest(admission.Delete, writer, nil, podWEP)},
		{name: "writer may not take over a local endpoint as a pod endpoint", req: wepRequest(admission.Update, writer, podWEP, local),
			wantForbidden: []string{"the stored object does not carry the label"}},
		{name: "writer may not write a local policy with the orchestrator label", req: gnpWithOrchestrator,
			wantForbidden: []string{"the object does not carry the label"}},
		{name: "user creates a labelled object", req: wepRequest(admission.Create, someUser, mirror, nil),
			wantForbidden: []string{labelMsg, `"alice"`}},
		{name: "user creates an unlabelled object", req: wepRequest(admission.Create, someUser, local, nil)},
		{name: "user updates an unlabelled object", req: wepRequest(admission.Update, someUser, local, local)},
		{name: "user deletes an unlabelled object", req: wepRequest(admission.Delete, someUser, nil, local)},
		{name: "user labels an object in an update", req: wepRequest(admission.Update, someUser, wep("default", "web-0", mirrored()), local),
			wantForbidden: []string{labelMsg}},
		{name: "user updates a mirrored object", req: wepRequest(admission.Update, someUser, changed, mirror),
			wantForbidden: []string{`WorkloadEndpoint "cluster-b.web-0" ` + readOnly, `change it in cluster "cluster-b"`, `RemoteClusterConfiguration "cluster-b"`}},
		{name: "user removes the label of a mirrored object", req: wepRequest(admission.Update, someUser, wep("default", "cluster-b.web-0", unlabelled), mirror),
			wantForbidden: []string{readOnly}},
		{name: "user updates the status of a mirrored object", req: status, wantForbidden: []string{readOnly}},
		{name: "user deletes a mirrored object", req: wepRequest(admission.Delete, someUser, nil, mirror), wantForbidden: []string{readOnly}},
		{name: "user deletes a cluster-scoped mirrored object", req: hepDelete, wantForbidden: []string{`HostEndpoint "cluster-b.host-1-eth0" ` + readOnly}},
		{name: "namespace controller deletes a mirrored object", req: wepRequest(admission.Delete, nsCtrl, nil, mirror)},
		{name: "garbage collector deletes a mirrored object", req: wepRequest(admission.Delete, gc, nil, mirror)},
		{name: "namespace controller may not update a mirrored object", req: wepRequest(admission.Update, nsCtrl, changed, mirror),
			wantForbidden: []string{readOnly}},
		{name: "garbage collector may not create a labelled object", req: wepRequest(admission.Create, gc, mirror, nil),
			wantForbidden: []string{labelMsg}},
		{name: "a labelled Pod is not ours", req: podRequest(admission.Create, pod, nil)},
		{name: "a labelled Pod's update is not ours", req: podRequest(admission.Update, pod, pod)},
		{name: "another group's labelled object is not ours", req: crdRequest},
	}
	p := NewProtection([]string{writer})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.req.attributes()
			if !p.Handles(a.GetOperation()) {
				t.Fatalf("Handles(%s) = false", a.GetOperation())
			}
			err := p.Validate(context.Background(), a, nil)
			if tc.wantForbidden == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want allowed", err)
				}
				return
			}
			if !apierrors.IsForbidden(err) {
				t.Fatalf("Validate = %v (%T), want Forbidden", err, err)
			}
			for _, s := range tc.wantForbidden {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err.Error(), s)
				}
			}
		})
	}
}

func TestProtectionHandles(t *testing.T) {
	p := NewProtection(nil)
	for _, tc := range []struct {
		op   admission.Operation
		want bool
	}{
		{admission.Create, true}, {admission.Update, true}, {admission.Delete, true}, {admission.Connect, false},
	} {
		if got := p.Handles(tc.op); got != tc.want {
			t.Errorf("Handles(%s) = %v, want %v", tc.op, got, tc.want)
		}
	}
}

func TestProtectionWriters(t *testing.T) {
	create := wepRequest(admission.Create, writer, wep("default", "cluster-b.x", mirrored()), nil)
	cases := []struct {
		name    string
		writers []string
		user    string
		allowed bool
	}{
		{name: "default writer", writers: DefaultWriters(), user: writer, allowed: true},
		{name: "one of several writers", writers: []string{"system:serviceaccount:meshapi:controller", writer}, user: "system:serviceaccount:meshapi:controller", allowed: true},
		{name: "no writers", writers: nil, user: writer, allowed: false},
		{name: "a name is matched exactly", writers: []string{writer}, user: writer + "x", allowed: false},
		{name: "the deleters are not writers", writers: []string{writer}, user: nsCtrl, allowed: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := create
			req.user = tc.user
			err := NewProtection(tc.writers).Validate(context.Background(), req.attributes(), nil)
			if tc.allowed && err != nil {
				t.Errorf("Validate = %v, want allowed", err)
			}
			if !tc.allowed && !apierrors.IsForbidden(err) {
				t.Errorf("Validate = %v, want Forbidden", err)
			}
		})
	}
}

// newLifecycle builds the NamespaceLifecycle plugin through Register and
// initializes it the way the API server does, with a client-go fake of the
// Kubernetes API holding the given namespaces (as upstream's own tests do).
func newLifecycle(t *testing.T, namespaces ...*corev1.Namespace) *NamespaceLifecycle {
	t.Helper()
	var objs []runtime.Object
	for _, ns := range namespaces {
		objs = append(objs, ns)
	}
	client := kubefake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	plugins := admission.NewPlugins()
	Register(plugins, func() []string { return []string{writer} })
	plugin, err := plugins.InitPlugin(NamespaceLifecyclePluginName, nil, kubeadmission.New(client, nil, factory, nil, nil, nil, nil, nil))
	if err != nil {
		t.Fatalf("InitPlugin: %v", err)
	}
	l, ok := plugin.(*NamespaceLifecycle)
	if !ok {
		t.Fatalf("plugin %s is a %T, want *NamespaceLifecycle", NamespaceLifecyclePluginName, plugin)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); factory.Shutdown() })
	factory.Start(stop)
	for typ, ok := range factory.WaitForCacheSync(stop) {
		if !ok {
			t.Fatalf("informer %v did not sync", typ)
		}
	}
	return l
}

func TestNamespaceLifecycleAdmit(t *testing.T) {
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "leaving"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	l := newLifecycle(t, active, terminating)

	in := func(op admission.Operation, u, ns string, labels map[string]string) request {
		r := wepRequest(op, u, wep(ns, "cluster-b.web-0", labels), nil)
		r.ns = ns
		return r
	}
	missingPod := request{obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "gone", Name: "p", Labels: mirrored()}},
		kind: corev1.SchemeGroupVersion.WithKind("Pod"), resource: corev1.SchemeGroupVersion.WithResource("pods"),
		ns: "gone", name: "p", op: admission.Create, user: writer}

	cases := []struct {
		name string
		req  request
		// check judges the error; nil means admitted.
		check func(error) bool
		want  string
	}{
		{name: "writer's mirror in a missing namespace", req: in(admission.Create, writer, "gone", mirrored())},
		{name: "writer's mirror in an existing namespace", req: in(admission.Create, writer, "shop", mirrored())},
		{name: "user's object in an existing namespace", req: in(admission.Create, someUser, "shop", map[string]string{"app": "web"})},
		{name: "user's object in a missing namespace", req: in(admission.Create, someUser, "gone", map[string]string{"app": "web"}),
			check: apierrors.IsNotFound, want: "NotFound"},
		{name: "user's labelled object in a missing namespace", req: in(admission.Create, someUser, "gone", mirrored()),
			check: apierrors.IsNotFound, want: "NotFound"},
		{name: "writer's unlabelled object in a missing namespace", req: in(admission.Create, writer, "gone", map[string]string{"app": "web"}),
			check: apierrors.IsNotFound, want: "NotFound"},
		{name: "writer's labelled Pod in a missing namespace", req: missingPod, check: apierrors.IsNotFound, want: "NotFound"},
		{name: "user's object in a terminating namespace", req: in(admission.Create, someUser, "leaving", map[string]string{"app": "web"}),
			check: apierrors.IsForbidden, want: "Forbidden"},
		// Deleting a local namespace of the same name must complete: the
		// mirror waits until it is gone.
		{name: "writer's mirror in a terminating namespace", req: in(admission.Create, writer, "leaving", mirrored()),
			check: apierrors.IsForbidden, want: "Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Admit(context.Background(), tc.req.attributes(), nil)
			if tc.check == nil {
				if err != nil {
					t.Fatalf("Admit = %v, want admitted", err)
				}
				return
			}
			if !tc.check(err) {
				t.Fatalf("Admit = %v (%T), want %s", err, err, tc.want)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	plugins := admission.NewPlugins()
	writers := []string{"first"}
	calls := 0
	Register(plugins, func() []string { calls++; return writers })

	got := plugins.Registered()
	want := []string{ProtectionPluginName, NamespaceLifecyclePluginName}
	if len(got) != len(want) {
		t.Fatalf("Registered() = %v, want %v", got, want)
	}
	for _, name := range want {
		found := false
		for _, g := range got {
			found = found || g == name
		}
		if !found {
			t.Errorf("plugin %q not registered; got %v", name, got)
		}
	}
	if NamespaceLifecyclePluginName != "NamespaceLifecycle" {
		t.Errorf("NamespaceLifecyclePluginName = %q, want the upstream name NamespaceLifecycle", NamespaceLifecyclePluginName)
	}
	if calls != 0 {
		t.Errorf("the writers were read %d times at registration, want 0", calls)
	}

	// The flags are parsed between registration and building.
	writers = []string{"system:serviceaccount:meshapi:controller"}
	plugin, err := plugins.InitPlugin(ProtectionPluginName, nil, admission.PluginInitializers{})
	if err != nil {
		t.Fatalf("InitPlugin(%s): %v", ProtectionPluginName, err)
	}
	p, ok := plugin.(*Protection)
	if !ok {
		t.Fatalf("plugin %s is a %T, want *Protection", ProtectionPluginName, plugin)
	}
	if len(p.writers) != 1 || p.writers[0] != "system:serviceaccount:meshapi:controller" {
		t.Errorf("Protection writers = %v, want the ones at build time", p.writers)
	}
	if _, ok := plugin.(admission.ValidationInterface); !ok {
		t.Errorf("%s is not a validating plugin", ProtectionPluginName)
	}
	req := wepRequest(admission.Create, "system:serviceaccount:meshapi:controller", wep("default", "cluster-b.x", mirrored()), nil)
	if err := p.Validate(context.Background(), req.attributes(), nil); err != nil {
		t.Errorf("the build-time writer was refused: %v", err)
	}

	writers = []string{"second"}
	client := kubefake.NewClientset()
	plugin, err = plugins.InitPlugin(NamespaceLifecyclePluginName, nil,
		kubeadmission.New(client, nil, informers.NewSharedInformerFactory(client, time.Minute), nil, nil, nil, nil, nil))
	if err != nil {
		t.Fatalf("InitPlugin(%s): %v", NamespaceLifecyclePluginName, err)
	}
	l, ok := plugin.(*NamespaceLifecycle)
	if !ok {
		t.Fatalf("plugin %s is a %T, want *NamespaceLifecycle", NamespaceLifecyclePluginName, plugin)
	}
	if l.Lifecycle == nil || l.protection == nil {
		t.Fatalf("NamespaceLifecycle not fully built: %+v", l)
	}
	if len(l.protection.writers) != 1 || l.protection.writers[0] != "second" {
		t.Errorf("NamespaceLifecycle writers = %v, want the ones at build time", l.protection.writers)
	}
	if _, ok := plugin.(admission.MutationInterface); !ok {
		t.Errorf("%s is not a mutating plugin", NamespaceLifecyclePluginName)
	}
	if calls != 2 {
		t.Errorf("the writers were read %d times, want once per plugin built (2)", calls)
	}
}

// The writer's own endpoints and profiles are recognised by the label the
// pod endpoint controller really writes.
func TestOrchestratorLabelMatchesPodEndpoints(t *testing.T) {
	if labelOrchestrator != podendpoints.LabelOrchestrator || orchestratorK8s != podendpoints.OrchestratorK8s {
		t.Errorf("%s=%s here, %s=%s in pkg/podendpoints", labelOrchestrator, orchestratorK8s, podendpoints.LabelOrchestrator, podendpoints.OrchestratorK8s)
	}
}
