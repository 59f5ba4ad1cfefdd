package controller

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

// ClusterIDProperty is the ClusterProperty (KEP-2149) naming this
// cluster in the ClusterSet.
const ClusterIDProperty = "cluster.clusterset.k8s.io"

// ClusterPropertyResource is the ClusterProperty CRD's resource
// (artifacts/mcs/about.k8s.io_clusterproperties.yaml).
var ClusterPropertyResource = schema.GroupVersionResource{Group: "about.k8s.io", Version: "v1alpha1", Resource: "clusterproperties"}

// waitPeriod is how often the controller looks again for what it waits
// for (the MCS CRDs, the cluster id).
const waitPeriod = 10 * time.Second

// waitServed waits until the local cluster serves ServiceExports and
// ServiceImports (the CRDs of artifacts/mcs).
func (c *Controller) waitServed(ctx context.Context) error {
	logged := false
	return wait.PollUntilContextCancel(ctx, waitPeriod, true, func(ctx context.Context) (bool, error) {
		list, err := c.kube.Discovery().ServerResourcesForGroupVersion(mcsv1alpha1.GroupVersion.String())
		if err == nil {
			found := 0
			for _, r := range list.APIResources {
				if r.Name == mcsv1alpha1.ServiceExportPluralName || r.Name == mcsv1alpha1.ServiceImportPluralName {
					found++
				}
			}
			if found == 2 {
				return true, nil
			}
		}
		if !logged {
			klog.FromContext(ctx).Info("Waiting for the local cluster to serve ServiceExports and ServiceImports (kubectl apply -f artifacts/mcs/)", "groupVersion", mcsv1alpha1.GroupVersion.String(), "err", err)
			logged = true
		}
		return false, nil
	})
}

// clusterID returns the local cluster's id: the ClusterProperty
// cluster.clusterset.k8s.io, created from Config.ClusterID when absent.
func (c *Controller) clusterID(ctx context.Context) (string, error) {
	if c.cfg.ClusterID != "" {
		if errs := validation.IsDNS1123Label(c.cfg.ClusterID); len(errs) > 0 {
			return "", fmt.Errorf("--mcs-cluster-id %q is not a DNS label: %v", c.cfg.ClusterID, errs)
		}
	}
	var id string
	logged := false
	err := wait.PollUntilContextCancel(ctx, waitPeriod, true, func(ctx context.Context) (bool, error) {
		var err error
		id, err = c.readClusterID(ctx)
		if err == nil && id != "" {
			return true, nil
		}
		if !logged {
			klog.FromContext(ctx).Info("Waiting for this cluster's id: create the ClusterProperty "+ClusterIDProperty+" (artifacts/mcs/README.md) or start with --mcs-cluster-id", "err", err)
			logged = true
		}
		return false, nil
	})
	if err != nil {
		return "", err
	}
	if c.cfg.ClusterID != "" && id != c.cfg.ClusterID {
		return "", fmt.Errorf("--mcs-cluster-id %q differs from the ClusterProperty %s, %q: a cluster's id must not change while it is in the ClusterSet", c.cfg.ClusterID, ClusterIDProperty, id)
	}
	return id, nil
}

// readClusterID reads the ClusterProperty, creating it from
// Config.ClusterID when absent and the flag is set.
func (c *Controller) readClusterID(ctx context.Context) (string, error) {
	client := c.dyn.Resource(ClusterPropertyResource)
	obj, err := client.Get(ctx, ClusterIDProperty, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && c.cfg.ClusterID != "" {
		obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": ClusterPropertyResource.GroupVersion().String(), "kind": "ClusterProperty",
			"metadata": map[string]any{"name": ClusterIDProperty},
			"spec":     map[string]any{"value": c.cfg.ClusterID},
		}}
		obj, err = client.Create(ctx, obj, metav1.CreateOptions{FieldManager: "meshapi-controller"})
	}
	if err != nil {
		return "", fmt.Errorf("reading the ClusterProperty %s: %w", ClusterIDProperty, err)
	}
	value, _, err := unstructured.NestedString(obj.Object, "spec", "value")
	if err != nil {
		return "", fmt.Errorf("ClusterProperty %s: spec.value: %w", ClusterIDProperty, err)
	}
	if errs := validation.IsDNS1123Label(value); len(errs) > 0 {
		return "", fmt.Errorf("ClusterProperty %s: spec.value %q is not a DNS label: %v", ClusterIDProperty, value, errs)
	}
	return value, nil
}
