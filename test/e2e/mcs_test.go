package e2e

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/meshapi/meshapi/pkg/mcs"
	"github.com/meshapi/meshapi/test/e2e/framework"
)

// mcsNamespace is the namespace TestMCSControllerSync exports from.
const mcsNamespace = "mcs-e2e"

// installMCS applies artifacts/mcs (the CRDs) and names the cluster in
// the ClusterSet with the ClusterProperty cluster.clusterset.k8s.io.
func installMCS(t *testing.T, c *framework.Cluster) {
	t.Helper()
	kubectl(t, c, "", "apply", "-f", filepath.Join(framework.ArtifactsDir(), "mcs"))
	kubectl(t, c, "", "wait", "--for=condition=Established", "--timeout=60s",
		"crd/serviceexports.multicluster.x-k8s.io", "crd/serviceimports.multicluster.x-k8s.io", "crd/clusterproperties.about.k8s.io")
	kubectl(t, c, fmt.Sprintf("apiVersion: about.k8s.io/v1alpha1\nkind: ClusterProperty\nmetadata:\n  name: cluster.clusterset.k8s.io\nspec:\n  value: %s\n", c.Name), "apply", "-f", "-")
}

// mcsBackend creates a Service (clusterIP None when headless) with the
// given ports ("name:port/PROTO") over one ready pod at ip; the cluster's
// EndpointSlice controller gives it its slice.
func mcsBackend(t *testing.T, c *framework.Cluster, name, ip string, headless bool, ports ...string) {
	t.Helper()
	kubectl(t, c, "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n", "apply", "-f", "-")
	clusterIP := ""
	if headless {
		clusterIP = "\n  clusterIP: None"
	}
	var ps strings.Builder
	for _, p := range ports {
		n, rest, _ := strings.Cut(p, ":")
		num, proto, _ := strings.Cut(rest, "/")
		fmt.Fprintf(&ps, "  - name: %s\n    port: %s\n    protocol: %s\n", n, num, proto)
	}
	kubectl(t, c, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
spec:%[3]s
  selector:
    app: %[1]s
  ports:
%[4]s---
apiVersion: v1
kind: Pod
metadata:
  name: %[1]s-pod
  namespace: %[2]s
  labels:
    app: %[1]s
spec:
  nodeName: node-1
  containers:
  - name: app
    image: registry.k8s.io/pause:3.10
`, name, mcsNamespace, clusterIP, ps.String()), "apply", "-f", "-")
	// No kubelet runs here: the pod reports its IP and readiness as a kubelet would.
	kubectl(t, c, "", "patch", "pod", name+"-pod", "-n", mcsNamespace, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"conditions":[{"type":"Ready","status":"True"}]}}`, ip, ip))
}

// export creates the ServiceExport of name in c.
func export(t *testing.T, c *framework.Cluster, name string) {
	t.Helper()
	kubectl(t, c, fmt.Sprintf("apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata:\n  name: %s\n  namespace: %s\n", name, mcsNamespace), "apply", "-f", "-")
}

// importState is what a cluster shows of one ServiceImport: its type,
// ports, ips, and per source cluster the addresses (and hostnames) of
// its slices.
type importState struct {
	imp    *mcsv1alpha1.ServiceImport
	ports  string
	slices map[string]string
}

func (s importState) String() string {
	if s.imp == nil {
		return "no ServiceImport"
	}
	return fmt.Sprintf("type %s ports %s ips %v slices %v", s.imp.Spec.Type, s.ports, s.imp.Spec.IPs, s.slices)
}

// readImport reads the ServiceImport name of c and the slices written for it.
func readImport(t *testing.T, c *framework.Cluster, name string) importState {
	t.Helper()
	mc, err := mcsclientset.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	st := importState{slices: map[string]string{}}
	imp, err := mc.MulticlusterV1alpha1().ServiceImports(mcsNamespace).Get(ctxT(t), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return st
	}
	if err != nil {
		t.Fatal(err)
	}
	st.imp = imp
	var ports []string
	for _, p := range imp.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
	}
	st.ports = strings.Join(ports, ",")
	slices, err := kube.DiscoveryV1().EndpointSlices(mcsNamespace).List(ctxT(t), metav1.ListOptions{LabelSelector: mcsv1alpha1.LabelServiceName + "=" + name})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slices.Items {
		if s.Labels[discoveryv1.LabelManagedBy] != mcs.ManagedBy || s.Labels[discoveryv1.LabelServiceName] != mcs.DerivedName(mcsNamespace, name) {
			t.Errorf("slice %s labels %v: want managed-by %s and service-name %s", s.Name, s.Labels, mcs.ManagedBy, mcs.DerivedName(mcsNamespace, name))
		}
		var eps []string
		for _, ep := range s.Endpoints {
			e := strings.Join(ep.Addresses, "+")
			if ep.Hostname != nil {
				e = *ep.Hostname + "=" + e
			}
			eps = append(eps, e)
		}
		sort.Strings(eps)
		st.slices[s.Labels[mcsv1alpha1.LabelSourceCluster]] += strings.Join(eps, ",")
	}
	return st
}

