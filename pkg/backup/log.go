package backup

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// maxResultEntries caps the messages kept per result category, so a backup
// with millions of failing items still has bounded memory; counts stay exact.
const maxResultEntries = 1000

// Results are a backup's warnings and errors, grouped the way Velero users
// know: by namespace, for cluster-scoped items, and for Ark itself.
type Results struct {
	Errors   ResultSet `json:"errors"`
	Warnings ResultSet `json:"warnings"`
}

// ResultSet is one kind of message.
type ResultSet struct {
	Ark        []string            `json:"ark,omitempty"`
	Cluster    []string            `json:"cluster,omitempty"`
	Namespaces map[string][]string `json:"namespaces,omitempty"`
	// Count is the number of messages, including those not kept.
	Count int `json:"count"`
}

func (s *ResultSet) add(namespace, scope, msg string) {
	s.Count++
	switch {
	case namespace != "":
		if s.Namespaces == nil {
			s.Namespaces = map[string][]string{}
		}
		if len(s.Namespaces[namespace]) < maxResultEntries {
			s.Namespaces[namespace] = append(s.Namespaces[namespace], msg)
		}
	case scope == "cluster":
		if len(s.Cluster) < maxResultEntries {
			s.Cluster = append(s.Cluster, msg)
		}
	default:
		if len(s.Ark) < maxResultEntries {
			s.Ark = append(s.Ark, msg)
		}
	}
}

// backupLog is the log of one backup: written gzipped into the bucket as it
// goes, counted into Results, and mirrored to the server's log.
type backupLog struct {
	mu      sync.Mutex
	gz      *gzip.Writer
	backup  string
	results Results
	// live is the start of the log as plain text, published while the
	// backup runs so `backups/logs` can follow it; capped at liveLogLimit.
	live    bytes.Buffer
	changed bool
}

// liveLogLimit caps the part of a running backup's log kept for followers;
// the rest appears when the backup finishes.
const liveLogLimit = 4 << 20

func newBackupLog(w io.Writer, backup string) *backupLog {
	return &backupLog{gz: gzip.NewWriter(w), backup: backup}
}

// oneLine escapes line breaks: a message carries text from the cluster
// (webhook denials, annotations, hook output), and must never start a line
// of the log that looks like Ark's.
var oneLine = strings.NewReplacer("\r", `\r`, "\n", `\n`)

func (l *backupLog) write(level, msg string) {
	line := fmt.Sprintf("%s %s %s\n", time.Now().UTC().Format(time.RFC3339), level, oneLine.Replace(msg))
	io.WriteString(l.gz, line)
	if l.live.Len()+len(line) <= liveLogLimit {
		l.live.WriteString(line)
		l.changed = true
	}
}

// liveSnapshot returns the live log if it changed since the last call.
func (l *backupLog) liveSnapshot() ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.changed {
		return nil, false
	}
	l.changed = false
	return append([]byte(nil), l.live.Bytes()...), true
}

// infof logs progress.
func (l *backupLog) infof(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write("info", fmt.Sprintf(format, args...))
}

// warnf records a warning about namespace (or the cluster when "cluster", or Ark when "").
func (l *backupLog) warnf(namespace, scope, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write("warning", msg)
	l.results.Warnings.add(namespace, scope, msg)
	klog.V(2).InfoS("Backup warning", "backup", l.backup, "message", msg)
}

// errorf records an error; the backup ends PartiallyFailed.
func (l *backupLog) errorf(namespace, scope, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write("error", msg)
	l.results.Errors.add(namespace, scope, msg)
	klog.InfoS("Backup error", "backup", l.backup, "message", msg)
}

func (l *backupLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gz.Close()
}
