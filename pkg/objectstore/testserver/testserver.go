// Package testserver runs the real object-storage servers the backends'
// tests use (versitygw for S3, Azurite for Azure) as processes on
// 127.0.0.1: it finds their cached install in the repository's _output,
// starts them on a free port, waits until they answer, and stops them when
// the test ends. Packages s3test and azuretest add each protocol's client.
package testserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Installed returns the path of a server installed under the repository's
// root (found from the working directory: a package directory while tests
// run), or an error saying which make target installs it.
func Installed(rel, makeTarget string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module github.com/arkproject/ark\n") {
			bin := filepath.Join(dir, filepath.FromSlash(rel))
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("%s is not installed (run `make %s`): %w", rel, makeTarget, err)
			}
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the Ark repository root (its go.mod) is not above the working directory")
		}
		dir = parent
	}
}

// Process is a server started by a test.
type Process struct {
	// Port is the loopback port it serves on.
	Port   int
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
}

// Launch describes how to start one server: the command for a port and a
// fresh directory, and a probe that succeeds once it answers.
type Launch struct {
	// Name names the server in messages.
	Name string
	// Binary is its path, or the error of finding it (see Installed).
	Binary    string
	BinaryErr error
	// Command returns the arguments and environment of a run on port over dir.
	Command func(port int, dir string) (args, env []string)
	// Ready succeeds once the server at port answers.
	Ready func(ctx context.Context, port int) error
}

// Start starts the server and stops it when the test ends. Without the
// binary the test is skipped, naming its make target, except in CI (CI
// set), where it fails: make test installs it, so a skip there would hide
// a broken install.
func Start(t testing.TB, l Launch) *Process {
	t.Helper()
	if l.BinaryErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v", l.BinaryErr)
		}
		t.Skipf("skipping the tests that need %s: %v", l.Name, l.BinaryErr)
	}
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		p, err := start(l, t.TempDir())
		if err == nil {
			t.Cleanup(p.Stop)
			return p
		}
		lastErr = err
	}
	t.Fatalf("starting %s: %v", l.Name, lastErr)
	return nil
}

func start(l Launch, dir string) (*Process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Process{Port: port, name: l.Name, exited: make(chan struct{}), log: &bytes.Buffer{}}
	args, env := l.Command(port, dir)
	p.cmd = exec.Command(l.Binary, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", l.Binary, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := l.Ready(ctx, port)
		cancel()
		if err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited: %s", l.Name, p.log)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("%s did not answer within 30s: %v; its output: %s", l.Name, err, p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server; clients then see connection errors, which is how
// tests make a bucket unreachable. It is safe to call twice.
func (p *Process) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
