package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/azuretest"
	"github.com/arkproject/ark/pkg/objectstore/gcstest"
	"github.com/arkproject/ark/pkg/objectstore/s3test"
)

// s3Location is an aws location config for bucket on endpoint.
func s3Location(endpoint, bucket string, cred []byte, config map[string]string) objectstore.LocationConfig {
	c := map[string]string{"region": "us-east-1", "s3Url": endpoint, "s3ForcePathStyle": "true"}
	for k, v := range config {
		c[k] = v
	}
	return objectstore.LocationConfig{Provider: "aws", Bucket: bucket, Prefix: "ark", Config: c, Credential: cred}
}

// roundTrip writes, reads back and lists one object.
func roundTrip(t *testing.T, s objectstore.Store) {
	t.Helper()
	ctx := context.Background()
	want := []byte(`{"kind":"Backup"}`)
	if _, err := objectstore.PutBytes(ctx, s, "backups/a/ark-backup.json", want, objectstore.Conditions{DoesNotExist: true}); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, _, err := objectstore.ReadAll(ctx, s, "backups/a/ark-backup.json", 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %q, %v", got, err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{Prefix: "backups/"})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("list: %+v, %v", page, err)
	}
}

// A location's credential is an AWS shared credentials file: its profile
// opens the bucket, with nothing in the environment.
func TestS3LocationCredentialFile(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "creds")
	s3test.NoAWSEnvironment(t)
	ctx := context.Background()
	cred := fmt.Sprintf("\ufeff# Ark's S3 user\n[default]\naws_access_key_id = %s\naws_secret_access_key=%s\r\n\n[wrong]\naws_access_key_id = %s\naws_secret_access_key = not-the-secret\n",
		srv.AccessKey, srv.SecretKey, srv.AccessKey)

	s, err := objectstore.OpenLocation(ctx, s3Location(srv.Endpoint, "creds", []byte(cred), nil))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("creds"), Key: aws.String("ark/backups/a/ark-backup.json")}); err != nil {
		t.Errorf("the object is not under the location's prefix: %v", err)
	}

	// Another profile, chosen by config, with a wrong secret: List is an
	// access error, not an empty listing.
	s, err = objectstore.OpenLocation(ctx, s3Location(srv.Endpoint, "creds", []byte(cred), map[string]string{"profile": "wrong"}))
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if err == nil || len(page.Objects) != 0 || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "credential") {
		t.Errorf("List with a wrong secret: %+v, %v; want an access denied error", page, err)
	}

	// A profile the file does not have.
	_, err = objectstore.OpenLocation(ctx, s3Location(srv.Endpoint, "creds", []byte(cred), map[string]string{"profile": "backup-writer"}))
	if err == nil || !strings.Contains(err.Error(), `no profile "backup-writer"`) || !strings.Contains(err.Error(), "default, wrong") {
		t.Errorf("missing profile: got %v", err)
	}
	if err != nil && strings.Contains(err.Error(), srv.SecretKey) {
		t.Errorf("the error leaks the secret: %v", err)
	}
}

// Credential files that are not what they should be are refused, naming
// the line or key at fault and never quoting a value.
func TestS3LocationBadCredentialFile(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct{ cred, says string }{
		{"aws_access_key_id = AKID\naws_secret_access_key = " + secret, "before any [profile]"},
		{`{"aws_access_key_id": "AKID"}`, "line 1: want [profile] or key = value"},
		{"[default\naws_secret_access_key = " + secret, "line 1: a section header must end with ]"},
		{"[default]\naws_access_key_id = AKID\n", "has no aws_secret_access_key"},
		{"[default]\naws_secret_access_key = " + secret + "\n", "has no aws_access_key_id"},
		{"[default]\naws_access_key_id = AKID\naws_secret_access_key = " + secret + " # mine\n", "line 3: the value of aws_secret_access_key is empty or contains a space"},
		{"[default]\naws_access_key_id = AKID\naws_access_key_id = AKID2\naws_secret_access_key = " + secret, "line 3: aws_access_key_id appears twice"},
		{"[default]\nrole_arn = arn:aws:iam::1:role/ark\nsource_profile = base\n", `line 2: profile [default] has "role_arn"`},
		{"[default]\naws_secret_access_key = " + secret + "\n[default]\n", "profile [default] appears twice"},
		{"[other]\naws_access_key_id = AKID\naws_secret_access_key = " + secret, `no profile "default" in the credential (it has other)`},
		{"   \n", `no profile "default": the credential holds no [profile] section`},
	} {
		_, err := objectstore.OpenLocation(context.Background(), s3Location("http://127.0.0.1:1", "creds", []byte(tc.cred), nil))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("credential %q: got %v, want an error saying %q", tc.cred, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), secret[:10]) {
			t.Errorf("credential %q: the error leaks the secret: %v", tc.cred, err)
		}
	}
}

