package cli

import (
	"bytes"
	"context"
	"testing"
	"time"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Into a log (not a terminal) --wait writes whole lines: one per phase
// change and at most one per logProgressEvery in between, never a "\r".
func TestWaitForLogOutput(t *testing.T) {
	defer func(w, l time.Duration) { waitInterval, logProgressEvery = w, l }(waitInterval, logProgressEvery)
	waitInterval, logProgressEvery = time.Millisecond, time.Hour

	steps := []struct {
		phase string
		done  int
	}{{"New", 0}, {"InProgress", 1}, {"InProgress", 2}, {"InProgress", 3}, {"Completed", 4}}
	i := 0
	var buf bytes.Buffer
	phase, err := waitFor(context.Background(), &buf, "backup b", func(context.Context) (string, *arkv1.Progress, bool, error) {
		s := steps[i]
		i++
		return s.phase, &arkv1.Progress{TotalItems: 4, ItemsDone: s.done}, s.phase == "Completed", nil
	})
	if err != nil || phase != "Completed" {
		t.Fatalf("phase %q, err %v", phase, err)
	}
	want := "Waiting for backup b to finish (Ctrl-C stops waiting; the operation goes on).\n" +
		"[>                             ] 0/4 items  New\n" +
		"[=======>                      ] 1/4 items  InProgress\n" +
		"[==============================] 4/4 items  Completed\n"
	if buf.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", buf.String(), want)
	}

	// With the interval elapsed every time, each change is a line.
	logProgressEvery = 0
	i = 0
	buf.Reset()
	if _, err := waitFor(context.Background(), &buf, "backup b", func(context.Context) (string, *arkv1.Progress, bool, error) {
		s := steps[i]
		i++
		return s.phase, &arkv1.Progress{TotalItems: 4, ItemsDone: s.done}, s.phase == "Completed", nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 6 {
		t.Errorf("%d lines, want 6:\n%s", n, buf.String())
	}
}
