// Package archive reads a backup's tarball out of its storage location for a
// restore. The bucket is treated as hostile: anyone able to write to it may
// have replaced or crafted any object, so nothing in it is trusted until it
// has been checked.
//
// Extract downloads the tarball to a temporary file while hashing it, checks
// its size and SHA-256 against the backup's manifest, and only then reads it,
// validating every entry (path, type, layout, size, JSON content, and that
// the object it holds is the one its path names) before it writes the
// entry's file. Nothing outside the caller's directory can be
// written (the files are created through an os.Root), the memory used is one
// entry at a time, and the disk, CPU and entry counts are bounded by Limits.
// On any error, what Extract wrote is removed.
//
// Errors caused by the bucket's content (a tampered, truncated, malformed or
// missing object) match ErrCorrupt with errors.Is; a missing object also
// matches objectstore.ErrNotFound. Errors of the store itself (an outage),
// of the local disk, or of the context do not match ErrCorrupt.
package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/objectstore"
)

// Default limits, used for the zero (or a negative) value of a Limits field.
const (
	DefaultMaxEntrySize int64 = 16 << 20 // 16 MiB
	DefaultMaxEntries         = 1_000_000
	DefaultMaxTotalSize int64 = 8 << 30 // 8 GiB
)

// Limits bound the resources a tarball may make Extract use.
type Limits struct {
	// MaxEntrySize caps the size of one tar entry. Default 16 MiB.
	MaxEntrySize int64
	// MaxEntries caps the number of tar entries, directories included.
	// Default 1,000,000.
	MaxEntries int
	// MaxTotalSize caps the sum of the entries' sizes (the uncompressed
	// content) and also the size of the compressed tarball downloaded.
	// Default 8 GiB.
	MaxTotalSize int64
	// MemoryBudget is how many bytes of items (uncompressed) Extract may keep
	// in memory instead of writing them to its spool file on disk. A tarball
	// no larger than the budget is also downloaded into memory. Items stay
	// in memory while their total stays within the budget; the first item
	// past it moves them all to the spool, and the rest are appended to it
	// too. Zero or negative keeps everything on disk. It does not raise
	// MaxTotalSize.
	MemoryBudget int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = DefaultMaxEntrySize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultMaxTotalSize
	}
	return l
}

// Item is one backed-up object extracted from the tarball.
type Item struct {
	// Resource is the resource with its API group, as in the tarball:
	// "pods", "deployments.apps".
	Resource string
	// Namespace is "" for a cluster-scoped object.
	Namespace string
	// Name is the object's name.
	Name string

	// variant says which copy of a Velero backup's item this is (see
	// veleroVariant); Ark's tarballs hold one copy only.
	variant veleroVariant

	// data is the item's JSON when it is kept in memory. A string, so that
	// Items stay comparable and no caller can modify the verified content.
	data string
	// spool holds the item's JSON at [off, off+size) when it is not kept in
	// memory (see Limits.MemoryBudget).
	spool     *os.File
	off, size int64
}

// InMemory reports whether the item's content is held in memory rather than
// in the index's spool file.
func (it Item) InMemory() bool { return it.spool == nil }

// Content returns the item's JSON, validated by Extract, from memory or from
// the spool file. Items of one index may be read concurrently, until the
// index is closed.
func (it Item) Content() ([]byte, error) {
	if it.InMemory() {
		return []byte(it.data), nil
	}
	data := make([]byte, it.size)
	if _, err := it.spool.ReadAt(data, it.off); err != nil {
		return nil, fmt.Errorf("reading %s/%s of %s from %s: %w", it.Namespace, it.Name, it.Resource, it.spool.Name(), err)
	}
	return data, nil
}

// Index describes an extracted tarball.
type Index struct {
	// Version is the content of metadata/version: "1" for Ark's tarballs,
	// "1" or "1.x.y" for Velero's.
	Version string
	// Items are the extracted objects, in tar order.
	Items []Item
	// Encrypted says the tarball was encrypted, and authenticated with
	// the backup's data key as it was read.
	Encrypted bool

	spool *os.File // nil when every item is in memory
}

