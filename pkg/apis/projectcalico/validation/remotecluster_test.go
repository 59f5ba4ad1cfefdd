package validation

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

const rccDocSecret = `
apiVersion: projectcalico.org/v3
kind: RemoteClusterConfiguration
metadata:
  name: cluster-2
spec:
  clusterAccessSecret:
    name: remote-cluster-secret-name
    namespace: calico-system
    kind: Secret
  syncOptions:
    overlayRoutingMode: Enabled
`

func TestRemoteClusterConfigurationDocumentation(t *testing.T) {
	for _, mode := range []string{"Enabled", "Disabled"} {
		t.Run(mode, func(t *testing.T) {
			doc := strings.Replace(rccDocSecret, "overlayRoutingMode: Enabled", "overlayRoutingMode: "+mode, 1)
			rcc := fromYAML[v3.RemoteClusterConfiguration](t, doc)
			if string(rcc.Spec.SyncOptions.OverlayRoutingMode) != mode {
				t.Fatalf("overlayRoutingMode = %q", rcc.Spec.SyncOptions.OverlayRoutingMode)
			}
			checkErrors(t, validateStrict(rcc))
		})
	}
}

// validateStrict validates as meshapi-apiserver does by default.
func validateStrict(r *v3.RemoteClusterConfiguration) field.ErrorList {
	return ValidateRemoteClusterConfiguration(r, RemoteClusterOptions{})
}

// validateOptIn validates as meshapi-apiserver
// --allow-inline-remote-credentials does.
func validateOptIn(r *v3.RemoteClusterConfiguration) field.ErrorList {
	return ValidateRemoteClusterConfiguration(r, RemoteClusterOptions{AllowInlineCredentials: true})
}

func rccWithSecret() *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-2"},
		Spec: v3.RemoteClusterConfigurationSpec{
			ClusterAccessSecret: &corev1.ObjectReference{Name: "remote-cluster-secret-name", Namespace: "calico-system", Kind: "Secret"},
			SyncOptions:         v3.RemoteClusterSyncOptions{OverlayRoutingMode: v3.OverlayRoutingModeEnabled},
		},
	}
}

func rccKubernetes() *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-b"},
		Spec: v3.RemoteClusterConfigurationSpec{
			DatastoreType: v3.DatastoreTypeKubernetes,
			KubeConfig:    v3.KubeConfig{Kubeconfig: "/etc/remote/cluster-b.kubeconfig"},
		},
	}
}

func rccEtcd() *v3.RemoteClusterConfiguration {
	return &v3.RemoteClusterConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-c"},
		Spec: v3.RemoteClusterConfigurationSpec{
			DatastoreType: v3.DatastoreTypeEtcdV3,
			EtcdConfig:    v3.EtcdConfig{EtcdEndpoints: "https://10.0.0.1:2379,https://10.0.0.2:2379", EtcdCACertFile: "/etc/etcd/ca.crt"},
		},
	}
}

