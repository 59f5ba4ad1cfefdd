package remoteaccess

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The objects this package builds are exactly the manifests users apply
// from artifacts/remote-cluster: one source of truth.
func TestIdentityEqualsArtifacts(t *testing.T) {
	dir := filepath.Join("..", "..", "artifacts", "remote-cluster")
	id := DefaultIdentity
	want := map[string]runtime.Object{
		"Namespace/calico-system":                             id.NamespaceObject(),
		"ServiceAccount/tigera-federation-remote-cluster":     id.ServiceAccountObject(),
		"ClusterRole/tigera-federation-remote-cluster":        ClusterRole(),
		"ClusterRoleBinding/tigera-federation-remote-cluster": id.ClusterRoleBinding(),
	}
	seen := map[string]bool{}
	for _, f := range []string{"federation-remote-sa.yaml", "federation-rem-rbac-kdd.yaml"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
				continue
			}
			key := head.Kind + "/" + head.Metadata.Name
			obj, ok := want[key]
			if !ok {
				t.Errorf("%s: %s is not built by this package", f, key)
				continue
			}
			seen[key] = true
			got := obj.DeepCopyObject()
			// Decode the manifest into a fresh object of the same type.
			fromFile := reflect.New(reflect.TypeOf(obj).Elem()).Interface()
			if err := yaml.UnmarshalStrict(doc, fromFile); err != nil {
				t.Fatalf("%s: %s: %v", f, key, err)
			}
			if !equality.Semantic.DeepEqual(got, fromFile) {
				a, _ := yaml.Marshal(got)
				b, _ := yaml.Marshal(fromFile)
				t.Errorf("%s: %s differs from the built object:\nbuilt:\n%s\nmanifest:\n%s", f, key, a, b)
			}
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("%s is missing from %s", key, dir)
		}
	}
}

func TestRulesEqual(t *testing.T) {
	a := ClusterRole().Rules
	b := ClusterRole().Rules
	if !rulesEqual(a, b) {
		t.Error("equal rules compare unequal")
	}
	b[1].Verbs = []string{"get"}
	if rulesEqual(a, b) {
		t.Error("different verbs compare equal")
	}
	if rulesEqual(a, a[:1]) {
		t.Error("different lengths compare equal")
	}
}

func TestAccessObjects(t *testing.T) {
	s := AccessSecret("calico-system", "cluster-b", []byte("kc"))
	if s.Name != "remote-cluster-secret-cluster-b" || string(s.Data["datastoreType"]) != "kubernetes" || string(s.Data["kubeconfig"]) != "kc" ||
		s.Labels[LabelManagedBy] != ManagedByMeshctl {
		t.Errorf("access Secret: %+v", s)
	}
	rb := SecretAccessRoleBinding("ns1")
	wantSubjects := []rbacv1.Subject{
		{Kind: "ServiceAccount", Name: "calico-typha", Namespace: "calico-system"},
		{Kind: "ServiceAccount", Name: "meshapi-apiserver", Namespace: "meshapi-system"},
	}
	if rb.Namespace != "ns1" || rb.RoleRef.Name != SecretAccessName || !reflect.DeepEqual(rb.Subjects, wantSubjects) {
		t.Errorf("RoleBinding: %+v", rb)
	}
}

// The access Role grants the named Secrets only.
func TestSecretAccessRole(t *testing.T) {
	for _, tc := range []struct {
		name      string
		names     []string
		wantNames []string
	}{
		{name: "one", names: []string{"remote-cluster-secret-b"}, wantNames: []string{"remote-cluster-secret-b"}},
		{name: "sorted without duplicates", names: []string{"remote-cluster-secret-c", "remote-cluster-secret-b", "remote-cluster-secret-c"},
			wantNames: []string{"remote-cluster-secret-b", "remote-cluster-secret-c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := SecretAccessRole("ns1", tc.names...)
			want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: tc.wantNames, Verbs: []string{"watch", "list", "get"}}}
			if r.Namespace != "ns1" || r.Name != SecretAccessName || !reflect.DeepEqual(r.Rules, want) {
				t.Errorf("Role: %+v, want rules %+v", r, want)
			}
			if got := SecretNamesGranted(r.Rules); !reflect.DeepEqual(got, tc.wantNames) {
				t.Errorf("SecretNamesGranted = %v, want %v", got, tc.wantNames)
			}
		})
	}
}
