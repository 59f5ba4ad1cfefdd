package meshcheck

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// defaultFelixName is the name of the FelixConfiguration that applies to
// every node, the only one relevant to the mesh.
const defaultFelixName = "default"

// Values of Violation.Field for the rules that are not about one
// FelixConfiguration setting. A setting's violation has the setting's JSON
// name, e.g. "routeSource" or "vxlanPort".
const (
	FieldIPPools = "ipPools"
	FieldNodes   = "nodes"
	FieldOverlay = "overlay"
)

// Violation is a requirement of the mesh that does not hold between this
// cluster and a remote cluster, or between two remote clusters.
type Violation struct {
	// Remote is the remote cluster involved.
	Remote string
	// Other is the second remote cluster of a violation between two remote
	// clusters; empty for a violation between this cluster and Remote.
	Other string
	// Field is FieldIPPools, FieldNodes, FieldOverlay or the JSON name of a
	// FelixConfiguration setting ("routeSource", "vxlanPort", ...).
	Field string
	// Message describes the violation; see the package documentation.
	Message string
}

// ViolationsFor returns the violations of vs that involve the remote
// cluster named remote (as Remote or Other), in order, e.g. to set the
// RequirementsMet condition of its RemoteClusterConfiguration. It returns
// nil when there are none.
func ViolationsFor(remote string, vs []Violation) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Remote == remote || v.Other == remote {
			out = append(out, v)
		}
	}
	return out
}

// Check evaluates every rule between this cluster (local) and each remote
// cluster, and the pool-overlap and node-name rules between every two
// remote clusters, for the controller's continuous check. Violations come
// first for this cluster and each remote cluster in order of name (pool
// overlaps, common overlay, settings, node names), then for each two
// remote clusters in order of names (pool overlaps, node names), with the
// earlier name as Remote. Remote clusters are expected to have unique
// names; two views with the same name are not compared with each other.
func Check(local ClusterView, remotes []ClusterView) []Violation {
	lv := newView(local)
	rs := sortedViews(remotes)
	var out []Violation
	for _, r := range rs {
		out = append(out, localViolations(lv, r)...)
	}
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			if rs[i].name != rs[j].name {
				out = append(out, remoteViolations(rs[i], rs[j])...)
			}
		}
	}
	return out
}

// CheckIPPool checks a pool of this cluster being created or updated
// against the own pools of every remote cluster: its CIDR must overlap
// none of them. Every overlap is reported on spec.cidr, in order of remote
// cluster name, then pool name. A pool mirrored from a remote cluster
// (labelled v3.LabelCluster) is not checked, nor is a pool whose CIDR does
// not parse (validation reports it). On an update, callers may skip the
// check when spec.cidr is unchanged.
func CheckIPPool(pool *v3.IPPool, remotes []ClusterView) field.ErrorList {
	if pool == nil || isMirrored(pool.Labels) {
		return nil
	}
	p, ok := parsePool(pool)
	if !ok {
		return nil
	}
	cidrPath := field.NewPath("spec", "cidr")
	var errs field.ErrorList
	for _, r := range sortedViews(remotes) {
		for _, pp := range overlappingPools([]parsedPool{p}, r.pools) {
			errs = append(errs, field.Invalid(cidrPath, pool.Spec.CIDR,
				fmt.Sprintf("overlaps %s of remote cluster %q", pp.b, r.name)))
		}
	}
	return errs
}

// CheckRemoteCluster checks a RemoteClusterConfiguration named rccName,
// with overlay routing enabled, that connects this cluster (local) to
// remote: every rule between this cluster and remote, then the
// pool-overlap and node-name rules between remote and each remote cluster
// already connected (others, in order of name; one named rccName, such as
// the stored version of the configuration, is skipped). The settings of
// remote are not compared with those of others: traffic between two remote
// clusters does not pass through this one. remote.Name is ignored: rccName
// names it. Every violation is reported on spec with the value rccName and
// the message of the Violation that Check reports, in the same order;
// only, between remote and another remote cluster, remote is always named
// first (Check names the earlier name first).
func CheckRemoteCluster(rccName string, local ClusterView, remote ClusterView, others []ClusterView) field.ErrorList {
	r := newView(remote)
	r.name = rccName
	vs := localViolations(newView(local), r)
	for _, o := range sortedViews(others) {
		if o.name != rccName {
			vs = append(vs, remoteViolations(r, o)...)
		}
	}
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	for _, v := range vs {
		errs = append(errs, field.Invalid(specPath, rccName, v.Message))
	}
	return errs
}

