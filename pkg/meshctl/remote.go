package meshctl

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// remoteTimeout bounds each request meshctl makes to a remote cluster with
// the credentials of an access Secret.
const remoteTimeout = 10 * time.Second

// accessConfig reads the access Secret of rcc in c and returns the client
// configuration the controller uses for the remote cluster, and the
// Secret's resourceVersion once it was read.
func accessConfig(ctx context.Context, c cluster, rcc *v3.RemoteClusterConfiguration) (cfg *rest.Config, secretVersion string, err error) {
	ref := rcc.Spec.ClusterAccessSecret
	if ref == nil {
		return nil, "", fmt.Errorf("RemoteClusterConfiguration %s has no spec.clusterAccessSecret (inline connection fields are not checked)", rcc.Name)
	}
	secret, err := c.kube.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("reading Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	access, err := remoteaccess.ParseAccessSecret(secret)
	if err != nil {
		return nil, secret.ResourceVersion, err
	}
	if access.Kubernetes == nil {
		return nil, secret.ResourceVersion, fmt.Errorf("Secret %s/%s: datastoreType %q is not checked by meshctl (only kubernetes)", ref.Namespace, ref.Name, access.DatastoreType)
	}
	cfg = rest.CopyConfig(access.Kubernetes)
	cfg.Timeout = remoteTimeout
	return cfg, secret.ResourceVersion, nil
}

// reverseOf tells whether the remote cluster of rcc (a cluster of the mesh
// named by local's context) has a RemoteClusterConfiguration back to local,
// named after local's context. It asks the remote directly when it is one
// of given, else with the credentials of rcc's access Secret.
func reverseOf(ctx context.Context, local cluster, rcc *v3.RemoteClusterConfiguration, given []cluster) (bool, error) {
	var client versioned.Interface
	for _, g := range given {
		if g.context == rcc.Name {
			client = g.client
		}
	}
	if client == nil {
		cfg, _, err := accessConfig(ctx, local, rcc)
		if err != nil {
			return false, err
		}
		if client, err = versioned.NewForConfig(cfg); err != nil {
			return false, fmt.Errorf("client for remote cluster %q: %w", rcc.Name, err)
		}
	}
	_, err := client.ProjectcalicoV3().RemoteClusterConfigurations().Get(ctx, local.context, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading RemoteClusterConfiguration %s in %q: %w", local.context, rcc.Name, err)
	}
	return true, nil
}
