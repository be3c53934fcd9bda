package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

// --backup-location-credential opens the served bucket with the credential
// in a Secret of the home namespace, read through the cluster's API, with
// nothing in the server's environment; the location's object names it.
func TestBackupLocationCredentialFromASecret(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "creds")
	s3test.NoAWSEnvironment(t)
	cred := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)

	// The cluster's API, as far as the server reads it here: one Secret.
	var reads []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads = append(reads, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/namespaces/heptio-ark/secrets/cloud-credentials" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}`)
			return
		}
		json.NewEncoder(w).Encode(&corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: "cloud-credentials", Namespace: "heptio-ark"},
			Data:       map[string][]byte{"cloud": []byte(cred)},
		})
	}))
	t.Cleanup(api.Close)
	kubeConfig := &rest.Config{Host: api.URL}

	o := NewOptions(io.Discard, io.Discard)
	o.HomeNamespace = "heptio-ark"
	o.BackupLocation = "s3://creds/ark?" + url.Values{"region": {"us-east-1"}, "s3Url": {srv.Endpoint}, "s3ForcePathStyle": {"true"}}.Encode()
	o.BackupLocationCredential = "cloud-credentials/cloud"
	ctx := context.Background()
	store, ref, err := o.openBackupLocation(ctx, kubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if ref == nil || ref.Name != "cloud-credentials" || ref.Key != "cloud" {
		t.Errorf("credential reference %+v, want cloud-credentials/cloud", ref)
	}
	if _, err := objectstore.PutBytes(ctx, store, "backups/a/ark-backup.json", []byte(`{}`), objectstore.Conditions{DoesNotExist: true}); err != nil {
		t.Fatalf("writing with the Secret's credential: %v", err)
	}
	if page, err := store.List(ctx, objectstore.ListOptions{Prefix: "backups/"}); err != nil || len(page.Objects) != 1 {
		t.Errorf("listing with the Secret's credential: %+v, %v", page, err)
	}
	if len(reads) != 1 || reads[0] != "GET /api/v1/namespaces/heptio-ark/secrets/cloud-credentials" {
		t.Errorf("API requests %q, want one read of the Secret", reads)
	}

	// Without it, the environment has nothing: the bucket refuses.
	o.BackupLocationCredential = ""
	plain, _, err := o.openBackupLocation(ctx, kubeConfig)
	if err == nil {
		defer plain.Close()
		if _, err = plain.List(ctx, objectstore.ListOptions{Prefix: "backups/"}); err == nil {
			t.Error("the bucket opened without the credential: the test proves nothing")
		}
	}

	// A key the Secret does not have is named in the error.
	o.BackupLocationCredential = "cloud-credentials/aws"
	if _, _, err := o.openBackupLocation(ctx, kubeConfig); err == nil || !strings.Contains(err.Error(), `Secret heptio-ark/cloud-credentials key "aws"`) || !strings.Contains(err.Error(), `no key "aws"`) {
		t.Errorf("missing key: %v", err)
	}
	o.BackupLocationCredential = "no-key"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--backup-location-credential must be name/key") {
		t.Errorf("Validate with name only: %v", err)
	}
}
