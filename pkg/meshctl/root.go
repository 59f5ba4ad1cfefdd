// Package meshctl is the meshapi command line: create the kubeconfig remote
// clusters use, connect and disconnect clusters, show the mesh's status,
// run the original product's troubleshooting steps, and evaluate selectors
// and policies over local and remote endpoints, as the original product's
// calicoq does. It is also installed as the kubectl plugin kubectl-mesh.
package meshctl

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/meshapi/meshapi/pkg/generated/clientset/versioned"
	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// PluginName is the name under which kubectl finds meshctl as a plugin:
// "kubectl mesh" runs the kubectl-mesh on the PATH.
const PluginName = "kubectl-mesh"

// options are the flags every command shares.
type options struct {
	kubeconfig string
	contexts   []string
	output     string
	out        io.Writer
	errOut     io.Writer
	// name is how the user invoked meshctl: "meshctl" or "kubectl mesh".
	name string
}

// NewCommand returns the meshctl command tree writing to out (and progress
// and warnings to standard error). Invoked as kubectl-mesh (os.Args[0]),
// its usage and examples say "kubectl mesh".
func NewCommand(out io.Writer) *cobra.Command {
	return NewNamedCommand(DisplayName(os.Args[0]), out, os.Stderr)
}

// DisplayName is the command name users type for the program arg0:
// "kubectl mesh" for the plugin binary kubectl-mesh, else "meshctl".
func DisplayName(arg0 string) string {
	base := strings.TrimSuffix(filepath.Base(arg0), ".exe")
	if base == PluginName {
		return "kubectl mesh"
	}
	return "meshctl"
}

// NewNamedCommand returns the meshctl command tree as name ("meshctl" or
// "kubectl mesh"), writing results to out and progress to errOut.
func NewNamedCommand(name string, out, errOut io.Writer) *cobra.Command {
	o := &options{out: out, errOut: errOut, name: name}
	root := &cobra.Command{
		Use:   "meshctl",
		Short: "Connect, inspect and troubleshoot a meshapi cluster mesh",
		Long: `meshctl builds a meshapi cluster mesh and answers the questions of the
original product's troubleshooting guide in one command each:

  kubeconfig create   the kubeconfig other clusters use to sync from a cluster
  connect             connect clusters pairwise, both directions, and wait for InSync
  disconnect          remove what connect made
  status              each cluster's remote clusters: overlay, sync, counts, requirements
  check               the troubleshooting steps, each a PASS/FAIL line with the fix
  eval                the local and remote endpoints a selector matches (calicoq eval)
  policy              the endpoints a policy applies to and those its rules select
  ipam show, check    address usage per pool and node; leaked or broken allocations
  install-certs       create or rotate the certificates of meshapi's etcd

It reads the clusters named by kubeconfig contexts (--kubeconfig, --context;
the current context when none is given). A cluster's name in the mesh is
its context's name. Installed as kubectl-mesh on the PATH (meshctl
install-plugin) it is also "kubectl mesh".`,
		SilenceUsage: true,
	}
	if name != "meshctl" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
	}
	root.PersistentFlags().StringVar(&o.kubeconfig, "kubeconfig", "", "Path of the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	root.PersistentFlags().StringSliceVar(&o.contexts, "context", nil, "Kubeconfig context of a cluster; repeat for several clusters.")
	root.PersistentFlags().StringVarP(&o.output, "output", "o", "table", "Output format: table, yaml or json.")
	root.AddCommand(newEvalCommand(o), newStatusCommand(o), newKubeconfigCommand(o), newConnectCommand(o),
		newDisconnectCommand(o), newCheckCommand(o), newPolicyCommand(o), newIPAMCommand(o), newInstallPluginCommand(o),
		newInstallCertsCommand(o))
	rename(root, name)
	return root
}

// rename rewrites "meshctl " in the examples and help of every command to
// the name the user typed.
func rename(c *cobra.Command, name string) {
	if name == "meshctl" {
		return
	}
	c.Long = strings.ReplaceAll(c.Long, "meshctl ", name+" ")
	c.Example = strings.ReplaceAll(c.Example, "meshctl ", name+" ")
	for _, sub := range c.Commands() {
		rename(sub, name)
	}
}

// cluster is one cluster named by a context.
type cluster struct {
	// context is the kubeconfig context, the cluster's name in the mesh.
	context string
	config  *rest.Config
	client  versioned.Interface
	kube    kubernetes.Interface
}

// clusters returns the clusters of the --context flags, or of the current
// context.
func (o *options) clusters() ([]cluster, error) {
	contexts := o.contexts
	if len(contexts) == 0 {
		contexts = []string{""}
	}
	var out []cluster
	seen := map[string]bool{}
	for _, name := range contexts {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if o.kubeconfig != "" {
			rules.ExplicitPath = o.kubeconfig
		}
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name})
		cfg, err := loader.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("--context %q: %w", name, err)
		}
		if o.errOut != nil {
			// Admission warnings (a remote not checked, an override used).
			cfg.WarningHandler = rest.NewWarningWriter(o.errOut, rest.WarningWriterOptions{Deduplicate: true})
		}
		if name == "" {
			raw, err := loader.RawConfig()
			if err == nil {
				name = raw.CurrentContext
			}
		}
		if seen[name] {
			return nil, fmt.Errorf("--context %q is given twice", name)
		}
		seen[name] = true
		client, err := versioned.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("--context %q: %w", name, err)
		}
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("--context %q: %w", name, err)
		}
		out = append(out, cluster{context: name, config: cfg, client: client, kube: kube})
	}
	return out, nil
}

// validClusterName checks that a context's name can name a
// RemoteClusterConfiguration and a Secret.
func validClusterName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("--context %q cannot name a cluster of the mesh (%s): rename the context (kubectl config rename-context %s cluster-a)",
			name, strings.Join(errs, "; "), name)
	}
	if len(validation.IsDNS1123Subdomain(remoteaccess.AccessSecretName(name))) > 0 {
		return fmt.Errorf("--context %q is too long to name its access Secret %q", name, remoteaccess.AccessSecretName(name))
	}
	return nil
}

// checkOutput validates -o.
func (o *options) checkOutput() error {
	switch o.output {
	case "table", "yaml", "json":
		return nil
	}
	return fmt.Errorf("--output %q: must be table, yaml or json", o.output)
}

// printStructured prints v as YAML or JSON when -o asks for it, and
// reports whether it did.
func (o *options) printStructured(v any) (bool, error) {
	switch o.output {
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = o.out.Write(b)
		return true, err
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, fmt.Errorf("encoding JSON: %w", err)
		}
		_, err = fmt.Fprintln(o.out, string(b))
		return true, err
	}
	return false, nil
}
