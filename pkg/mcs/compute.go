package mcs

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
)

// Export is one cluster's ServiceExport of a namespace/name, with the
// Service it exports as that cluster has it.
type Export struct {
	// Cluster is the exporting cluster's id (its ClusterProperty
	// cluster.clusterset.k8s.io, the name the mesh gives it).
	Cluster string
	// Created is the ServiceExport's creationTimestamp, which orders
	// exports in conflict resolution.
	Created time.Time
	// Service is the exported Service; nil when the cluster has none of
	// that name.
	Service *corev1.Service
}

// Result is what the exports of one namespace/name amount to.
type Result struct {
	// Import is the ServiceImport's spec without spec.ips (the derived
	// Service's ClusterIP, known once it is created); nil when no export
	// is valid.
	Import *mcsv1alpha1.ServiceImportSpec
	// Sources are the clusters whose endpoints back the import: those
	// with a valid export, sorted by name.
	Sources []string
	// Conditions are, per exporting cluster, the conditions its
	// ServiceExport should have: Valid, Ready and Conflict.
	Conditions map[string][]metav1.Condition
}

// Compute applies KEP-1645 to the exports of one namespace/name, from
// every cluster of the mesh (the order of exports does not matter).
func Compute(exports []Export) Result {
	res := Result{Conditions: map[string][]metav1.Condition{}}
	valid := make([]Export, 0, len(exports))
	for _, e := range exports {
		if reason, msg := validity(e); reason != mcsv1alpha1.ServiceExportReasonValid {
			res.Conditions[e.Cluster] = []metav1.Condition{
				condition(mcsv1alpha1.ServiceExportConditionValid, metav1.ConditionFalse, reason, msg),
				condition(mcsv1alpha1.ServiceExportConditionReady, metav1.ConditionFalse, mcsv1alpha1.ServiceExportReasonPending, "the export is not valid: "+msg),
			}
			continue
		}
		valid = append(valid, e)
	}
	if len(valid) == 0 {
		return res
	}
	// "Conflict resolution policy": precedence by each ServiceExport's
	// creationTimestamp, oldest first; equal times by cluster name.
	sort.Slice(valid, func(i, j int) bool {
		if !valid[i].Created.Equal(valid[j].Created) {
			return valid[i].Created.Before(valid[j].Created)
		}
		return valid[i].Cluster < valid[j].Cluster
	})
	oldest := valid[0]
	spec := globalProperties(oldest.Service)
	union := &portUnion{}
	for _, e := range valid {
		conflicts := union.add(e)
		if e.Cluster != oldest.Cluster {
			conflicts = append(conflicts, globalConflicts(spec, e, oldest.Cluster)...)
		}
		res.Sources = append(res.Sources, e.Cluster)
		res.Conditions[e.Cluster] = []metav1.Condition{
			condition(mcsv1alpha1.ServiceExportConditionValid, metav1.ConditionTrue, mcsv1alpha1.ServiceExportReasonValid, "the Service is exported"),
			condition(mcsv1alpha1.ServiceExportConditionReady, metav1.ConditionTrue, mcsv1alpha1.ServiceExportReasonExported, "the Service is imported in the ClusterSet"),
			conflictCondition(conflicts),
		}
	}
	spec.Ports = union.ports
	sort.Strings(res.Sources)
	res.Import = &spec
	return res
}

// validity says whether an export can be imported: its Service exists
// and is not an ExternalName ("Exporting Services": ExternalName
// Services cannot be exported).
func validity(e Export) (mcsv1alpha1.ServiceExportConditionReason, string) {
	switch {
	case e.Service == nil:
		return mcsv1alpha1.ServiceExportReasonNoService, fmt.Sprintf("cluster %s has no Service of the ServiceExport's name", e.Cluster)
	case e.Service.Spec.Type == corev1.ServiceTypeExternalName:
		return mcsv1alpha1.ServiceExportReasonInvalidServiceType, fmt.Sprintf("Service %s/%s of cluster %s has spec.type ExternalName, which cannot be exported", e.Service.Namespace, e.Service.Name, e.Cluster)
	}
	return mcsv1alpha1.ServiceExportReasonValid, ""
}

// importType is Headless for a Service with clusterIP None.
func importType(s *corev1.Service) mcsv1alpha1.ServiceImportType {
	if s.Spec.ClusterIP == corev1.ClusterIPNone {
		return mcsv1alpha1.Headless
	}
	return mcsv1alpha1.ClusterSetIP
}