// Close releases the spool file the items not kept in memory are read from;
// their Content fails after it. The file itself goes with the directory
// Extract was given.
func (idx *Index) Close() error {
	if idx == nil || idx.spool == nil {
		return nil
	}
	return idx.spool.Close()
}

// ErrCorrupt is matched (errors.Is) by every error Extract returns because
// of what the bucket holds: a missing, tampered, truncated or malformed
// manifest or tarball, or a tarball entry that is unsafe or not a backup's.
// It is backupstore.ErrCorrupt, which every verified read of a backup's
// files matches.
var ErrCorrupt = backupstore.ErrCorrupt

const (
	// VersionFile is the tarball entry holding the format version.
	VersionFile = "metadata/version"
	// maxVersionSize caps metadata/version.
	maxVersionSize = 256
	// maxEntryOverhead caps the tar stream bytes that are not entry content,
	// per entry: the previous entry's padding and the next header with its
	// PAX or GNU long-name records. Ark's own entries need about 3 KiB.
	maxEntryOverhead = 16 << 10
	// maxTrailer caps the zero padding allowed after the end-of-archive
	// marker (tar writers pad to a record size, 10 KiB by default).
	maxTrailer = 1 << 20
	// endMarker is the size of tar's end-of-archive marker: two zero blocks.
	endMarker = 1024
	// tempName is the download's name in the extraction directory; no tar
	// entry can take it.
	tempName = ".ark-download.tar.gz"
	// spoolName is the spool file's name in the extraction directory.
	spoolName = "items.spool"
	// spoolBuffer is how much of the spool is written at a time.
	spoolBuffer = 256 << 10
)

// Extract downloads the backup's <backup>.tar.gz, verifies its size and
// SHA-256 against its <backup>-manifest.json (a missing or
// malformed manifest, a missing tarball or a mismatch is an error), then
// validates every tar entry and extracts the items. dir must be an existing,
// empty directory that the caller owns. Items beyond the memory budget are
// appended, one after another, to one spool file in dir (mode 0600), which
// the returned index reads them from until it is closed: one file rather
// than a file per item, because creating, reading back and removing 100,000
// small files took a restore longer than everything else it does before its
// first create. An item's content must agree with its path in the tarball
// (resources/<resource>/namespaces/<ns>/<name>.json or
// resources/<resource>/cluster/<name>.json): metadata.name is <name>,
// metadata.namespace is <ns> (absent under cluster/), and the group of its
// apiVersion is the one in <resource>; one that disagrees makes the whole
// backup corrupt, as any other bad entry does.
//
// No file but a temporary download is written to dir before the checksum
// has been verified, and on error Extract removes everything it wrote.
func Extract(ctx context.Context, store objectstore.Store, ref backupstore.Backup, dir string, limits Limits) (_ *Index, err error) {
	backupName := ref.Name
	if err := checkBackupName(backupName); err != nil {
		return nil, err
	}
	x := &extractor{backup: backupName, ref: ref, limits: limits.withDefaults(), names: map[string]struct{}{}, velero: ref.Format().IsVelero()}
	x.inMemory = x.limits.MemoryBudget > 0
	if x.dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("extracting backup %q: %w", backupName, err)
	}
	if x.root, err = openEmptyDir(x.dir); err != nil {
		return nil, fmt.Errorf("extracting backup %q: %w", backupName, err)
	}
	defer x.root.Close()
	defer func() {
		if cerr := x.cleanup(err != nil); cerr != nil {
			if err == nil {
				err = fmt.Errorf("extracting backup %q: %w", backupName, cerr)
			} else {
				err = fmt.Errorf("%w (and cleaning up %s failed: %v)", err, x.dir, cerr)
			}
		}
	}()

	var f io.Reader
	if x.velero {
		// Velero writes no checksums: the tarball is only as good as the
		// bucket, so every entry's check below is all there is (the
		// restorer says so in the restore's warnings).
		f, err = x.downloadUnverified(ctx, store)
	} else {
		var want backupstore.ManifestEntry
		if want, err = x.readManifest(ctx, store); err != nil {
			return nil, err
		}
		f, err = x.download(ctx, store, want)
	}
	if err != nil {
		return nil, err
	}
	if c, ok := f.(io.Closer); ok {
		defer c.Close()
	}
	// An encrypted tarball is decrypted as it is extracted, each segment
	// authenticated before its bytes are read: a tampered one fails the
	// extraction, and so the restore, before anything is created.
	if f, err = x.manifest.Decrypt(f, x.ref.TarballKey()); err != nil {
		return nil, x.streamError(err)
	}
	return x.extract(ctx, f)
}

