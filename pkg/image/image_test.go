package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

const (
	testVersion = "v0.0.0-imagetest"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// goBuild builds pkg as a static linux binary for arch into dir, the way
// `make image` does, and returns its path.
func goBuild(t *testing.T, dir, arch, pkg string, ldflags ...string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	out := filepath.Join(dir, "bin-"+arch)
	args := []string{"build", "-trimpath", "-ldflags", strings.Join(append([]string{"-s", "-w"}, ldflags...), " "), "-o", out, pkg}
	// Stop the build a little before the test's deadline, with a message,
	// rather than leave it running after the test binary panics. A first
	// build compiles every dependency again (CGO_ENABLED=0, -trimpath):
	// minutes on two cores; later ones come from the build cache.
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v (%v)\n%s", strings.Join(args, " "), err, ctx.Err(), b)
	}
	return out
}

// hostArch is the architecture this test runs on, which the built server
// must have to be run; the test is skipped where images cannot be built for
// it or the binary cannot run.
func hostArch(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the image's linux binary cannot run on %s", runtime.GOOS)
	}
	if _, ok := elfMachines[runtime.GOARCH]; !ok {
		t.Skipf("no image for %s", runtime.GOARCH)
	}
	return runtime.GOARCH
}

// entry is one file of an image's flattened file system.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// files reads an image's file system as a container would see it.
func files(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	fs := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the image's files: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		fs[strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")] = entry{hdr: h, data: b}
	}
	return fs
}

