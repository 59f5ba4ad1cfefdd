package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// A remote cluster read with datastoreType etcdv3: straight from the etcd
// behind its meshapi-apiserver, with the Secret keys the original documents.
func TestRemoteSyncFromEtcd(t *testing.T) {
	ctx := ctxT(t)
	a, c := clusters[0], clusters[2]
	if err := a.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	csA, csC := clientFor(t, a), clientFor(t, c)
	createNamespace(t, c, "etcdns")
	defer kubectl(t, c, "", "delete", "namespace", "etcdns", "--wait=false")
	weps := csC.ProjectcalicoV3().WorkloadEndpoints("etcdns")
	if _, err := weps.Create(ctx, &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "host-9-k8s-db-eth0", Labels: map[string]string{"app": "db"}},
		Spec:       v3.WorkloadEndpointSpec{Node: "host-9", IPNetworks: []string{"198.18.9.1/32"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	grantSecretAccess(t, a)
	kubectl(t, a, "", "delete", "secret", "remote-cluster-secret-cluster-c", "-n", "calico-system", "--ignore-not-found")
	kubectl(t, a, "", "create", "secret", "generic", "remote-cluster-secret-cluster-c", "-n", "calico-system",
		"--from-literal=datastoreType=etcdv3", "--from-literal=etcdEndpoints="+c.MeshapiEtcdURL(),
		"--from-file=etcdCACert="+c.MeshapiEtcdCAFile, "--from-file=etcdCert="+c.MeshapiEtcdCertFile, "--from-file=etcdKey="+c.MeshapiEtcdKeyFile)
	kubectl(t, a, strings.Replace(rccYAML(c.Name), "Enabled", "Disabled", 1), "apply", "-f", "-")
	defer kubectl(t, a, "", "delete", "rcc", c.Name, "--ignore-not-found")
	waitSyncState(t, a, csA, c.Name, v3.SyncStateInSync, time.Minute)

	mirrors := csA.ProjectcalicoV3().WorkloadEndpoints("etcdns")
	waitFor(t, a, 30*time.Second, "C's endpoint mirrored from etcd", func() (bool, string) {
		w, err := mirrors.Get(ctx, "cluster-c.host-9-k8s-db-eth0", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return w.Spec.Node == "cluster-c/host-9" && w.Labels["app"] == "db", fmt.Sprintf("%+v", w)
	})
	// Changes arrive through the etcd watch.
	if _, err := weps.Create(ctx, &v3.WorkloadEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "host-9-k8s-cache-eth0"},
		Spec:       v3.WorkloadEndpointSpec{Node: "host-9", IPNetworks: []string{"198.18.9.2/32"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := weps.Delete(ctx, "host-9-k8s-db-eth0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, 30*time.Second, "the etcd watch's create and delete mirrored", func() (bool, string) {
		_, errNew := mirrors.Get(ctx, "cluster-c.host-9-k8s-cache-eth0", metav1.GetOptions{})
		_, errOld := mirrors.Get(ctx, "cluster-c.host-9-k8s-db-eth0", metav1.GetOptions{})
		return errNew == nil && apierrors.IsNotFound(errOld), fmt.Sprint(errNew, " ", errOld)
	})
}