func checkBackupName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("invalid backup name %q", name)
	}
	return nil
}

// openEmptyDir opens dir as a root, refusing a directory that holds anything:
// Extract must neither trip over nor remove files it did not write.
func openEmptyDir(dir string) (*os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	d, err := root.Open(".")
	if err == nil {
		var names []string
		names, err = d.Readdirnames(1)
		d.Close()
		if err == io.EOF {
			return root, nil
		}
		if err == nil {
			err = fmt.Errorf("directory %s is not empty (it holds %q)", dir, names[0])
		}
	}
	root.Close()
	return nil, err
}

type extractor struct {
	// velero says the tarball is a Velero server's: no manifest, its
	// version file and layouts (see velero.go).
	velero bool
	backup string
	ref    backupstore.Backup
	// manifest is the backup's verified manifest (not a Velero backup's),
	// which decrypts the tarball when the backup is encrypted.
	manifest backupstore.Manifest
	dir      string // absolute
	root     *os.Root
	limits   Limits

	wroteTemp bool
	buf       []byte // the current entry's content
	// names are the item entries' names so far, to refuse a duplicate.
	// Items' fields are substrings of them, so they cost little more.
	names map[string]struct{}

	// inMemory is true until the items outgrow limits.MemoryBudget; memSize
	// is their total size.
	inMemory bool
	memSize  int64

	// spool is the file items go to once they outgrow the budget, written
	// through spoolW; spoolEnd is its size once spoolW is flushed.
	spool    *os.File
	spoolW   *bufio.Writer
	spoolEnd int64
}

func (x *extractor) tarballName() string { return x.backup + ".tar.gz" }

