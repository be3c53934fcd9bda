package objectstoretest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arkproject/ark/pkg/objectstore"
)

// keyOfLen returns a valid key of exactly n bytes (n >= 8), in segments of at
// most 200 bytes so that only the total length is at stake.
func keyOfLen(n int) string {
	const head = "limits/"
	body := n - len(head)
	full := (body - 1) / 200 // whole "kkk.../" segments; the tail keeps >= 1 byte
	return head + strings.Repeat(strings.Repeat("k", 199)+"/", full) + strings.Repeat("t", body-200*full)
}

// testKeyLimits checks that every backend takes keys up to the documented
// limits and refuses any byte more with ErrInvalidKey, on every call, before
// any data moves.
func testKeyLimits(t *testing.T, s objectstore.Store, prefixBytes int) {
	ctx := context.Background()

	seg := "limits/" + strings.Repeat("s", objectstore.MaxKeySegmentBytes)
	put(t, s, seg, "segment", objectstore.Conditions{DoesNotExist: true})
	if got := read(t, s, seg); got != "segment" {
		t.Errorf("key with a %d-byte segment reads back %q", objectstore.MaxKeySegmentBytes, got)
	}

	longest := keyOfLen(objectstore.MaxKeyBytes - prefixBytes)
	put(t, s, longest, "longest", objectstore.Conditions{DoesNotExist: true})
	if got := read(t, s, longest); got != "longest" {
		t.Errorf("key of %d bytes reads back %q", len(longest), got)
	}
	a, err := s.Attrs(ctx, longest)
	if err != nil || a.Key != longest {
		t.Errorf("Attrs of the longest key: %v, key %d bytes", err, len(a.Key))
	}
	var listed []string
	if err := objectstore.ListAll(ctx, s, "limits/", func(o objectstore.ObjectAttrs) error {
		listed = append(listed, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed[0] != longest || listed[1] != seg {
		t.Errorf("List of the limit keys returned %d keys, want the two written", len(listed))
	}

	for _, tc := range []struct {
		what, key, limit string
	}{
		{"segment one byte too long", "limits/" + strings.Repeat("s", objectstore.MaxKeySegmentBytes+1), "255"},
		{"key one byte too long", keyOfLen(objectstore.MaxKeyBytes - prefixBytes + 1), "1024"},
		{"key of 1025 bytes", keyOfLen(objectstore.MaxKeyBytes + 1), "1024"},
	} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, objectstore.ErrInvalidKey) {
				t.Errorf("%s: %s: got %v, want ErrInvalidKey", tc.what, op, err)
			} else if !strings.Contains(err.Error(), tc.limit) {
				t.Errorf("%s: %s: error %q does not name the %s-byte limit", tc.what, op, err, tc.limit)
			}
		}
		_, err := objectstore.PutBytes(ctx, s, tc.key, []byte("x"), objectstore.Conditions{})
		check("put", err)
		_, err = s.Attrs(ctx, tc.key)
		check("Attrs", err)
		r, _, err := s.NewReader(ctx, tc.key)
		if r != nil {
			r.Close()
		}
		check("NewReader", err)
		check("Delete", s.Delete(ctx, tc.key, objectstore.Conditions{}))
	}
}
