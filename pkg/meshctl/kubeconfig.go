package meshctl

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshapi/meshapi/pkg/remoteaccess"
)

// seedName names the cluster, user and context of the generated kubeconfig
// as the original product's recipe does.
const seedName = "tigera-federation-remote-cluster"

// tokenTimeout bounds the wait for the token controller.
const tokenTimeout = time.Minute

// KubeconfigResult is what kubeconfig create prints with -o yaml|json.
type KubeconfigResult struct {
	// Context is the cluster the kubeconfig reaches.
	Context string `json:"context"`
	// File is where the kubeconfig was written.
	File string `json:"file"`
	// Server is the API server URL in the kubeconfig.
	Server string `json:"server"`
	// ServiceAccount is the identity, namespace/name.
	ServiceAccount string `json:"serviceAccount"`
	// Created lists the objects of the identity that were missing.
	Created []string `json:"created,omitempty"`
	// Nodes is how many nodes the kubeconfig listed when verified.
	Nodes int `json:"nodes"`
}

func newKubeconfigCommand(o *options) *cobra.Command {
	parent := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Create the kubeconfig other clusters use to sync from a cluster",
		Args:  cobra.NoArgs,
	}
	id := remoteaccess.DefaultIdentity
	var file, server string
	create := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Write the read-only kubeconfig of a cluster's remote identity (the seed's recipe, done safely)",
		Long: `kubeconfig create does what the original product's "Generate credentials
for cross-cluster resource synchronization" recipe does, in the cluster of
--context (the current context by default):

  1. the ServiceAccount (default calico-system/tigera-federation-remote-cluster),
     the ClusterRole and ClusterRoleBinding of artifacts/remote-cluster, and
     the service-account token Secret are created if missing;
  2. it waits until the token controller has filled in the token;
  3. it writes a kubeconfig with that token and the server and CA of the
     context (or --server) to --file, readable by its owner only (0600);
  4. it verifies the kubeconfig by listing the cluster's nodes with it.

Give the file to the clusters that sync from this one (meshctl connect does
all of this itself).`,
		Example: `  meshctl kubeconfig create --context cluster-b -f cluster-b.kubeconfig
  meshctl kubeconfig create --context cluster-b --server https://10.0.0.5:6443 -f cluster-b.kubeconfig`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.checkOutput(); err != nil {
				return err
			}
			if file == "" {
				return fmt.Errorf("--file (-f) is required: the path to write the kubeconfig to")
			}
			cs, err := o.clusters()
			if err != nil {
				return err
			}
			if len(cs) != 1 {
				return fmt.Errorf("kubeconfig create reads one cluster: give at most one --context, not %d", len(cs))
			}
			res, err := createKubeconfig(cmd.Context(), cs[0], id, server, file)
			if err != nil {
				return err
			}
			if done, err := o.printStructured(res); done {
				return err
			}
			w := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
			for _, c := range res.Created {
				fmt.Fprintf(w, "created\t%s\n", c)
			}
			fmt.Fprintf(w, "wrote\t%s (server %s, service account %s, mode 0600)\n", res.File, res.Server, res.ServiceAccount)
			fmt.Fprintf(w, "verified\tthe kubeconfig lists %d nodes of %s\n", res.Nodes, res.Context)
			return w.Flush()
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "Path of the kubeconfig to write (mode 0600).")
	create.Flags().StringVarP(&id.Namespace, "namespace", "n", id.Namespace, "Namespace of the remote identity's ServiceAccount.")
	create.Flags().StringVar(&id.ServiceAccount, "service-account", id.ServiceAccount, "Name of the remote identity's ServiceAccount.")
	create.Flags().StringVar(&server, "server", "", "API server URL other clusters reach this one at (default: the context's server).")
	parent.AddCommand(create)
	return parent
}

// createKubeconfig makes the identity exist, writes its kubeconfig to file
// and verifies it.
func createKubeconfig(ctx context.Context, c cluster, id remoteaccess.Identity, server, file string) (*KubeconfigResult, error) {
	raw, created, err := remoteKubeconfig(ctx, c, id, server)
	if err != nil {
		return nil, err
	}
	if err := writePrivate(file, raw); err != nil {
		return nil, err
	}
	nodes, err := verifyKubeconfig(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig written to %s does not work: %w", file, err)
	}
	return &KubeconfigResult{Context: c.context, File: file, Server: serverOf(c, server),
		ServiceAccount: id.Namespace + "/" + id.ServiceAccount, Created: created, Nodes: nodes}, nil
}

// serverOf returns the server a kubeconfig for c names.
func serverOf(c cluster, override string) string {
	if override != "" {
		return override
	}
	return c.config.Host
}

// remoteKubeconfig makes sure the identity exists in c, waits for its token
// and returns the serialized kubeconfig and what it created.
func remoteKubeconfig(ctx context.Context, c cluster, id remoteaccess.Identity, server string) ([]byte, []string, error) {
	created, err := remoteaccess.Ensure(ctx, c.kube, id)
	if err != nil {
		return nil, created, fmt.Errorf("context %q: creating the remote identity: %w", c.context, err)
	}
	token, err := remoteaccess.WaitToken(ctx, c.kube, id, tokenTimeout)
	if err != nil {
		return nil, created, fmt.Errorf("context %q: %w", c.context, err)
	}
	ca := c.config.CAData
	if len(ca) == 0 && c.config.CAFile != "" {
		if ca, err = os.ReadFile(c.config.CAFile); err != nil {
			return nil, created, fmt.Errorf("context %q: reading certificate-authority %s: %w", c.context, c.config.CAFile, err)
		}
	}
	cfg := BuildKubeconfig(serverOf(c, server), ca, c.config.Insecure, token)
	raw, err := clientcmd.Write(cfg)
	if err != nil {
		return nil, created, fmt.Errorf("context %q: serializing the kubeconfig: %w", c.context, err)
	}
	return raw, created, nil
}

// BuildKubeconfig returns the kubeconfig of the original product's recipe:
// one cluster, user and context named tigera-federation-remote-cluster(-ctx)
// with the server, its CA (or insecure-skip-tls-verify) and the token.
func BuildKubeconfig(server string, caData []byte, insecure bool, token string) clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[seedName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData, InsecureSkipTLSVerify: insecure && len(caData) == 0}
	cfg.AuthInfos[seedName] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[seedName+"-ctx"] = &clientcmdapi.Context{Cluster: seedName, AuthInfo: seedName}
	cfg.CurrentContext = seedName + "-ctx"
	return *cfg
}

// writePrivate writes data to path with mode 0600, also when path exists
// with a wider mode.
func writePrivate(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("--file %q: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("--file %q: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("--file %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--file %q: %w", path, err)
	}
	return nil
}

// verifyKubeconfig lists nodes with the kubeconfig, as the seed's
// "kubectl --kubeconfig=$KUBECONFIG_NAME get nodes" does, and returns how
// many it listed.
func verifyKubeconfig(ctx context.Context, raw []byte) (int, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return 0, fmt.Errorf("parsing the kubeconfig: %w", err)
	}
	cfg.Timeout = 10 * time.Second
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, fmt.Errorf("client from the kubeconfig: %w", err)
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("listing nodes with it (kubectl --kubeconfig=... get nodes): %w", err)
	}
	return len(nodes.Items), nil
}