func (x *extractor) corrupt(cause error, format string, args ...any) error {
	return &backupstore.CorruptError{Backup: x.backup, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// cleanup removes the download, and the spool if failed.
func (x *extractor) cleanup(failed bool) error {
	var errs []error
	if x.wroteTemp {
		if err := x.root.Remove(tempName); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if failed && x.spool != nil {
		errs = append(errs, x.spool.Close())
		if err := x.root.Remove(spoolName); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readManifest returns the manifest's entry for the tarball.
func (x *extractor) readManifest(ctx context.Context, store objectstore.Store) (backupstore.ManifestEntry, error) {
	m, err := backupstore.ReadManifest(ctx, store, x.ref)
	if err != nil {
		return backupstore.ManifestEntry{}, err
	}
	x.manifest = m
	e, ok := m.Files[x.tarballName()]
	if !ok {
		return backupstore.ManifestEntry{}, x.corrupt(nil, "its manifest %s does not list %s", x.ref.ManifestKey(), x.tarballName())
	}
	return e, nil
}

// download streams the tarball into a temporary file in the directory (or
// into memory, when it fits the memory budget) while hashing it, and returns
// it, rewound, once its size and checksum match the manifest's.
func (x *extractor) download(ctx context.Context, store objectstore.Store, want backupstore.ManifestEntry) (io.Reader, error) {
	key, file := x.ref.TarballKey(), x.tarballName()
	if want.Size > x.limits.MaxTotalSize {
		return nil, x.corrupt(nil, "%s is %d bytes, more than the limit of %d", file, want.Size, x.limits.MaxTotalSize)
	}
	r, attrs, err := store.NewReader(ctx, key)
	if err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, x.corrupt(err, "its tarball is missing")
		}
		return nil, fmt.Errorf("downloading backup %q: %w", x.backup, err)
	}
	defer r.Close()
	if attrs.Size != want.Size {
		return nil, x.sizeMismatch(attrs.Size, want.Size)
	}
	if x.inMemory && want.Size <= x.limits.MemoryBudget {
		return x.downloadToMemory(ctx, r, want)
	}
	x.wroteTemp = true
	f, err := x.root.OpenFile(tempName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("downloading backup %q: %w", x.backup, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxReader{ctx, r}, want.Size+1))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("downloading backup %q: %s: %w", x.backup, key, err)
	}
	if n != want.Size {
		f.Close()
		return nil, x.sizeMismatch(n, want.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want.SHA256) {
		f.Close()
		return nil, x.corrupt(nil, "checksum of %s does not match its manifest (sha256 %s, the manifest says %s)", file, got, want.SHA256)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("extracting backup %q: %w", x.backup, err)
	}
	return f, nil
}

// downloadToMemory is download for a tarball within the memory budget: the
// same size and checksum checks, without a temporary file.
func (x *extractor) downloadToMemory(ctx context.Context, r io.Reader, want backupstore.ManifestEntry) (io.Reader, error) {
	buf := bytes.NewBuffer(make([]byte, 0, want.Size+1))
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(buf, h), io.LimitReader(ctxReader{ctx, r}, want.Size+1))
	if err != nil {
		return nil, fmt.Errorf("downloading backup %q: %s: %w", x.backup, x.ref.TarballKey(), err)
	}
	if n != want.Size {
		return nil, x.sizeMismatch(n, want.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want.SHA256) {
		return nil, x.corrupt(nil, "checksum of %s does not match its manifest (sha256 %s, the manifest says %s)", x.tarballName(), got, want.SHA256)
	}
	return bytes.NewReader(buf.Bytes()), nil
}

func (x *extractor) sizeMismatch(got, want int64) error {
	return x.corrupt(nil, "size of %s does not match its manifest (%d bytes, the manifest says %d)", x.tarballName(), got, want)
}

// extract reads the verified tarball.
func (x *extractor) extract(ctx context.Context, f io.Reader) (*Index, error) {
	br := bufio.NewReaderSize(f, 64<<10)
	zr, err := gzip.NewReader(br)
	if err != nil {
		switch {
		case errors.Is(err, encryption.ErrTampered):
			return nil, x.streamError(err)
		case errors.Is(err, gzip.ErrHeader), errors.Is(err, io.EOF):
			return nil, x.corrupt(nil, "%s is not a gzip stream", x.tarballName())
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, x.corrupt(nil, "the archive is truncated")
		}
		return nil, fmt.Errorf("extracting backup %q: %w", x.backup, err)
	}
	defer zr.Close()
	zr.Multistream(false)
	m := &meteredReader{r: &gzipStream{br: br, zr: zr}, budget: maxEntryOverhead, over: fmt.Sprintf("a tar header (with its padding) is larger than %d bytes", maxEntryOverhead)}
	tr := tar.NewReader(m)
	idx := &Index{Encrypted: x.manifest.Encrypted()}
	var entries int
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
				if msg := checkPath(hdr.Name, hdr.Typeflag == tar.TypeDir); msg != "" {
					return nil, x.corrupt(nil, "%s", msg)
				}
			}
			return nil, x.streamError(err)
		}
		entries++
		if entries > x.limits.MaxEntries {
			return nil, x.corrupt(nil, "the archive has more than %d entries", x.limits.MaxEntries)
		}
		if hdr.Size > 0 {
			m.budget += hdr.Size
		}
		m.budget += maxEntryOverhead
		if err := x.entry(tr, hdr, idx, &total); err != nil {
			return nil, err
		}
	}
	// Go's tar reader also stops, without error, where the stream ends at a
	// block boundary: only the end-of-archive marker, two zero blocks that
	// no entry's content can end with (it is JSON), proves the archive whole.
	if m.zeroRun < endMarker {
		return nil, x.corrupt(nil, "the archive is truncated (no end-of-archive marker)")
	}
	// What follows the marker may only be zero padding; reading to the end of
	// the gzip stream also verifies its CRC and finds trailing garbage.
	m.budget = m.n + maxTrailer
	m.over = fmt.Sprintf("more than %d bytes follow the end of the tar archive", maxTrailer)
	buf := make([]byte, 32<<10)
	for {
		n, err := m.Read(buf)
		if !allZero(buf[:n]) {
			return nil, x.corrupt(nil, "trailing garbage after the end of the tar archive")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, x.streamError(err)
		}
	}
	if idx.Version == "" {
		return nil, x.corrupt(nil, "missing %s", VersionFile)
	}
	if x.velero {
		idx.Items = preferredCopies(idx.Items)
	}
	if x.spool != nil {
		if err := x.spoolW.Flush(); err != nil {
			return nil, fmt.Errorf("extracting backup %q: %w", x.backup, err)
		}
		idx.spool = x.spool
	}
	return idx, nil
}

