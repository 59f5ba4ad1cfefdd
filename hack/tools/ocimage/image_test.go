package main

import (
	"archive/tar"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layerEntry is what the test reads back of one tar entry.
type layerEntry struct {
	Type    byte
	Mode    int64
	Link    string
	Content string
}

// readImage opens the image tagged tag in the tarball at path and returns
// its config and its flattened file system.
func readImage(t *testing.T, path, tag string) (map[string]layerEntry, []string, []string) {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &ref)
	if err != nil {
		t.Fatalf("reading %s from %s: %v", tag, path, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" {
		t.Errorf("platform %s/%s, want linux/<arch>", cfg.OS, cfg.Architecture)
	}
	entries := map[string]layerEntry{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[strings.TrimSuffix(hdr.Name, "/")] = layerEntry{Type: hdr.Typeflag, Mode: hdr.Mode, Link: hdr.Linkname, Content: string(body)}
	}
	return entries, cfg.Config.Entrypoint, cfg.Config.Cmd
}

func TestRunWritesImportableImage(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "agnhost"), "agnhost binary", 0o700)
	writeFile(t, filepath.Join(dir, "tree", "etc", "Corefile"), ".:53 { forward . 198.18.0.1 }", 0o644)
	if err := os.Symlink("Corefile", filepath.Join(dir, "tree", "etc", "Corefile.link")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	args := []string{
		"--out", out,
		"--tag", "registry.k8s.io/e2e-test-images/agnhost:2.66.1", "--tag", "ghcr.io/meshapi/test:latest",
		"--file", filepath.Join(dir, "agnhost") + ":/agnhost:0755",
		"--file", filepath.Join(dir, "tree") + ":/srv",
		"--binary", "/bin/sh",
		"--symlink", "/agnhost-2:agnhost",
		"--mkdir", "/tmp:1777",
		"--entrypoint", "/agnhost", "--cmd", "pause", "--env", "A=b",
	}
	if err := run(context.Background(), args, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, tag := range []string{"registry.k8s.io/e2e-test-images/agnhost:2.66.1", "ghcr.io/meshapi/test:latest"} {
		entries, entrypoint, cmd := readImage(t, out, tag)
		if !slices.Equal(entrypoint, []string{"/agnhost"}) || !slices.Equal(cmd, []string{"pause"}) {
			t.Errorf("%s: entrypoint %q cmd %q, want [/agnhost] [pause]", tag, entrypoint, cmd)
		}
		want := map[string]layerEntry{
			"agnhost":               {Type: tar.TypeReg, Mode: 0o755, Content: "agnhost binary"},
			"agnhost-2":             {Type: tar.TypeSymlink, Mode: 0o777, Link: "agnhost"},
			"srv/etc/Corefile":      {Type: tar.TypeReg, Mode: 0o644, Content: ".:53 { forward . 198.18.0.1 }"},
			"srv/etc/Corefile.link": {Type: tar.TypeSymlink, Mode: 0o777, Link: "Corefile"},
			"tmp":                   {Type: tar.TypeDir, Mode: 0o1777},
			"srv":                   {Type: tar.TypeDir, Mode: 0o755},
		}
		for p, w := range want {
			if got := entries[p]; got != w {
				t.Errorf("%s: %s = %+v, want %+v", tag, p, got, w)
			}
		}
		if e := entries["bin/sh"]; e.Type != tar.TypeReg || len(e.Content) == 0 {
			t.Errorf("%s: bin/sh = type %c, %d bytes; want the host shell's content", tag, e.Type, len(e.Content))
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(entries)), func(p string) bool { return strings.Contains(p, "libc.so") }) {
			t.Errorf("%s: no libc among the entries of --binary /bin/sh", tag)
		}
	}
}

func TestRunIsReproducible(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pause"), "pause", 0o755)
	var digests []string
	for _, out := range []string{"a.tar", "b.tar"} {
		path := filepath.Join(dir, out)
		args := []string{"--out", path, "--tag", "registry.k8s.io/pause:3.10.2", "--file", filepath.Join(dir, "pause") + ":/pause", "--entrypoint", "/pause"}
		if err := run(context.Background(), args, io.Discard); err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("the same inputs gave digests %s and %s", digests[0], digests[1])
	}
}

func TestRunRejects(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a"), "a", 0o644)
	writeFile(t, filepath.Join(dir, "b"), "b", 0o644)
	out := filepath.Join(dir, "x.tar")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no out", args: []string{"--tag", "r.io/x:1"}, wantErr: "--out: required"},
		{name: "no tag", args: []string{"--out", out}, wantErr: "--tag: at least one"},
		{name: "digest tag", args: []string{"--out", out, "--tag", "r.io/x"}, wantErr: `--tag "r.io/x"`},
		{name: "bad env", args: []string{"--out", out, "--tag", "r.io/x:1", "--env", "=x"}, wantErr: "want KEY=VALUE"},
		{name: "positional", args: []string{"--out", out, "--tag", "r.io/x:1", "extra"}, wantErr: `unexpected argument "extra"`},
		{name: "missing file", args: []string{"--out", out, "--tag", "r.io/x:1", "--file", filepath.Join(dir, "nope") + ":/x"}, wantErr: "no such file"},
		{name: "same path twice", args: []string{"--out", out, "--tag", "r.io/x:1",
			"--file", filepath.Join(dir, "a") + ":/x", "--file", filepath.Join(dir, "b") + ":/x"}, wantErr: "image path /x is given twice"},
		{name: "file under a file", args: []string{"--out", out, "--tag", "r.io/x:1",
			"--file", filepath.Join(dir, "a") + ":/x", "--file", filepath.Join(dir, "b") + ":/x/y"}, wantErr: "needs directory /x"},
		{name: "bad platform", args: []string{"--out", out, "--tag", "r.io/x:1", "--platform", "linux"}, wantErr: `--platform "linux"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, run(context.Background(), tt.args, io.Discard), tt.wantErr)
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed run", out)
			}
		})
	}
}

// writeFile writes content to p with mode, creating its directory.
func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
