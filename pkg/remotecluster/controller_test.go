package remotecluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

func TestSetCondition(t *testing.T) {
	old := metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	connected := func(status metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: v3.RemoteClusterConditionConnected, Status: status, Reason: "Connecting",
			Message: "connecting", ObservedGeneration: 1, LastTransitionTime: old}
	}
	requirements := metav1.Condition{Type: v3.RemoteClusterConditionRequirementsMet, Status: metav1.ConditionTrue,
		Reason: "RequirementsMet", Message: "ok", ObservedGeneration: 1, LastTransitionTime: old}

	cases := []struct {
		name    string
		conds   []metav1.Condition
		typ     string
		status  metav1.ConditionStatus
		reason  string
		message string
		gen     int64
		// want is the result; a zero LastTransitionTime in it stands for
		// "set now".
		want []metav1.Condition
	}{
		{
			name: "new condition added", conds: nil,
			typ: v3.RemoteClusterConditionSynced, status: metav1.ConditionFalse, reason: "Connecting", message: "connecting", gen: 2,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionSynced, Status: metav1.ConditionFalse, Reason: "Connecting", Message: "connecting", ObservedGeneration: 2}},
		},
		{
			name: "new condition appended after others", conds: []metav1.Condition{requirements},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionTrue, reason: "InSync", message: "in sync", gen: 1,
			want: []metav1.Condition{requirements, {Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionTrue, Reason: "InSync", Message: "in sync", ObservedGeneration: 1}},
		},
		{
			name: "same status keeps the transition time", conds: []metav1.Condition{connected(metav1.ConditionUnknown), requirements},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionUnknown, reason: "ResyncInProgress", message: "resyncing", gen: 3,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionUnknown, Reason: "ResyncInProgress",
				Message: "resyncing", ObservedGeneration: 3, LastTransitionTime: old}, requirements},
		},
		{
			name: "status change moves the transition time", conds: []metav1.Condition{requirements, connected(metav1.ConditionUnknown)},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionFalse, reason: "RemoteUnreachable", message: "unreachable", gen: 1,
			want: []metav1.Condition{requirements, {Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionFalse, Reason: "RemoteUnreachable",
				Message: "unreachable", ObservedGeneration: 1}},
		},
		{
			name: "empty reason of a new condition is Unknown", conds: nil,
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionUnknown, reason: "", message: "", gen: 1,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionUnknown, Reason: "Unknown", ObservedGeneration: 1}},
		},
		{
			name: "empty reason of an existing condition is Unknown", conds: []metav1.Condition{connected(metav1.ConditionUnknown)},
			typ: v3.RemoteClusterConditionConnected, status: metav1.ConditionUnknown, reason: "", message: "m", gen: 1,
			want: []metav1.Condition{{Type: v3.RemoteClusterConditionConnected, Status: metav1.ConditionUnknown, Reason: "Unknown", Message: "m",
				ObservedGeneration: 1, LastTransitionTime: old}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conds := append([]metav1.Condition(nil), tc.conds...)
			start := time.Now().Add(-time.Second)
			setCondition(&conds, tc.typ, tc.status, tc.reason, tc.message, tc.gen)
			end := time.Now().Add(time.Second)
			if len(conds) != len(tc.want) {
				t.Fatalf("conditions = %+v, want %+v", conds, tc.want)
			}
			for i := range conds {
				got, want := conds[i], tc.want[i]
				if want.LastTransitionTime.IsZero() {
					if got.LastTransitionTime.Time.Before(start) || got.LastTransitionTime.Time.After(end) {
						t.Errorf("condition %s: LastTransitionTime = %v, want now", got.Type, got.LastTransitionTime)
					}
					got.LastTransitionTime = metav1.Time{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("condition %d =\n%+v\nwant\n%+v", i, conds[i], tc.want[i])
				}
			}
		})
	}
}