// streamError explains an error reading the gzip or tar stream.
func (x *extractor) streamError(err error) error {
	var budget *budgetError
	var flateErr flate.CorruptInputError
	switch {
	case errors.Is(err, encryption.ErrTampered):
		return x.corrupt(err, "%s fails authentication", x.tarballName())
	case errors.As(err, &budget):
		return x.corrupt(nil, "%s", budget.msg)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return x.corrupt(nil, "the archive is truncated")
	case errors.Is(err, gzip.ErrChecksum):
		return x.corrupt(err, "the gzip stream is damaged")
	case errors.As(err, &flateErr):
		return x.corrupt(err, "the gzip stream is damaged")
	case errors.Is(err, errTrailingGzip):
		return x.corrupt(nil, "trailing garbage after the gzip stream")
	case errors.Is(err, gzip.ErrHeader):
		// The first header was read by gzip.NewReader: this one starts a
		// further gzip member.
		return x.corrupt(err, "the gzip stream is damaged")
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrInsecurePath):
		return x.corrupt(err, "invalid tar header")
	}
	return fmt.Errorf("extracting backup %q: %w", x.backup, err)
}

// entry validates one tar entry and extracts it.
func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header, idx *Index, total *int64) error {
	name := hdr.Name
	if msg := checkPath(name, hdr.Typeflag == tar.TypeDir); msg != "" {
		return x.corrupt(nil, "%s", msg)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeDir:
		if !allowedDir(strings.TrimSuffix(name, "/"), x.velero) {
			return x.corrupt(nil, "unexpected tar directory %q", name)
		}
		if hdr.Size != 0 {
			return x.corrupt(nil, "tar directory %q has a size", name)
		}
		return nil // directories are created as needed
	case tar.TypeSymlink:
		return x.corrupt(nil, "tar entry %q is a symbolic link", name)
	case tar.TypeLink:
		return x.corrupt(nil, "tar entry %q is a hard link", name)
	case tar.TypeChar:
		return x.corrupt(nil, "tar entry %q is a character device", name)
	case tar.TypeBlock:
		return x.corrupt(nil, "tar entry %q is a block device", name)
	case tar.TypeFifo:
		return x.corrupt(nil, "tar entry %q is a FIFO", name)
	default:
		return x.corrupt(nil, "tar entry %q has unsupported type %q", name, hdr.Typeflag)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return x.corrupt(nil, "tar entry %q is a sparse file", name)
		}
	}
	if hdr.Size > x.limits.MaxEntrySize {
		return x.corrupt(nil, "tar entry %q is larger than %d bytes", name, x.limits.MaxEntrySize)
	}
	if *total += hdr.Size; *total > x.limits.MaxTotalSize {
		return x.corrupt(nil, "the archive's entries hold more than %d bytes", x.limits.MaxTotalSize)
	}

	if name == VersionFile {
		if idx.Version != "" {
			return x.corrupt(nil, "duplicate tar entry %q", name)
		}
		if hdr.Size > maxVersionSize {
			return x.corrupt(nil, "unsupported backup format version (%s holds %d bytes)", VersionFile, hdr.Size)
		}
		data, err := x.read(tr, hdr)
		if err != nil {
			return err
		}
		v := strings.TrimSpace(string(data))
		if !x.knownVersion(v) {
			return x.corrupt(nil, "unsupported backup format version %q", v)
		}
		idx.Version = v
		return nil
	}

	item, msg := x.parseItemPath(name)
	if msg != "" {
		return x.corrupt(nil, "%s", msg)
	}
	data, err := x.read(tr, hdr)
	if err != nil {
		return err
	}
	// checkContent decodes the whole item, which validates it: json.Valid
	// only runs to tell invalid JSON from JSON of the wrong shape, sparing
	// every good item a second pass.
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		if !json.Valid(data) {
			return x.corrupt(nil, "tar entry %q is not valid JSON", name)
		}
		return x.corrupt(nil, "tar entry %q is not a JSON object", name)
	}
	msg = checkContent(name, item, data)
	if msg == "" && item.variant != veleroClassic {
		msg = checkVersionDir(name, item, data)
	}
	if msg != "" {
		if !json.Valid(data) {
			return x.corrupt(nil, "tar entry %q is not valid JSON", name)
		}
		return x.corrupt(nil, "%s", msg)
	}
	if _, dup := x.names[name]; dup {
		return x.corrupt(nil, "duplicate tar entry %q", name)
	}
	x.names[name] = struct{}{}
	if item.variant == veleroOtherVersion {
		return nil // checked, and not restored: the preferred version is
	}
	if x.inMemory && x.memSize+int64(len(data)) > x.limits.MemoryBudget {
		if err := x.spill(idx); err != nil {
			return err
		}
	}
	if x.inMemory {
		x.memSize += int64(len(data))
		item.data = string(data)
		idx.Items = append(idx.Items, item)
		return nil
	}
	if err := x.write(&item, data); err != nil {
		return err
	}
	idx.Items = append(idx.Items, item)
	return nil
}

