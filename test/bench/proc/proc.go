// Package proc reads what the benchmarks report of a server process from
// /proc (Linux): its resident memory, its peak, and the CPU time it used.
// They measure the process a user runs, not the Go heap of a test.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Status reads one "<field>: <n> kB" line of /proc/<pid>/status (VmRSS,
// VmHWM), in bytes.
func Status(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s of pid %d: %w", field, pid, err)
		}
		return kb << 10, nil
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// SettledRSS waits until VmRSS changes by less than 1 MiB over two seconds
// (at most a minute) and returns it.
func SettledRSS(pid int) (int64, error) {
	prev, err := Status(pid, "VmRSS")
	if err != nil {
		return 0, err
	}
	for range 30 {
		time.Sleep(2 * time.Second)
		cur, err := Status(pid, "VmRSS")
		if err != nil {
			return 0, err
		}
		if d := cur - prev; d < 1<<20 && d > -(1<<20) {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// ResetPeak sets the process's VmHWM back to its current RSS, so the next
// reading is the peak of what follows (proc(5): clear_refs, value 5).
func ResetPeak(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS of pid %d: %w", pid, err)
	}
	return nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user plus system time the process has used.
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// After the name: state is field 3, utime 14, stime 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// Profile fetches a profile (kind "profile" for CPU over seconds, "heap",
// ...) from /debug/pprof of the ark-apiserver serving at host, with the
// credentials of cfg (the cluster's administrator), into path.
func Profile(ctx context.Context, cfg *rest.Config, host, kind string, seconds int, path string) error {
	query := ""
	if seconds > 0 {
		query = fmt.Sprintf("?seconds=%d", seconds)
	}
	body, err := pprofGet(ctx, cfg, host, kind+query)
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Heap is what the Go runtime of a server says of its memory just after a
// garbage collection (runtime.MemStats, in bytes).
type Heap struct {
	// Live is the heap its objects hold (HeapAlloc).
	Live int64
	// Goal is the heap size at which the next collection starts (NextGC):
	// garbage fills the heap up to it between collections.
	Goal int64
	// Free is heap memory the runtime holds with nothing in it, not yet
	// returned to the system (HeapIdle - HeapReleased).
	Free int64
	// Sys is all the memory the runtime obtained from the system.
	Sys int64
}

// LiveHeap returns what the Go runtime of the ark-apiserver at host says
// of its memory just after a garbage collection it is asked to run: what
// it keeps, and what its RSS counts besides.
func LiveHeap(ctx context.Context, cfg *rest.Config, host string) (Heap, error) {
	body, err := pprofGet(ctx, cfg, host, "heap?gc=1&debug=1")
	if err != nil {
		return Heap{}, err
	}
	defer body.Close()
	stats := map[string]int64{}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64); err == nil {
			stats[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return Heap{}, err
	}
	for _, k := range []string{"HeapAlloc", "NextGC", "HeapIdle", "HeapReleased", "Sys"} {
		if _, ok := stats[k]; !ok {
			return Heap{}, fmt.Errorf("the heap profile of ark-apiserver names no %s", k)
		}
	}
	return Heap{Live: stats["HeapAlloc"], Goal: stats["NextGC"], Free: stats["HeapIdle"] - stats["HeapReleased"], Sys: stats["Sys"]}, nil
}

// Watches returns how many watches of resource (of Ark's group) the
// ark-apiserver at host is serving, from its apiserver_longrunning_requests
// metric.
func Watches(ctx context.Context, cfg *rest.Config, host, resource string) (int, error) {
	body, err := get(ctx, cfg, host, "/metrics")
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n := 0
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_longrunning_requests{") || !strings.Contains(line, `resource="`+resource+`"`) || !strings.Contains(line, `verb="WATCH"`) {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			n += int(v)
		}
	}
	return n, sc.Err()
}

// pprofGet fetches /debug/pprof/what from the ark-apiserver at host.
func pprofGet(ctx context.Context, cfg *rest.Config, host, what string) (io.ReadCloser, error) {
	return get(ctx, cfg, host, "/debug/pprof/"+what)
}

// get fetches path from the ark-apiserver at host.
func get(ctx context.Context, cfg *rest.Config, host, path string) (io.ReadCloser, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Host = host
	// ark-apiserver's serving certificate is not the cluster's; the
	// benchmarks run on loopback.
	cfg.CAData, cfg.CAFile, cfg.Insecure = nil, "", true
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, host+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading %s of ark-apiserver: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("reading %s of ark-apiserver: %s", path, resp.Status)
	}
	return resp.Body, nil
}
