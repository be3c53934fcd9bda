package restore

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"k8s.io/klog/v2"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Actions a restore takes on an item.
const (
	ActionCreated = "created"
	ActionUpdated = "updated"
	ActionSkipped = "skipped"
	ActionFailed  = "failed"
)

// ItemResult is what happened to one backed-up item.
type ItemResult struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// SourceNamespace is the item's namespace in the backup, when mapped.
	SourceNamespace string `json:"sourceNamespace,omitempty"`
	Action          string `json:"action"`
	// Reason explains a skipped or failed item (a warning or an error of the
	// restore), or what went wrong with a created item's data (an error).
	Reason string `json:"reason,omitempty"`
	// Note is information that is neither: e.g. where a volume's data came from.
	Note string `json:"note,omitempty"`
	// Warning is a warning about an item whatever became of it: e.g. that
	// the data of a Velero backup's volume is not restored.
	Warning string `json:"warning,omitempty"`
	// Hooks says what restore hooks did to a pod before it was created (its
	// exec hooks' results are under "hooks" in the document).
	Hooks []string `json:"hooks,omitempty"`
	// Modifiers names the resource modifier rules applied to the object
	// before it was created.
	Modifiers []string `json:"modifiers,omitempty"`
	// Diff lists, for an existing object a preview compared, the fields
	// where it differs from the backed-up one ("path: cluster → backup").
	Diff []string `json:"diff,omitempty"`
	// denied says a failure was a refusal: the requester's rights, or the
	// API server's authorization or admission (Forbidden).
	denied bool
}

// Summary counts a restore's item results.
type Summary struct {
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
	Warnings int `json:"warnings"`
	Errors   int `json:"errors"`
	// HooksRun and HooksFailed count the exec hooks of restored pods.
	HooksRun    int `json:"hooksRun,omitempty"`
	HooksFailed int `json:"hooksFailed,omitempty"`
	// Preview counts the items of a preview by what a restore would do.
	Preview *arkv1.RestorePreview `json:"preview,omitempty"`
}

// results streams restores/<name>/<name>-results.json.gz:
// {"items":[...one per item...],"summary":{...}}, and the log beside it.
// Nothing is kept per item, so a million-item restore has bounded memory.
type results struct {
	mu      sync.Mutex
	gz      *gzip.Writer
	log     *gzip.Writer
	first   bool
	err     error
	summary Summary
	restore string
	// hooks are the exec hooks' results, written after the items: they
	// finish after their pods' items, and are few.
	hooks []HookResult
}

func newResults(resultsW, logW io.Writer, restore string) *results {
	r := &results{gz: gzip.NewWriter(resultsW), log: gzip.NewWriter(logW), first: true, restore: restore}
	r.printf(`{"items":[`)
	return r
}

func (r *results) printf(format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.gz, format, args...)
	}
}

// oneLine escapes line breaks: reasons carry text from the cluster
// (webhook denials, the backup's own names) that must never start a line of
// the log that looks like Ark's.
var oneLine = strings.NewReplacer("\r", `\r`, "\n", `\n`)

func (r *results) logf(level, format string, args ...any) {
	fmt.Fprintf(r.log, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339), level, oneLine.Replace(fmt.Sprintf(format, args...)))
}

// item records one item's outcome; failures are errors of the restore.
func (r *results) item(res ItemResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, _ := json.Marshal(res)
	if !r.first {
		r.printf(",")
	}
	r.first = false
	r.printf("\n%s", data)
	where := res.Name
	if res.Namespace != "" {
		where = res.Namespace + "/" + res.Name
	}
	switch res.Action {
	case ActionCreated:
		r.summary.Created++
		if res.Reason != "" {
			r.summary.Errors++
			r.logf("error", "created %s %s, but %s", res.Resource, where, res.Reason)
		}
		if res.Note != "" {
			r.logf("info", "%s %s: %s", res.Resource, where, res.Note)
		}
	case ActionUpdated:
		r.summary.Updated++
		r.logf("info", "updated %s %s", res.Resource, where)
	case ActionSkipped:
		r.summary.Skipped++
		if res.Note != "" {
			r.logf("info", "skipped %s %s: %s", res.Resource, where, res.Note)
		}
		if res.Reason != "" {
			r.summary.Warnings++
			r.logf("warning", "skipped %s %s: %s", res.Resource, where, res.Reason)
		}
	case ActionFailed:
		r.summary.Failed++
		r.summary.Errors++
		r.logf("error", "failed %s %s: %s", res.Resource, where, res.Reason)
		klog.V(2).InfoS("Restore item failed", "restore", r.restore, "resource", res.Resource, "item", where, "reason", res.Reason)
	default:
		r.previewItem(res, where)
	}
	if len(res.Modifiers) > 0 {
		r.logf("info", "%s %s: modified by %s", res.Resource, where, strings.Join(res.Modifiers, ", "))
	}
	if res.Warning != "" {
		r.summary.Warnings++
		r.logf("warning", "%s %s: %s", res.Resource, where, res.Warning)
	}
}