func TestValidateRemoteClusterConfigurationSecret(t *testing.T) {
	runCases(t, rccWithSecret, validateStrict, []tcase[v3.RemoteClusterConfiguration]{
		{name: "secret reference with kind Secret"},
		{name: "secret reference without kind", mut: func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Kind = "" }},
		{name: "overlay routing mode unset", mut: func(r *v3.RemoteClusterConfiguration) { r.Spec.SyncOptions.OverlayRoutingMode = "" }},
		{name: "disconnectedTTL of ten minutes", mut: func(r *v3.RemoteClusterConfiguration) {
			r.Spec.SyncOptions.DisconnectedTTL = &metav1.Duration{Duration: 10 * time.Minute}
		}},
		{
			name: "disconnectedTTL shorter than the minimum",
			mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.SyncOptions.DisconnectedTTL = &metav1.Duration{Duration: time.Second}
			},
			want: []want{invalid("spec.syncOptions.disconnectedTTL", `"1s": must be at least 10s`)},
		},
		{name: "name with digits and dashes", mut: func(r *v3.RemoteClusterConfiguration) { r.Name = "eu-west-1" }},
		{
			name: "name not a DNS label",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Name = "Cluster_B" },
			want: []want{invalid("metadata.name", `"Cluster_B": must be a DNS-1123 label, because it becomes the prefix "<name>/"`)},
		},
		{
			name: "name with a dot is a subdomain, not a label",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Name = "cluster.b" },
			want: []want{invalid("metadata.name", "DNS-1123 label")},
		},
		{
			name: "name longer than 63",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Name = strings.Repeat("a", 64) },
			want: []want{invalid("metadata.name", "must be no more than 63 characters")},
		},
		{
			name: "name missing",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Name = "" },
			want: []want{required("metadata.name", "Required value")},
		},
		{
			name: "secret with datastoreType",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.DatastoreType = v3.DatastoreTypeKubernetes },
			want: []want{forbidden("spec.datastoreType", secretConflictMsg)},
		},
		{
			name: "secret with kubeconfig",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.Kubeconfig = "/etc/kubeconfig" },
			want: []want{forbidden("spec.kubeconfig", secretConflictMsg)},
		},
		{
			name: "secret with one error per inline field",
			mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.EtcdEndpoints = "https://10.0.0.1:2379"
				r.Spec.EtcdUsername = "u"
				r.Spec.EtcdPassword = "p"
				r.Spec.EtcdKeyFile = "k"
				r.Spec.EtcdCertFile = "c"
				r.Spec.EtcdCACertFile = "ca"
				r.Spec.K8sAPIEndpoint = "https://x:6443"
				r.Spec.K8sKeyFile = "k"
				r.Spec.K8sCertFile = "c"
				r.Spec.K8sCAFile = "ca"
				r.Spec.K8sAPIToken = "t"
				r.Spec.K8sInsecureSkipTLSVerify = true
				r.Spec.KubeconfigInline = "apiVersion: v1"
			},
			want: []want{
				forbidden("spec.etcdEndpoints", secretConflictMsg),
				forbidden("spec.etcdUsername", secretConflictMsg),
				forbidden("spec.etcdPassword", secretConflictMsg),
				forbidden("spec.etcdKeyFile", secretConflictMsg),
				forbidden("spec.etcdCertFile", secretConflictMsg),
				forbidden("spec.etcdCACertFile", secretConflictMsg),
				forbidden("spec.k8sAPIEndpoint", secretConflictMsg),
				forbidden("spec.k8sKeyFile", secretConflictMsg),
				forbidden("spec.k8sCertFile", secretConflictMsg),
				forbidden("spec.k8sCAFile", secretConflictMsg),
				forbidden("spec.k8sAPIToken", secretConflictMsg),
				forbidden("spec.k8sInsecureSkipTLSVerify", secretConflictMsg),
				forbidden("spec.kubeconfigInline", secretConflictMsg),
			},
		},
		{
			name: "secret name missing",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Name = "" },
			want: []want{required("spec.clusterAccessSecret.name", "Secret")},
		},
		{
			name: "secret name invalid",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Name = "Bad_Name" },
			want: []want{invalid("spec.clusterAccessSecret.name", `"Bad_Name"`)},
		},
		{
			name: "secret namespace missing",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Namespace = "" },
			want: []want{required("spec.clusterAccessSecret.namespace", "namespace")},
		},
		{
			name: "secret namespace invalid",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Namespace = "calico.system" },
			want: []want{invalid("spec.clusterAccessSecret.namespace", `"calico.system"`)},
		},
		{
			name: "secret reference of another kind",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret.Kind = "ConfigMap" },
			want: []want{notSupported("spec.clusterAccessSecret.kind", `"ConfigMap": supported values: "Secret"`)},
		},
		{
			name: "empty secret reference",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.ClusterAccessSecret = &corev1.ObjectReference{} },
			want: []want{
				required("spec.clusterAccessSecret.name", ""),
				required("spec.clusterAccessSecret.namespace", ""),
			},
		},
		{
			name: "overlay routing mode lower case",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.SyncOptions.OverlayRoutingMode = "enabled" },
			want: []want{notSupported("spec.syncOptions.overlayRoutingMode", `"enabled": supported values: "Enabled", "Disabled"`)},
		},
		{
			name: "all violations reported at once",
			mut: func(r *v3.RemoteClusterConfiguration) {
				r.Name = "Cluster_B"
				r.Spec.DatastoreType = "etcdv3"
				r.Spec.Kubeconfig = "/k"
				r.Spec.ClusterAccessSecret.Kind = "ConfigMap"
				r.Spec.ClusterAccessSecret.Namespace = ""
				r.Spec.SyncOptions.OverlayRoutingMode = "On"
			},
			want: []want{
				invalid("metadata.name", "DNS-1123 label"),
				forbidden("spec.datastoreType", secretConflictMsg),
				forbidden("spec.kubeconfig", secretConflictMsg),
				notSupported("spec.clusterAccessSecret.kind", "ConfigMap"),
				required("spec.clusterAccessSecret.namespace", ""),
				notSupported("spec.syncOptions.overlayRoutingMode", `"On"`),
			},
		},
	})
}

