package meshctl

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	mcsv1alpha1 "sigs.k8s.io/mcs-api/pkg/apis/v1alpha1"
	mcsclientset "sigs.k8s.io/mcs-api/pkg/client/clientset/versioned"

	"github.com/meshapi/meshapi/pkg/mcs"
)

// Checks of Multi-Cluster Services.
const (
	// CheckMCSExports: every local ServiceExport is Valid and not in Conflict.
	CheckMCSExports = "mcs-exports"
	// CheckMCSImports: every ServiceImport has slices from each of its clusters.
	CheckMCSImports = "mcs-imports"
)

// MCSFacts are a cluster's Multi-Cluster Services objects.
type MCSFacts struct {
	// Context is the cluster's kubeconfig context.
	Context string
	// Exports and Imports are the cluster's ServiceExports and ServiceImports.
	Exports []mcsv1alpha1.ServiceExport
	Imports []mcsv1alpha1.ServiceImport
	// Slices are the EndpointSlices meshapi wrote for the imports.
	Slices []discoveryv1.EndpointSlice
}

// MCSChecks checks that every ServiceExport is Valid and has no Conflict,
// and that every ServiceImport has an EndpointSlice from each cluster
// its status.clusters lists.
func MCSChecks(f MCSFacts) []CheckResult {
	var out []CheckResult
	for _, se := range f.Exports {
		key := se.Namespace + "/" + se.Name
		line := CheckResult{Context: f.Context, Check: CheckMCSExports, Result: Pass, Detail: "ServiceExport " + key + " is Valid, without Conflict"}
		valid := meta.FindStatusCondition(se.Status.Conditions, string(mcsv1alpha1.ServiceExportConditionValid))
		conflict := meta.FindStatusCondition(se.Status.Conditions, string(mcsv1alpha1.ServiceExportConditionConflict))
		switch {
		case valid == nil:
			line.Result, line.Detail = Fail, "ServiceExport "+key+" has no Valid condition yet"
			line.Fix = "check that meshapi-controller runs with --mcs and that this cluster has its ClusterProperty cluster.clusterset.k8s.io"
		case valid.Status != metav1.ConditionTrue:
			line.Result, line.Detail = Fail, fmt.Sprintf("ServiceExport %s is not Valid: %s: %s", key, valid.Reason, valid.Message)
			line.Fix = "create the Service " + key + " (not of type ExternalName), or delete the ServiceExport"
		case conflict != nil && conflict.Status == metav1.ConditionTrue:
			line.Result, line.Detail = Fail, fmt.Sprintf("ServiceExport %s is in Conflict: %s: %s", key, conflict.Reason, conflict.Message)
			line.Fix = "make the Service agree with the older exports the message names"
		}
		out = append(out, line)
	}
	sources := map[string]map[string]bool{}
	for _, s := range f.Slices {
		key := s.Namespace + "/" + s.Labels[mcsv1alpha1.LabelServiceName]
		if sources[key] == nil {
			sources[key] = map[string]bool{}
		}
		sources[key][s.Labels[mcsv1alpha1.LabelSourceCluster]] = true
	}
	for _, imp := range f.Imports {
		key := imp.Namespace + "/" + imp.Name
		var missing []string
		for _, c := range imp.Status.Clusters {
			if !sources[key][c.Cluster] {
				missing = append(missing, c.Cluster)
			}
		}
		line := CheckResult{Context: f.Context, Check: CheckMCSImports, Result: Pass,
			Detail: fmt.Sprintf("ServiceImport %s has endpoints from %d clusters", key, len(imp.Status.Clusters))}
		ready := meta.FindStatusCondition(imp.Status.Conditions, string(mcsv1alpha1.ServiceImportConditionReady))
		switch {
		case len(missing) > 0:
			line.Result = Fail
			line.Detail = fmt.Sprintf("ServiceImport %s has no EndpointSlice from %s", key, strings.Join(missing, ", "))
			line.Fix = "check meshapi-controller's log and that the RemoteClusterConfiguration of those clusters is InSync"
		case ready != nil && ready.Status != metav1.ConditionTrue:
			line.Result = Fail
			line.Detail = fmt.Sprintf("ServiceImport %s is not Ready: %s: %s", key, ready.Reason, ready.Message)
			line.Fix = "check meshapi-controller's log and the derived Service of the import (label multicluster.kubernetes.io/service-name)"
		}
		out = append(out, line)
	}
	return out
}