// exportCondition returns "Status/Reason: message" of a ServiceExport's condition.
func exportCondition(t *testing.T, c *framework.Cluster, name, typ string) string {
	t.Helper()
	mc, err := mcsclientset.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	se, err := mc.MulticlusterV1alpha1().ServiceExports(mcsNamespace).Get(ctxT(t), name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	cond := meta.FindStatusCondition(se.Status.Conditions, typ)
	if cond == nil {
		return "no " + typ + " condition"
	}
	return fmt.Sprintf("%s/%s: %s", cond.Status, cond.Reason, cond.Message)
}

// Multi-Cluster Services on the mesh (KEP-1645), controllers only (no
// nodes): exports in B and C are imported in A with the union of their
// ports, a ClusterSetIP from the derived Service and one EndpointSlice
// per source cluster; an unexport removes that cluster's slice; a port
// conflict sets Conflict on the newer export; a headless export gives
// hostnames.
func TestMCSControllerSync(t *testing.T) {
	ctx := ctxT(t)
	a, b, c := clusters[0], clusters[1], clusters[2]
	for _, cl := range clusters {
		if err := cl.StartController(ctx); err != nil {
			t.Fatal(err)
		}
		ensureOverlay(t, cl)
		installMCS(t, cl)
		createNamespace(t, cl, mcsNamespace)
		defer deleteNamespace(t, cl, mcsNamespace)
	}
	// A imports from B and C; B and C see each other, so that each
	// knows whose export is older.
	kubeconfigs := map[*framework.Cluster]string{b: remoteKubeconfig(t, b), c: remoteKubeconfig(t, c)}
	for _, pair := range [][2]*framework.Cluster{{a, b}, {a, c}, {b, c}, {c, b}} {
		local, remote := pair[0], pair[1]
		connect(t, local, remote.Name, kubeconfigs[remote])
		defer kubectl(t, local, "", "delete", "rcc", remote.Name, "--ignore-not-found")
	}
	for _, pair := range [][2]*framework.Cluster{{a, b}, {a, c}, {b, c}, {c, b}} {
		waitSyncState(t, pair[0], clientFor(t, pair[0]), pair[1].Name, "InSync", 2*time.Minute)
	}

	mcsBackend(t, b, "web", "198.18.201.11", false, "http:80/TCP", "grpc:9000/TCP")
	mcsBackend(t, c, "web", "198.18.202.11", false, "http:80/TCP", "metrics:9090/TCP")
	export(t, b, "web")
	time.Sleep(1100 * time.Millisecond) // creationTimestamps have second precision: C's export is newer
	export(t, c, "web")

	// The import in A: the union of the ports, the derived Service's
	// ClusterIP in spec.ips, a slice from each of B and C.
	var st importState
	waitFor(t, a, 2*time.Minute, "web imported in A from B and C", func() (bool, string) {
		st = readImport(t, a, "web")
		return st.imp != nil && st.ports == "http:80/TCP,grpc:9000/TCP,metrics:9090/TCP" && len(st.imp.Spec.IPs) == 1 &&
			st.slices[b.Name] == "198.18.201.11" && st.slices[c.Name] == "198.18.202.11" && len(st.slices) == 2, st.String()
	})
	if st.imp.Spec.Type != mcsv1alpha1.ClusterSetIP {
		t.Errorf("type %s, want ClusterSetIP", st.imp.Spec.Type)
	}
	// Its status: both source clusters, slices present, Ready.
	waitFor(t, a, time.Minute, "web's import Ready in A", func() (bool, string) {
		imp := readImport(t, a, "web").imp
		if imp == nil {
			return false, "no import"
		}
		ready := meta.FindStatusCondition(imp.Status.Conditions, string(mcsv1alpha1.ServiceImportConditionReady))
		return ready != nil && ready.Status == metav1.ConditionTrue && len(imp.Status.Clusters) == 2 &&
			imp.Status.EndpointSliceObjects == mcsv1alpha1.EndpointSliceObjectsPresent, fmt.Sprintf("%+v", imp.Status)
	})
	kube, err := kubernetes.NewForConfig(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := kube.CoreV1().Services(mcsNamespace).Get(ctx, mcs.DerivedName(mcsNamespace, "web"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if derived.Spec.ClusterIP != st.imp.Spec.IPs[0] || derived.Spec.Selector != nil || len(derived.Spec.Ports) != 3 {
		t.Errorf("derived Service clusterIP %s selector %v ports %v; import ips %v", derived.Spec.ClusterIP, derived.Spec.Selector, derived.Spec.Ports, st.imp.Spec.IPs)
	}
	for _, cl := range []*framework.Cluster{b, c} {
		waitFor(t, cl, time.Minute, cl.Name+": web exported without conflict", func() (bool, string) {
			valid, conflict := exportCondition(t, cl, "web", "Valid"), exportCondition(t, cl, "web", "Conflict")
			return strings.HasPrefix(valid, "True/Valid") && strings.HasPrefix(conflict, "False/NoConflicts"), valid + "; " + conflict
		})
	}

	// Unexport in C: C's slice goes, and its port.
	kubectl(t, c, "", "delete", "serviceexport", "web", "-n", mcsNamespace)
	waitFor(t, a, time.Minute, "C's endpoints gone from web in A", func() (bool, string) {
		st = readImport(t, a, "web")
		return st.imp != nil && st.ports == "http:80/TCP,grpc:9000/TCP" && len(st.slices) == 1 && st.slices[b.Name] == "198.18.201.11", st.String()
	})

	// A port conflict: the same port name with another protocol on the
	// newer export (C's) is reported there; the import keeps B's port.
	mcsBackend(t, b, "conf", "198.18.201.12", false, "dns:53/UDP")
	mcsBackend(t, c, "conf", "198.18.202.12", false, "dns:53/TCP")
	export(t, b, "conf")
	time.Sleep(1100 * time.Millisecond)
	export(t, c, "conf")
	waitFor(t, c, time.Minute, "Conflict on C's newer export of conf", func() (bool, string) {
		cond := exportCondition(t, c, "conf", "Conflict")
		return strings.HasPrefix(cond, "True/PortConflict") && strings.Contains(cond, "cluster "+b.Name), cond
	})
	if cond := exportCondition(t, b, "conf", "Conflict"); !strings.HasPrefix(cond, "False/NoConflicts") {
		t.Errorf("B's older export of conf: Conflict %s", cond)
	}
	waitFor(t, a, time.Minute, "conf imported in A with B's port", func() (bool, string) {
		st = readImport(t, a, "conf")
		return st.imp != nil && st.ports == "dns:53/UDP" && len(st.slices) == 2, st.String()
	})

	// A headless export: a Headless import without ips, its endpoints
	// named by their Pods.
	mcsBackend(t, b, "db", "198.18.201.13", true, "pg:5432/TCP")
	export(t, b, "db")
	waitFor(t, a, time.Minute, "db imported Headless in A with hostnames", func() (bool, string) {
		st = readImport(t, a, "db")
		return st.imp != nil && st.imp.Spec.Type == mcsv1alpha1.Headless && len(st.imp.Spec.IPs) == 0 &&
			st.slices[b.Name] == "db-pod=198.18.201.13", st.String()
	})

	// The last unexport removes the import and its derived Service.
	kubectl(t, b, "", "delete", "serviceexport", "db", "-n", mcsNamespace)
	waitFor(t, a, time.Minute, "db's import gone from A", func() (bool, string) {
		st = readImport(t, a, "db")
		_, err := kube.CoreV1().Services(mcsNamespace).Get(ctx, mcs.DerivedName(mcsNamespace, "db"), metav1.GetOptions{})
		return st.imp == nil && len(st.slices) == 0 && apierrors.IsNotFound(err), st.String() + fmt.Sprintf(" derived Service: %v", err)
	})
}
