// Command ocimage writes a container image tarball from local files, for
// the images of meshapi's end-to-end clusters: every image there is built
// from binaries compiled on the machine, never pulled.
//
//	ocimage --out pause.tar --tag registry.k8s.io/pause:3.10.2 \
//	  --file bin/pause:/pause:0755 --entrypoint /pause --user 65535:65535
//
// The tarball holds one image with a single layer, under every --tag, in
// the format `docker save` writes; `ctr -n k8s.io images import` reads it.
// Its flags are a stable interface: hack/build-tools.sh and the end-to-end
// framework call it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// listFlag is a flag that may be given many times, each value kept in order.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// options are ocimage's parsed flags.
type options struct {
	Out                        string
	Tags, Files, Binaries      listFlag
	Symlinks, Dirs             listFlag
	Entrypoint, Cmd, Env       listFlag
	User, WorkingDir, Platform string
}

const usage = `Usage: ocimage --out FILE --tag REF [--tag REF]... [contents]... [config]...

Writes one container image (a single layer) to FILE, a tarball in the format
"docker save" writes and "ctr images import" reads, tagged with every REF.

Contents (each may be repeated; a path given twice is an error unless it is
the same file, as a library two binaries share):
  --file SRC:DST[:MODE]  copy host file SRC to DST; MODE is octal (default:
                         SRC's mode). If SRC is a directory, copy its tree
                         (files, directories and symbolic links) to DST.
  --binary SRC[:DST]     copy host executable SRC (absolute) to DST (default:
                         SRC) together with every shared library and the
                         loader that "ldd SRC" lists, at the paths it lists.
  --symlink LINK:TARGET  a symbolic link LINK pointing to TARGET.
  --mkdir DIR[:MODE]     an empty directory (default mode 0755).

Config (--entrypoint, --cmd and --env may be repeated, one argument each):
  --entrypoint ARG       one element of the entrypoint, in order.
  --cmd ARG              one element of the default arguments, in order.
  --env KEY=VALUE        an environment variable.
  --user USER[:GROUP]    the user the process runs as.
  --workdir DIR          the working directory.
  --platform OS/ARCH     default linux/` + runtime.GOARCH + `.

Entries are owned by root, dated 1970-01-01 and sorted, so the same inputs
give the same image digest.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ocimage:", err)
		os.Exit(1)
	}
}

// parseOptions parses args into options.
func parseOptions(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ocimage", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() { fmt.Fprint(output, usage) }
	fs.StringVar(&o.Out, "out", "", "")
	fs.Var(&o.Tags, "tag", "")
	fs.Var(&o.Files, "file", "")
	fs.Var(&o.Binaries, "binary", "")
	fs.Var(&o.Symlinks, "symlink", "")
	fs.Var(&o.Dirs, "mkdir", "")
	fs.Var(&o.Entrypoint, "entrypoint", "")
	fs.Var(&o.Cmd, "cmd", "")
	fs.Var(&o.Env, "env", "")
	fs.StringVar(&o.User, "user", "", "")
	fs.StringVar(&o.WorkingDir, "workdir", "", "")
	fs.StringVar(&o.Platform, "platform", "linux/"+runtime.GOARCH, "")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q (every input is a flag; see --help)", fs.Arg(0))
	}
	if o.Out == "" {
		return options{}, fmt.Errorf("--out: required")
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return options{}, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
	}
	return o, nil
}

// run parses args and writes the image.
func run(ctx context.Context, args []string, output io.Writer) error {
	o, err := parseOptions(args, output)
	if err != nil {
		return err
	}
	refs, err := parseTags(o.Tags)
	if err != nil {
		return err
	}
	osName, arch, ok := strings.Cut(o.Platform, "/")
	if !ok || osName == "" || arch == "" {
		return fmt.Errorf("--platform %q: want OS/ARCH", o.Platform)
	}
	t, err := collect(ctx, o)
	if err != nil {
		return err
	}
	layerPath, err := writeLayerFile(t, o.Out)
	if err != nil {
		return err
	}
	defer os.Remove(layerPath)
	img, err := buildImage(layerPath, imageConfig{
		OS: osName, Architecture: arch,
		Entrypoint: o.Entrypoint, Cmd: o.Cmd, Env: o.Env,
		User: o.User, WorkingDir: o.WorkingDir,
	})
	if err != nil {
		return err
	}
	return writeTarball(o.Out, refs, img)
}

// collect gathers the layer's contents from the content flags.
func collect(ctx context.Context, o options) (*tree, error) {
	t := newTree()
	for _, arg := range o.Dirs {
		spec, err := parseDirSpec(arg)
		if err != nil {
			return nil, err
		}
		if err := t.addDir(spec.Dst, spec.Mode); err != nil {
			return nil, fmt.Errorf("--mkdir %q: %w", arg, err)
		}
	}
	for _, arg := range o.Files {
		spec, err := parseFileSpec(arg)
		if err != nil {
			return nil, err
		}
		if err := t.addFile(spec); err != nil {
			return nil, err
		}
	}
	for _, arg := range o.Binaries {
		spec, err := parseBinarySpec(arg)
		if err != nil {
			return nil, err
		}
		libs, err := sharedLibraries(ctx, spec.Src)
		if err != nil {
			return nil, fmt.Errorf("--binary %q: %w", arg, err)
		}
		if err := t.addBinary(spec, libs); err != nil {
			return nil, err
		}
	}
	for _, arg := range o.Symlinks {
		spec, err := parseSymlinkSpec(arg)
		if err != nil {
			return nil, err
		}
		if err := t.addSymlink(spec); err != nil {
			return nil, fmt.Errorf("--symlink %q: %w", arg, err)
		}
	}
	return t, nil
}

// writeLayerFile writes the tree's tar next to out (same file system, so
// large binaries are not copied through /tmp) and returns its path.
func writeLayerFile(t *tree, out string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.layer")
	if err != nil {
		return "", fmt.Errorf("--out %s: layer file: %w", out, err)
	}
	if err := t.writeTar(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("--out %s: layer file: %w", out, err)
	}
	return f.Name(), nil
}
