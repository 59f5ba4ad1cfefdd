package meshctl

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

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
	// Problem is the last error, or why requirements are not met.
	Problem string `json:"problem,omitempty"`
}

func newStatusCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each cluster's remote clusters: overlay, sync state, mirrored counts, requirements",
		Long: `status prints, for each cluster (--context, repeatable), every
RemoteClusterConfiguration with its overlay routing mode, sync state,
mirrored endpoint, node and pool counts, whether the mesh's requirements
are met, and the last error or unmet requirement.

  meshctl status --context cluster-a --context cluster-b`,
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
					rows = append(rows, statusRow(c.context, &rcc))
				}
			}
			return o.printStatus(rows)
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

func (o *options) printStatus(rows []StatusRow) error {
	switch o.output {
	case "yaml":
		b, err := yaml.Marshal(rows)
		if err != nil {
			return err
		}
		_, err = o.out.Write(b)
		return err
	case "json":
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.out, string(b))
		return err
	}
	w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONTEXT\tREMOTE CLUSTER\tOVERLAY\tSTATE\tENDPOINTS\tNODES\tPOOLS\tREQUIREMENTS MET\tPROBLEM")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Context, r.Remote, r.Overlay, r.State, r.Endpoints, r.Nodes, r.Pools, r.Requirements, r.Problem)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no RemoteClusterConfigurations)")
	}
	return w.Flush()
}
