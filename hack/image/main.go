// Command image builds the ark-apiserver OCI image from binaries already
// built (see `make image`), with pkg/image: no Docker, no base image.
//
// Every timestamp in the image is SOURCE_DATE_EPOCH (the Unix epoch when it
// is not set), so the same binaries give the same digest.
//
// With several architectures (-arch amd64,arm64), -binary and -tarball hold
// "{arch}", replaced by each one, and the layout holds an image index.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/arkproject/ark/pkg/image"
)

func main() {
	binary := flag.String("binary", "", "the static linux ark-apiserver binary; with several architectures, a path holding {arch}")
	version := flag.String("version", "", "Ark's version: the image's tag and org.opencontainers.image.version")
	commit := flag.String("commit", "", "source commit, for org.opencontainers.image.revision")
	out := flag.String("out", "", "directory to write the OCI image layout to")
	arches := flag.String("arch", "amd64", "comma-separated GOARCH list; more than one makes an image index")
	tarballPath := flag.String("tarball", "", "also write a `docker load` tarball here (holding {arch} when there are several)")
	flag.Parse()
	if err := run(*binary, *version, *commit, *out, *arches, *tarballPath); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(binary, version, commit, out, arches, tarballPath string) error {
	if binary == "" || version == "" || out == "" {
		return errors.New("hack/image: -binary, -version and -out are required")
	}
	created := time.Unix(0, 0)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("hack/image: SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		created = time.Unix(sec, 0)
	}
	tag, err := image.Reference(version)
	if err != nil {
		return err
	}
	archList := strings.Split(arches, ",")
	perArch := func(path string) (func(string) string, error) {
		if len(archList) > 1 && path != "" && !strings.Contains(path, "{arch}") {
			return nil, fmt.Errorf("hack/image: %s: with several architectures the path must hold {arch}", path)
		}
		return func(arch string) string { return strings.ReplaceAll(path, "{arch}", arch) }, nil
	}
	binaryFor, err := perArch(binary)
	if err != nil {
		return err
	}
	tarballFor, err := perArch(tarballPath)
	if err != nil {
		return err
	}

	var images []v1.Image
	for _, arch := range archList {
		img, err := image.Build(image.Options{Binary: binaryFor(arch), Arch: arch, Version: version, Commit: commit, Created: created})
		if err != nil {
			return err
		}
		digest, err := img.Digest()
		if err != nil {
			return err
		}
		size, err := image.Size(img)
		if err != nil {
			return err
		}
		fmt.Printf("linux/%s: %s (%.1f MB compressed)\n", arch, digest, float64(size)/1e6)
		if tarballPath != "" {
			if err := image.WriteTarball(tarballFor(arch), tag, img); err != nil {
				return err
			}
			fmt.Printf("linux/%s: docker load -i %s\n", arch, tarballFor(arch))
		}
		images = append(images, img)
	}
	digest, err := image.WriteLayout(out, tag, images...)
	if err != nil {
		return err
	}
	fmt.Printf("image:  %s\nlayout: %s\ndigest: %s\n", tag, out, digest)
	return nil
}
