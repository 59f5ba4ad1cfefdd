package meshctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newInstallPluginCommand(o *options) *cobra.Command {
	dir := ""
	cmd := &cobra.Command{
		Use:   "install-plugin [--dir DIR]",
		Short: "Install meshctl as the kubectl plugin kubectl-mesh (a symbolic link)",
		Long: `install-plugin creates DIR/kubectl-mesh, a symbolic link to this meshctl
binary, so that "kubectl mesh ..." runs meshctl when DIR is on the PATH.
DIR defaults to the directory of this binary. An existing kubectl-mesh
link is replaced; any other file of that name is left alone.`,
		Example: `  meshctl install-plugin
  meshctl install-plugin --dir ~/.local/bin && kubectl mesh status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("locating this binary: %w", err)
			}
			if self, err = filepath.EvalSymlinks(self); err != nil {
				return fmt.Errorf("locating this binary: %w", err)
			}
			target := dir
			if target == "" {
				target = filepath.Dir(self)
			}
			link, err := InstallPlugin(self, target)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(o.out, "installed %s -> %s; with %s on the PATH, run: kubectl mesh status\n", link, self, target)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "Directory to create kubectl-mesh in (default: the directory of meshctl).")
	return cmd
}

// InstallPlugin makes dir/kubectl-mesh a symbolic link to binary and
// returns its path. It replaces a symbolic link and refuses to replace
// anything else.
func InstallPlugin(binary, dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("--dir %q: %w", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("--dir %q is not a directory", dir)
	}
	link := filepath.Join(dir, PluginName)
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("%s: %w", link, err)
	case fi.Mode()&fs.ModeSymlink == 0:
		return "", fmt.Errorf("%s exists and is not a symbolic link: remove it first", link)
	default:
		if err := os.Remove(link); err != nil {
			return "", fmt.Errorf("replacing %s: %w", link, err)
		}
	}
	if err := os.Symlink(binary, link); err != nil {
		return "", fmt.Errorf("creating %s: %w", link, err)
	}
	return link, nil
}