// CheckFelixConfiguration checks an update (or creation) of this cluster's
// "default" FelixConfiguration fc against each remote cluster, in order of
// name: the common-overlay rule, reported on spec as field.Forbidden, then
// the equal-settings rule, reported on the setting's field (spec.vxlanPort,
// ...) with this cluster's new effective value. local holds this cluster's
// pools and its stored FelixConfiguration (nil if none): only violations
// that the change introduces are reported, so that a cluster whose mesh is
// already out of step (which the controller reports on the
// RemoteClusterConfigurations) can still update unrelated settings. Other
// FelixConfigurations ("node.<name>" overrides) do not concern the mesh:
// the result is nil.
func CheckFelixConfiguration(fc *v3.FelixConfiguration, local ClusterView, remotes []ClusterView) field.ErrorList {
	if fc == nil || fc.Name != defaultFelixName {
		return nil
	}
	poolsVXLAN := poolsUseVXLAN(local.Pools)
	before := effectiveSettings(local.Felix, poolsVXLAN)
	after := effectiveSettings(fc, poolsVXLAN)
	var errs field.ErrorList
	for _, r := range sortedViews(remotes) {
		// An error of the new settings that the stored settings already
		// had (same field, same value, same remote value) is not new.
		existing := make(map[string]bool)
		for _, e := range felixErrors(before, r) {
			existing[e.Error()] = true
		}
		for _, e := range felixErrors(after, r) {
			if !existing[e.Error()] {
				errs = append(errs, e)
			}
		}
	}
	return errs
}

// felixErrors presents the overlay and settings rules between this
// cluster's settings s and remote r as errors on a FelixConfiguration.
func felixErrors(s settings, r view) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	if !haveCommonOverlay(s.overlays, r.settings.overlays) {
		errs = append(errs, field.Forbidden(specPath, overlayMessage(r.name, s.overlays, r.settings.overlays)))
	}
	for _, d := range differingSettings(s, r.settings) {
		errs = append(errs, field.Invalid(specPath.Child(d.name), d.this,
			fmt.Sprintf("differs from remote cluster %q (%s)", r.name, show(d.other))))
	}
	return errs
}

// localViolations evaluates every rule between this cluster l and remote
// cluster r: pool overlaps, common overlay, settings, node names.
func localViolations(l, r view) []Violation {
	var out []Violation
	add := func(field, msg string) {
		out = append(out, Violation{Remote: r.name, Field: field, Message: msg})
	}
	for _, pp := range overlappingPools(r.pools, l.pools) {
		add(FieldIPPools, fmt.Sprintf("%s of remote cluster %q overlaps local %s", pp.a, r.name, pp.b))
	}
	if !haveCommonOverlay(l.settings.overlays, r.settings.overlays) {
		add(FieldOverlay, overlayMessage(r.name, l.settings.overlays, r.settings.overlays))
	}
	for _, d := range differingSettings(l.settings, r.settings) {
		add(d.name, fmt.Sprintf("%s %s differs from remote cluster %q (%s)", d.name, show(d.this), r.name, show(d.other)))
	}
	for _, n := range commonNodes(l.nodes, r.nodes) {
		add(FieldNodes, fmt.Sprintf("node name %q is used in both this cluster and remote cluster %q", n, r.name))
	}
	return out
}

// remoteViolations evaluates the pool-overlap and node-name rules between
// remote clusters a and b.
func remoteViolations(a, b view) []Violation {
	var out []Violation
	add := func(field, msg string) {
		out = append(out, Violation{Remote: a.name, Other: b.name, Field: field, Message: msg})
	}
	for _, pp := range overlappingPools(a.pools, b.pools) {
		add(FieldIPPools, fmt.Sprintf("%s of remote cluster %q overlaps %s of remote cluster %q", pp.a, a.name, pp.b, b.name))
	}
	for _, n := range commonNodes(a.nodes, b.nodes) {
		add(FieldNodes, fmt.Sprintf("node name %q is used in both remote cluster %q and remote cluster %q", n, a.name, b.name))
	}
	return out
}

// overlayMessage describes a failed common-overlay rule.
func overlayMessage(remote string, this, other overlays) string {
	return fmt.Sprintf("no overlay in common with remote cluster %q: this cluster uses %s, %q uses %s", remote, this, remote, other)
}