func TestValidateRemoteClusterConfigurationInline(t *testing.T) {
	t.Run("kubernetes", func(t *testing.T) {
		runCases(t, rccKubernetes, validateOptIn, []tcase[v3.RemoteClusterConfiguration]{
			{name: "kubeconfig path"},
			{name: "kubeconfigInline", mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.Kubeconfig, r.Spec.KubeconfigInline = "", "apiVersion: v1\nkind: Config\n"
			}},
			{name: "API endpoint with token and CA", mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.Kubeconfig = ""
				r.Spec.K8sAPIEndpoint = "https://10.0.0.10:6443"
				r.Spec.K8sAPIToken = "token"
				r.Spec.K8sCAFile = "/etc/ca.crt"
			}},
			{name: "API endpoint without port", mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.Kubeconfig, r.Spec.K8sAPIEndpoint = "", "https://api.cluster-b.example"
			}},
			{name: "API endpoint with IPv6 host", mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.K8sAPIEndpoint = "https://[fd00::10]:6443"
			}},
			{
				name: "datastoreType missing",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.DatastoreType = "" },
				want: []want{required("spec.datastoreType", "when clusterAccessSecret is not set")},
			},
			{
				name: "datastoreType unknown",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.DatastoreType = "etcd" },
				want: []want{notSupported("spec.datastoreType", `"etcd": supported values: "kubernetes", "etcdv3"`)},
			},
			{
				name: "datastoreType unknown still checks endpoint formats",
				mut: func(r *v3.RemoteClusterConfiguration) {
					r.Spec.DatastoreType = "Kubernetes"
					r.Spec.K8sAPIEndpoint = "10.0.0.1:6443"
				},
				want: []want{
					notSupported("spec.datastoreType", `"Kubernetes"`),
					invalid("spec.k8sAPIEndpoint", "must be an http:// or https:// URL"),
				},
			},
			{
				name: "etcd fields with kubernetes",
				mut: func(r *v3.RemoteClusterConfiguration) {
					r.Spec.EtcdEndpoints = "https://10.0.0.1:2379"
					r.Spec.EtcdCACertFile = "/ca"
				},
				want: []want{
					forbidden("spec.etcdEndpoints", `may not be set when datastoreType is "kubernetes"`),
					forbidden("spec.etcdCACertFile", `may not be set when datastoreType is "kubernetes"`),
				},
			},
			{
				name: "no way to reach the API server",
				mut: func(r *v3.RemoteClusterConfiguration) {
					r.Spec.Kubeconfig = ""
					r.Spec.K8sAPIToken = "token"
				},
				want: []want{required("spec", "one of kubeconfig, kubeconfigInline or k8sAPIEndpoint is required")},
			},
			{
				name: "API endpoint without scheme",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.K8sAPIEndpoint = "10.0.0.1:6443" },
				want: []want{invalid("spec.k8sAPIEndpoint", `"10.0.0.1:6443": must be an http:// or https:// URL`)},
			},
			{
				name: "API endpoint with another scheme",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.K8sAPIEndpoint = "tcp://10.0.0.1:6443" },
				want: []want{invalid("spec.k8sAPIEndpoint", `scheme "tcp" is not http or https`)},
			},
			{
				name: "API endpoint without host",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.K8sAPIEndpoint = "https://" },
				want: []want{invalid("spec.k8sAPIEndpoint", "the host is missing")},
			},
		})
	})

	t.Run("etcdv3", func(t *testing.T) {
		runCases(t, rccEtcd, validateOptIn, []tcase[v3.RemoteClusterConfiguration]{
			{name: "two endpoints"},
			{name: "single endpoint with password and CA", mut: func(r *v3.RemoteClusterConfiguration) {
				r.Spec.EtcdEndpoints = "https://etcd.example:2379"
				r.Spec.EtcdUsername, r.Spec.EtcdPassword = "root", "secret"
			}},
			{
				name: "endpoints missing",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "" },
				want: []want{required("spec.etcdEndpoints", `required when datastoreType is "etcdv3"`)},
			},
			{
				name: "kubernetes fields with etcdv3",
				mut: func(r *v3.RemoteClusterConfiguration) {
					r.Spec.Kubeconfig = "/k"
					r.Spec.K8sInsecureSkipTLSVerify = true
				},
				want: []want{
					forbidden("spec.kubeconfig", `may not be set when datastoreType is "etcdv3"`),
					forbidden("spec.k8sInsecureSkipTLSVerify", `may not be set when datastoreType is "etcdv3"`),
				},
			},
			{
				name: "second endpoint without scheme",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "https://10.0.0.1:2379,10.0.0.2:2379" },
				want: []want{invalid("spec.etcdEndpoints", `"10.0.0.2:2379": endpoint 2 of 2 in the comma-separated list must be an http:// or https:// URL`)},
			},
			{
				name: "endpoint with another scheme",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "unix:///run/etcd.sock" },
				want: []want{invalid("spec.etcdEndpoints", `scheme "unix" is not http or https`)},
			},
			{
				name: "trailing comma",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "https://10.0.0.1:2379," },
				want: []want{invalid("spec.etcdEndpoints", `"": endpoint 2 of 2 in the comma-separated list must not be empty`)},
			},
			{
				name: "space after a comma",
				mut: func(r *v3.RemoteClusterConfiguration) {
					r.Spec.EtcdEndpoints = "https://10.0.0.1:2379, https://10.0.0.2:2379"
				},
				want: []want{invalid("spec.etcdEndpoints", `" https://10.0.0.2:2379": endpoint 2 of 2 in the comma-separated list must not have spaces around it`)},
			},
			{
				name: "endpoint without host",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "https://:2379" },
				want: []want{invalid("spec.etcdEndpoints", "the host is missing")},
			},
			{
				name: "endpoint port out of range",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "https://10.0.0.1:99999" },
				want: []want{invalid("spec.etcdEndpoints", "port 99999 is not from 1 to 65535")},
			},
			{
				name: "every bad endpoint is reported",
				mut:  func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdEndpoints = "a:1,https://10.0.0.1:2379,ftp://b" },
				want: []want{
					invalid("spec.etcdEndpoints", `"a:1": endpoint 1 of 3`),
					invalid("spec.etcdEndpoints", `"ftp://b": endpoint 3 of 3`),
				},
			},
		})
	})
}

