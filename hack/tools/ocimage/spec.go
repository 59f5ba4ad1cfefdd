package main

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// fileSpec is one --file or --binary argument: a host path, where it goes
// in the image and, when given, the mode it gets there.
type fileSpec struct {
	Src     string
	Dst     string
	Mode    fs.FileMode
	HasMode bool
}

// symlinkSpec is one --symlink argument: a link in the image and its target.
type symlinkSpec struct {
	Link   string
	Target string
}

// parseFileSpec parses SRC:DST[:MODE], MODE in octal (e.g. 0755).
func parseFileSpec(arg string) (fileSpec, error) {
	parts := strings.Split(arg, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fileSpec{}, fmt.Errorf("--file %q: want SRC:DST[:MODE]", arg)
	}
	dst, err := imagePath(parts[1])
	if err != nil {
		return fileSpec{}, fmt.Errorf("--file %q: %w", arg, err)
	}
	spec := fileSpec{Src: parts[0], Dst: dst}
	if len(parts) == 3 {
		mode, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || mode > 0o7777 {
			return fileSpec{}, fmt.Errorf("--file %q: mode %q is not an octal permission like 0755", arg, parts[2])
		}
		spec.Mode, spec.HasMode = fs.FileMode(mode), true
	}
	return spec, nil
}

// parseBinarySpec parses SRC[:DST]; DST defaults to SRC.
func parseBinarySpec(arg string) (fileSpec, error) {
	src, dst, found := strings.Cut(arg, ":")
	if !found {
		dst = src
	}
	if src == "" || !path.IsAbs(src) {
		return fileSpec{}, fmt.Errorf("--binary %q: want an absolute host path SRC[:DST]", arg)
	}
	dst, err := imagePath(dst)
	if err != nil {
		return fileSpec{}, fmt.Errorf("--binary %q: %w", arg, err)
	}
	return fileSpec{Src: src, Dst: dst}, nil
}

// parseSymlinkSpec parses LINK:TARGET; TARGET is stored as written, so it
// may be relative to the link's directory.
func parseSymlinkSpec(arg string) (symlinkSpec, error) {
	link, target, found := strings.Cut(arg, ":")
	if !found || link == "" || target == "" {
		return symlinkSpec{}, fmt.Errorf("--symlink %q: want LINK:TARGET", arg)
	}
	link, err := imagePath(link)
	if err != nil {
		return symlinkSpec{}, fmt.Errorf("--symlink %q: %w", arg, err)
	}
	return symlinkSpec{Link: link, Target: target}, nil
}

// parseDirSpec parses DST[:MODE] for --mkdir; MODE defaults to 0755.
func parseDirSpec(arg string) (fileSpec, error) {
	dst, modeText, found := strings.Cut(arg, ":")
	dst, err := imagePath(dst)
	if err != nil {
		return fileSpec{}, fmt.Errorf("--mkdir %q: %w", arg, err)
	}
	spec := fileSpec{Dst: dst, Mode: 0o755, HasMode: true}
	if found {
		mode, err := strconv.ParseUint(modeText, 8, 32)
		if err != nil || mode > 0o7777 {
			return fileSpec{}, fmt.Errorf("--mkdir %q: mode %q is not an octal permission like 0755", arg, modeText)
		}
		spec.Mode = fs.FileMode(mode)
	}
	return spec, nil
}

// imagePath cleans an absolute path inside the image and refuses the root
// itself and relative paths, which would be ambiguous in a layer.
func imagePath(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("image path %q is not absolute", p)
	}
	clean := path.Clean(p)
	if clean == "/" {
		return "", fmt.Errorf("image path %q is the root directory", p)
	}
	return clean, nil
}