// mcsFacts reads a cluster's MCS objects; served is false when the
// cluster serves no ServiceExports (the CRDs of artifacts/mcs are not
// installed).
func mcsFacts(ctx context.Context, c cluster) (f MCSFacts, served bool, err error) {
	f.Context = c.context
	client, err := mcsclientset.NewForConfig(c.config)
	if err != nil {
		return f, false, err
	}
	exports, err := client.MulticlusterV1alpha1().ServiceExports("").List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return f, false, nil
	}
	if err != nil {
		return f, false, fmt.Errorf("context %q: listing ServiceExports: %w", c.context, err)
	}
	imports, err := client.MulticlusterV1alpha1().ServiceImports("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return f, false, fmt.Errorf("context %q: listing ServiceImports: %w", c.context, err)
	}
	slices, err := c.kube.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelManagedBy + "=" + mcs.ManagedBy})
	if err != nil {
		return f, false, fmt.Errorf("context %q: listing the EndpointSlices of ServiceImports: %w", c.context, err)
	}
	f.Exports, f.Imports, f.Slices = exports.Items, imports.Items, slices.Items
	return f, true, nil
}

// mcsCheckCluster runs MCSChecks on a cluster; nothing when it serves no
// ServiceExports.
func mcsCheckCluster(ctx context.Context, c cluster) ([]CheckResult, error) {
	f, served, err := mcsFacts(ctx, c)
	if err != nil || !served {
		return nil, err
	}
	return MCSChecks(f), nil
}

// MCSRow is one ServiceExport or ServiceImport in meshctl status.
type MCSRow struct {
	// Kind is ServiceExport or ServiceImport.
	Kind string
	// Name is namespace/name.
	Name string
	// Type is an import's type; empty for an export.
	Type string
	// Conditions are an export's Type=Status(Reason); an import's Ready, if set.
	Conditions string
	// Clusters are an import's source clusters; IPs its spec.ips.
	Clusters, IPs string
}

// MCSRows lists a cluster's exports and imports, sorted by kind and name.
func MCSRows(f MCSFacts) []MCSRow {
	var rows []MCSRow
	for _, se := range f.Exports {
		rows = append(rows, MCSRow{Kind: mcsv1alpha1.ServiceExportKindName, Name: se.Namespace + "/" + se.Name, Conditions: conditionSummary(se.Status.Conditions)})
	}
	for _, imp := range f.Imports {
		var clusters []string
		for _, c := range imp.Status.Clusters {
			clusters = append(clusters, c.Cluster)
		}
		rows = append(rows, MCSRow{Kind: mcsv1alpha1.ServiceImportKindName, Name: imp.Namespace + "/" + imp.Name, Type: string(imp.Spec.Type),
			Conditions: conditionSummary(imp.Status.Conditions), Clusters: strings.Join(clusters, ","), IPs: strings.Join(imp.Spec.IPs, ",")})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Kind != rows[j].Kind {
			return rows[i].Kind < rows[j].Kind
		}
		return rows[i].Name < rows[j].Name
	})
	return rows
}

// conditionSummary shows conditions as Type=Status(Reason).
func conditionSummary(cs []metav1.Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason)
	}
	return strings.Join(parts, " ")
}

// printMCS prints a cluster's multi-cluster services table, nothing when
// it has none.
func printMCS(out io.Writer, context string, rows []MCSRow) error {
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(out, "\nMulti-cluster services of %s:\n", context)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  KIND\tNAME\tTYPE\tCLUSTERS\tIPS\tCONDITIONS")
	for _, r := range rows {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, r.Name, orDash(r.Type), orDash(r.Clusters), orDash(r.IPs), orDash(r.Conditions))
	}
	return w.Flush()
}
