// Package mirror holds the admission plugins that protect the mirror of
// remote clusters: objects labelled projectcalico.org/cluster are written
// only by meshapi-controller, which writes nothing else of the group but
// its pod endpoint controller's WorkloadEndpoints and Profiles and the
// status of RemoteClusterConfigurations, and are admitted without their
// namespace existing locally (a remote endpoint's namespace is its own
// cluster's).
package mirror

import (
	"context"
	"fmt"
	"io"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// Names of the plugins.
const (
	// ProtectionPluginName is the plugin that makes mirrors read-only.
	ProtectionPluginName = "MeshMirrorProtection"
	// NamespaceLifecyclePluginName replaces the upstream NamespaceLifecycle
	// under its own name, so that the recommended plugin order holds.
	NamespaceLifecyclePluginName = lifecycle.PluginName
)

// DefaultWriters returns the identity of meshapi-controller in
// artifacts/deploy/50-controller.yaml: the ServiceAccount the original
// product's documentation grants the access Secrets to.
func DefaultWriters() []string {
	return []string{"system:serviceaccount:calico-system:calico-typha"}
}

// deleters may delete mirrored objects besides the writers: the namespace
// controller and the garbage collector, which clean up a deleted namespace.
func deleters() []string {
	return []string{
		"system:serviceaccount:kube-system:namespace-controller",
		"system:serviceaccount:kube-system:generic-garbage-collector",
	}
}

// Protection rejects writes to mirrored objects by anyone but the writers.
type Protection struct {
	*admission.Handler
	writers []string
}

var _ admission.ValidationInterface = &Protection{}

// NewProtection returns the plugin allowing the given user names to write mirrors.
func NewProtection(writers []string) *Protection {
	return &Protection{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete), writers: writers}
}

// isWriter reports whether the request comes from a mirror writer.
func (p *Protection) isWriter(a admission.Attributes) bool {
	return a.GetUserInfo() != nil && slices.Contains(p.writers, a.GetUserInfo().GetName())
}

// clusterOf returns the cluster label of obj, if any.
func clusterOf(obj runtime.Object) (string, bool) {
	if obj == nil {
		return "", false
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return "", false
	}
	c, ok := o.GetLabels()[v3.LabelCluster]
	return c, ok
}

// Validate rejects the write of a mirrored object, or the marking of an
// object as mirrored, by anyone but the writers, and the write of anything
// else by a writer (see validateWriter).
func (p *Protection) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().Group != v3.GroupName {
		return nil
	}
	user := ""
	if u := a.GetUserInfo(); u != nil {
		user = u.GetName()
	}
	if p.isWriter(a) {
		return validateWriter(a, user)
	}
	if oldCluster, ok := clusterOf(a.GetOldObject()); ok {
		if a.GetOperation() == admission.Delete && slices.Contains(deleters(), user) {
			return nil
		}
		return admission.NewForbidden(a, fmt.Errorf("%s %q is mirrored from remote cluster %q and is read-only here: change it in cluster %q (or delete the RemoteClusterConfiguration %q to drop the mirror)",
			a.GetKind().Kind, a.GetName(), oldCluster, oldCluster, oldCluster))
	}
	if _, ok := clusterOf(a.GetObject()); ok && a.GetOperation() != admission.Delete {
		return admission.NewForbidden(a, fmt.Errorf("metadata.labels[%s]: the label marks objects mirrored from a remote cluster by meshapi-controller and cannot be set by %q", v3.LabelCluster, user))
	}
	return nil
}

