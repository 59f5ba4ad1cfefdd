package meshctl

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// StatusRow is one RemoteClusterConfiguration of one cluster.
type StatusRow struct {
	// Context is the kubeconfig context of the cluster.
	Context string `json:"context"`
	// Remote is the RemoteClusterConfiguration's name.
	Remote string `json:"remote"`
	// Overlay is the overlay routing mode.
	Overlay string `json:"overlay"`
	// State is the sync state.
	State string `json:"state"`
	// Endpoints, Nodes and Pools are the mirrored counts.
	Endpoints int32 `json:"endpoints"`
	Nodes     int32 `json:"nodes"`
	Pools     int32 `json:"pools"`
	// Requirements is the RequirementsMet condition's status.
	Requirements string `json:"requirements"`
	// Bidirectional is "yes" when the remote cluster has a
	// RemoteClusterConfiguration back to this one, "no", or "unknown: <why>".
	Bidirectional string `json:"bidirectional"`
	// Problem is the last error, or why requirements are not met.
	Problem string `json:"problem,omitempty"`
}

func newStatusCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each cluster's remote clusters: overlay, sync state, mirrored counts, requirements",
		Long: `status prints one table per cluster (--context, repeatable; the
current context by default): every RemoteClusterConfiguration with its
overlay routing mode, sync state, mirrored endpoint, node and pool counts,
whether the mesh's requirements are met (RequirementsMet), whether the
remote cluster has a RemoteClusterConfiguration back to this one named
after this cluster's context (BIDIRECTIONAL; asked with the access Secret's
credentials when the remote is not one of the given contexts), and the last
error or unmet requirement. Then, per cluster that serves the Multi-Cluster
Services API, its ServiceExports with their conditions (Valid, Ready,
Conflict) and its ServiceImports with their type, source clusters and
ClusterSetIP (table output only).`,
		Example: `  meshctl status --context cluster-a --context cluster-b --context cluster-c
  meshctl status -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			cs, err := o.clusters()
			if err != nil {
				return err
			}
			var rows []StatusRow
			for _, c := range cs {
				list, err := c.client.ProjectcalicoV3().RemoteClusterConfigurations().List(cmd.Context(), metav1.ListOptions{})
				if err != nil {
					return fmt.Errorf("context %q: listing RemoteClusterConfigurations: %w", c.context, err)
				}
				for _, rcc := range list.Items {
					row := statusRow(c.context, &rcc)
					row.Bidirectional = bidirectional(reverseOf(cmd.Context(), c, &rcc, cs))
					rows = append(rows, row)
				}
				if len(list.Items) == 0 {
					rows = append(rows, StatusRow{Context: c.context})
				}
			}
			if err := o.printStatus(rows); err != nil || o.output != "table" {
				return err
			}
			for _, c := range cs {
				f, served, err := mcsFacts(cmd.Context(), c)
				if err != nil {
					return err
				}
				if served {
					if err := printMCS(o.out, c.context, MCSRows(f)); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}

// statusRow summarises one RemoteClusterConfiguration.
func statusRow(ctx string, rcc *v3.RemoteClusterConfiguration) StatusRow {
	row := StatusRow{Context: ctx, Remote: rcc.Name, Overlay: string(rcc.Spec.SyncOptions.OverlayRoutingMode),
		State: string(rcc.Status.SyncState), Requirements: "Unknown", Problem: rcc.Status.LastError}
	if row.State == "" {
		row.State = "Pending"
	}
	if m := rcc.Status.MirroredObjects; m != nil {
		row.Endpoints, row.Nodes, row.Pools = m.WorkloadEndpoints, m.Nodes, m.IPPools
	}
	if c := meta.FindStatusCondition(rcc.Status.Conditions, v3.RemoteClusterConditionRequirementsMet); c != nil {
		row.Requirements = string(c.Status)
		if c.Status == metav1.ConditionFalse && row.Problem == "" {
			row.Problem = c.Message
		}
	}
	return row
}

// bidirectional renders the answer of reverseOf.
func bidirectional(ok bool, err error) string {
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case ok:
		return "yes"
	}
	return "no"
}

// printStatus prints one table per cluster, in the order of rows; a row
// without Remote stands for a cluster without RemoteClusterConfigurations.
func (o *options) printStatus(rows []StatusRow) error {
	var structured []StatusRow
	for _, r := range rows {
		if r.Remote != "" {
			structured = append(structured, r)
		}
	}
	if structured == nil {
		structured = []StatusRow{}
	}
	if done, err := o.printStructured(structured); done {
		return err
	}
	var w *tabwriter.Writer
	for i, r := range rows {
		if i == 0 || rows[i-1].Context != r.Context {
			if w != nil {
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(o.out)
			}
			fmt.Fprintf(o.out, "Cluster %s:\n", r.Context)
			w = tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
			if r.Remote == "" {
				fmt.Fprintln(w, "  (no RemoteClusterConfigurations)")
				continue
			}
			fmt.Fprintln(w, "  REMOTE CLUSTER\tOVERLAY\tSTATE\tENDPOINTS\tNODES\tPOOLS\tREQUIREMENTS MET\tBIDIRECTIONAL\tPROBLEM")
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Remote, r.Overlay, r.State, r.Endpoints, r.Nodes, r.Pools, r.Requirements, r.Bidirectional, r.Problem)
	}
	if w == nil {
		return nil
	}
	return w.Flush()
}