// An S3-compatible server with a certificate from a private CA: caCert
// makes it trusted, without it the error says so, and
// insecureSkipTLSVerify skips the check. An httptest TLS reverse proxy
// stands in front of versitygw; it keeps the Host header the client
// signed.
func TestS3LocationCACert(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "tls")
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	caCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}))
	cred := []byte(fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", srv.AccessKey, srv.SecretKey))
	ctx := context.Background()

	s, err := objectstore.OpenLocation(ctx, s3Location(proxy.URL, "tls", cred, map[string]string{"caCert": caCert}))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)

	s, err = objectstore.OpenLocation(ctx, s3Location(proxy.URL, "tls", cred, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, objectstore.ListOptions{}); err == nil || !strings.Contains(err.Error(), "TLS certificate is not trusted") || !strings.Contains(err.Error(), "caCert") {
		t.Errorf("List without caCert: got %v, want an untrusted certificate error", err)
	}

	s, err = objectstore.OpenLocation(ctx, s3Location(proxy.URL, "tls", cred, map[string]string{"insecureSkipTLSVerify": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, objectstore.ListOptions{}); err != nil {
		t.Errorf("List with insecureSkipTLSVerify: %v", err)
	}
}

// sseRequest is what the recording proxy saw of one request.
type sseRequest struct {
	method, query, sse, kmsKeyID string
}

// serverSideEncryption and kmsKeyId reach the wire on a single PUT and on
// the CreateMultipartUpload of a multipart upload. versitygw does not act
// on SSE (it stores the objects as they are), so a recording reverse proxy
// in front of it checks the headers instead of the server.
func TestS3LocationServerSideEncryption(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "sse")
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []sseRequest
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			mu.Lock()
			seen = append(seen, sseRequest{r.Method, r.URL.RawQuery, r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")})
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	cred := []byte(fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", srv.AccessKey, srv.SecretKey))
	ctx := context.Background()
	takeSeen := func() []sseRequest {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}

	for _, tc := range []struct {
		config        map[string]string
		sse, kmsKeyID string
	}{
		{map[string]string{"serverSideEncryption": "AES256"}, "AES256", ""},
		{map[string]string{"serverSideEncryption": "aws:kms", "kmsKeyId": "arn:aws:kms:us-east-1:1:key/ark"}, "aws:kms", "arn:aws:kms:us-east-1:1:key/ark"},
		{map[string]string{"kmsKeyId": "alias/ark"}, "aws:kms", "alias/ark"}, // kmsKeyId alone means aws:kms
		{nil, "", ""},
	} {
		s, err := objectstore.OpenLocation(ctx, s3Location(proxy.URL, "sse", cred, tc.config))
		if err != nil {
			t.Fatal(err)
		}
		takeSeen()
		// One object in a single PUT, one in a multipart upload (larger
		// than the default 8 MiB part).
		if _, err := objectstore.PutBytes(ctx, s, "small", []byte("x"), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := objectstore.PutBytes(ctx, s, "big", make([]byte, 9<<20), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
		var put, create, parts int
		for _, r := range takeSeen() {
			switch {
			case r.method == http.MethodPut && !strings.Contains(r.query, "uploadId"):
				put++
			case r.method == http.MethodPost && strings.Contains(r.query, "uploads"):
				create++
			default:
				parts++ // UploadPart, CompleteMultipartUpload: S3 takes SSE at the start only
				continue
			}
			if r.sse != tc.sse || r.kmsKeyID != tc.kmsKeyID {
				t.Errorf("config %v: %s ?%s carried encryption %q key %q, want %q key %q", tc.config, r.method, r.query, r.sse, r.kmsKeyID, tc.sse, tc.kmsKeyID)
			}
		}
		if put != 1 || create != 1 || parts != 3 {
			t.Errorf("config %v: saw %d PUTs, %d CreateMultipartUploads and %d other writes; want 1, 1 and 3", tc.config, put, create, parts)
		}
	}
}

// Config keys and values a provider does not know are refused before
// anything is opened, naming the key and, for unknown keys, the known ones.
func TestLocationConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		provider string
		config   map[string]string
		says     string
	}{
		{"aws", map[string]string{"regoin": "eu-west-1"}, `unknown config key "regoin" for provider aws (known keys: region, s3Url, s3ForcePathStyle, insecureSkipTLSVerify, caCert, serverSideEncryption, kmsKeyId, profile)`},
		{"aws", map[string]string{"endpoint": "https://s3.example"}, `unknown config key "endpoint"`}, // old URL names are for URLs only
		{"aws", map[string]string{"s3ForcePathStyle": "maybe"}, `config s3ForcePathStyle="maybe": want true or false`},
		{"aws", map[string]string{"insecureSkipTLSVerify": "yes"}, `config insecureSkipTLSVerify="yes": want true or false`},
		{"aws", map[string]string{"s3Url": "minio.example:9000"}, "config s3Url: want an http:// or https:// URL"},
		{"aws", map[string]string{"s3Url": "https://u:p@minio.example"}, "config s3Url: the URL must carry no credentials"},
		{"aws", map[string]string{"caCert": "not a certificate"}, "config caCert: not PEM"},
		{"aws", map[string]string{"caCert": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "config caCert: holds a PRIVATE KEY block"},
		{"aws", map[string]string{"serverSideEncryption": "DES"}, `config serverSideEncryption="DES": want AES256, aws:kms or aws:kms:dsse`},
		{"aws", map[string]string{"serverSideEncryption": "AES256", "kmsKeyId": "k"}, "config kmsKeyId is set, which needs serverSideEncryption aws:kms"},
		{"aws", map[string]string{"profile": ""}, "config profile=\"\": want a profile name"},
		{"file", map[string]string{"region": "x"}, `unknown config key "region": provider file takes no config keys`},
		{"gcp", map[string]string{"project": "x"}, `unknown config key "project" for provider gcp (known keys: pubsubSubscription)`},
		{"gcp", map[string]string{"pubsubSubscription": "ark-events"}, `config pubsubSubscription="ark-events": want projects/PROJECT/subscriptions/ID`},
		{"gcp", map[string]string{"pubsubSubscription": "projects/my-project/topics/ark"}, "want projects/PROJECT/subscriptions/ID"},
		{"gcp", map[string]string{"pubsubSubscription": "projects/my-project/subscriptions/a b"}, "want projects/PROJECT/subscriptions/ID"},
		{"s3", nil, `unknown provider "s3" (want aws, azure, file or gcp)`},
		{"", nil, `unknown provider ""`},
	} {
		err := objectstore.CheckLocationConfig(tc.provider, tc.config)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("CheckLocationConfig(%q, %v) = %v; want an error saying %q", tc.provider, tc.config, err, tc.says)
		}
		_, err = objectstore.OpenLocation(context.Background(), objectstore.LocationConfig{Provider: tc.provider, Bucket: "/b", Config: tc.config})
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("OpenLocation(%q, %v) = %v; want an error saying %q", tc.provider, tc.config, err, tc.says)
		}
	}
	for _, ok := range []map[string]string{
		nil,
		{"region": "eu-west-1", "s3Url": "https://minio.example:9000", "s3ForcePathStyle": "true", "insecureSkipTLSVerify": "false", "profile": "ark"},
		{"serverSideEncryption": "aws:kms:dsse", "kmsKeyId": "alias/ark"},
	} {
		if err := objectstore.CheckLocationConfig("aws", ok); err != nil {
			t.Errorf("CheckLocationConfig(aws, %v): %v", ok, err)
		}
	}

	dir := t.TempDir()
	for _, tc := range []struct {
		c    objectstore.LocationConfig
		says string
	}{
		{objectstore.LocationConfig{Provider: "file", Bucket: "relative/dir"}, "must be an absolute directory path"},
		{objectstore.LocationConfig{Provider: "file", Bucket: dir, Credential: []byte("x")}, "a file location takes no credential"},
		{objectstore.LocationConfig{Provider: "file", Bucket: dir, Prefix: "../escape"}, `bad prefix`},
		{objectstore.LocationConfig{Provider: "aws"}, "the bucket is empty"},
	} {
		if _, err := objectstore.OpenLocation(context.Background(), tc.c); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("OpenLocation(%+v) = %v; want an error saying %q", tc.c, err, tc.says)
		}
	}
}

// A file location opens its directory, under its prefix.
func TestFileLocation(t *testing.T) {
	dir := t.TempDir()
	s, err := objectstore.OpenLocation(context.Background(), objectstore.LocationConfig{Provider: "file", Bucket: dir, Prefix: "cluster-a/"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roundTrip(t, s)
	if !strings.Contains(s.String(), "cluster-a") {
		t.Errorf("String() = %q, want the prefix's directory", s.String())
	}
}

// Location URLs become the LocationConfig of a spec, the old s3 query
// names normalized to Heptio Ark's.
func TestParseLocationURL(t *testing.T) {
	aws := func(prefix string, config map[string]string) objectstore.LocationConfig {
		return objectstore.LocationConfig{Provider: "aws", Bucket: "backups", Prefix: prefix, Config: config}
	}
	for _, tc := range []struct {
		url  string
		want objectstore.LocationConfig
	}{
		{"file:///var/lib/ark/bucket/", objectstore.LocationConfig{Provider: "file", Bucket: "/var/lib/ark/bucket"}},
		{"file://localhost/srv/ark", objectstore.LocationConfig{Provider: "file", Bucket: "/srv/ark"}},
		{"gs://backups", objectstore.LocationConfig{Provider: "gcp", Bucket: "backups"}},
		{"gs://backups/cluster-1/", objectstore.LocationConfig{Provider: "gcp", Bucket: "backups", Prefix: "cluster-1"}},
		{"gs://backups?subscription=projects/my-project/subscriptions/ark-events", objectstore.LocationConfig{Provider: "gcp", Bucket: "backups",
			Config: map[string]string{"pubsubSubscription": "projects/my-project/subscriptions/ark-events"}}},
		{"gs://backups?pubsubSubscription=projects/example.com:my-project/subscriptions/ark-events", objectstore.LocationConfig{Provider: "gcp", Bucket: "backups",
			Config: map[string]string{"pubsubSubscription": "projects/example.com:my-project/subscriptions/ark-events"}}},
		{"s3://backups", aws("", nil)},
		{"s3://backups/a/b?region=eu-west-1&endpoint=https://minio.example:9000&forcePathStyle=true&insecureSkipTLSVerify=true",
			aws("a/b", map[string]string{"region": "eu-west-1", "s3Url": "https://minio.example:9000", "s3ForcePathStyle": "true", "insecureSkipTLSVerify": "true"})},
		{"s3://backups/a?s3Url=http://ceph:7480&s3ForcePathStyle=false&serverSideEncryption=aws:kms&kmsKeyId=alias/ark&profile=ark",
			aws("a", map[string]string{"s3Url": "http://ceph:7480", "s3ForcePathStyle": "false", "serverSideEncryption": "aws:kms", "kmsKeyId": "alias/ark", "profile": "ark"})},
		{"s3://backups/?endpoint=http://seaweed:8333&s3ForcePathStyle=true",
			aws("", map[string]string{"s3Url": "http://seaweed:8333", "s3ForcePathStyle": "true"})},
		{"azure://backups/c1?account=ark&endpoint=http://127.0.0.1:10000/ark", objectstore.LocationConfig{Provider: "azure", Bucket: "backups", Prefix: "c1",
			Config: map[string]string{"storageAccount": "ark", "storageAccountURI": "http://127.0.0.1:10000/ark"}}},
	} {
		got, err := objectstore.ParseLocationURL(tc.url)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseLocationURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ url, says string }{
		{"ftp://container/prefix", `unsupported scheme "ftp" (want file, gs, s3 or azure)`},
		{"azure://c/p?account=a&storageAccount=b", "the same option, given twice"},
		{"backups", `unsupported scheme ""`},
		{"file://host/dir", "file:///absolute/path"},
		{"file:relative", "file:///absolute/path"},
		{"file:///srv/ark?region=x", "provider file takes no config keys"},
		{"gs:///prefix", "gs://bucket"},
		{"gs://backups?project=p", `unknown config key "project" for provider gcp`},
		{"gs://backups?subscription=x", "want projects/PROJECT/subscriptions/ID"},
		{"gs://backups?subscription=projects/p-1234/subscriptions/s1&pubsubSubscription=projects/p-1234/subscriptions/s1", "the same option, given twice"},
		{"s3:///prefix", "s3://bucket"},
		{"s3://backups?regoin=eu-west-1", `unknown config key "regoin" for provider aws (known keys: region, s3Url,`},
		{"s3://backups?endpoint=http://a:1&s3Url=http://b:2", "options endpoint and s3Url are the same option, given twice"},
		{"s3://backups?region=a&region=b", "option region is given 2 times"},
		{"s3://backups?s3ForcePathStyle=maybe", `s3ForcePathStyle="maybe": want true or false`},
		{"s3://backups?forcePathStyle=yes", `s3ForcePathStyle="yes": want true or false`},
		{"s3://AKID:secret@backups/p", "carry no credentials"},
		{"s3://AKID:secret@back ups/p", "invalid character"},
		{"gs://backups?endpoint=http://a:1", `unknown config key "endpoint" for provider gcp`},
	} {
		_, err := objectstore.ParseLocationURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseLocationURL(%q) = %v; want an error saying %q", tc.url, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseLocationURL(%q) leaks the secret: %v", tc.url, err)
		}
	}
}

// Open takes the Heptio names in an s3 URL too.
func TestOpenS3LocationHeptioNames(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "heptio")
	s3test.NoAWSEnvironment(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	s, err := objectstore.Open(context.Background(), "s3://heptio/ark?region=us-east-1&s3ForcePathStyle=true&s3Url="+url.QueryEscape(srv.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s)
	if want := "s3://heptio/ark?s3Url=" + srv.Endpoint; s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}
}

// serviceAccountKey is a syntactically valid service account JSON key with
// a fresh private key, for no real account.
func serviceAccountKey(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "ark-test",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "ark@ark-test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      "http://127.0.0.1:1/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A gcp location's credential is a service account JSON key. The emulator
// (reached through STORAGE_EMULATOR_HOST, with which the client library
// sends no credentials) accepts any, so a fake key opens the bucket; keys
// that are not service account keys are refused, clearly and without
// quoting them.
func TestGCSLocationCredential(t *testing.T) {
	srv, err := gcstest.Start("located")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.URL())
	ctx := context.Background()
	key := serviceAccountKey(t)
	s, err := objectstore.OpenLocation(ctx, objectstore.LocationConfig{Provider: "gcp", Bucket: "located", Prefix: "ark", Credential: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roundTrip(t, s)

	var fields map[string]string
	if err := json.Unmarshal(key, &fields); err != nil {
		t.Fatal(err)
	}
	without := func(k string) []byte {
		m := map[string]string{}
		for f, v := range fields {
			if f != k {
				m[f] = v
			}
		}
		data, _ := json.Marshal(m)
		return data
	}
	user, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "x", "client_secret": "very-secret", "refresh_token": "very-secret"})
	for _, tc := range []struct {
		name string
		cred []byte
		says string
	}{
		{"truncated", key[:len(key)/2], "not a service account JSON key: invalid JSON"},
		{"not an object", []byte(`"very-secret"`), "not a service account JSON key: want a JSON object"},
		{"an AWS file", []byte("[default]\naws_secret_access_key = very-secret\n"), "not a service account JSON key: invalid JSON at byte 2"},
		{"a user's credentials", user, `its type is "authorized_user", want "service_account"`},
		{"no client_email", without("client_email"), "has no client_email"},
		{"no private_key", without("private_key"), "has no private_key"},
	} {
		_, err := objectstore.OpenLocation(ctx, objectstore.LocationConfig{Provider: "gcp", Bucket: "located", Credential: tc.cred})
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "credential") {
			t.Errorf("%s: got %v, want a credential error saying %q", tc.name, err, tc.says)
		}
		if err != nil && (strings.Contains(err.Error(), "very-secret") || strings.Contains(err.Error(), "PRIVATE KEY")) {
			t.Errorf("%s: the error quotes the credential: %v", tc.name, err)
		}
	}
}

// An azure location opens with the credential of its Secret (a key, a SAS
// token or a connection string) against a real Azurite; a wrong key is an
// error naming the location, never an empty list; malformed credentials
// are refused without quoting them.
func TestAzureLocationCredential(t *testing.T) {
	srv := azuretest.Start(t)
	srv.CreateContainer(t, "backups")
	ctx := context.Background()
	config := map[string]string{"storageAccount": azuretest.AccountName, "storageAccountURI": srv.Endpoint}
	open := func(credential string, config map[string]string) (objectstore.Store, error) {
		return objectstore.OpenLocation(ctx, objectstore.LocationConfig{Provider: "azure", Bucket: "backups", Prefix: "c1", Config: config, Credential: []byte(credential)})
	}
	for name, cred := range map[string]string{
		"key":               "# the account key\nAZURE_STORAGE_KEY=" + azuretest.AccountKey + "\n",
		"velero's key name": "AZURE_STORAGE_ACCOUNT_ACCESS_KEY=" + azuretest.AccountKey,
		"sas":               "AZURE_STORAGE_SAS_TOKEN=" + srv.SASToken(t, "backups"),
	} {
		s, err := open(cred, config)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := objectstore.PutBytes(ctx, s, "k-"+strings.ReplaceAll(name, " ", "-"), []byte("v"), objectstore.Conditions{}); err != nil {
			t.Errorf("%s: put: %v", name, err)
		}
		s.Close()
	}
	s, err := open("AZURE_STORAGE_CONNECTION_STRING="+srv.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, objectstore.ListOptions{})
	if err != nil || len(page.Objects) != 3 {
		t.Errorf("list with a connection string: %+v, %v; want the 3 objects", page, err)
	}

	wrong := "AZURE_STORAGE_KEY=" + strings.Repeat("A", 86) + "=="
	s, err = open(wrong, config)
	if err != nil {
		t.Fatal(err)
	}
	page, err = s.List(ctx, objectstore.ListOptions{})
	if err == nil || len(page.Objects) != 0 || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "azure://backups") {
		t.Errorf("list with a wrong key: %+v, %v; want access denied naming the location", page, err)
	}

	for _, tc := range []struct{ cred, says string }{
		{"", "no Azure credential"},
		{"AZURE_STORAGE_KEY=s3cr3t\nAZURE_STORAGE_SAS_TOKEN=s3cr3t", "exactly one of"},
		{"AZURE_STORAGE_KEY", "line 1: want NAME=VALUE"},
		{"AWS_SECRET_ACCESS_KEY=s3cr3t", "unknown name AWS_SECRET_ACCESS_KEY"},
		{"AZURE_STORAGE_KEY=s3cr3t\nAZURE_STORAGE_KEY=s3cr3t", "line 2: AZURE_STORAGE_KEY is given twice"},
		{"AZURE_STORAGE_ACCOUNT=other\nAZURE_STORAGE_KEY=s3cr3t", "names another account"},
	} {
		t.Setenv("AZURE_STORAGE_KEY", "")
		_, err := open(tc.cred, config)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("credential %q: %v; want an error saying %q", tc.cred, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("credential %q: the error quotes it: %v", tc.cred, err)
		}
	}
}
