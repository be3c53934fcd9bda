package image

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Index puts one image per platform into an image index, each manifest
// marked with its platform so that a runtime picks its own.
func Index(images ...v1.Image) (v1.ImageIndex, error) {
	if len(images) == 0 {
		return nil, errors.New("image: no images for the index")
	}
	seen := map[string]bool{}
	adds := make([]mutate.IndexAddendum, 0, len(images))
	for _, img := range images {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image: reading the config: %w", err)
		}
		p := cfg.Platform()
		if p == nil {
			return nil, errors.New("image: an image has no platform")
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("image: two images for %s", p)
		}
		seen[p.String()] = true
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	return mutate.AppendManifests(empty.Index, adds...), nil
}

// WriteLayout writes images as an OCI image layout in dir, named tag (for
// tools that read a layout by name, such as skopeo's oci:DIR:TAG and
// containerd's import). One image is the layout's only manifest; several
// become an image index that the layout names instead. It returns the
// digest of what tag names, the one a registry would show after a push.
//
// A layout already in dir is replaced, and its blobs that the new one does
// not use are removed, so rebuilding does not grow the directory. Other
// files in dir are left alone.
func WriteLayout(dir string, tag name.Tag, images ...v1.Image) (v1.Hash, error) {
	if len(images) == 0 {
		return v1.Hash{}, errors.New("image: nothing to write")
	}
	// A new, empty index.json (and oci-layout): earlier builds are forgotten.
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image: creating the layout in %s: %w", dir, err)
	}
	annotations := layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          tag.Name(),
	})
	var digest v1.Hash
	if len(images) == 1 {
		img := images[0]
		cfg, err := img.ConfigFile()
		if err != nil {
			return v1.Hash{}, fmt.Errorf("image: reading the config: %w", err)
		}
		opts := []layout.Option{annotations}
		if pl := cfg.Platform(); pl != nil {
			opts = append(opts, layout.WithPlatform(*pl))
		}
		if err := p.AppendImage(img, opts...); err != nil {
			return v1.Hash{}, fmt.Errorf("image: writing the image to %s: %w", dir, err)
		}
		if digest, err = img.Digest(); err != nil {
			return v1.Hash{}, fmt.Errorf("image: %w", err)
		}
	} else {
		idx, err := Index(images...)
		if err != nil {
			return v1.Hash{}, err
		}
		if err := p.AppendIndex(idx, annotations); err != nil {
			return v1.Hash{}, fmt.Errorf("image: writing the index to %s: %w", dir, err)
		}
		if digest, err = idx.Digest(); err != nil {
			return v1.Hash{}, fmt.Errorf("image: %w", err)
		}
	}

	stale, err := p.GarbageCollect()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image: finding stale blobs in %s: %w", dir, err)
	}
	for _, h := range stale {
		if err := p.RemoveBlob(h); err != nil {
			return v1.Hash{}, fmt.Errorf("image: removing stale blob: %w", err)
		}
	}
	return digest, nil
}

// WriteTarball writes one image as a tarball that `docker load` (and
// `podman load`) take, tagged tag. Docker loads a single platform at a time,
// so it takes one image, not an index.
func WriteTarball(path string, tag name.Tag, img v1.Image) error {
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return fmt.Errorf("image: writing %s: %w", path, err)
	}
	return nil
}

// Size is what pulling the image transfers: its manifest, config and
// compressed layers.
func Size(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("image: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, fmt.Errorf("image: %w", err)
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
