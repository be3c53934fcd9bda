// Package image builds the ark-apiserver container image without Docker: a
// static binary, the Mozilla root certificates and a non-root user, put
// together with go-containerregistry and written as an OCI image layout (and,
// for `docker load`, as a tarball).
//
// Nothing is downloaded: there is no base image. The image holds only what
// the server needs, so there is nothing else in it to patch, and the same
// binary always gives the same image digest, since every timestamp in it is
// the one the caller gives (SOURCE_DATE_EPOCH in `make image`).
package image

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/arkproject/ark/pkg/version"
)

const (
	// Repository is where the image is published; the tag is the version.
	Repository = version.ImageRepository
	// Source is the project's repository, for the org.opencontainers.image.source label
	// (ghcr.io links the package to it).
	Source = "https://github.com/arkproject/ark"

	// BinaryPath is the server's path in the image, and the entrypoint.
	BinaryPath = "/ark-apiserver"
	// CertFile is the CA bundle's path: where Go and OpenSSL look on Debian
	// and Alpine, and named in SSL_CERT_FILE as well so no guess is needed.
	CertFile = "/etc/ssl/certs/ca-certificates.crt"
	// UID and GID are the non-root user the server runs as; the manifests in
	// artifacts/ ask for the same ids (runAsUser, runAsGroup, fsGroup).
	UID = 65532
	GID = 65532
	// User is the config's user, numeric so that runAsNonRoot can check it
	// without reading /etc/passwd.
	User = "65532:65532"
)

// Options say what goes into one platform's image.
type Options struct {
	// Binary is the path of a statically linked linux ark-apiserver
	// (CGO_ENABLED=0): the image has no libc or dynamic loader.
	Binary string
	// Arch is the GOARCH the binary was built for; "amd64" when empty.
	Arch string
	// Version is Ark's version, for the org.opencontainers.image.version label.
	Version string
	// Commit is the source commit, for org.opencontainers.image.revision;
	// the label is left out when empty.
	Commit string
	// Created is every timestamp in the image: the config's, the history's
	// and each file's. A fixed value (SOURCE_DATE_EPOCH, the commit time)
	// makes the digest depend only on the contents; the zero value means the
	// Unix epoch.
	Created time.Time
}

// elfMachines are the architectures the image can be built for, with the ELF
// machine a binary for each must have, so an image cannot claim an
// architecture its binary was not built for.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// Build returns the image for one platform. The binary is read whole: it is
// checked (static, right architecture) and then kept in memory, since its
// layer is read more than once while the image is digested and written.
func Build(opts Options) (v1.Image, error) {
	if opts.Arch == "" {
		opts.Arch = "amd64"
	}
	if opts.Version == "" {
		return nil, errors.New("image: no version given")
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)

	binary, err := os.ReadFile(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: reading the binary: %w", err)
	}
	if err := checkBinary(binary, opts.Arch); err != nil {
		return nil, fmt.Errorf("image: %s: %w", opts.Binary, err)
	}
	certs, err := CertificateBundle()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}

	base, err := layer(created, []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID))},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, GID))},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(CertFile, "/"), mode: 0o644, data: certs},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: UID, gid: GID},
	})
	if err != nil {
		return nil, fmt.Errorf("image: base layer: %w", err)
	}
	// The binary has its own layer, last: a new build changes only it, and
	// it stays owned by root so the server cannot rewrite itself.
	server, err := layer(created, []file{{name: strings.TrimPrefix(BinaryPath, "/"), mode: 0o755, data: binary}})
	if err != nil {
		return nil, fmt.Errorf("image: binary layer: %w", err)
	}

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: created}, CreatedBy: "ark pkg/image: CA certificates (" + bundleModule() + "), passwd, group", Comment: "base",
		}},
		mutate.Addendum{Layer: server, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: created}, CreatedBy: "ark pkg/image: " + BinaryPath + " " + opts.Version, Comment: "ark-apiserver",
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("image: adding layers: %w", err)
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: reading the config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = opts.Arch
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: created}
	labels := map[string]string{
		"org.opencontainers.image.title":       "ark-apiserver",
		"org.opencontainers.image.description": "Ark's API server: Kubernetes backup and restore",
		"org.opencontainers.image.version":     opts.Version,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if opts.Commit != "" {
		labels["org.opencontainers.image.revision"] = opts.Commit
	}
	cfg.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       User,
		WorkingDir: "/",
		Env:        []string{"SSL_CERT_FILE=" + CertFile},
		Labels:     labels,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("image: setting the config: %w", err)
	}
	return img, nil
}

// checkBinary refuses what would not run in the image: a file that is not an
// ELF executable, one for another architecture, or one linked dynamically
// (built with cgo), which would fail to start with a bare "no such file or
// directory" since the image has no dynamic loader.
func checkBinary(b []byte, arch string) error {
	want, ok := elfMachines[arch]
	if !ok {
		return fmt.Errorf("unsupported architecture %q", arch)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	if f.Machine != want || (arch == "ppc64le" && f.Data != elf.ELFDATA2LSB) {
		return fmt.Errorf("built for %s, not %s", f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked: build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// CertificateBundle returns the PEM bundle written to CertFile: Mozilla's
// root store (NSS) as golang.org/x/crypto/x509roots/fallback/bundle embeds
// it. A Go module rather than the build machine's /etc/ssl, so the image's
// trust does not depend on where it was built, and it is updated like any
// other dependency.
//
// Roots that NSS trusts only with a constraint (certificates issued before a
// distrust date) are left out: a PEM file cannot carry the constraint, and
// trusting them without it would trust more than Mozilla does.
func CertificateBundle() ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Mozilla's root certificates (NSS), from %s.\n", bundleModule())
	fmt.Fprintf(&buf, "# Roots trusted only with a distrust-after date are left out.\n")
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: root %d: %w", n, err)
		}
		fmt.Fprintf(&buf, "\n# %s\n", strings.ReplaceAll(cert.Subject.String(), "\n", " "))
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil, errors.New("CA bundle: no root certificates")
	}
	return buf.Bytes(), nil
}

// bundleModule names the module and version the certificates come from, as
// far as the running binary knows it.
func bundleModule() string {
	const path = "golang.org/x/crypto/x509roots/fallback"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return path + " " + m.Version
			}
		}
	}
	return path
}

// file is one entry of a layer.
type file struct {
	name     string
	mode     int64
	dir      bool
	data     []byte
	uid, gid int
}

// layer makes a gzip-compressed OCI layer of files, every one dated created
// and, unless it says otherwise, owned by root. The tar is the layer's file
// system, built with archive/tar; go-containerregistry compresses it, digests
// it and writes the image around it.
func layer(created time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: created,
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// Reference is the image's name: Repository tagged with the version, which
// must therefore be a valid tag (letters, digits, '_', '.', '-'; no '+').
func Reference(version string) (name.Tag, error) {
	tag, err := name.NewTag(Repository + ":" + version)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image: version %q is not a valid tag: %w", version, err)
	}
	return tag, nil
}
