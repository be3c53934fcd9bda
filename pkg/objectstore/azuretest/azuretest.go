// Package azuretest runs a real Azure Blob Storage emulator (Azurite's blob
// service, keeping its data in a temporary directory) on 127.0.0.1 so that
// the Azure backend is tested with the real Azure SDK over real HTTP against
// a server that implements conditional requests and block staging. Azurite is
// installed from a pinned npm version by `make azurite`
// (hack/azurite/install.sh) into _output/azurite.
package azuretest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/arkproject/ark/pkg/objectstore"
	"github.com/arkproject/ark/pkg/objectstore/testserver"
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

	*testserver.Process
	client *azblob.Client
}

// Start starts Azurite on a free loopback port over a temporary directory
// and stops it when the test ends (see testserver.Start).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := testserver.Installed("_output/azurite/node_modules/.bin/azurite-blob", "azurite")
	client := func(port int) (*azblob.Client, error) {
		cred, err := azblob.NewSharedKeyCredential(AccountName, AccountKey)
		if err != nil {
			return nil, err
		}
		return azblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://127.0.0.1:%d/%s/", port, AccountName), cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
			Retry: policy.RetryOptions{MaxRetries: -1}, // testserver retries until it answers
		}})
	}
	s := &Server{}
	s.Process = testserver.Start(t, testserver.Launch{
		Name: "Azurite", Binary: bin, BinaryErr: err,
		Command: func(port int, dir string) ([]string, []string) {
			args := []string{"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
				"--location", dir, "--skipApiVersionCheck", "--loose", "--silent"}
			// None of the caller's AZURITE_ACCOUNTS or AZURE_* settings; node
			// finds itself on PATH, and keeps what it writes under the
			// temporary HOME.
			return args, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		},
		Ready: func(ctx context.Context, port int) error {
			c, err := client(port)
			if err != nil {
				return err
			}
			_, err = c.ServiceClient().GetProperties(ctx, nil)
			return err
		},
	})
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d/%s", s.Port, AccountName)
	var cerr error
	if s.client, cerr = client(s.Port); cerr != nil {
		t.Fatal(cerr)
	}
	return s
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
