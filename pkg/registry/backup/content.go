package backup

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/arkproject/ark/pkg/apis/ark"
	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/registry"
)

// ContentREST serves one of a backup's files as a stream through the API
// server: backups/download (the tarball) and backups/logs (the log). Each is
// its own RBAC target, and every read is authenticated and audited by the API
// server — there are no pre-signed URLs to leak.
type ContentREST struct {
	r *REST
	// key names the file of a backup.
	key func(backupstore.Backup) string
	// mimeType of the stream; gunzip serves a gzipped file decompressed.
	mimeType string
	gunzip   bool
	what     string
}

var (
	_ rest.Getter               = &ContentREST{}
	_ rest.StorageMetadata      = &ContentREST{}
	_ rest.SingularNameProvider = &ContentREST{}
)

// NewDownloadREST serves backups/download: the backup's tar.gz.
func NewDownloadREST(r *REST) *DownloadREST {
	return &DownloadREST{c: &ContentREST{r: r, key: backupstore.Backup.TarballKey, mimeType: "application/gzip", what: "contents"}}
}

// DownloadREST serves backups/download: the backup's tarball, decrypted
// when the backup is encrypted, or with ?raw=true the bytes the bucket
// holds (the ciphertext), to keep or to check elsewhere. It is a
// Connecter rather than a Getter only to read that query parameter; the
// request is still a GET of backups/download to RBAC, admission and audit.
type DownloadREST struct {
	c *ContentREST
}

var (
	_ rest.Connecter            = &DownloadREST{}
	_ rest.StorageMetadata      = &DownloadREST{}
	_ rest.SingularNameProvider = &DownloadREST{}
)

// New returns the kind the subresource belongs to.
func (d *DownloadREST) New() runtime.Object { return &ark.Backup{} }

// Destroy does nothing: the main storage owns the bucket.
func (d *DownloadREST) Destroy() {}

// GetSingularName names the subresource's object.
func (d *DownloadREST) GetSingularName() string { return "backup" }

// ProducesMIMETypes tells discovery and OpenAPI what the stream is.
func (d *DownloadREST) ProducesMIMETypes(verb string) []string { return []string{"application/gzip"} }

// ProducesObject says the response is not an API object.
func (d *DownloadREST) ProducesObject(verb string) interface{} { return "" }

// ConnectMethods: a download is a GET.
func (d *DownloadREST) ConnectMethods() []string { return []string{http.MethodGet} }

// NewConnectOptions: none; the handler reads ?raw itself.
func (d *DownloadREST) NewConnectOptions() (runtime.Object, bool, string) { return nil, false, "" }

// Connect streams the tarball.
func (d *DownloadREST) Connect(ctx context.Context, name string, _ runtime.Object, r rest.Responder) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw := false
		if v := req.URL.Query().Get("raw"); v != "" {
			var err error
			if raw, err = strconv.ParseBool(v); err != nil {
				r.Error(apierrors.NewBadRequest(fmt.Sprintf("raw=%q is not true or false", v)))
				return
			}
		}
		obj, err := d.c.stream(ctx, name, raw)
		if err != nil {
			r.Error(err)
			return
		}
		// Download is never gunzipped, so the stream is the file's.
		rc := obj.(*registry.FileStream).RC
		defer rc.Close()
		w.Header().Set("Content-Type", "application/gzip")
		if raw {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, rc)
	}), nil
}

// NewLogsREST serves backups/logs: the backup's log as text.
func NewLogsREST(r *REST) *ContentREST {
	return &ContentREST{r: r, key: backupstore.Backup.LogsKey, mimeType: "text/plain", gunzip: true, what: "log"}
}

// New returns the kind the subresource belongs to.
func (c *ContentREST) New() runtime.Object { return &ark.Backup{} }

// Destroy does nothing: the main storage owns the bucket.
func (c *ContentREST) Destroy() {}

// GetSingularName names the subresource's object.
func (c *ContentREST) GetSingularName() string { return "backup" }

// ProducesMIMETypes tells discovery and OpenAPI what the stream is.
func (c *ContentREST) ProducesMIMETypes(verb string) []string { return []string{c.mimeType} }

// ProducesObject says the response is not an API object.
func (c *ContentREST) ProducesObject(verb string) interface{} { return "" }

// Get returns a stream of the file, once the backup has finished writing
// it; a running backup's log is followed.
func (c *ContentREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	return c.stream(ctx, name, false)
}

