package encryption

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func keyring(t *testing.T, active string, ids ...string) (*Keyring, map[string][]byte) {
	t.Helper()
	data := map[string][]byte{ActiveField: []byte(active)}
	for _, id := range ids {
		data[id] = NewKey()
	}
	k, err := ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	return k, data
}

// payload is larger than three segments, so that reordering and
// truncation have whole segments to work with.
func payload(t *testing.T) []byte {
	t.Helper()
	p := make([]byte, 3*segmentSize+1234)
	if _, err := rand.Read(p); err != nil {
		t.Fatal(err)
	}
	return p
}

const folder = "backups/b1/"
const fileKey = "backups/b1/b1.tar.gz"

func TestRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, segmentSize - 50, segmentSize, 3*segmentSize + 1234} {
		dk := NewDataKey(folder)
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		var buf bytes.Buffer
		w, err := dk.NewWriter(&buf, fileKey)
		if err != nil {
			t.Fatal(err)
		}
		// Written in odd pieces, as a gzip stream writes.
		for rest := plain; len(rest) > 0; {
			n := min(len(rest), 7777)
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if size > 64 && bytes.Contains(buf.Bytes(), plain[:64]) {
			t.Fatalf("size %d: the ciphertext holds the plaintext", size)
		}
		got, err := dk.Open(buf.Bytes(), fileKey)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("size %d: round trip changed the data", size)
		}
	}
}

