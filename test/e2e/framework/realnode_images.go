package framework

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NodeImages are the container images real nodes run: the upstream ones
// hack/build-tools.sh writes as tarballs into bin/images/ (listed in
// bin/images/images.txt), and meshapi's agent and CNI images built with
// bin/ocimage from freshly built binaries, tagged as
// artifacts/deploy/60-agent.yaml names them.
type NodeImages struct {
	// Tarballs are every image tarball to import on a node.
	Tarballs []string
	// Pause, Agnhost, CoreDNS and KubeProxy are the upstream images'
	// references.
	Pause, Agnhost, CoreDNS, KubeProxy string
}

// The references of meshapi's images in artifacts/deploy/60-agent.yaml.
const (
	AgentImage = "ghcr.io/meshapi/meshapi-agent:latest"
	CNIImage   = "ghcr.io/meshapi/meshapi-cni:latest"
)

// BuildNodeImages reads bin/images/images.txt and builds meshapi's
// images into dir.
func BuildNodeImages(ctx context.Context, dir string) (*NodeImages, error) {
	imagesDir := filepath.Join(RepoRoot(), "bin", "images")
	im, err := readImagesList(filepath.Join(imagesDir, "images.txt"))
	if err != nil {
		return nil, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", dir+"/", "./cmd/meshapi-agent", "./cmd/meshapi-cni")
	build.Dir = RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building meshapi-agent and meshapi-cni (static): %w\n%s", err, out)
	}
	ocimage := filepath.Join(RepoRoot(), "bin", "ocimage")
	for _, img := range []struct{ bin, ref string }{{"meshapi-agent", AgentImage}, {"meshapi-cni", CNIImage}} {
		out := filepath.Join(dir, img.bin+".tar")
		dst := "/usr/local/bin/" + img.bin
		cmd := exec.CommandContext(ctx, ocimage, "--out", out, "--tag", img.ref,
			"--file", filepath.Join(dir, img.bin)+":"+dst+":0755", "--entrypoint", dst)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s --tag %s: %w\n%s", ocimage, img.ref, err, b)
		}
		im.Tarballs = append(im.Tarballs, out)
	}
	return im, nil
}

// readImagesList parses images.txt: one image a line, its tarball (a file
// name relative to the list's directory, ending .tar) then its tags, with
// any separator words between ("->"); # starts a comment.
func readImagesList(path string) (*NodeImages, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the upstream images list (hack/build-tools.sh writes it): %w", err)
	}
	defer f.Close()
	im := &NodeImages{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		var tarball string
		var tags []string
		for _, w := range strings.Fields(line) {
			switch {
			case strings.HasSuffix(w, ".tar") || strings.HasSuffix(w, ".tar:"):
				tarball = strings.TrimSuffix(w, ":")
			case strings.Contains(w, "/") || strings.Contains(w, ":") && len(w) > 1:
				tags = append(tags, strings.TrimSuffix(w, ","))
			}
		}
		if tarball == "" {
			continue
		}
		if !filepath.IsAbs(tarball) {
			tarball = filepath.Join(filepath.Dir(path), tarball)
		}
		im.Tarballs = append(im.Tarballs, tarball)
		for _, t := range tags {
			name := t
			if i := strings.LastIndex(t, ":"); i > strings.LastIndex(t, "/") {
				name = t[:i]
			}
			switch {
			case strings.HasSuffix(name, "/pause") && im.Pause == "":
				im.Pause = t
			case strings.HasSuffix(name, "/agnhost") && im.Agnhost == "":
				im.Agnhost = t
			case strings.HasSuffix(name, "/coredns") && im.CoreDNS == "":
				im.CoreDNS = t
			case strings.HasSuffix(name, "/kube-proxy") && im.KubeProxy == "":
				im.KubeProxy = t
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	for what, ref := range map[string]string{"pause": im.Pause, "agnhost": im.Agnhost, "coredns": im.CoreDNS, "kube-proxy": im.KubeProxy} {
		if ref == "" {
			return nil, fmt.Errorf("%s lists no %s image", path, what)
		}
	}
	return im, nil
}
