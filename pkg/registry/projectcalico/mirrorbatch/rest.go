// Package mirrorbatch serves MirrorBatches: many mirrors of one remote
// cluster's WorkloadEndpoints created in one request, each authorized,
// admitted and validated as its own create would be (see v3.MirrorBatch).
// A batch is never stored; its create answers with a result per mirror.
package mirrorbatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// workers is how many mirrors of a batch are written at once: each write
// waits for its etcd commit, and etcd commits concurrent writes together.
const workers = 8

// endpointResource is what each mirror of a batch is a create of.
var endpointResource = v3.SchemeGroupVersion.WithResource("workloadendpoints")

// REST is the create-only MirrorBatch resource.
type REST struct {
	endpoints  rest.Creater
	authorizer authorizer.Authorizer
	admit      admission.Interface
	objects    admission.ObjectInterfaces
}

var (
	_ rest.Creater              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST returns the MirrorBatch resource, writing through endpoints (the
// WorkloadEndpoint store), checking each mirror with authz and the server's
// admission chain admit (nil: none), whose plugins see the objects through
// objects.
func NewREST(endpoints rest.Creater, authz authorizer.Authorizer, admit admission.Interface, objects admission.ObjectInterfaces) (*REST, error) {
	if endpoints == nil || authz == nil || objects == nil {
		return nil, fmt.Errorf("mirrorbatches: the WorkloadEndpoint store, an authorizer and the admission object interfaces are required")
	}
	return &REST{endpoints: endpoints, authorizer: authz, admit: admit, objects: objects}, nil
}

// New returns an empty MirrorBatch.
func (r *REST) New() runtime.Object { return &v3.MirrorBatch{} }

// Destroy does nothing: the WorkloadEndpoint store is its own resource's.
func (r *REST) Destroy() {}

// NamespaceScoped is false: a batch's mirrors name their namespaces.
func (r *REST) NamespaceScoped() bool { return false }

// GetSingularName returns "mirrorbatch".
func (r *REST) GetSingularName() string { return "mirrorbatch" }

// Create writes the batch's mirrors and answers with their results. The
// batch as a whole fails only when it is malformed or its own admission
// refuses it; a mirror that cannot be stored has its reason in its result
// and the others are stored.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	batch, ok := obj.(*v3.MirrorBatch)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a MirrorBatch: %T", obj))
	}
	if errs := validateBatch(batch); len(errs) > 0 {
		return nil, apierrors.NewInvalid(v3.SchemeGroupVersion.WithKind("MirrorBatch").GroupKind(), batch.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, batch); err != nil {
			return nil, err
		}
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewForbidden(v3.Resource("mirrorbatches"), "", fmt.Errorf("no user in the request"))
	}
	w := &writer{r: r, user: u, cluster: batch.Spec.Cluster, allowed: map[string]error{}}
	if options != nil {
		w.dryRun = options.DryRun
	}
	out := &v3.MirrorBatch{TypeMeta: batch.TypeMeta, ObjectMeta: batch.ObjectMeta}
	out.Spec.Cluster = batch.Spec.Cluster
	out.Status.Results = w.createAll(ctx, batch.Spec.WorkloadEndpoints)
	return out, nil
}

// validateBatch checks what a batch must be whatever its mirrors hold.
func validateBatch(b *v3.MirrorBatch) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for _, msg := range validation.IsDNS1123Label(b.Spec.Cluster) {
		errs = append(errs, field.Invalid(spec.Child("cluster"), b.Spec.Cluster, msg))
	}
	if n := len(b.Spec.WorkloadEndpoints); n > v3.MaxMirrorBatchItems {
		errs = append(errs, field.TooMany(spec.Child("workloadEndpoints"), n, v3.MaxMirrorBatchItems))
	}
	return errs
}

// writer writes the mirrors of one batch.
type writer struct {
	r       *REST
	user    user.Info
	cluster string
	// dryRun is the batch's dryRun option, which each mirror's create has.
	dryRun []string

	mu      sync.Mutex
	allowed map[string]error // by namespace: nil when the user may create endpoints there
}