// globalProperties are the properties of the oldest export that the
// import takes as a whole ("Global Properties": headlessness, session
// affinity and its config, internalTrafficPolicy, trafficDistribution).
func globalProperties(s *corev1.Service) mcsv1alpha1.ServiceImportSpec {
	spec := mcsv1alpha1.ServiceImportSpec{
		Type:            importType(s),
		SessionAffinity: s.Spec.SessionAffinity,
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if s.Spec.SessionAffinityConfig != nil {
		spec.SessionAffinityConfig = s.Spec.SessionAffinityConfig.DeepCopy()
	}
	if s.Spec.InternalTrafficPolicy != nil {
		p := *s.Spec.InternalTrafficPolicy
		spec.InternalTrafficPolicy = &p
	}
	if s.Spec.TrafficDistribution != nil {
		d := *s.Spec.TrafficDistribution
		spec.TrafficDistribution = &d
	}
	return spec
}

// conflict is one property of an export that the import does not take.
type conflict struct {
	reason  mcsv1alpha1.ServiceExportConditionReason
	message string
}

// globalConflicts compares an export's global properties with the
// import's, taken from the oldest export of cluster winner.
func globalConflicts(spec mcsv1alpha1.ServiceImportSpec, e Export, winner string) []conflict {
	mine := globalProperties(e.Service)
	var out []conflict
	add := func(reason mcsv1alpha1.ServiceExportConditionReason, field string, got, want any) {
		out = append(out, conflict{reason, fmt.Sprintf("%s %v conflicts with %v of the older export of cluster %s, which the import uses", field, got, want, winner)})
	}
	if mine.Type != spec.Type {
		add(mcsv1alpha1.ServiceExportReasonTypeConflict, "type", mine.Type, spec.Type)
	}
	if mine.SessionAffinity != spec.SessionAffinity {
		add(mcsv1alpha1.ServiceExportReasonSessionAffinityConflict, "spec.sessionAffinity", mine.SessionAffinity, spec.SessionAffinity)
	} else if !apiequality.Semantic.DeepEqual(affinityTimeout(mine), affinityTimeout(spec)) {
		add(mcsv1alpha1.ServiceExportReasonSessionAffinityConfigConflict, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", deref(affinityTimeout(mine)), deref(affinityTimeout(spec)))
	}
	if !apiequality.Semantic.DeepEqual(mine.InternalTrafficPolicy, spec.InternalTrafficPolicy) {
		add(mcsv1alpha1.ServiceExportReasonInternalTrafficPolicyConflict, "spec.internalTrafficPolicy", deref(mine.InternalTrafficPolicy), deref(spec.InternalTrafficPolicy))
	}
	if !apiequality.Semantic.DeepEqual(mine.TrafficDistribution, spec.TrafficDistribution) {
		add(mcsv1alpha1.ServiceExportReasonTrafficDistributionConflict, "spec.trafficDistribution", deref(mine.TrafficDistribution), deref(spec.TrafficDistribution))
	}
	return out
}

// affinityTimeout is the ClientIP timeout of a spec's session affinity
// config, nil when unset.
func affinityTimeout(spec mcsv1alpha1.ServiceImportSpec) *int32 {
	if spec.SessionAffinityConfig == nil || spec.SessionAffinityConfig.ClientIP == nil {
		return nil
	}
	return spec.SessionAffinityConfig.ClientIP.TimeoutSeconds
}

// deref shows a pointer's value, or "unset" for nil.
func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// portUnion is the union of the exports' ports, built oldest first
// ("Service Port": the import exposes the union of the constituent
// Services' ports; a port that clashes with an older one is left out
// and reported as a PortConflict on the newer export).
type portUnion struct {
	ports []mcsv1alpha1.ServicePort
	// from is, per port of ports, the cluster that brought it.
	from []string
}

// add merges the ports of an export and returns its conflicts.
func (u *portUnion) add(e Export) []conflict {
	var out []conflict
	for _, sp := range e.Service.Spec.Ports {
		p := mcsv1alpha1.ServicePort{Name: sp.Name, Protocol: sp.Protocol, Port: sp.Port, AppProtocol: sp.AppProtocol}
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if msg, ok := u.clash(p); ok {
			out = append(out, conflict{mcsv1alpha1.ServiceExportReasonPortConflict,
				fmt.Sprintf("spec.ports %s of cluster %s %s", describePort(p), e.Cluster, msg)})
			continue
		}
		if !u.has(p) {
			u.ports = append(u.ports, p)
			u.from = append(u.from, e.Cluster)
		}
	}
	return out
}

// has reports whether the union holds a port equal to p.
func (u *portUnion) has(p mcsv1alpha1.ServicePort) bool {
	for _, q := range u.ports {
		if apiequality.Semantic.DeepEqual(p, q) {
			return true
		}
	}
	return false
}

// clash says why p cannot join the union, if it cannot: a port of the
// same name, or of the same number and protocol, that differs; or an
// unnamed port beside others (a Service with several ports names them
// all, so the derived Service could not have both).
func (u *portUnion) clash(p mcsv1alpha1.ServicePort) (string, bool) {
	for i, q := range u.ports {
		if apiequality.Semantic.DeepEqual(p, q) {
			return "", false
		}
		sameName := p.Name == q.Name
		sameNumber := p.Port == q.Port && p.Protocol == q.Protocol
		if sameName || sameNumber || p.Name == "" || q.Name == "" {
			return fmt.Sprintf("conflicts with %s of the older export of cluster %s, which the import uses", describePort(q), u.from[i]), true
		}
	}
	return "", false
}

// describePort names a port as "name 80/TCP" (appProtocol added when set).
func describePort(p mcsv1alpha1.ServicePort) string {
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	s := fmt.Sprintf("%s %d/%s", name, p.Port, p.Protocol)
	if p.AppProtocol != nil {
		s += " appProtocol " + *p.AppProtocol
	}
	return s
}

// conflictCondition is Conflict True with the first conflict's reason
// and every conflict's message, or False with NoConflicts.
func conflictCondition(cs []conflict) metav1.Condition {
	if len(cs) == 0 {
		return condition(mcsv1alpha1.ServiceExportConditionConflict, metav1.ConditionFalse, mcsv1alpha1.ServiceExportReasonNoConflicts, "the export agrees with every other export of the Service")
	}
	msgs := make([]string, len(cs))
	for i, c := range cs {
		msgs[i] = c.message
	}
	return condition(mcsv1alpha1.ServiceExportConditionConflict, metav1.ConditionTrue, cs[0].reason, strings.Join(msgs, "; "))
}

// condition builds a condition without its transition time, which
// whoever writes it sets when the status changes.
func condition(t mcsv1alpha1.ServiceExportConditionType, status metav1.ConditionStatus, reason mcsv1alpha1.ServiceExportConditionReason, msg string) metav1.Condition {
	return metav1.Condition{Type: string(t), Status: status, Reason: string(reason), Message: msg}
}
