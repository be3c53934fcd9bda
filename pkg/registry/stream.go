package registry

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
)

// FileStream hands a bucket file to the API server for streaming, as a
// subresource's response (backups/download, backups/logs, restores/logs,
// restores/results); Gunzip serves a gzipped file decompressed.
type FileStream struct {
	RC       io.ReadCloser
	MimeType string
	Gunzip   bool
}

var _ rest.ResourceStreamer = &FileStream{}

// GetObjectKind is required of a runtime.Object; a stream has no kind.
func (s *FileStream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject is required of a runtime.Object; streams are not copied.
func (s *FileStream) DeepCopyObject() runtime.Object { panic("a file stream cannot be copied") }

// InputStream hands the reader to the API server.
func (s *FileStream) InputStream(ctx context.Context, apiVersion, acceptHeader string) (io.ReadCloser, bool, string, error) {
	if !s.Gunzip {
		return s.RC, false, s.MimeType, nil
	}
	gz, err := gzip.NewReader(s.RC)
	if err != nil {
		s.RC.Close()
		return nil, false, "", apierrors.NewInternalError(fmt.Errorf("reading a gzipped file: %w", err))
	}
	return &gunzipReader{gz: gz, rc: s.RC}, true, s.MimeType, nil
}

type gunzipReader struct {
	gz *gzip.Reader
	rc io.ReadCloser
}

func (g *gunzipReader) Read(p []byte) (int, error) { return g.gz.Read(p) }

func (g *gunzipReader) Close() error {
	g.gz.Close()
	return g.rc.Close()
}