// validateWriter lets a mirror writer write only what is its own (see
// writerOwns): the object it creates, and both the old and the new object
// of an update or a delete; besides those, the status of
// RemoteClusterConfigurations, which it reports on, and updates and
// deletes of IPAMBlocks, which its IPAM garbage collector makes, and
// MirrorBatches, whose mirrors are admitted one by one. A writer in
// system:masters may write anything: that group passes every
// authorization, and the standalone mode's single user is both.
func validateWriter(a admission.Attributes, user string) error {
	resource := a.GetResource().Resource
	if resource == "remoteclusterconfigurations" && a.GetSubresource() == "status" && a.GetOperation() == admission.Update {
		return nil
	}
	if u := a.GetUserInfo(); u != nil && slices.Contains(u.GetGroups(), userSystemMasters) {
		return nil
	}
	// meshapi-controller's IPAM garbage collector (pkg/ipamgc, same process
	// and identity) releases leaked allocations and deletes the empty blocks
	// of deleted nodes: it updates and deletes local IPAMBlocks, and never
	// creates one.
	if resource == "ipamblocks" && (a.GetOperation() == admission.Update || a.GetOperation() == admission.Delete) {
		return nil
	}
	// A MirrorBatch is never stored: each mirror in it is admitted on its
	// own, through this plugin too, by pkg/registry/projectcalico/mirrorbatch.
	if resource == "mirrorbatches" && a.GetOperation() == admission.Create {
		return nil
	}
	var notOwned string
	switch a.GetOperation() {
	case admission.Create:
		if !writerOwns(resource, a.GetObject()) {
			notOwned = "the object"
		}
	case admission.Update:
		switch {
		case !writerOwns(resource, a.GetOldObject()):
			notOwned = "the stored object"
		case !writerOwns(resource, a.GetObject()):
			notOwned = "the updated object"
		}
	case admission.Delete:
		if !writerOwns(resource, a.GetOldObject()) {
			notOwned = "the stored object"
		}
	}
	if notOwned == "" {
		return nil
	}
	return admission.NewForbidden(a, fmt.Errorf("%s %q: %s does not carry the label %s (nor, for a WorkloadEndpoint or Profile, %s=%s), and the mirror writer %q may write only objects mirrored from remote clusters, the pod endpoint controller's endpoints and profiles, the status of RemoteClusterConfigurations, and (for the IPAM garbage collector) updates and deletions of IPAMBlocks",
		a.GetKind().Kind, a.GetName(), notOwned, v3.LabelCluster, labelOrchestrator, orchestratorK8s, user))
}

// The label the pod endpoint controller (pkg/podendpoints, in the same
// process and with the same identity as the mirror writer) puts on the
// WorkloadEndpoints and Profiles it keeps for local Pods and Namespaces.
const (
	labelOrchestrator = "projectcalico.org/orchestrator"
	orchestratorK8s   = "k8s"
)

// writerOwns reports whether obj is the mirror writer's own: a mirrored
// object, or a WorkloadEndpoint or Profile of the pod endpoint controller.
func writerOwns(resource string, obj runtime.Object) bool {
	if _, ok := clusterOf(obj); ok {
		return true
	}
	if obj == nil || (resource != "workloadendpoints" && resource != "profiles") {
		return false
	}
	o, err := meta.Accessor(obj)
	return err == nil && o.GetLabels()[labelOrchestrator] == orchestratorK8s
}

// userSystemMasters is the group that passes every authorization.
const userSystemMasters = "system:masters"

// NamespaceLifecycle is the upstream NamespaceLifecycle plugin, except that
// it admits the writers' mirrored objects into namespaces that do not exist
// locally: a remote endpoint is in the namespace of that name in its own
// cluster, and the mirror never creates local namespaces. A namespace that
// exists but is terminating still refuses them, so that deleting a local
// namespace of the same name completes.
type NamespaceLifecycle struct {
	*lifecycle.Lifecycle
	protection *Protection
}

// Admit asks the upstream plugin, and overrules only its "namespace not
// found" for a writer's mirrored object.
func (l *NamespaceLifecycle) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	err := l.Lifecycle.Admit(ctx, a, o)
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	if _, mirrored := clusterOf(a.GetObject()); mirrored && a.GetResource().Group == v3.GroupName && l.protection.isWriter(a) {
		return nil
	}
	return err
}

// Register registers both plugins; writers is called when the plugins are
// built, after flags are parsed.
func Register(plugins *admission.Plugins, writers func() []string) {
	plugins.Register(ProtectionPluginName, func(io.Reader) (admission.Interface, error) {
		return NewProtection(writers()), nil
	})
	plugins.Register(NamespaceLifecyclePluginName, func(io.Reader) (admission.Interface, error) {
		upstream, err := lifecycle.NewLifecycle(sets.New(metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic))
		if err != nil {
			return nil, err
		}
		return &NamespaceLifecycle{Lifecycle: upstream, protection: NewProtection(writers())}, nil
	})
}
