package objectstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/objectstore"
)

func TestCheckKey(t *testing.T) {
	seg := strings.Repeat("s", objectstore.MaxKeySegmentBytes)
	long := strings.Repeat(seg[:200]+"/", 5) + strings.Repeat("t", objectstore.MaxKeyBytes-5*201)
	for _, key := range []string{"a", "backups/a/ark-backup.json", "a/.b/..c/...", seg, "x/" + seg, long} {
		if err := objectstore.CheckKey(key); err != nil {
			t.Errorf("CheckKey(%.40q): %v", key, err)
		}
	}
	for _, tc := range []struct{ key, says string }{
		{"", "empty"},
		{"/a", "starts with a slash"},
		{"a/", "ends with a slash"},
		{"a//b", "empty segment"},
		{"a/./b", `"." segment`},
		{"../a", `".." segment`},
		{"a/..", `".." segment`},
		{"a\x00b", "NUL"},
		{seg + "s", "255 bytes"},
		{long + "t", "1024 bytes"},
	} {
		err := objectstore.CheckKey(tc.key)
		if !errors.Is(err, objectstore.ErrInvalidKey) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("CheckKey(%.40q) = %v; want ErrInvalidKey saying %q", tc.key, err, tc.says)
		}
	}
	// A refused key may be a kilobyte of hostile bytes: the message stays short.
	if err := objectstore.CheckKey(long + "t"); len(err.Error()) > 300 {
		t.Errorf("error for a long key is %d bytes long", len(err.Error()))
	}
}

func TestOpenRefusesBadLocations(t *testing.T) {
	for _, env := range []string{"AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING"} {
		t.Setenv(env, "")
	}
	for _, tc := range []struct{ location, says string }{
		{"s3:///prefix", "s3://bucket"},
		{"s3://bucket/p?regoin=eu-west-1", `unknown config key "regoin"`},
		{"s3://bucket/p?forcePathStyle=yes", "forcePathStyle"},
		{"s3://bucket/p?endpoint=localhost:9000", "http:// or https://"},
		{"s3://AKID:secret@bucket/p", "carry no credentials"},
		{"gopher://bucket", "want file, gs, s3 or azure"},
		{"azure:///prefix", "azure://container"},
		{"azure://container/p?account=a", "no Azure credential"},
		{"azure://container/p?acount=a", `unknown config key "acount"`},
		{"azure://container/p?endpoint=localhost:10000", "http:// or https://"},
		{"azure://account:secret@container/p", "carry no credentials"},
		{"azure://container/p?sv=2024&sig=secret", "AZURE_STORAGE_SAS_TOKEN"},
	} {
		_, err := objectstore.Open(context.Background(), tc.location)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Open(%q) = %v; want an error saying %q", tc.location, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) leaks the secret: %v", tc.location, err)
		}
	}
}