// Inline credentials and controller-host files need the opt-in; client key
// files, insecure-skip-tls-verify and plain http are refused even with it.
// Every refusal names the field (and the value, when it is not a secret)
// and says how to fix it.
func TestValidateRemoteClusterConfigurationCredentials(t *testing.T) {
	const secretHint = "spec.clusterAccessSecret"
	const flag = "--allow-inline-remote-credentials"
	endpoint := func(r *v3.RemoteClusterConfiguration) {
		r.Spec.Kubeconfig, r.Spec.K8sAPIEndpoint = "", "https://10.0.0.10:6443"
	}
	cases := []struct {
		name    string
		base    func() *v3.RemoteClusterConfiguration
		mut     func(*v3.RemoteClusterConfiguration)
		strict  []want
		optedIn []want
		noOptIn bool // strict and opted in give the same errors
	}{
		{name: "access secret alone", base: rccWithSecret, mut: func(*v3.RemoteClusterConfiguration) {}, noOptIn: true},
		{name: "k8sAPIToken", base: rccKubernetes, mut: func(r *v3.RemoteClusterConfiguration) { endpoint(r); r.Spec.K8sAPIToken = "hunter2" },
			strict: []want{forbidden("spec.k8sAPIToken", "reference it with "+secretHint+" instead (or run meshapi-apiserver with "+flag+")")}},
		{name: "kubeconfigInline", base: rccKubernetes, mut: func(r *v3.RemoteClusterConfiguration) {
			r.Spec.Kubeconfig, r.Spec.KubeconfigInline = "", "apiVersion: v1\nkind: Config\n"
		}, strict: []want{forbidden("spec.kubeconfigInline", "an inline credential is readable")}},
		{name: "etcdPassword", base: rccEtcd, mut: func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdUsername, r.Spec.EtcdPassword = "root", "hunter2" },
			strict: []want{forbidden("spec.etcdPassword", secretHint), forbidden("spec.etcdCACertFile", "file on meshapi-controller's host")}},
		{name: "kubeconfig file path", base: rccKubernetes, mut: func(*v3.RemoteClusterConfiguration) {},
			strict: []want{forbidden("spec.kubeconfig", "names a file on meshapi-controller's host")}},
		{name: "k8sCAFile", base: rccKubernetes, mut: func(r *v3.RemoteClusterConfiguration) { endpoint(r); r.Spec.K8sCAFile = "/etc/ca.crt" },
			strict: []want{forbidden("spec.k8sCAFile", flag)}},
		{name: "k8sCertFile and k8sKeyFile", base: rccKubernetes, mut: func(r *v3.RemoteClusterConfiguration) {
			endpoint(r)
			r.Spec.K8sCertFile, r.Spec.K8sKeyFile = "/etc/c.crt", "/etc/c.key"
		}, noOptIn: true, strict: []want{
			forbidden("spec.k8sKeyFile", "client-key-data"), forbidden("spec.k8sCertFile", "present a key from its own host"),
		}},
		{name: "etcdCertFile and etcdKeyFile", base: rccEtcd, mut: func(r *v3.RemoteClusterConfiguration) {
			r.Spec.EtcdCertFile, r.Spec.EtcdKeyFile = "/etc/c.crt", "/etc/c.key"
		}, strict: []want{
			forbidden("spec.etcdKeyFile", "etcdKey"), forbidden("spec.etcdCertFile", "etcdCert"), forbidden("spec.etcdCACertFile", flag),
		}, optedIn: []want{forbidden("spec.etcdKeyFile", "etcdKey"), forbidden("spec.etcdCertFile", "etcdCert")}},
		{name: "k8sInsecureSkipTLSVerify", base: rccKubernetes, mut: func(r *v3.RemoteClusterConfiguration) { endpoint(r); r.Spec.K8sInsecureSkipTLSVerify = true },
			noOptIn: true, strict: []want{forbidden("spec.k8sInsecureSkipTLSVerify", "certificate-authority-data")}},
		{name: "http k8sAPIEndpoint", base: rccKubernetes, mut: func(r *v3.RemoteClusterConfiguration) {
			r.Spec.Kubeconfig, r.Spec.K8sAPIEndpoint = "", "http://10.0.0.10:8080"
		},
			noOptIn: true, strict: []want{invalid("spec.k8sAPIEndpoint", `"http://10.0.0.10:8080": plain http:// sends the credentials`)}},
		{name: "http etcd endpoint", base: rccEtcd, mut: func(r *v3.RemoteClusterConfiguration) {
			r.Spec.EtcdEndpoints = "https://10.0.0.1:2379,http://10.0.0.2:2379"
		},
			strict: []want{
				invalid("spec.etcdEndpoints", `"http://10.0.0.2:2379": endpoint 2 of 2 in the comma-separated list plain http:// sends`),
				forbidden("spec.etcdCACertFile", flag),
			},
			optedIn: []want{invalid("spec.etcdEndpoints", `"http://10.0.0.2:2379": endpoint 2 of 2 in the comma-separated list plain http:// sends`)}},
		{name: "etcdv3 without a CA", base: rccEtcd, mut: func(r *v3.RemoteClusterConfiguration) { r.Spec.EtcdCACertFile = "" },
			noOptIn: true, strict: []want{required("spec.etcdCACertFile", "over TLS only")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.base()
			c.mut(r)
			t.Run("default", func(t *testing.T) { checkErrors(t, validateStrict(r), c.strict...) })
			opted := c.optedIn
			if c.noOptIn {
				opted = c.strict
			}
			t.Run("opted in", func(t *testing.T) { checkErrors(t, validateOptIn(r), opted...) })
			if s := validateStrict(r).ToAggregate(); s != nil && strings.Contains(s.Error(), "hunter2") {
				t.Errorf("error text leaks a credential: %s", s)
			}
		})
	}
}