// previewItem counts and logs an item of a preview. What a restore would
// refuse is not an error of the preview, which did what it was asked.
func (r *results) previewItem(res ItemResult, where string) {
	if r.summary.Preview == nil {
		r.summary.Preview = &arkv1.RestorePreview{}
	}
	p := r.summary.Preview
	detail := ""
	switch {
	case res.Reason != "":
		detail = ": " + res.Reason
	case len(res.Diff) > 0:
		detail = ": " + strings.Join(res.Diff, "; ")
	case res.Note != "":
		detail = ": " + res.Note
	}
	var (
		count        *int
		level, words string
	)
	switch res.Action {
	case ActionWouldCreate:
		count, level, words = &p.WouldCreate, "info", "would create"
	case ActionWouldUpdate:
		count, level, words = &p.WouldUpdate, "info", "would update"
	case ActionWouldSkip:
		count, level, words = &p.WouldSkip, "info", "would skip"
	case ActionWouldConflict:
		count, level, words = &p.WouldConflict, "warning", "would conflict with the existing"
	case ActionWouldBeDenied:
		count, level, words = &p.WouldBeDenied, "warning", "would be denied"
	case ActionWouldFail:
		count, level, words = &p.WouldFail, "warning", "would fail"
	default:
		return
	}
	*count++
	r.logf(level, "%s %s %s%s", words, res.Resource, where, detail)
}

// hookOutputLimit caps what the results keep of a hook's output.
const hookOutputLimit = 4 << 10

// hook records an exec hook's outcome: a failed Fail hook is an error of the
// restore, a failed Continue hook a warning.
func (r *results) hook(h HookResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(h.Stdout) > hookOutputLimit {
		h.Stdout = h.Stdout[:hookOutputLimit] + " [truncated]"
	}
	r.hooks = append(r.hooks, h)
	r.summary.HooksRun++
	where := h.Namespace + "/" + h.Pod
	if h.Outcome == HookSucceeded {
		// Quoted: the output is the pod's, and must not forge log lines.
		r.logf("info", "exec hook %s in pod %s container %s succeeded; it printed %q", h.Hook, where, h.Container, h.Stdout)
		return
	}
	r.summary.HooksFailed++
	if h.OnError == string(arkv1.HookErrorModeFail) {
		r.summary.Errors++
		r.logf("error", "exec hook %s in pod %s failed: %s", h.Hook, where, h.Error)
		return
	}
	r.summary.Warnings++
	r.logf("warning", "exec hook %s in pod %s failed (onError Continue): %s", h.Hook, where, h.Error)
}

// infof logs progress.
func (r *results) infof(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logf("info", format, args...)
}

// warnf records a warning not tied to one item.
func (r *results) warnf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.summary.Warnings++
	r.logf("warning", format, args...)
}

// counts returns the summary so far.
func (r *results) counts() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summary
}

// close finishes both documents.
func (r *results) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.printf("\n]")
	if len(r.hooks) > 0 {
		data, _ := json.Marshal(r.hooks)
		r.printf(",\"hooks\":%s", data)
	}
	data, _ := json.Marshal(r.summary)
	r.printf(",\"summary\":%s}\n", data)
	if r.err != nil {
		return r.err
	}
	if err := r.gz.Close(); err != nil {
		return err
	}
	return r.log.Close()
}

// errorf records an error not tied to one item's creation, such as a
// restored claim that never bound: the restore is PartiallyFailed.
func (r *results) errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.summary.Errors++
	r.logf("error", format, args...)
}
