package main

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// imageConfig is what the image's config says about how to run it.
type imageConfig struct {
	OS, Architecture string
	Entrypoint, Cmd  []string
	Env              []string
	User, WorkingDir string
}

// buildImage returns a one-layer image whose layer is the uncompressed tar
// at layerPath and whose config is cfg.
func buildImage(layerPath string, cfg imageConfig) (v1.Image, error) {
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("layer from %s: %w", layerPath, err)
	}
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS:           cfg.OS,
		Architecture: cfg.Architecture,
		Created:      v1.Time{Time: layerTime},
		Config: v1.Config{
			Entrypoint: cfg.Entrypoint,
			Cmd:        cfg.Cmd,
			Env:        cfg.Env,
			User:       cfg.User,
			WorkingDir: cfg.WorkingDir,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: layerTime}, CreatedBy: "ocimage"},
	})
	if err != nil {
		return nil, fmt.Errorf("appending layer %s: %w", layerPath, err)
	}
	return img, nil
}

// parseTags parses each --tag as an image reference with a tag (a digest
// cannot name an image in a tarball).
func parseTags(tags []string) ([]name.Reference, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("--tag: at least one is required")
	}
	refs := make([]name.Reference, 0, len(tags))
	for _, t := range tags {
		tag, err := name.NewTag(t, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("--tag %q: %w", t, err)
		}
		refs = append(refs, tag)
	}
	return refs, nil
}

// writeTarball writes img under every ref to out, as `docker save` does and
// as `ctr images import` reads. It writes a temporary file next to out
// and renames it, so out is never left half written.
func writeTarball(out string, refs []name.Reference, img v1.Image) error {
	byRef := make(map[name.Reference]v1.Image, len(refs))
	for _, r := range refs {
		byRef[r] = img
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := tarball.MultiRefWriteToFile(tmp.Name(), byRef); err != nil {
		return fmt.Errorf("--out %s: writing image: %w", out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	return nil
}
