// Package meshrequirements is the admission plugin that enforces the
// mesh's requirements at write time: a local IPPool must not overlap a
// remote cluster's pools; a RemoteClusterConfiguration with overlay routing
// must connect a cluster with non-overlapping pools, equal routeSource and
// overlay settings, an overlay in common and distinct node names; the
// "default" FelixConfiguration must keep those settings equal. The remote
// side is read from the mirror meshapi-controller keeps, or, for a
// RemoteClusterConfiguration that has none yet, from the remote cluster
// itself with a short timeout. An unreachable remote admits with a warning;
// the controller then reports the condition RequirementsMet.
//
// The plugin reads the access Secret an RCC names only when the requesting
// user may get that Secret (a SubjectAccessReview on the user's behalf), so
// that meshapi-apiserver is no confused deputy: a user who may not read it
// learns nothing about it, not even whether it exists. meshapi-apiserver
// itself reads only the Secrets the access Role grants it by name.
package meshrequirements

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/client-go/kubernetes"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	informers "github.com/meshapi/meshapi/pkg/generated/informers/externalversions"
	listers "github.com/meshapi/meshapi/pkg/generated/listers/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/meshcheck"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// PluginName is the plugin's name in --enable-admission-plugins.
const PluginName = "MeshRequirements"

// AnnotationSkip, set on the object being written (any value: the reason),
// admits it despite violations, which are returned as warnings: for
// migrations where a requirement is knowingly broken for a while.
const AnnotationSkip = "projectcalico.org/skip-mesh-requirements"

// FetchTimeout bounds reading a remote cluster that has no mirror yet.
const FetchTimeout = 3 * time.Second

// Plugin enforces the mesh's requirements.
type Plugin struct {
	*admission.Handler
	rccs  listers.RemoteClusterConfigurationLister
	pools listers.IPPoolLister
	nodes listers.NodeLister
	felix listers.FelixConfigurationLister
	kube  kubernetes.Interface
	authz authorizer.Authorizer
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin; it needs SetMeshInformers before use, and
// SetExternalKubeClientSet to read access Secrets.
func New() *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update)}
}

// Register registers the plugin.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) { return New(), nil })
}

// WantsMeshInformers is implemented by plugins that read
// projectcalico.org/v3 through informers.
type WantsMeshInformers interface {
	SetMeshInformers(informers.SharedInformerFactory)
}

// Initializer hands the API server's own informers to plugins.
type Initializer struct {
	// Informers is a factory on the server's loopback client.
	Informers informers.SharedInformerFactory
}

// Initialize gives the plugin the informers if it wants them.
func (i Initializer) Initialize(p admission.Interface) {
	if w, ok := p.(WantsMeshInformers); ok {
		w.SetMeshInformers(i.Informers)
	}
}

// SetMeshInformers registers the informers the plugin reads; it admits
// nothing until they have synced.
func (p *Plugin) SetMeshInformers(f informers.SharedInformerFactory) {
	v3i := f.Projectcalico().V3()
	rcc, pool, node, fc := v3i.RemoteClusterConfigurations(), v3i.IPPools(), v3i.Nodes(), v3i.FelixConfigurations()
	p.rccs, p.pools, p.nodes, p.felix = rcc.Lister(), pool.Lister(), node.Lister(), fc.Lister()
	synced := []func() bool{rcc.Informer().HasSynced, pool.Informer().HasSynced, node.Informer().HasSynced, fc.Informer().HasSynced}
	p.SetReadyFunc(func() bool {
		for _, s := range synced {
			if !s() {
				return false
			}
		}
		return true
	})
}

// SetExternalKubeClientSet gives the plugin the client it reads access
// Secrets with.
func (p *Plugin) SetExternalKubeClientSet(c kubernetes.Interface) { p.kube = c }

// SetAuthorizer gives the plugin the authorizer it asks whether the
// requesting user may read an access Secret; without one it reads none.
func (p *Plugin) SetAuthorizer(a authorizer.Authorizer) { p.authz = a }

