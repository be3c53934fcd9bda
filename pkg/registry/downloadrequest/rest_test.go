package downloadrequest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/arkproject/ark/pkg/apis/ark"
)

// Every DownloadRequest is refused with 405 and a message naming the
// subresource and the ark command that serve its file.
func TestEveryRequestIsRefusedWithTheWayToGetTheFile(t *testing.T) {
	for kind, want := range map[ark.DownloadTargetKind][]string{
		ark.DownloadTargetKindBackupLog:             {"ark backup logs nightly -n team-a", "/apis/ark.heptio.com/v1/namespaces/team-a/backups/nightly/logs"},
		ark.DownloadTargetKindBackupContents:        {"ark backup download nightly", "/backups/nightly/download"},
		ark.DownloadTargetKindBackupVolumeSnapshots: {"ark backup describe --details nightly", "/backups/nightly/contents"},
		ark.DownloadTargetKindRestoreLog:            {"ark restore logs nightly", "/restores/nightly/logs"},
		ark.DownloadTargetKindRestoreResults:        {"ark restore results nightly", "/restores/nightly/results"},
		"Unknown":                                   {"backups/logs, backups/download", `unknown target kind "Unknown"`},
	} {
		ctx := genericapirequest.WithNamespace(context.Background(), "team-a")
		obj, err := NewREST().Create(ctx, &ark.DownloadRequest{Spec: ark.DownloadRequestSpec{Target: ark.DownloadTarget{Kind: kind, Name: "nightly"}}}, nil, &metav1.CreateOptions{})
		if obj != nil || !apierrors.IsMethodNotSupported(err) {
			t.Errorf("%s: got %v, %v; want 405", kind, obj, err)
			continue
		}
		if code := err.(apierrors.APIStatus).Status().Code; code != http.StatusMethodNotAllowed {
			t.Errorf("%s: code %d", kind, code)
		}
		for _, w := range append(want, "pre-signed") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: message %q lacks %q", kind, err.Error(), w)
			}
		}
	}
}
