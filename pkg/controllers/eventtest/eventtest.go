// Package eventtest checks the events controllers record, in their tests.
package eventtest

import (
	"strings"
	"testing"

	"k8s.io/client-go/tools/record"
)

// Drain returns the events r has recorded since the last call, each as
// "<type> <reason> <message>".
func Drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// Expect checks the events r has recorded since the last call, in order,
// each against the start of its wanted "<type> <reason> <message>".
func Expect(t testing.TB, r *record.FakeRecorder, want ...string) {
	t.Helper()
	got := Drain(r)
	if len(got) != len(want) {
		t.Errorf("events = %q, want %d starting %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("event %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}