// ValidateInitialization checks that the informers were set.
func (p *Plugin) ValidateInitialization() error {
	if p.rccs == nil {
		return fmt.Errorf("%s needs the projectcalico.org/v3 informers", PluginName)
	}
	return nil
}

// Validate checks IPPools, RemoteClusterConfigurations and the "default"
// FelixConfiguration against the mesh.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().Group != v3.GroupName || a.GetSubresource() != "" {
		return nil
	}
	var errs field.ErrorList
	var skip string
	switch obj := a.GetObject().(type) {
	case *v3.IPPool:
		if _, mirrored := obj.Labels[v3.LabelCluster]; mirrored {
			return nil
		}
		if !p.WaitForReady() {
			return admission.NewForbidden(a, fmt.Errorf("not yet ready to check the mesh's requirements"))
		}
		remotes, err := p.mirroredRemotes("")
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		errs, skip = meshcheck.CheckIPPool(obj, remotes), obj.Annotations[AnnotationSkip]
	case *v3.FelixConfiguration:
		if obj.Name != "default" {
			return nil
		}
		if !p.WaitForReady() {
			return admission.NewForbidden(a, fmt.Errorf("not yet ready to check the mesh's requirements"))
		}
		local, err := p.localView()
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		local.Felix = nil
		if old, ok := a.GetOldObject().(*v3.FelixConfiguration); ok {
			local.Felix = old
		}
		remotes, err := p.mirroredRemotes("")
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		errs, skip = meshcheck.CheckFelixConfiguration(obj, local, remotes), obj.Annotations[AnnotationSkip]
	case *v3.RemoteClusterConfiguration:
		if obj.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled {
			return nil
		}
		if !p.WaitForReady() {
			return admission.NewForbidden(a, fmt.Errorf("not yet ready to check the mesh's requirements"))
		}
		var err error
		errs, err = p.checkRemoteCluster(ctx, obj, a.GetOldObject(), a.GetUserInfo())
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		skip = obj.Annotations[AnnotationSkip]
	default:
		return nil
	}
	if len(errs) == 0 {
		return nil
	}
	if skip != "" {
		for _, e := range errs {
			warning.AddWarning(ctx, "", fmt.Sprintf("mesh requirement not met, admitted because of %s (%q): %s", AnnotationSkip, skip, e.Error()))
		}
		return nil
	}
	return apierrors.NewInvalid(a.GetKind().GroupKind(), a.GetName(), errs)
}

// checkRemoteCluster compares this cluster with the RCC's remote cluster
// and the other remote clusters.
func (p *Plugin) checkRemoteCluster(ctx context.Context, rcc *v3.RemoteClusterConfiguration, old any, requester user.Info) (field.ErrorList, error) {
	local, err := p.localView()
	if err != nil {
		return nil, err
	}
	others, err := p.mirroredRemotes(rcc.Name)
	if err != nil {
		return nil, err
	}
	// The mirror speaks for the remote once the controller has it in sync;
	// before that, ask the remote cluster itself.
	var remote meshcheck.ClusterView
	if prev, ok := old.(*v3.RemoteClusterConfiguration); ok && prev.Status.SyncState == v3.SyncStateInSync &&
		prev.Spec.SyncOptions.OverlayRoutingMode == v3.OverlayRoutingModeEnabled {
		if remote, err = p.mirroredView(rcc.Name); err != nil {
			return nil, err
		}
	} else if remote, err = p.fetch(ctx, rcc, requester); err != nil {
		warning.AddWarning(ctx, "", fmt.Sprintf("the mesh's requirements were not checked against remote cluster %q: %v; meshapi-controller reports them in status.conditions[RequirementsMet] once it connects", rcc.Name, err))
		return nil, nil
	}
	return meshcheck.CheckRemoteCluster(rcc.Name, local, remote, others), nil
}