// spill moves the items kept in memory to the spool, once the next item
// would take them past the memory budget; from then on items go there.
func (x *extractor) spill(idx *Index) error {
	x.inMemory = false
	for i := range idx.Items {
		it := &idx.Items[i]
		data := it.data
		it.data = ""
		if err := x.write(it, []byte(data)); err != nil {
			return err
		}
	}
	x.memSize = 0
	return nil
}

// read returns the entry's content, which is hdr.Size bytes, already checked
// against the limits: exactly that much is read, into a buffer reused from
// entry to entry.
func (x *extractor) read(tr *tar.Reader, hdr *tar.Header) ([]byte, error) {
	if int64(cap(x.buf)) < hdr.Size {
		x.buf = make([]byte, hdr.Size)
	}
	data := x.buf[:hdr.Size]
	if _, err := io.ReadFull(io.LimitReader(tr, hdr.Size), data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, x.streamError(err)
	}
	return data, nil
}

// write appends the item's content to the spool, creating the spool (through
// the root, which keeps it inside the directory) on first use, and records
// where in it the item is.
func (x *extractor) write(it *Item, data []byte) error {
	if x.spool == nil {
		f, err := x.root.OpenFile(spoolName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("extracting backup %q: %w", x.backup, err)
		}
		x.spool, x.spoolW = f, bufio.NewWriterSize(f, spoolBuffer)
	}
	if _, err := x.spoolW.Write(data); err != nil {
		return fmt.Errorf("extracting backup %q: %w", x.backup, err)
	}
	it.spool, it.off, it.size = x.spool, x.spoolEnd, int64(len(data))
	x.spoolEnd += int64(len(data))
	return nil
}

// checkPath returns why a tar entry's name is unsafe, or "". A directory's
// name may end with one slash.
func checkPath(name string, isDir bool) string {
	switch {
	case name == "":
		return "a tar entry has an empty name"
	case strings.ContainsRune(name, 0):
		return fmt.Sprintf("tar entry %q contains a NUL byte", name)
	case strings.Contains(name, "\\"):
		return fmt.Sprintf("tar entry %q contains a backslash", name)
	case strings.HasPrefix(name, "/"):
		return fmt.Sprintf("tar entry %q is an absolute path", name)
	}
	p := name
	if isDir {
		p = strings.TrimSuffix(p, "/")
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == ".." {
			return fmt.Sprintf("tar entry %q escapes the archive", name)
		}
	}
	for _, s := range segs {
		if s == "" || s == "." {
			return fmt.Sprintf("tar entry %q has an empty or \".\" path segment", name)
		}
	}
	return ""
}