func TestTamperedStreamsFail(t *testing.T) {
	dk := NewDataKey(folder)
	sealed := dk.Seal(payload(t), fileKey)
	header := 1 + KeyLength + 7
	seg := func(i int) (int, int) {
		start := header + i*segmentSize
		return start, min(start+segmentSize, len(sealed))
	}
	s0, e0 := seg(0)
	s1, e1 := seg(1)
	cases := map[string][]byte{
		"truncated at a segment boundary": sealed[:e1],
		"truncated mid-segment":           sealed[:e1+100],
		"cut to its header":               sealed[:header],
		"empty":                           {},
		"segments reordered": func() []byte {
			out := append([]byte{}, sealed[:s0]...)
			out = append(out, sealed[s1:e1]...)
			out = append(out, sealed[s0:e0]...)
			return append(out, sealed[e1:]...)
		}(),
		"a segment dropped": append(append([]byte{}, sealed[:e0]...), sealed[e1:]...),
		"last segment duplicated": func() []byte {
			s3, e3 := seg(3)
			return append(append([]byte{}, sealed...), sealed[s3:e3]...)
		}(),
	}
	for _, at := range []int{0, 5, header + 10, s1 + 1, len(sealed) - 1} {
		flipped := append([]byte{}, sealed...)
		flipped[at] ^= 0x01
		cases["bit flipped at byte "+strconv.Itoa(at)] = flipped
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := dk.Open(data, fileKey)
			if err == nil {
				t.Fatalf("decrypted %d bytes of a tampered file", len(got))
			}
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("error %v is not ErrTampered", err)
			}
			if !strings.Contains(err.Error(), fileKey) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

// TestReaderReturnsNothingUnauthenticated reads a file whose second
// segment is altered: the first segment's bytes come out, none of the
// second's, before the error.
func TestReaderReturnsNothingUnauthenticated(t *testing.T) {
	dk := NewDataKey(folder)
	plain := payload(t)
	sealed := dk.Seal(plain, fileKey)
	sealed[1+KeyLength+7+segmentSize+10] ^= 0x80
	r, err := dk.NewReader(bytes.NewReader(sealed), fileKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("err = %v, want ErrTampered", err)
	}
	if len(got) >= segmentSize {
		t.Fatalf("read %d bytes: more than the first segment's plaintext", len(got))
	}
	if !bytes.Equal(got, plain[:len(got)]) {
		t.Fatal("the bytes read before the error are not the file's")
	}
}

func TestFileMovedToAnotherKeyFails(t *testing.T) {
	dk := NewDataKey(folder)
	sealed := dk.Seal([]byte("the results"), "backups/b1/b1-results.json.gz")
	if _, err := dk.Open(sealed, "backups/b1/b1-logs.gz"); !errors.Is(err, ErrTampered) {
		t.Fatalf("a file read under another name: err = %v, want ErrTampered", err)
	}
	other := NewDataKey(folder)
	if _, err := other.Open(sealed, "backups/b1/b1-results.json.gz"); !errors.Is(err, ErrTampered) {
		t.Fatalf("a file read with another backup's data key: err = %v, want ErrTampered", err)
	}
}

func TestWrapUnwrap(t *testing.T) {
	k, data := keyring(t, "k1", "k1", "k0")
	dk := NewDataKey(folder)
	kf := k.Wrap(dk)
	if kf.KeyID != "k1" || kf.Algorithm != Algorithm {
		t.Fatalf("key file = %+v", kf)
	}
	parsed, err := ParseKeyFile(MarshalKeyFile(kf))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Unwrap(parsed, folder)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.key, dk.key) {
		t.Fatal("unwrapped another key")
	}
	sealed := dk.Seal([]byte("secret"), fileKey)
	if p, err := got.Open(sealed, fileKey); err != nil || string(p) != "secret" {
		t.Fatalf("the unwrapped key does not decrypt: %q %v", p, err)
	}

	t.Run("another folder", func(t *testing.T) {
		if _, err := k.Unwrap(kf, "backups/b2/"); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	t.Run("key ID changed", func(t *testing.T) {
		f := kf
		f.KeyID = "k0"
		if _, err := k.Unwrap(f, folder); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	t.Run("wrapped key flipped", func(t *testing.T) {
		f := kf
		f.WrappedKey = append([]byte{}, kf.WrappedKey...)
		f.WrappedKey[20] ^= 1
		if _, err := k.Unwrap(f, folder); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	t.Run("wrong key of the same ID", func(t *testing.T) {
		other, _ := keyring(t, "k1", "k1")
		if _, err := other.Unwrap(kf, folder); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	t.Run("key not held", func(t *testing.T) {
		delete(data, "k1")
		data[ActiveField] = []byte("k0")
		without, err := ParseSecret(data)
		if err != nil {
			t.Fatal(err)
		}
		_, err = without.Unwrap(kf, folder)
		if !errors.Is(err, ErrKeyNotHeld) || errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrKeyNotHeld", err)
		}
		if !strings.Contains(err.Error(), `written with key "k1", which this server does not hold`) {
			t.Fatalf("message %q", err)
		}
	})
	t.Run("malformed key file", func(t *testing.T) {
		for _, bad := range []string{`{`, `{"version":1,"extra":1}`, strings.Repeat(" ", MaxKeyFileSize+1)} {
			if _, err := ParseKeyFile([]byte(bad)); !errors.Is(err, ErrTampered) {
				t.Fatalf("%.20q: err = %v", bad, err)
			}
		}
	})
}

func TestRewrapKeepsTheDataReadable(t *testing.T) {
	old, data := keyring(t, "k1", "k1")
	dk := NewDataKey(folder)
	sealed := dk.Seal([]byte("kept"), fileKey)
	kf := old.Wrap(dk)

	data["k2"] = NewKey()
	data[ActiveField] = []byte("k2")
	rotated, err := ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	re, err := rotated.Rewrap(kf, folder)
	if err != nil {
		t.Fatal(err)
	}
	if re.KeyID != "k2" {
		t.Fatalf("rewrapped under %q", re.KeyID)
	}
	delete(data, "k1")
	onlyNew, err := ParseSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := onlyNew.Unwrap(re, folder)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := got.Open(sealed, fileKey); err != nil || string(p) != "kept" {
		t.Fatalf("after rotation: %q %v", p, err)
	}
}

func TestMAC(t *testing.T) {
	dk := NewDataKey(folder)
	content := []byte(`{"files":{"b1.tar.gz":{"sha256":"00","size":1}}}`)
	mac := dk.MAC(content)
	if !dk.VerifyMAC(content, mac) {
		t.Fatal("the MAC does not verify")
	}
	if dk.VerifyMAC([]byte(`{"files":{"b1.tar.gz":{"sha256":"01","size":1}}}`), mac) {
		t.Fatal("a changed manifest verifies")
	}
	// Another backup's manifest and MAC: its own data key, its own folder.
	other := NewDataKey("backups/b2/")
	if dk.VerifyMAC(content, other.MAC(content)) {
		t.Fatal("another backup's MAC verifies")
	}
	same, _ := dataKey(dk.key, "backups/b2/")
	if dk.VerifyMAC(content, same.MAC(content)) {
		t.Fatal("a MAC made for another folder verifies")
	}
}

func TestParseSecret(t *testing.T) {
	raw := NewKey()
	b64 := base64.StdEncoding.EncodeToString(NewKey()) + "\n"
	k, err := ParseSecret(map[string][]byte{ActiveField: []byte("b\n"), "a": raw, "b": []byte(b64)})
	if err != nil {
		t.Fatal(err)
	}
	if k.ActiveID() != "b" || strings.Join(k.IDs(), ",") != "a,b" {
		t.Fatalf("active %q ids %v", k.ActiveID(), k.IDs())
	}
	for name, data := range map[string]map[string][]byte{
		"no active":         {"a": raw},
		"active missing":    {ActiveField: []byte("z"), "a": raw},
		"short key":         {ActiveField: []byte("a"), "a": []byte("short")},
		"bad base64 length": {ActiveField: []byte("a"), "a": []byte(base64.StdEncoding.EncodeToString(raw[:16]))},
		"bad id":            {ActiveField: []byte("a"), "a": raw, "-x": raw},
	} {
		if _, err := ParseSecret(data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