func TestClusterIndexFunc(t *testing.T) {
	cases := []struct {
		name    string
		obj     any
		want    []string
		wantErr bool
	}{
		{name: "mirrored endpoint", obj: &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b.x", Namespace: "ns",
			Labels: map[string]string{v3.LabelCluster: "cluster-b", "app": "web"}}}, want: []string{"cluster-b"}},
		{name: "mirrored pool", obj: &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v3.LabelCluster: "cluster-c"}}}, want: []string{"cluster-c"}},
		{name: "local object", obj: &v3.Node{ObjectMeta: metav1.ObjectMeta{Name: "host-1", Labels: map[string]string{"app": "web"}}}, want: nil},
		{name: "no labels", obj: &v3.Profile{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, want: nil},
		{name: "not an object", obj: "cluster-b", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clusterIndexFunc(tc.obj)
			if (err != nil) != tc.wantErr {
				t.Fatalf("clusterIndexFunc error = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("clusterIndexFunc = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestInlineConfig(t *testing.T) {
	caPEM, _ := testCA(t)
	valid := string(writeKubeconfig(t, testKubeconfig(caPEM)))
	execCfg := testKubeconfig(caPEM)
	execCfg.AuthInfos["remote-sync"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "aws", APIVersion: "client.authentication.k8s.io/v1"}}
	withExec := string(writeKubeconfig(t, execCfg))

	dir := t.TempDir()
	path := filepath.Join(dir, "cluster-b.kubeconfig")
	if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.kubeconfig")

	type want struct {
		host, token string
		insecure    bool
		caFile      string
	}
	cases := []struct {
		name       string
		spec       v3.RemoteClusterConfigurationSpec
		want       *want
		wantReason string
		wantInMsg  []string
	}{
		{name: "kubeconfigInline", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: valid}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfigInline with datastoreType kubernetes", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes, KubeConfig: v3.KubeConfig{KubeconfigInline: valid}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfigInline wins over k8sAPIEndpoint", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: valid, K8sAPIEndpoint: "https://other:6443"}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfigInline not YAML", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: "{{{"}},
			wantReason: "KubeconfigInvalid", wantInMsg: []string{"spec.kubeconfigInline", "not a kubeconfig"}},
		{name: "kubeconfigInline with exec plugin", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{KubeconfigInline: withExec}},
			wantReason: "KubeconfigInvalid", wantInMsg: []string{"spec.kubeconfigInline", "exec or auth-provider"}},
		{name: "kubeconfig file", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{Kubeconfig: path}},
			want: &want{host: testServer, token: testToken}},
		{name: "kubeconfig file missing", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{Kubeconfig: missing}},
			wantReason: "KubeconfigInvalid", wantInMsg: []string{"spec.kubeconfig", missing}},
		{name: "k8sAPIEndpoint with token, insecure", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{
			K8sAPIEndpoint: "https://10.0.0.1:6443", K8sAPIToken: "tok", K8sInsecureSkipTLSVerify: true}},
			wantReason: "ConnectionInsecure", wantInMsg: []string{"spec.k8sInsecureSkipTLSVerify is not honoured"}},
		{name: "k8sAPIEndpoint with CA file", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{
			K8sAPIEndpoint: "https://10.0.0.1:6443", K8sCAFile: "/etc/remote/ca.crt"}},
			want: &want{host: "https://10.0.0.1:6443", caFile: "/etc/remote/ca.crt"}},
		{name: "etcdv3", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeEtcdV3, EtcdConfig: v3.EtcdConfig{EtcdEndpoints: "https://a:2379"}},
			wantReason: "DatastoreTypeUnsupported", wantInMsg: []string{`"etcdv3"`, "spec.clusterAccessSecret"}},
		{name: "etcdv3 wins over an inline kubeconfig", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeEtcdV3, KubeConfig: v3.KubeConfig{KubeconfigInline: valid}},
			wantReason: "DatastoreTypeUnsupported"},
		{name: "nothing set", spec: v3.RemoteClusterConfigurationSpec{},
			wantReason: "ConnectionMissing", wantInMsg: []string{"spec.clusterAccessSecret"}},
		{name: "only kubernetes datastoreType", spec: v3.RemoteClusterConfigurationSpec{DatastoreType: v3.DatastoreTypeKubernetes},
			wantReason: "ConnectionMissing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"}, Spec: tc.spec}
			cfg, err := inlineConfig(rcc)
			if tc.want == nil {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("inlineConfig = %+v, %v; want a *ConfigError", cfg, err)
				}
				if cfg != nil {
					t.Errorf("config %+v returned with error %v", cfg, err)
				}
				if ce.Reason != tc.wantReason {
					t.Errorf("reason = %q, want %q (message %q)", ce.Reason, tc.wantReason, ce.Message)
				}
				for _, s := range tc.wantInMsg {
					if !strings.Contains(ce.Message, s) {
						t.Errorf("message %q does not contain %q", ce.Message, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("inlineConfig: %v", err)
			}
			if cfg.Host != tc.want.host || cfg.BearerToken != tc.want.token || cfg.Insecure != tc.want.insecure || cfg.CAFile != tc.want.caFile {
				t.Errorf("config host %q token %q insecure %v caFile %q, want %+v", cfg.Host, cfg.BearerToken, cfg.Insecure, cfg.CAFile, *tc.want)
			}
		})
	}
}

