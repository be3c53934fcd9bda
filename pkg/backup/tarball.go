package backup

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/pgzip"
)

// gzipBlockSize is how much of the tarball pgzip compresses per goroutine.
// Each block in flight costs about twice its size (input and output); at a
// quarter of pgzip's default the backup's memory stays small and the
// compression ratio is the same (each block is primed with the previous
// block's last 32 KiB).
const gzipBlockSize = 256 << 10

// FormatVersion is written to metadata/version: Heptio Ark's tarball format 1.
const FormatVersion = 1

// tarball writes a backup's entries as tar inside gzip. Entries stream to the
// underlying writer (the bucket upload): what is in memory is the entry being
// written and the gzip blocks being compressed. Compression is most of the
// CPU a backup spends of its own, so pgzip compresses 1 MiB blocks on every
// core while the next entries are written; the output is one ordinary gzip
// stream, the same for the same entries, that any gzip reader reads.
type tarball struct {
	gz      *pgzip.Writer
	tw      *tar.Writer
	modTime time.Time
	entries int
}

func newTarball(w io.Writer, modTime time.Time) *tarball {
	gz := pgzip.NewWriter(w)
	if err := gz.SetConcurrency(gzipBlockSize, runtime.GOMAXPROCS(0)); err != nil {
		panic(err) // a constant block size pgzip accepts
	}
	return &tarball{gz: gz, tw: tar.NewWriter(gz), modTime: modTime.UTC().Truncate(time.Second)}
}

// add writes one regular file.
func (t *tarball) add(name string, data []byte) error {
	hdr := &tar.Header{
		Name:     name,
		Mode:     0o644,
		Size:     int64(len(data)),
		ModTime:  t.modTime,
		Typeflag: tar.TypeReg,
		Format:   tar.FormatPAX,
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing tar header %s: %w", name, err)
	}
	if _, err := t.tw.Write(data); err != nil {
		return fmt.Errorf("writing tar entry %s: %w", name, err)
	}
	t.entries++
	return nil
}

// close finishes the tar stream and the gzip stream (not the upload). After
// an error, abort must still be called.
func (t *tarball) close() error {
	if err := t.tw.Close(); err != nil {
		return err
	}
	return t.gz.Close()
}

// abort stops the compression goroutines of a tarball that will not be
// finished, and waits for them (the blocks already compressing may still
// reach the underlying writer, which the caller then discards). pgzip's
// Close leaves its writer goroutine running after a failed write, so a
// failed backup needs this to leak nothing.
func (t *tarball) abort() {
	t.gz.Reset(io.Discard)
}

// itemPath is where an object goes in the tarball:
// resources/<resource>[.<group>]/namespaces/<ns>/<name>.json or
// resources/<resource>[.<group>]/cluster/<name>.json.
func itemPath(groupResource, namespace, name string) (string, error) {
	for _, part := range []string{groupResource, namespace, name} {
		if strings.ContainsAny(part, "/\\\x00") || part == ".." || part == "." {
			return "", fmt.Errorf("refusing unsafe name %q in a tar path", part)
		}
	}
	if namespace == "" {
		return path.Join("resources", groupResource, "cluster", name+".json"), nil
	}
	return path.Join("resources", groupResource, "namespaces", namespace, name+".json"), nil
}