// fetch reads the remote cluster's view through its access, reading an
// access Secret only if requester may.
func (p *Plugin) fetch(ctx context.Context, rcc *v3.RemoteClusterConfiguration, requester user.Info) (meshcheck.ClusterView, error) {
	if s := rcc.Spec; s.ClusterAccessSecret == nil && (s.Kubeconfig != "" || s.K8sCAFile != "") {
		// Files on meshapi-controller's host: meshapi-apiserver does not
		// open files of its own host for whoever writes an RCC.
		return meshcheck.ClusterView{}, fmt.Errorf("spec.kubeconfig and spec.k8sCAFile name files on meshapi-controller's host, which meshapi-apiserver does not read")
	}
	if ref := rcc.Spec.ClusterAccessSecret; ref != nil {
		if p.kube == nil {
			return meshcheck.ClusterView{}, fmt.Errorf("this server cannot read Secrets (standalone mode)")
		}
		if err := p.mayReadSecret(ctx, requester, ref.Namespace, ref.Name); err != nil {
			return meshcheck.ClusterView{}, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	access, _, err := remoteaccess.ReadAccess(ctx, p.kube, rcc)
	var ce *remoteaccess.ConfigError
	if errors.As(err, &ce) && ce.Reason == "SecretForbidden" {
		return meshcheck.ClusterView{}, fmt.Errorf("meshapi-apiserver may not read Secret %s/%s: the Role %s in %s must name it in resourceNames and its RoleBinding must bind ServiceAccount %s/%s (meshctl connect does both)",
			rcc.Spec.ClusterAccessSecret.Namespace, rcc.Spec.ClusterAccessSecret.Name, remoteaccess.SecretAccessName, rcc.Spec.ClusterAccessSecret.Namespace,
			remoteaccess.APIServerNamespace, remoteaccess.APIServerServiceAccount)
	}
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	return fetchView(ctx, rcc.Name, access)
}

// mayReadSecret asks the authorizer whether requester may get the Secret
// namespace/name. The answer does not depend on whether the Secret exists,
// and neither does the error, so a refusal reveals nothing about it.
func (p *Plugin) mayReadSecret(ctx context.Context, requester user.Info, namespace, name string) error {
	notChecked := fmt.Errorf("you may not get Secret %s/%s, which spec.clusterAccessSecret names, so meshapi-apiserver did not read it", namespace, name)
	if p.authz == nil || requester == nil {
		return notChecked
	}
	decision, _, err := p.authz.Authorize(ctx, authorizer.AttributesRecord{
		User: requester, Verb: "get", Namespace: namespace, APIGroup: "", APIVersion: "v1",
		Resource: "secrets", Name: name, ResourceRequest: true,
	})
	if err != nil || decision != authorizer.DecisionAllow {
		return notChecked
	}
	return nil
}

// localView is this cluster's own pools, nodes and settings.
func (p *Plugin) localView() (meshcheck.ClusterView, error) {
	own, err := labels.Parse("!" + v3.LabelCluster)
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	return p.view("", own)
}

// mirroredView is one remote cluster's mirror.
func (p *Plugin) mirroredView(cluster string) (meshcheck.ClusterView, error) {
	return p.view(cluster, labels.SelectorFromSet(labels.Set{v3.LabelCluster: cluster}))
}

func (p *Plugin) view(name string, sel labels.Selector) (meshcheck.ClusterView, error) {
	pools, err := p.pools.List(sel)
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	nodes, err := p.nodes.List(sel)
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	felix, err := p.felix.List(sel)
	if err != nil {
		return meshcheck.ClusterView{}, err
	}
	return meshcheck.BuildView(name, pools, nodes, felix), nil
}

// mirroredRemotes are the mirrors of every remote cluster with overlay
// routing that has synced at least once, except the one named except.
func (p *Plugin) mirroredRemotes(except string) ([]meshcheck.ClusterView, error) {
	rccs, err := p.rccs.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var views []meshcheck.ClusterView
	for _, rcc := range rccs {
		// A remote whose mirror has never synced is unknown, not empty.
		if rcc.Name == except || rcc.Spec.SyncOptions.OverlayRoutingMode != v3.OverlayRoutingModeEnabled || rcc.Status.LastSyncTime == nil {
			continue
		}
		v, err := p.mirroredView(rcc.Name)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}