// allowedDir reports whether a (checked) directory entry is one of the
// tarball's layout: metadata, resources and the folders of item files.
func allowedDir(p string, velero bool) bool {
	if p == "metadata" {
		return true
	}
	segs := strings.Split(p, "/")
	if segs[0] != "resources" {
		return false
	}
	if velero && len(segs) >= 3 && veleroVersionDir(segs[2]) {
		// resources/<resource>/<version>/...: the layout below it is the classic one.
		segs = append(segs[:2:2], segs[3:]...)
		if len(segs) == 2 {
			return true
		}
	}
	switch len(segs) {
	case 1, 2:
		return true
	case 3:
		return segs[2] == "cluster" || segs[2] == "namespaces"
	case 4:
		return segs[2] == "namespaces"
	}
	return false
}

// parseItemPath parses a (checked) regular file's name that is not
// metadata/version, or says why it is not an item file. A Velero tarball
// may also file an item under a version of its API group (see velero.go).
func (x *extractor) parseItemPath(name string) (Item, string) {
	if x.velero {
		return parseVeleroItemPath(name)
	}
	return parseItemPath(name)
}

// parseItemPath parses a (checked) regular file's name of Ark's layout.
func parseItemPath(name string) (Item, string) {
	segs := strings.Split(name, "/")
	if segs[0] != "resources" {
		return Item{}, fmt.Sprintf("unexpected tar entry %q", name)
	}
	file := segs[len(segs)-1]
	var it Item
	switch {
	case len(segs) == 5 && segs[2] == "namespaces":
		it.Resource, it.Namespace = segs[1], segs[3]
	case len(segs) == 4 && segs[2] == "cluster":
		it.Resource = segs[1]
	default:
		return Item{}, fmt.Sprintf("tar entry %q is not resources/<resource>/namespaces/<namespace>/<name>.json or resources/<resource>/cluster/<name>.json", name)
	}
	if !strings.HasSuffix(file, ".json") {
		return Item{}, fmt.Sprintf("tar entry %q is not a .json file", name)
	}
	it.Name = strings.TrimSuffix(file, ".json")
	if it.Name == "" || it.Name == "." || it.Name == ".." {
		return Item{}, fmt.Sprintf("tar entry %q has an invalid object name", name)
	}
	return it, ""
}

// checkContent returns how an item file's content, a JSON object, disagrees
// with its path, or "". The restorer reads both: the path decides where the
// access checks are made and what the results report, the content what is
// created. A hostile bucket could make them differ (a ClusterRoleBinding
// filed under a namespace whose rights the requester has, an object
// restored under a name other than the one reported), so an item's name,
// namespace and API group must be what its path says. The path gives a
// resource, not a kind, and mapping one to the other needs the cluster's
// discovery: the kind is only required to be there.
func checkContent(name string, it Item, data []byte) string {
	head, msg := readHead(data)
	if msg != "" {
		return fmt.Sprintf("tar entry %q: %s", name, msg)
	}
	switch {
	case head.name != it.Name:
		return fmt.Sprintf("tar entry %q holds name %q, but its path says %q", name, head.name, it.Name)
	case it.Namespace == "" && head.namespace != "":
		return fmt.Sprintf("tar entry %q holds namespace %q, but its path is cluster-scoped", name, head.namespace)
	case it.Namespace != "" && head.namespace == "":
		return fmt.Sprintf("tar entry %q holds a cluster-scoped object (no namespace), but its path is in namespace %q", name, it.Namespace)
	case head.namespace != it.Namespace:
		return fmt.Sprintf("tar entry %q holds namespace %q, but its path says %q", name, head.namespace, it.Namespace)
	}
	if head.apiVersion == "" {
		return fmt.Sprintf("tar entry %q has no apiVersion", name)
	}
	group, ok := apiGroup(head.apiVersion)
	if !ok {
		return fmt.Sprintf("tar entry %q has an invalid apiVersion %q", name, head.apiVersion)
	}
	if want := resourceGroup(it.Resource); group != want {
		return fmt.Sprintf("tar entry %q holds apiVersion %q, in %s, but its path's resource %q is in %s", name, head.apiVersion, groupName(group), it.Resource, groupName(want))
	}
	if head.kind == "" {
		return fmt.Sprintf("tar entry %q has no kind", name)
	}
	return ""
}