// stream opens the file of a finished backup (decrypted, or as stored when
// raw), or follows a running backup's log.
func (c *ContentREST) stream(ctx context.Context, name string, raw bool) (runtime.Object, error) {
	b, _, loc, err := c.r.loadInNamespace(ctx, name)
	if err != nil {
		return nil, err
	}
	store, err := loc.Readable()
	if err != nil {
		return nil, c.r.toAPIError(name, unavailable(loc, err))
	}
	switch b.Status.Phase {
	case ark.BackupPhaseCompleted, ark.BackupPhasePartiallyFailed, ark.BackupPhaseFailed, ark.BackupPhaseDeleting:
	case ark.BackupPhaseInProgress, ark.BackupPhaseNew, "":
		if c.gunzip {
			return &followStream{r: c.r, store: store, backup: c.r.refIn(loc, b.Namespace, b.Name), interval: c.r.followInterval()}, nil
		}
		fallthrough
	default:
		phase := b.Status.Phase
		if phase == "" {
			phase = ark.BackupPhaseNew
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("backup %q is %s: its %s can be read once it has finished", name, phase, c.what))
	}
	rc, err := c.openFile(ctx, name, loc, store, b, raw)
	if err != nil {
		return nil, err
	}
	return &registry.FileStream{RC: rc, MimeType: c.mimeType, Gunzip: c.gunzip}, nil
}

// openFile opens the file now, so a missing file is a clean 404 rather
// than a broken stream: decrypted, or as stored when raw.
func (c *ContentREST) openFile(ctx context.Context, name string, loc *locations.Location, store objectstore.Store, b *ark.Backup, raw bool) (io.ReadCloser, error) {
	ref := c.r.refIn(loc, b.Namespace, b.Name)
	var rc io.ReadCloser
	var err error
	if raw {
		rc, _, err = store.NewReader(ctx, c.key(ref))
	} else {
		rc, err = ref.OpenFile(ctx, store, c.key(ref))
	}
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: ark.GroupName, Resource: "backups/" + c.subresource()}, name)
	}
	if errors.Is(err, encryption.ErrKeyNotHeld) || errors.Is(err, backupstore.ErrCorrupt) {
		return nil, c.r.toAPIError(name, err)
	}
	if err != nil {
		return nil, c.r.toAPIError(name, unavailable(loc, err))
	}
	return rc, nil
}

func (c *ContentREST) subresource() string {
	if c.gunzip {
		return "logs"
	}
	return "download"
}

// followStream streams the log of a running backup: the live copy as it
// grows, then, once the backup has finished, the rest of the final log.
type followStream struct {
	r        *REST
	store    objectstore.Store
	backup   backupstore.Backup
	interval time.Duration
	// dataKey decrypts the live log of an encrypted backup, read from its
	// key file once a live log is there (see liveLog).
	dataKey     *encryption.DataKey
	dataKeyRead bool
}

var _ rest.ResourceStreamer = &followStream{}

// GetObjectKind is required of a runtime.Object; a stream has no kind.
func (s *followStream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject is required of a runtime.Object; streams are not copied.
func (s *followStream) DeepCopyObject() runtime.Object { panic("a log stream cannot be copied") }

// InputStream starts following; it ends when the backup does or the client goes.
func (s *followStream) InputStream(ctx context.Context, apiVersion, acceptHeader string) (io.ReadCloser, bool, string, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.follow(ctx, pw)) }()
	return pr, true, "text/plain", nil
}

func (s *followStream) follow(ctx context.Context, w io.Writer) error {
	var sent int64
	for {
		b, _, _, err := s.r.load(ctx, s.backup.Namespace, s.backup.Name)
		if err != nil {
			return err
		}
		finished := b.Status.Phase != ark.BackupPhaseNew && b.Status.Phase != ark.BackupPhaseInProgress && b.Status.Phase != ""
		if finished {
			return s.rest(ctx, w, sent)
		}
		data, err := s.liveLog(ctx)
		if err == nil && int64(len(data)) > sent {
			n, err := w.Write(data[sent:])
			sent += int64(n)
			if err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.interval):
		}
	}
}

// rest sends what the final log holds beyond the part already sent.
func (s *followStream) rest(ctx context.Context, w io.Writer, sent int64) error {
	rc, err := s.backup.OpenFile(ctx, s.store, s.backup.LogsKey())
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil // a failed backup keeps no log; its reason is in its status
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, gz, sent); err != nil {
		return err
	}
	_, err = io.Copy(w, gz)
	return err
}

// liveLog reads the running backup's live log, decrypted when the backup
// is encrypted. The engine writes the key file before the first live log,
// so once a live log is there, the key file read then settles whether
// there is a key: it is read once, not every tick.
func (s *followStream) liveLog(ctx context.Context) ([]byte, error) {
	data, _, err := objectstore.ReadAll(ctx, s.store, s.backup.LiveLogKey(), 16<<20)
	if err != nil {
		return nil, err
	}
	if !s.dataKeyRead {
		if s.dataKey, err = s.backup.DataKey(ctx, s.store); err != nil {
			return nil, err
		}
		s.dataKeyRead = true
	}
	if s.dataKey == nil {
		return data, nil
	}
	return s.dataKey.Open(data, s.backup.LiveLogKey())
}
