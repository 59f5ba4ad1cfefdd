package meshctl

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/selector"
)

// EvalResult is what eval prints with -o yaml|json.
type EvalResult struct {
	// Selector is the canonical form of the evaluated selector.
	Selector string `json:"selector"`
	// Endpoints are the matching endpoints.
	Endpoints []EvalEndpoint `json:"endpoints"`
}

// EvalEndpoint is one endpoint that matches.
type EvalEndpoint struct {
	// Kind is "Workload endpoint" or "Host endpoint".
	Kind string `json:"kind"`
	// Name is the endpoint as the original prints it:
	// <node>/<orchestrator>/<namespace>.<pod>/<interface> for workloads,
	// with a remote node "<cluster>/<node>".
	Name string `json:"name"`
	// Cluster is the remote cluster the endpoint is mirrored from, or empty.
	Cluster string `json:"cluster,omitempty"`
	// IPs are the endpoint's addresses.
	IPs []string `json:"ips,omitempty"`
}

func newEvalCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "eval SELECTOR",
		Short: "List the local and remote endpoints a selector matches (as calicoq eval)",
		Long: `eval lists the workload and host endpoints of the cluster, local and
mirrored from remote clusters, that a Calico selector matches, with the
labels they inherit from their profiles (namespace labels), as network
policy rule selectors see them. Remote endpoints carry the prefix of their
RemoteClusterConfiguration: if a remote cluster is missing, it is not in
sync.`,
		Example: `  meshctl eval "all()"
  meshctl eval "app == 'postgres'" --context cluster-a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			sel, err := selector.Parse(args[0])
			if err != nil {
				return fmt.Errorf("selector %q: %w", args[0], err)
			}
			cs, err := o.clusters()
			if err != nil {
				return err
			}
			if len(cs) != 1 {
				return fmt.Errorf("eval reads one cluster: give at most one --context, not %d", len(cs))
			}
			res, err := evaluate(cmd.Context(), cs[0].client, sel)
			if err != nil {
				return err
			}
			return o.printEval(res, args[0])
		},
	}
}

// evaluate matches the selector against every endpoint's effective labels.
func evaluate(ctx context.Context, client versioned.Interface, sel selector.Selector) (*EvalResult, error) {
	profiles, err := client.ProjectcalicoV3().Profiles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing profiles: %w", err)
	}
	// Profile references as endpoints write them: "kns.ns" locally,
	// "<cluster>/kns.ns" for a mirror (object "<cluster>.kns.ns").
	byRef := map[string]map[string]string{}
	for _, p := range profiles.Items {
		ref := p.Name
		if c := p.Labels[v3.LabelCluster]; c != "" {
			if remote := p.Annotations[v3.AnnotationRemoteName]; remote != "" {
				ref = v3.RemoteName(c, remote)
			}
		}
		byRef[ref] = p.Spec.LabelsToApply
	}
	effective := func(own map[string]string, refs []string) map[string]string {
		labels := map[string]string{}
		for i := len(refs) - 1; i >= 0; i-- { // the first profile wins among profiles
			for k, v := range byRef[refs[i]] {
				labels[k] = v
			}
		}
		for k, v := range own {
			labels[k] = v
		}
		return labels
	}
	res := &EvalResult{Selector: sel.String()}
	weps, err := client.ProjectcalicoV3().WorkloadEndpoints("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing workload endpoints: %w", err)
	}
	for _, w := range weps.Items {
		if !sel.Evaluate(effective(w.Labels, w.Spec.Profiles)) {
			continue
		}
		res.Endpoints = append(res.Endpoints, workloadEndpoint(&w))
	}
	heps, err := client.ProjectcalicoV3().HostEndpoints().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing host endpoints: %w", err)
	}
	for _, h := range heps.Items {
		if !sel.Evaluate(effective(h.Labels, h.Spec.Profiles)) {
			continue
		}
		res.Endpoints = append(res.Endpoints, hostEndpoint(&h))
	}
	sortEndpoints(res.Endpoints)
	return res, nil
}

// sortEndpoints sorts by kind, then name.
func sortEndpoints(eps []EvalEndpoint) {
	slices.SortFunc(eps, func(a, b EvalEndpoint) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
}

// workloadEndpoint names a workload endpoint as calicoq does:
// <node>/<orchestrator>/<namespace>.<pod>/<interface>, the node of a remote
// endpoint being "<cluster>/<node>".
func workloadEndpoint(w *v3.WorkloadEndpoint) EvalEndpoint {
	orch, endpoint := cmp.Or(w.Spec.Orchestrator, "k8s"), cmp.Or(w.Spec.Endpoint, "eth0")
	pod := cmp.Or(w.Spec.Pod, w.Spec.Workload, w.Name)
	return EvalEndpoint{
		Kind: "Workload endpoint", Cluster: w.Labels[v3.LabelCluster], IPs: w.Spec.IPNetworks,
		Name: fmt.Sprintf("%s/%s/%s.%s/%s", w.Spec.Node, orch, w.Namespace, pod, endpoint),
	}
}

// hostEndpoint names a host endpoint <node>/<name>, with its name in its
// own cluster when mirrored.
func hostEndpoint(h *v3.HostEndpoint) EvalEndpoint {
	name := v3.NameInOwnCluster(h.Annotations, h.Name)
	return EvalEndpoint{Kind: "Host endpoint", Cluster: h.Labels[v3.LabelCluster], IPs: h.Spec.ExpectedIPs, Name: h.Spec.Node + "/" + name}
}

// printEval prints as calicoq does, or as YAML/JSON.
func (o *options) printEval(res *EvalResult, written string) error {
	if done, err := o.printStructured(res); done {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Endpoints matching selector %s:\n", written)
	for _, e := range res.Endpoints {
		fmt.Fprintf(&b, "  %s %s\n", e.Kind, e.Name)
	}
	_, err := fmt.Fprint(o.out, b.String())
	return err
}