// TestControllerAccess reads access Secrets through a client-go fake of the
// Kubernetes API (the Secrets are core Kubernetes objects, not meshapi's).
func TestControllerAccess(t *testing.T) {
	caPEM, _ := testCA(t)
	kubeconfig := string(writeKubeconfig(t, testKubeconfig(caPEM)))
	secret := accessSecret(map[string]string{KeyDatastoreType: "kubernetes", KeyKubeconfig: kubeconfig})
	secret.UID, secret.ResourceVersion = "secret-uid", "17"
	ref := &corev1.ObjectReference{Namespace: "calico-system", Name: "remote-cluster-b"}

	cases := []struct {
		name            string
		objects         []runtime.Object
		reactor         k8stesting.ReactionFunc
		spec            v3.RemoteClusterConfigurationSpec
		wantFingerprint string
		wantHost        string
		wantReason      string
		wantOtherErr    bool
	}{
		{name: "inline", spec: v3.RemoteClusterConfigurationSpec{KubeConfig: v3.KubeConfig{K8sAPIEndpoint: "https://10.0.0.1:6443"}},
			wantFingerprint: "gen=3", wantHost: "https://10.0.0.1:6443"},
		{name: "inline, incomplete", spec: v3.RemoteClusterConfigurationSpec{}, wantReason: "ConnectionMissing"},
		{name: "secret", objects: []runtime.Object{secret}, spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref},
			wantFingerprint: "gen=3,secret=secret-uid/17", wantHost: testServer},
		{name: "secret missing", spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref}, wantReason: "SecretMissing"},
		{name: "secret forbidden", spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref},
			reactor: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "remote-cluster-b", errors.New("RBAC"))
			}, wantReason: "SecretForbidden"},
		{name: "secret unreadable for another reason", spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref},
			reactor: func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("etcd down")
			}, wantOtherErr: true},
		{name: "secret incomplete", objects: []runtime.Object{accessSecret(map[string]string{KeyDatastoreType: "kubernetes"})},
			spec: v3.RemoteClusterConfigurationSpec{ClusterAccessSecret: ref}, wantReason: "SecretKeyMissing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset(tc.objects...)
			if tc.reactor != nil {
				kube.PrependReactor("get", "secrets", tc.reactor)
			}
			c := &Controller{kube: kube}
			rcc := &v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b", Generation: 3}, Spec: tc.spec}
			access, fingerprint, err := c.access(context.Background(), rcc)
			switch {
			case tc.wantReason != "":
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Reason != tc.wantReason {
					t.Fatalf("access error = %v, want a *ConfigError with reason %q", err, tc.wantReason)
				}
				if !strings.Contains(ce.Message, "calico-system/remote-cluster-b") && tc.spec.ClusterAccessSecret != nil {
					t.Errorf("message %q does not name the Secret", ce.Message)
				}
			case tc.wantOtherErr:
				if err == nil || IsConfigError(err) {
					t.Fatalf("access error = %v, want a retryable error", err)
				}
				if !apierrors.IsServiceUnavailable(err) {
					t.Errorf("access error %v does not wrap the API error", err)
				}
			default:
				if err != nil {
					t.Fatalf("access: %v", err)
				}
				if fingerprint != tc.wantFingerprint {
					t.Errorf("fingerprint = %q, want %q", fingerprint, tc.wantFingerprint)
				}
				if access.DatastoreType != v3.DatastoreTypeKubernetes || access.Kubernetes == nil || access.Kubernetes.Host != tc.wantHost {
					t.Errorf("access = %+v, want kubernetes at %q", access, tc.wantHost)
				}
			}
		})
	}
}

