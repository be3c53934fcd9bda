package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func TestReadProblems(t *testing.T) {
	var log strings.Builder
	log.WriteString("2024-05-01T12:00:00Z info starting restore\n")
	for i := range maxProblems + 5 {
		fmt.Fprintf(&log, "2024-05-01T12:00:01Z warning skipped configmaps a/cm-%d: already exists\n", i)
	}
	log.WriteString("2024-05-01T12:00:02Z error failed secrets a/s: forbidden\n")
	log.WriteString("garbage without fields\n\n")
	p, err := readProblems(strings.NewReader(log.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.nWarnings != maxProblems+5 || len(p.warnings) != maxProblems || p.nErrors != 1 || p.errors[0] != "failed secrets a/s: forbidden" {
		t.Errorf("problems = %+v", p)
	}
	var out strings.Builder
	p.print(&out, "ark restore logs r -n a")
	for _, want := range []string{
		"\nWarnings (25):\n  skipped configmaps a/cm-0: already exists\n",
		"  skipped configmaps a/cm-19: already exists\n  ... and 5 more: ark restore logs r -n a\n",
		"\nErrors (1):\n  failed secrets a/s: forbidden\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "cm-20") {
		t.Errorf("printed more than %d warnings", maxProblems)
	}

	// A line longer than the scanner allows is an error, with what was read.
	_, err = readProblems(strings.NewReader("t warning " + strings.Repeat("x", 5<<20) + "\n"))
	if err == nil || !strings.Contains(err.Error(), "reading the log") {
		t.Errorf("err = %v", err)
	}
}

// describe of a finished restore with warnings lists them from restores/logs;
// when the log cannot be read it still describes, and says why.
func TestDescribeShowsProblems(t *testing.T) {
	restore := &arkv1.Restore{
		TypeMeta:   metav1.TypeMeta{Kind: "Restore", APIVersion: "ark.heptio.com/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: DefaultNamespace},
		Spec:       arkv1.RestoreSpec{BackupName: "b"},
		Status:     arkv1.RestoreStatus{Phase: arkv1.RestorePhasePartiallyFailed, Warnings: 1, Errors: 1},
	}
	logUp, logReads := true, 0
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/ark.heptio.com/v1/namespaces/heptio-ark/restores/r":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(restore)
		case "/apis/ark.heptio.com/v1/namespaces/heptio-ark/restores/r/logs":
			logReads++
			if !logUp {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"backup storage location \"default\" is unreachable","reason":"ServiceUnavailable","code":503}`)
				return
			}
			io.WriteString(w, "t info restoring\nt warning skipped configmaps a/x: already exists\nt error failed secrets a/s: forbidden\n")
		default:
			t.Errorf("unexpected request %s", r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	})
	r := mustRun(t, nil, nil, "--kubeconfig", kc, "restore", "describe", "r")
	for _, want := range []string{"Phase:                     PartiallyFailed", "\nWarnings (1):\n  skipped configmaps a/x: already exists\n", "\nErrors (1):\n  failed secrets a/s: forbidden\n", "Full log: ark restore logs r -n heptio-ark"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("describe lacks %q:\n%s", want, r.out)
		}
	}

	logUp = false
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "restore", "describe", "r")
	if !strings.Contains(r.out, "Phase:                     PartiallyFailed") || !strings.Contains(r.out, `Warnings and errors: cannot read the log: backup storage location "default" is unreachable`) {
		t.Errorf("describe with the bucket down:\n%s", r.out)
	}

	// Nothing to report: the log is not read at all.
	restore.Status = arkv1.RestoreStatus{Phase: arkv1.RestorePhaseCompleted}
	logUp, logReads = true, 0
	r = mustRun(t, nil, nil, "--kubeconfig", kc, "restore", "describe", "r")
	if strings.Contains(r.out, "Warnings (") || strings.Contains(r.out, "Full log") || logReads != 0 {
		t.Errorf("describe of a clean restore read the log %d times:\n%s", logReads, r.out)
	}
}
