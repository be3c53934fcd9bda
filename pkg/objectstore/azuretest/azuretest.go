// Package azuretest runs a real Azure Blob Storage emulator (Azurite's blob
// service, keeping its data in a temporary directory) on 127.0.0.1 so that
// the Azure backend is tested with the real Azure SDK over real HTTP against
// a server that implements conditional requests and block staging. Azurite is
// installed from a pinned npm version by `make azurite`
// (hack/azurite/install.sh) into _output/azurite.
package azuretest

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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/arkproject/ark/pkg/objectstore"
)

// Azurite's well-known development account, which it accepts by default.
// The key is published with Azurite; it guards nothing.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is a running Azurite blob service.
type Server struct {
	// Endpoint is the Blob service URL of the development account,
	// http://127.0.0.1:PORT/devstoreaccount1.
	Endpoint string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
	client *azblob.Client
}

// Binary returns the path of azurite-blob in the repository's
// _output/azurite, found from the working directory (a package directory
// while tests run).
func Binary() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module github.com/arkproject/ark\n") {
			bin := filepath.Join(dir, "_output", "azurite", "node_modules", ".bin", "azurite-blob")
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("Azurite is not installed (run `make azurite`): %w", err)
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

// Start starts Azurite on a free loopback port over a temporary directory
// and stops it when the test ends. Without Azurite the test is skipped,
// naming `make azurite`, except in CI (CI set), where it fails: make test
// installs it, so a skip there would hide a broken install.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v", err)
		}
		t.Skipf("skipping the Azure tests: %v", err)
	}
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		s, err := start(bin, t.TempDir())
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("starting Azurite: %v", lastErr)
	return nil
}

func start(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, AccountName),
		exited:   make(chan struct{}),
		log:      &bytes.Buffer{},
	}
	s.cmd = exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
		"--location", dir, "--skipApiVersionCheck", "--loose", "--silent")
	// None of the caller's AZURITE_ACCOUNTS or AZURE_* settings; node finds
	// itself on PATH, and keeps what it writes under the temporary HOME.
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	cred, err := azblob.NewSharedKeyCredential(AccountName, AccountKey)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.client, err = azblob.NewClientWithSharedKeyCredential(s.Endpoint+"/", cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: -1}, // the loop below retries
	}})
	if err != nil {
		s.Stop()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := s.client.ServiceClient().GetProperties(ctx, nil)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("Azurite exited: %s", s.log)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("Azurite did not answer within 30s: %v; its output: %s", err, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Stop kills Azurite; clients then see connection errors, which is how tests
// make an account unreachable. It is safe to call twice.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// CreateContainer adds an empty container (Azure names: 3-63 lower-case
// letters, digits and hyphens).
func (s *Server) CreateContainer(t testing.TB, name string) {
	t.Helper()
	if _, err := s.client.CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
}

// Client is a plain SDK client of the development account, for what tests
// do behind the store's back.
func (s *Server) Client() *azblob.Client { return s.client }

// Options are the store options for this server, with the account key.
func (s *Server) Options() objectstore.AzureOptions {
	return objectstore.AzureOptions{Endpoint: s.Endpoint, AccountName: AccountName, AccountKey: AccountKey}
}

// ConnectionString is the development account's connection string for this
// server.
func (s *Server) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", AccountName, AccountKey, s.Endpoint)
}

// SASToken returns a shared access signature (a query string) for container
// allowing what a store does there, valid for an hour.
func (s *Server) SASToken(t testing.TB, container string) string {
	t.Helper()
	perms := sas.ContainerPermissions{Read: true, Create: true, Write: true, Delete: true, List: true}
	u, err := s.client.ServiceClient().NewContainerClient(container).GetSASURL(perms, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, query, ok := strings.Cut(u, "?")
	if !ok {
		t.Fatalf("a SAS URL without a query: %s", u)
	}
	return query
}

// NewStore returns a store over container/prefix on this server, closed
// when the test ends.
func (s *Server) NewStore(t testing.TB, container, prefix string) *objectstore.AzureStore {
	t.Helper()
	st, err := objectstore.OpenAzure(context.Background(), container, prefix, s.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
