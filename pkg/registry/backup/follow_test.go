package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/arkproject/ark/pkg/backupstore"
	"github.com/arkproject/ark/pkg/locations"
	"github.com/arkproject/ark/pkg/objectstore"
)

// Following the log of a running encrypted backup decrypts the live log as
// it grows, then the rest of the final log once the backup has finished,
// sending each line once; neither log is stored in plaintext.
func TestFollowEncryptedLog(t *testing.T) {
	store, err := objectstore.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	loc := &locations.Location{Name: "default", Store: store, Primary: true, Keys: keyring(t, "k1", "k1")}
	r := serveLocations(t, locations.NewSet(loc), nil, nil, 50*time.Millisecond)
	waitPoll(t, r)
	ctx := context.Background()
	ref := r.refIn(loc, home, "live")
	record := func(phase string) {
		body := `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"live","namespace":"heptio-ark"},"status":{"phase":"` + phase + `","encryptionKeyID":"k1"}}`
		if _, err := objectstore.PutBytes(ctx, store, ref.MetadataKey(), []byte(body), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	record("InProgress")
	dk, err := ref.StartEncryption(ctx, store)
	if err != nil || dk == nil {
		t.Fatalf("StartEncryption: %v %v", dk, err)
	}
	live := func(text string) {
		if _, err := objectstore.PutBytes(ctx, store, ref.LiveLogKey(), dk.Seal([]byte(text), ref.LiveLogKey()), objectstore.Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	live("one\n")

	s := &followStream{r: r, store: store, backup: ref, interval: 20 * time.Millisecond}
	rc, _, _, err := s.InputStream(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := make(chan string, 1)
	go func() {
		data, err := io.ReadAll(rc)
		if err != nil {
			data = append(data, []byte("ERROR: "+err.Error())...)
		}
		got <- string(data)
	}()

	time.Sleep(100 * time.Millisecond)
	live("one\ntwo\n")
	time.Sleep(100 * time.Millisecond)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("one\ntwo\nthree\n"))
	zw.Close()
	w, err := backupstore.NewFileWriter(ctx, store, ref.LogsKey(), dk, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(gz.Bytes())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	record("Completed")

	select {
	case text := <-got:
		if text != "one\ntwo\nthree\n" {
			t.Errorf("followed log: %q", text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the follow did not end when the backup did")
	}
	for _, key := range []string{ref.LiveLogKey(), ref.LogsKey()} {
		data, _, err := objectstore.ReadAll(ctx, store, key, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "two") || bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Errorf("%s is stored in plaintext", key)
		}
	}
}
