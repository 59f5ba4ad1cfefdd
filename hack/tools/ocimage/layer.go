package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// layerTime is the modification time of every entry, so that the same
// files always give the same layer digest.
var layerTime = time.Unix(0, 0).UTC()

// entryKind is what an entry of the layer is.
type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
)

// entry is one path of the layer: a directory, a regular file whose content
// is read from a host path, or a symbolic link.
type entry struct {
	Kind   entryKind
	Mode   fs.FileMode
	Src    string // host file, for kindFile
	Target string // link target, for kindSymlink
}

// tree is the content of the image's single layer, keyed by absolute path
// inside the image. Parent directories are added as needed.
type tree struct {
	entries map[string]entry
}

// newTree returns an empty tree.
func newTree() *tree { return &tree{entries: map[string]entry{}} }

// add records e at dst, with its parent directories. Adding the same thing
// twice (a library two binaries share) is fine; anything else at a path
// already taken is an error naming the path.
func (t *tree) add(dst string, e entry) error {
	if old, ok := t.entries[dst]; ok {
		if old == e || (old.Kind == kindDir && e.Kind == kindDir) {
			return nil
		}
		return fmt.Errorf("image path %s is given twice (from %q and %q)", dst, describe(old), describe(e))
	}
	for dir := path.Dir(dst); dir != "/"; dir = path.Dir(dir) {
		if old, ok := t.entries[dir]; ok && old.Kind != kindDir {
			return fmt.Errorf("image path %s needs directory %s, which is a file or link (%q)", dst, dir, describe(old))
		}
		if _, ok := t.entries[dir]; !ok {
			t.entries[dir] = entry{Kind: kindDir, Mode: 0o755}
		}
	}
	t.entries[dst] = e
	return nil
}

// describe names where an entry comes from, for error messages.
func describe(e entry) string {
	switch e.Kind {
	case kindFile:
		return e.Src
	case kindSymlink:
		return "symlink to " + e.Target
	default:
		return "directory"
	}
}

// addFile adds the host file or directory tree spec.Src at spec.Dst. A
// regular file keeps its host mode unless spec gives one; symbolic links
// are followed for a file given by name and kept as links inside a tree.
func (t *tree) addFile(spec fileSpec) error {
	info, err := os.Stat(spec.Src)
	if err != nil {
		return fmt.Errorf("--file %s: %w", spec.Src, err)
	}
	if info.IsDir() {
		if spec.HasMode {
			return fmt.Errorf("--file %s:%s: a mode applies to a file, and %s is a directory", spec.Src, spec.Dst, spec.Src)
		}
		return t.addDirTree(spec.Src, spec.Dst)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("--file %s: not a regular file or directory (%s)", spec.Src, info.Mode().Type())
	}
	mode := info.Mode().Perm()
	if spec.HasMode {
		mode = spec.Mode
	}
	return t.add(spec.Dst, entry{Kind: kindFile, Mode: mode, Src: spec.Src})
}

// addDirTree adds every directory, regular file and symbolic link under
// the host directory src at dst.
func (t *tree) addDirTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("--file %s: %w", src, err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return fmt.Errorf("--file %s: %w", src, err)
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("--file %s: %w", p, err)
		}
		switch {
		case d.IsDir():
			return t.addDir(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("--file %s: %w", p, err)
			}
			return t.add(target, entry{Kind: kindSymlink, Mode: 0o777, Target: link})
		case d.Type().IsRegular():
			return t.add(target, entry{Kind: kindFile, Mode: info.Mode().Perm(), Src: p})
		default:
			return fmt.Errorf("--file %s: %s is not a regular file, directory or link (%s)", src, p, d.Type())
		}
	})
}

// addDir adds an empty directory with mode, or sets the mode of one that
// is already there.
func (t *tree) addDir(dst string, mode fs.FileMode) error {
	if err := t.add(dst, entry{Kind: kindDir, Mode: mode}); err != nil {
		return err
	}
	t.entries[dst] = entry{Kind: kindDir, Mode: mode}
	return nil
}

// addSymlink adds a symbolic link.
func (t *tree) addSymlink(spec symlinkSpec) error {
	return t.add(spec.Link, entry{Kind: kindSymlink, Mode: 0o777, Target: spec.Target})
}

// addBinary adds the host executable spec.Src at spec.Dst and every shared
// library in libs at the host path ldd listed it under, with the content
// of the file that path resolves to.
func (t *tree) addBinary(spec fileSpec, libs []string) error {
	if err := t.addFile(spec); err != nil {
		return fmt.Errorf("--binary: %w", err)
	}
	for _, lib := range libs {
		info, err := os.Stat(lib)
		if err != nil {
			return fmt.Errorf("--binary %s: library %w", spec.Src, err)
		}
		if err := t.add(path.Clean(lib), entry{Kind: kindFile, Mode: info.Mode().Perm(), Src: lib}); err != nil {
			return fmt.Errorf("--binary %s: %w", spec.Src, err)
		}
	}
	return nil
}

// writeTar writes the tree as an uncompressed tar stream, entries sorted
// by path so that parents come before their children, owned by root.
func (t *tree) writeTar(w io.Writer) error {
	names := make([]string, 0, len(t.entries))
	for name := range t.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, name := range names {
		if err := writeEntry(tw, name, t.entries[name]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing layer tar: %w", err)
	}
	return nil
}

// writeEntry writes one entry, copying a file's content from the host.
func writeEntry(tw *tar.Writer, name string, e entry) error {
	hdr := &tar.Header{
		Name:    name[1:], // layers hold relative paths
		Mode:    int64(e.Mode),
		ModTime: layerTime,
		Format:  tar.FormatPAX,
	}
	switch e.Kind {
	case kindDir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		return tarHeader(tw, hdr)
	case kindSymlink:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Target
		return tarHeader(tw, hdr)
	}
	f, err := os.Open(e.Src)
	if err != nil {
		return fmt.Errorf("image path %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("image path %s: %w", name, err)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	if err := tarHeader(tw, hdr); err != nil {
		return err
	}
	if n, err := io.Copy(tw, f); err != nil || n != info.Size() {
		return fmt.Errorf("image path %s: copied %d of %d bytes from %s: %v", name, n, info.Size(), e.Src, err)
	}
	return nil
}

// tarHeader writes hdr, naming the path on failure.
func tarHeader(tw *tar.Writer, hdr *tar.Header) error {
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("image path /%s: tar header: %w", hdr.Name, err)
	}
	return nil
}