// TestImage builds ark-apiserver and its image, reads the image back from the
// OCI layout as a registry client would, and runs the binary found in it.
func TestImage(t *testing.T) {
	arch := hostArch(t)
	dir := t.TempDir()
	binary := goBuild(t, dir, arch, "github.com/arkproject/ark/cmd/ark-apiserver",
		"-X github.com/arkproject/ark/pkg/version.Version="+testVersion,
		"-X github.com/arkproject/ark/pkg/version.Commit="+testCommit)
	built, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := Options{Binary: binary, Arch: arch, Version: testVersion, Commit: testCommit, Created: created}

	img, err := Build(opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	tag, err := Reference(testVersion)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tag.String(), "ghcr.io/arkproject/ark-apiserver:"+testVersion; got != want {
		t.Errorf("reference %s, want %s", got, want)
	}
	out := filepath.Join(dir, "layout")
	digest, err := WriteLayout(out, tag, img)
	if err != nil {
		t.Fatalf("WriteLayout: %v", err)
	}

	// Read everything back from disk, not from img.
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatalf("reading the layout: %v", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("layout names %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.Digest != digest {
		t.Errorf("layout names %s, WriteLayout returned %s", desc.Digest, digest)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", desc.MediaType, types.OCIManifestSchema1)
	}
	if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != testVersion {
		t.Errorf("ref.name annotation %q, want %q", got, testVersion)
	}
	if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != arch {
		t.Errorf("descriptor platform %v, want linux/%s", desc.Platform, arch)
	}
	got, err := p.Image(desc.Digest)
	if err != nil {
		t.Fatalf("reading the image from the layout: %v", err)
	}
	m, err := got.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 2 {
		t.Errorf("config %s and %d layers, want %s and 2", m.Config.MediaType, len(m.Layers), types.OCIConfigJSON)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %d has media type %s, want %s", i, l.MediaType, types.OCILayer)
		}
	}

	t.Run("config", func(t *testing.T) {
		cfg, err := got.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cfg.Config
		if !slices.Equal(c.Entrypoint, []string{"/ark-apiserver"}) || len(c.Cmd) != 0 {
			t.Errorf("entrypoint %q cmd %q, want [/ark-apiserver] and none", c.Entrypoint, c.Cmd)
		}
		if c.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532", c.User)
		}
		if c.WorkingDir != "/" {
			t.Errorf("working dir %q, want /", c.WorkingDir)
		}
		if !slices.Contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
			t.Errorf("env %q lacks SSL_CERT_FILE", c.Env)
		}
		if cfg.OS != "linux" || cfg.Architecture != arch {
			t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, arch)
		}
		if !cfg.Created.Time.Equal(created) {
			t.Errorf("created %v, want %v", cfg.Created.Time, created)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.version":  testVersion,
			"org.opencontainers.image.revision": testCommit,
			"org.opencontainers.image.source":   "https://github.com/arkproject/ark",
			"org.opencontainers.image.title":    "ark-apiserver",
			"org.opencontainers.image.licenses": "Apache-2.0",
		} {
			if c.Labels[k] != want {
				t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
			}
		}
		if len(cfg.History) != 2 || len(cfg.RootFS.DiffIDs) != 2 {
			t.Errorf("%d history entries and %d diff ids, want 2 each", len(cfg.History), len(cfg.RootFS.DiffIDs))
		}
	})

	fs := files(t, got)

	t.Run("files", func(t *testing.T) {
		for name, e := range fs {
			if !e.hdr.ModTime.Equal(created) {
				t.Errorf("%s dated %v, want %v", name, e.hdr.ModTime, created)
			}
		}
		server, ok := fs["ark-apiserver"]
		if !ok {
			t.Fatal("no /ark-apiserver in the image")
		}
		if !bytes.Equal(server.data, built) {
			t.Errorf("/ark-apiserver in the image (%d bytes) differs from the built binary (%d bytes)", len(server.data), len(built))
		}
		if server.hdr.Mode&0o777 != 0o755 || server.hdr.Uid != 0 || server.hdr.Gid != 0 {
			t.Errorf("/ark-apiserver mode %o owner %d:%d, want 755 root:root", server.hdr.Mode, server.hdr.Uid, server.hdr.Gid)
		}

		passwd := string(fs["etc/passwd"].data)
		if !slices.Contains(strings.Split(passwd, "\n"), "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin") {
			t.Errorf("/etc/passwd has no nonroot user:\n%s", passwd)
		}
		group := string(fs["etc/group"].data)
		if !slices.Contains(strings.Split(group, "\n"), "nonroot:x:65532:") {
			t.Errorf("/etc/group has no nonroot group:\n%s", group)
		}
		if home, ok := fs["home/nonroot"]; !ok || home.hdr.Typeflag != tar.TypeDir || home.hdr.Uid != 65532 {
			t.Errorf("no /home/nonroot directory owned by 65532")
		}
	})

	t.Run("certificates", func(t *testing.T) {
		bundleFile, ok := fs["etc/ssl/certs/ca-certificates.crt"]
		if !ok {
			t.Fatal("no /etc/ssl/certs/ca-certificates.crt in the image")
		}
		rest := bundleFile.data
		n := 0
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				t.Fatalf("PEM block %d is a %s", n, block.Type)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatalf("certificate %d: %v", n, err)
			}
			if !cert.IsCA {
				t.Errorf("certificate %d (%s) is not a CA", n, cert.Subject)
			}
			n++
		}
		if strings.TrimSpace(string(rest)) != "" {
			t.Errorf("text after the last certificate: %q", rest)
		}
		if n <= 100 {
			t.Errorf("%d certificates, want more than 100", n)
		}
		// Every unconstrained root of the bundle is there, and no other.
		want := 0
		for r := range bundle.Roots() {
			if r.Constraint == nil {
				want++
			}
		}
		if n != want {
			t.Errorf("%d certificates, want the bundle's %d unconstrained roots", n, want)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(bundleFile.data) {
			t.Error("crypto/x509 takes no certificate from the bundle")
		}
	})

	t.Run("run", func(t *testing.T) {
		server := filepath.Join(t.TempDir(), "ark-apiserver")
		if err := os.WriteFile(server, fs["ark-apiserver"].data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(server, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(server, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("ark-apiserver --version: %v\n%s", err, b)
		}
		out := strings.TrimSpace(string(b))
		prefix := "ark-apiserver version " + testVersion + " (commit " + testCommit + "), go"
		if !strings.HasPrefix(out, prefix) || !strings.HasSuffix(out, ", linux/"+arch) {
			t.Errorf("ark-apiserver --version printed %q, want %q...%q", out, prefix, ", linux/"+arch)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again, err := Build(opts)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := again.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d2 != digest {
			t.Errorf("a second build has digest %s, the first %s", d2, digest)
		}
		out2 := filepath.Join(t.TempDir(), "layout")
		if d, err := WriteLayout(out2, tag, again); err != nil || d != digest {
			t.Fatalf("second layout: digest %s, error %v; want %s", d, err, digest)
		}
		for _, f := range []string{"index.json", "oci-layout"} {
			a, _ := os.ReadFile(filepath.Join(out, f))
			b, _ := os.ReadFile(filepath.Join(out2, f))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s differs between two builds:\n%s\n%s", f, a, b)
			}
		}

		// Only the timestamps change the digest: proof that the test
		// would see a build that is not reproducible.
		later := opts
		later.Created = created.Add(time.Second)
		other, err := Build(later)
		if err != nil {
			t.Fatal(err)
		}
		if d3, _ := other.Digest(); d3 == digest {
			t.Errorf("another Created gives the same digest %s", d3)
		}

		// Writing again over the layout leaves no stale blob behind: the
		// manifest, the config and two layers.
		if _, err := WriteLayout(out, tag, other); err != nil {
			t.Fatal(err)
		}
		blobs, err := os.ReadDir(filepath.Join(out, "blobs", "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		if len(blobs) != 4 {
			t.Errorf("%d blobs after rewriting the layout, want 4", len(blobs))
		}
	})

	t.Run("tarball", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ark-apiserver.tar")
		if err := WriteTarball(path, tag, img); err != nil {
			t.Fatal(err)
		}
		loaded, err := tarball.ImageFromPath(path, &tag)
		if err != nil {
			t.Fatalf("reading the tarball back: %v", err)
		}
		// `docker load` makes its own (Docker) manifest, so the manifest
		// digest differs; the config, which Docker calls the image ID, and
		// the layers must be the same.
		want, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		if id, err := loaded.ConfigName(); err != nil || id != want {
			t.Errorf("the tarball's image ID is %s (error %v), want %s", id, err, want)
		}
		wantLayers, _ := img.Layers()
		gotLayers, err := loaded.Layers()
		if err != nil || len(gotLayers) != len(wantLayers) {
			t.Fatalf("the tarball has %d layers (error %v), want %d", len(gotLayers), err, len(wantLayers))
		}
		for i := range wantLayers {
			a, _ := wantLayers[i].Digest()
			b, err := gotLayers[i].Digest()
			if err != nil || a != b {
				t.Errorf("layer %d: %s in the tarball (error %v), want %s", i, b, err, a)
			}
		}
		mf, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
		if err != nil {
			t.Fatal(err)
		}
		if len(mf) != 1 || !slices.Contains(mf[0].RepoTags, tag.String()) {
			t.Errorf("tarball manifest %+v, want one image tagged %s", mf, tag)
		}
	})
}

// TestIndex builds a small program for two architectures and checks that
// both images end up in one image index, each under its platform.
func TestIndex(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var images []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		bin := goBuild(t, dir, arch, src)
		img, err := Build(Options{Binary: bin, Arch: arch, Version: testVersion})
		if err != nil {
			t.Fatalf("Build %s: %v", arch, err)
		}
		images = append(images, img)
	}
	tag, err := Reference(testVersion)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "layout")
	digest, err := WriteLayout(out, tag, images...)
	if err != nil {
		t.Fatalf("WriteLayout: %v", err)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex || tm.Manifests[0].Digest != digest {
		t.Fatalf("layout names %+v, want one image index %s", tm.Manifests, digest)
	}
	if got := tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != testVersion {
		t.Errorf("ref.name annotation %q, want %q", got, testVersion)
	}
	idx, err := top.ImageIndex(digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != d.Platform.Architecture {
			t.Errorf("manifest for %s holds an image for %s", d.Platform.Architecture, cfg.Architecture)
		}
		platforms = append(platforms, d.Platform.String())
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %q, want linux/amd64 and linux/arm64", platforms)
	}
	if _, err := Index(images[0], images[0]); err == nil {
		t.Error("an index with two images for one platform was accepted")
	}
}