// createAll creates eps with workers at a time and returns their results
// in order.
func (w *writer) createAll(ctx context.Context, eps []v3.WorkloadEndpoint) []v3.MirrorResult {
	results := make([]v3.MirrorResult, len(eps))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(eps)) {
		wg.Go(func() {
			for i := range next {
				results[i] = w.create(ctx, &eps[i])
			}
		})
	}
	for i := range eps {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// create stores one mirror, as a create of it on its own would, but for
// its managed fields.
func (w *writer) create(ctx context.Context, ep *v3.WorkloadEndpoint) v3.MirrorResult {
	res := v3.MirrorResult{Namespace: ep.Namespace, Name: ep.Name}
	if err := w.check(ctx, ep); err != nil {
		return failed(res, err)
	}
	ctx = genericapirequest.WithNamespace(ctx, ep.Namespace)
	opts := &metav1.CreateOptions{DryRun: w.dryRun}
	attrs := admission.NewAttributesRecord(ep, nil, v3.SchemeGroupVersion.WithKind("WorkloadEndpoint"), ep.Namespace, ep.Name,
		endpointResource, "", admission.Create, opts, len(w.dryRun) > 0, w.user)
	if m, ok := w.r.admit.(admission.MutationInterface); ok && m.Handles(admission.Create) {
		if err := m.Admit(ctx, attrs, w.r.objects); err != nil {
			return failed(res, err)
		}
	}
	var validate rest.ValidateObjectFunc
	if w.r.admit != nil {
		validate = rest.AdmissionToValidateObjectFunc(w.r.admit, attrs, w.r.objects)
	}
	stored, err := w.r.endpoints.Create(ctx, ep, validate, opts)
	if err != nil {
		return failed(res, err)
	}
	m, ok := stored.(metav1.Object)
	if !ok {
		return failed(res, fmt.Errorf("stored %T has no metadata", stored))
	}
	res.Code, res.UID, res.ResourceVersion = http.StatusCreated, m.GetUID(), m.GetResourceVersion()
	return res
}

// check refuses what is not a mirror of the batch's cluster, and what the
// user may not create.
func (w *writer) check(ctx context.Context, ep *v3.WorkloadEndpoint) error {
	gk := v3.SchemeGroupVersion.WithKind("WorkloadEndpoint").GroupKind()
	path := field.NewPath("metadata")
	switch {
	case ep.Namespace == "":
		return apierrors.NewInvalid(gk, ep.Name, field.ErrorList{field.Required(path.Child("namespace"), "a mirror of a batch names its namespace")})
	case ep.Labels[v3.LabelCluster] != w.cluster:
		return apierrors.NewInvalid(gk, ep.Name, field.ErrorList{field.Invalid(path.Child("labels").Key(v3.LabelCluster), ep.Labels[v3.LabelCluster],
			fmt.Sprintf("a mirror of the batch's cluster %q carries it in this label", w.cluster))})
	case !strings.HasPrefix(ep.Name, v3.MirrorName(w.cluster, "")) || ep.Name == v3.MirrorName(w.cluster, ""):
		return apierrors.NewInvalid(gk, ep.Name, field.ErrorList{field.Invalid(path.Child("name"), ep.Name,
			fmt.Sprintf("a mirror of the batch's cluster %q is named %q", w.cluster, v3.MirrorName(w.cluster, "<name>")))})
	}
	return w.authorize(ctx, ep.Namespace)
}

// authorize tells whether the user may create WorkloadEndpoints in ns,
// asking the authorizer once per namespace of the batch.
func (w *writer) authorize(ctx context.Context, ns string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err, seen := w.allowed[ns]; seen {
		return err
	}
	decision, reason, err := w.r.authorizer.Authorize(ctx, authorizer.AttributesRecord{
		User: w.user, Verb: "create", Namespace: ns, APIGroup: endpointResource.Group, APIVersion: endpointResource.Version,
		Resource: endpointResource.Resource, ResourceRequest: true,
	})
	switch {
	case err != nil:
		err = apierrors.NewInternalError(fmt.Errorf("authorizing create of workloadendpoints in namespace %s: %w", ns, err))
	case decision != authorizer.DecisionAllow:
		err = apierrors.NewForbidden(endpointResource.GroupResource(), "", fmt.Errorf("user %q cannot create workloadendpoints in namespace %q: %s", w.user.GetName(), ns, reason))
	}
	w.allowed[ns] = err
	return err
}

// failed records err in res as the Status of a create would carry it.
func failed(res v3.MirrorResult, err error) v3.MirrorResult {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		st = apierrors.NewInternalError(err)
	}
	s := st.Status()
	res.Code, res.Reason, res.Message = s.Code, s.Reason, s.Message
	return res
}