func TestRemoteClusterConfigurationSecretsNotEchoed(t *testing.T) {
	r := rccKubernetes()
	r.Spec.EtcdPassword = "hunter2"
	r.Spec.K8sAPIEndpoint = "ftp://admin:hunter2@10.0.0.1:6443"
	errs := validateOptIn(r)
	checkErrors(t, errs,
		forbidden("spec.etcdPassword", "etcd connection fields"),
		invalid("spec.k8sAPIEndpoint", "admin:xxxxx@10.0.0.1"),
	)
	if s := errs.ToAggregate().Error(); strings.Contains(s, "hunter2") {
		t.Errorf("error text leaks a password: %s", s)
	}
}

func TestValidateRemoteClusterConfigurationUpdate(t *testing.T) {
	old := rccKubernetes()
	t.Run("switch to a secret", func(t *testing.T) {
		n := rccWithSecret()
		n.Name = old.Name
		checkErrors(t, ValidateRemoteClusterConfigurationUpdate(n, old))
	})
	t.Run("switch datastore; ValidateRemoteClusterConfiguration's checks are not repeated", func(t *testing.T) {
		n := rccEtcd()
		n.Spec.EtcdEndpoints = ""
		checkErrors(t, ValidateRemoteClusterConfigurationUpdate(n, old))
	})
}