func TestRemoteClient(t *testing.T) {
	t.Run("etcdv3 unsupported", func(t *testing.T) {
		cs, err := remoteClient(&Access{DatastoreType: v3.DatastoreTypeEtcdV3, Etcd: &EtcdAccess{Endpoints: []string{"https://a:2379"}}})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Reason != "DatastoreTypeUnsupported" {
			t.Fatalf("remoteClient = %v, %v; want a DatastoreTypeUnsupported *ConfigError", cs, err)
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://10.0.0.1:6443", BearerToken: "tok", UserAgent: "mine"}
		before := *cfg
		cs, err := remoteClient(&Access{DatastoreType: v3.DatastoreTypeKubernetes, Kubernetes: cfg})
		if err != nil || cs == nil {
			t.Fatalf("remoteClient = %v, %v", cs, err)
		}
		if !reflect.DeepEqual(*cfg, before) {
			t.Errorf("the access configuration was changed: %+v, was %+v", *cfg, before)
		}
	})
	t.Run("kubernetes with an unusable CA", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://10.0.0.1:6443", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("not a certificate")}}
		if cs, err := remoteClient(&Access{DatastoreType: v3.DatastoreTypeKubernetes, Kubernetes: cfg}); err == nil {
			t.Fatalf("remoteClient = %v, want an error for the CA", cs)
		}
	})
}

