package objectstore_test

import (
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