// objectHead is what an item's content says it is.
type objectHead struct {
	apiVersion, kind, name, namespace string
}

// readHead reads an object's apiVersion, kind, metadata.name and
// metadata.namespace, or says why it cannot. It decodes into maps, as the
// restorer does (k8s.io/apimachinery's unstructured objects), and not into
// a struct: encoding/json matches a struct's fields without regard to case
// ("NAME" would fill Name) and merges a repeated object into the same
// struct, while in a map keys are exact and the last of repeated keys wins.
// Decoding the same way as the restorer means that what is checked here is
// what is restored. A field that is missing or null reads as "".
func readHead(data []byte) (objectHead, string) {
	var top, meta map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return objectHead{}, "not a JSON object"
	}
	if raw, ok := top["metadata"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return objectHead{}, "metadata is not an object"
		}
	}
	var h objectHead
	for _, f := range []struct {
		fields    map[string]json.RawMessage
		key, path string
		dst       *string
	}{
		{top, "apiVersion", "apiVersion", &h.apiVersion},
		{top, "kind", "kind", &h.kind},
		{meta, "name", "metadata.name", &h.name},
		{meta, "namespace", "metadata.namespace", &h.namespace},
	} {
		if raw, ok := f.fields[f.key]; ok {
			if err := json.Unmarshal(raw, f.dst); err != nil {
				return objectHead{}, f.path + " is not a string"
			}
		}
	}
	return h, ""
}

// apiGroup returns the group of an apiVersion, "<group>/<version>" or
// "<version>" for the core group, refusing anything else.
func apiGroup(apiVersion string) (string, bool) {
	group, version, found := strings.Cut(apiVersion, "/")
	if !found {
		group, version = "", apiVersion
	} else if group == "" {
		return "", false
	}
	if version == "" || strings.Contains(version, "/") {
		return "", false
	}
	return group, true
}

// resourceGroup is the API group of a resource as the tarball names it, as
// pkg/backup writes it: "pods" is in the core group (""), "deployments.apps"
// in "apps", "ingresses.networking.k8s.io" in "networking.k8s.io" (a
// resource's own name has no dots).
func resourceGroup(resource string) string {
	_, group, _ := strings.Cut(resource, ".")
	return group
}

func groupName(group string) string {
	if group == "" {
		return "the core group"
	}
	return fmt.Sprintf("group %q", group)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

var errTrailingGzip = errors.New("trailing garbage after the gzip stream")

// gzipStream reads a gzip stream of one or more members (as concatenated
// gzip files are), each checked against its CRC, and fails on bytes after
// the last member that do not start another one.
type gzipStream struct {
	br *bufio.Reader
	zr *gzip.Reader // not multistream
}

func (g *gzipStream) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		if err := g.nextMember(); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// nextMember starts the next member, or returns io.EOF at the end.
func (g *gzipStream) nextMember() error {
	magic, err := g.br.Peek(2)
	switch {
	case len(magic) == 0 && err == io.EOF:
		return io.EOF
	case len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b:
	case err != nil && err != io.EOF:
		return err
	default:
		return errTrailingGzip
	}
	if err := g.zr.Reset(g.br); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	g.zr.Multistream(false)
	return nil
}

// ctxReader stops a stream when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// budgetError is returned by a meteredReader over its budget.
type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }

// meteredReader bounds the decompressed stream: its budget grows with the
// entries' declared sizes plus a fixed overhead per entry, so that neither
// huge headers nor padding can make a small archive decompress for ever. It
// also tracks how many zero bytes end what has been read so far.
type meteredReader struct {
	r       io.Reader
	n       int64  // bytes read
	budget  int64  // bytes that may be read
	over    string // the error message past the budget
	zeroRun int64  // zero bytes at the end of what was read
}

func (m *meteredReader) Read(p []byte) (int, error) {
	rem := m.budget - m.n
	if rem <= 0 {
		return 0, &budgetError{m.over}
	}
	if int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	i := n
	for i > 0 && p[i-1] == 0 {
		i--
	}
	if i == 0 {
		m.zeroRun += int64(n)
	} else {
		m.zeroRun = int64(n - i)
	}
	return n, err
}