func TestSpecChanged(t *testing.T) {
	now := metav1.Now()
	base := v3.RemoteClusterConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "cluster-b", UID: "u1", Generation: 3, ResourceVersion: "10"}}
	with := func(f func(*v3.RemoteClusterConfiguration)) *v3.RemoteClusterConfiguration {
		r := base.DeepCopy()
		f(r)
		return r
	}
	cases := []struct {
		name string
		new  *v3.RemoteClusterConfiguration
		want bool
	}{
		{"status only", with(func(r *v3.RemoteClusterConfiguration) {
			r.ResourceVersion = "11"
			r.Status.SyncState = v3.SyncStateInSync
			r.Status.MirroredObjects = &v3.MirroredObjectCounts{WorkloadEndpoints: 7}
		}), false},
		{"labels only", with(func(r *v3.RemoteClusterConfiguration) { r.Labels = map[string]string{"team": "net"} }), false},
		{"spec (generation)", with(func(r *v3.RemoteClusterConfiguration) {
			r.Generation = 4
			r.Spec.SyncOptions.OverlayRoutingMode = v3.OverlayRoutingModeEnabled
		}), true},
		{"deletion started", with(func(r *v3.RemoteClusterConfiguration) { r.DeletionTimestamp = &now }), true},
		{"recreated under the same name", with(func(r *v3.RemoteClusterConfiguration) { r.UID = "u2"; r.Generation = 1 }), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := specChanged(&base, tc.new); got != tc.want {
				t.Errorf("specChanged = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMirrorCounts(t *testing.T) {
	c := &Controller{kinds: mirrorKinds(), counts: map[string][]int32{}}
	wep, node := -1, -1
	for i, k := range c.kinds {
		switch k.Name() {
		case "WorkloadEndpoint":
			wep = i
		case "Node":
			node = i
		}
	}
	mirror := func(cluster, name string) *v3.WorkloadEndpoint {
		return &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{v3.LabelCluster: cluster}}}
	}
	local := &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: "own", Namespace: "ns"}}
	type event struct {
		kind  int
		obj   any
		delta int32
	}
	cases := []struct {
		name   string
		events []event
		want   map[string][]int32 // cluster -> count of [wep, node]
	}{
		{"adds per cluster and kind", []event{
			{wep, mirror("b", "1"), 1}, {wep, mirror("b", "2"), 1}, {wep, mirror("c", "1"), 1}, {node, mirror("b", "n"), 1},
		}, map[string][]int32{"b": {2, 1}, "c": {1, 0}}},
		{"local objects are not counted", []event{{wep, local, 1}}, map[string][]int32{"b": {0, 0}}},
		{"deletes, also of a final state unknown", []event{
			{wep, mirror("b", "1"), 1}, {wep, mirror("b", "2"), 1},
			{wep, mirror("b", "1"), -1},
			{wep, cache.DeletedFinalStateUnknown{Key: "ns/2", Obj: mirror("b", "2")}, -1},
		}, map[string][]int32{"b": {0, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.counts = map[string][]int32{}
			for _, e := range tc.events {
				c.count(e.kind, e.obj, e.delta)
			}
			for cluster, want := range tc.want {
				got := c.mirroredCounts(cluster)
				if got[wep] != want[0] || got[node] != want[1] {
					t.Errorf("cluster %s: %d endpoints and %d nodes, want %v", cluster, got[wep], got[node], want)
				}
			}
			if len(tc.want) == 1 && tc.want["b"][0] == 0 && len(c.counts) != 0 {
				t.Errorf("emptied clusters stay in the map: %v", c.counts)
			}
		})
	}
}

func TestSettling(t *testing.T) {
	kinds := mirrorKinds()
	wep := -1
	for i, k := range kinds {
		if k.Name() == "WorkloadEndpoint" {
			wep = i
		}
	}
	remoteWEPs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range []string{"a", "b"} {
		if err := remoteWEPs.Add(&v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "ns"}}); err != nil {
			t.Fatal(err)
		}
	}
	syncer := &Syncer{kinds: kinds, remoteIndexer: make([]cache.Indexer, len(kinds))}
	syncer.remoteIndexer[wep] = remoteWEPs
	recent, old := metav1.Now(), metav1.NewTime(time.Now().Add(-time.Minute))
	inSync := SyncStatus{State: v3.SyncStateInSync}
	cases := []struct {
		name     string
		st       SyncStatus
		lastSync *metav1.Time
		mirrored int32 // mirrored endpoints the controller's cache has seen
		running  bool
		want     bool
	}{
		{"cache behind a fresh InSync", inSync, &recent, 1, true, true},
		{"cache caught up", inSync, &recent, 2, true, false},
		{"cache behind, but InSync is old", inSync, &old, 1, true, false},
		{"not InSync", SyncStatus{State: v3.SyncStateResyncInProgress}, &recent, 0, true, false},
		{"no syncer running", inSync, &recent, 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Controller{kinds: kinds, counts: map[string][]int32{}, running: map[string]*runningSyncer{}}
			if tc.running {
				c.running["cluster-b"] = &runningSyncer{syncer: syncer}
			}
			for i := int32(0); i < tc.mirrored; i++ {
				c.count(wep, &v3.WorkloadEndpoint{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{v3.LabelCluster: "cluster-b"}}}, 1)
			}
			if got := c.settling("cluster-b", tc.st, tc.lastSync); got != tc.want {
				t.Errorf("settling = %v, want %v", got, tc.want)
			}
		})
	}
}
