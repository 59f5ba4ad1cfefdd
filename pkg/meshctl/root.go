// Package meshctl is the meshapi command line: status of the mesh and
// selector evaluation over local and remote endpoints, as the original
// product's calicoq does. It is also installed as the kubectl plugin
// kubectl-mesh.
package meshctl

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
)

// options are the flags every command shares.
type options struct {
	kubeconfig string
	contexts   []string
	output     string
	out        io.Writer
}

// NewCommand returns the meshctl command tree writing to out.
func NewCommand(out io.Writer) *cobra.Command {
	o := &options{out: out}
	root := &cobra.Command{
		Use:   "meshctl",
		Short: "Inspect and troubleshoot a meshapi cluster mesh",
		Long: `meshctl shows the state of a meshapi cluster mesh and answers the
questions of the original product's troubleshooting guide in one command.

It reads the clusters named by kubeconfig contexts (--kubeconfig, --context;
the current context when none is given). Installed as kubectl-mesh it is
also "kubectl mesh".`,
		SilenceUsage: true,
	}
	root.PersistentFlags().StringVar(&o.kubeconfig, "kubeconfig", "", "Path of the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	root.PersistentFlags().StringSliceVar(&o.contexts, "context", nil, "Kubeconfig context of a cluster; repeat for several clusters.")
	root.PersistentFlags().StringVarP(&o.output, "output", "o", "table", "Output format: table, yaml or json.")
	root.AddCommand(newEvalCommand(o), newStatusCommand(o))
	return root
}

// cluster is one cluster named by a context.
type cluster struct {
	context string
	config  *rest.Config
	client  versioned.Interface
}

// clusters returns the clusters of the --context flags, or of the current
// context.
func (o *options) clusters() ([]cluster, error) {
	contexts := o.contexts
	if len(contexts) == 0 {
		contexts = []string{""}
	}
	var out []cluster
	for _, name := range contexts {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if o.kubeconfig != "" {
			rules.ExplicitPath = o.kubeconfig
		}
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name})
		cfg, err := loader.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", name, err)
		}
		if name == "" {
			raw, err := loader.RawConfig()
			if err == nil {
				name = raw.CurrentContext
			}
		}
		client, err := versioned.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", name, err)
		}
		out = append(out, cluster{context: name, config: cfg, client: client})
	}
	return out, nil
}

// checkOutput validates -o.
func (o *options) checkOutput() error {
	switch o.output {
	case "table", "yaml", "json":
		return nil
	}
	return fmt.Errorf("--output %q: must be table, yaml or json", o.output)
}