func validCondition(typ string) metav1.Condition {
	return metav1.Condition{
		Type:               typ,
		Status:             metav1.ConditionTrue,
		Reason:             "Connected",
		Message:            "remote API answered",
		LastTransitionTime: metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
	}
}

func TestValidateRemoteClusterConfigurationStatus(t *testing.T) {
	base := func() *v3.RemoteClusterConfiguration {
		r := rccWithSecret()
		r.Status = v3.RemoteClusterConfigurationStatus{
			ObservedGeneration: 3,
			SyncState:          v3.SyncStateInSync,
			Conditions: []metav1.Condition{
				validCondition(v3.RemoteClusterConditionConnected),
				validCondition(v3.RemoteClusterConditionSynced),
				validCondition(v3.RemoteClusterConditionRequirementsMet),
			},
			MirroredObjects: &v3.MirroredObjectCounts{WorkloadEndpoints: 10, Nodes: 3, IPPools: 1, IPAMBlocks: 4},
		}
		return r
	}
	runCases(t, base, ValidateRemoteClusterConfigurationStatus, []tcase[v3.RemoteClusterConfiguration]{
		{name: "full status"},
		{name: "empty status", mut: func(r *v3.RemoteClusterConfiguration) { r.Status = v3.RemoteClusterConfigurationStatus{} }},
		{name: "every sync state", mut: func(r *v3.RemoteClusterConfiguration) { r.Status.SyncState = v3.SyncStateConfigIncomplete }},
		{
			name: "unknown sync state",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Status.SyncState = "Broken" },
			want: []want{notSupported("status.syncState", `"Broken": supported values: "Connecting", "ResyncInProgress", "InSync", "ConnectionFailed", "ConfigIncomplete"`)},
		},
		{
			name: "condition without reason",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Status.Conditions[0].Reason = "" },
			want: []want{required("status.conditions[0].reason", "")},
		},
		{
			name: "condition with unknown status",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Status.Conditions[1].Status = "Maybe" },
			want: []want{notSupported("status.conditions[1].status", `"Maybe"`)},
		},
		{
			name: "duplicate condition type",
			mut: func(r *v3.RemoteClusterConfiguration) {
				r.Status.Conditions[2].Type = v3.RemoteClusterConditionConnected
			},
			want: []want{duplicate("status.conditions[2]", `"Connected"`)},
		},
		{
			name: "negative mirrored counts",
			mut: func(r *v3.RemoteClusterConfiguration) {
				r.Status.MirroredObjects.Nodes = -1
				r.Status.MirroredObjects.IPAMBlocks = -2
			},
			want: []want{
				invalid("status.mirroredObjects.nodes", "-1: must be greater than or equal to 0"),
				invalid("status.mirroredObjects.ipamBlocks", "-2"),
			},
		},
		{
			name: "negative observed generation",
			mut:  func(r *v3.RemoteClusterConfiguration) { r.Status.ObservedGeneration = -1 },
			want: []want{invalid("status.observedGeneration", "-1")},
		},
	})
}

// Guard against a field being added to the inline connection structs
// without being covered by the clusterAccessSecret exclusivity check.
func TestConnectionFieldsCoverInlineStructs(t *testing.T) {
	var s v3.RemoteClusterConfigurationSpec
	got := map[string]bool{}
	for _, f := range append(etcdFields(&s), kubeFields(&s)...) {
		got[f.name] = true
	}
	for _, name := range jsonFieldNames(v3.EtcdConfig{}, v3.KubeConfig{}) {
		if !got[name] {
			t.Errorf("inline connection field %q is not checked", name)
		}
	}
}