// TestBuildRefuses checks that what would not run in the image is refused.
func TestBuildRefuses(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	amd64 := goBuild(t, dir, "amd64", src)
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"another architecture", Options{Binary: amd64, Arch: "arm64", Version: "v1"}, "not arm64"},
		{"unknown architecture", Options{Binary: amd64, Arch: "mips", Version: "v1"}, "unsupported architecture"},
		{"not ELF", Options{Binary: text, Version: "v1"}, "not an ELF executable"},
		{"missing", Options{Binary: filepath.Join(dir, "nothing"), Version: "v1"}, "no such file"},
		{"no version", Options{Binary: amd64}, "no version"},
	} {
		if _, err := Build(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := Reference("v1.0.0+build.1"); err == nil {
		t.Error("a version with '+' was taken as a tag")
	}

	// A dynamically linked executable: the test's own shell, where it is one.
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh to try as a dynamically linked binary")
		}
		if sh, err = filepath.EvalSymlinks(sh); err != nil {
			t.Skip(err)
		}
		f, err := elf.Open(sh)
		if err != nil {
			t.Skipf("%s: %v", sh, err)
		}
		dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if !dynamic {
			t.Skipf("%s is not dynamically linked", sh)
		}
		if _, err := Build(Options{Binary: sh, Version: "v1"}); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
			t.Errorf("dynamically linked %s: error %v, want one saying so", sh, err)
		}
	}
}
