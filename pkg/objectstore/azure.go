package objectstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"k8s.io/klog/v2"
)

// AzureStore is a backup location in an Azure Blob Storage container (or an
// emulator of it, Azurite), under an optional prefix. Objects are block
// blobs.
//
// Azure gives blobs ETags but no ordered generation, so, as for S3, Ark keeps
// its own in each blob's metadata (x-ms-meta-arkgeneration; Azure metadata
// names must be C# identifiers, so there is no dash). Every write sets it to
// max(previous+1, now in microseconds). Compare-and-swap rests on Azure's
// conditional requests, which check the ETag atomically: a write that
// requires a generation reads the blob's properties, checks the generation
// and commits with If-Match on the ETag it read; a create commits with
// If-None-Match: *. Large objects are staged block by block and the
// condition is checked when the block list is committed. The ETag is the
// object's Token. Listings carry metadata, so List fills Generation too.
type AzureStore struct {
	client    *container.Client
	container string
	prefix    string // "" or ends with "/"
	account   string // for String
	endpoint  string // for String: the service URL when given, without a query
	blockSize int64
	now       func() time.Time
}

var _ Store = &AzureStore{}

// AzureOptions configure an Azure location. Exactly one of AccountKey,
// SASToken and ConnectionString is the credential.
type AzureOptions struct {
	// Endpoint is the Blob service URL, e.g.
	// http://127.0.0.1:10000/devstoreaccount1 for Azurite; empty means
	// https://ACCOUNT.blob.core.windows.net/. A connection string carries
	// its own.
	Endpoint string
	// AccountName is the storage account; needed with AccountKey, and with a
	// SASToken when there is no Endpoint.
	AccountName string
	// AccountKey is the account's shared key (base64), for Shared Key
	// authorization.
	AccountKey string
	// SASToken is a shared access signature (the query string, with or
	// without the leading "?") granting at least read, write, delete and
	// list on the container.
	SASToken string
	// ConnectionString is a storage connection string
	// (DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;
	// BlobEndpoint=...), which names the account and endpoint too.
	ConnectionString string
	// BlockSize is the size of one staged block of a large upload, and so
	// the memory one writer buffers (twice: one block uploads while the next
	// fills); 0 means 8 MiB. Objects that fit in one block are written with
	// a single Put Blob.
	BlockSize int64
}

const (
	// azureGenerationMeta is the metadata name of Ark's generation
	// (x-ms-meta-arkgeneration on the wire).
	azureGenerationMeta   = "arkgeneration"
	azureDefaultBlockSize = 8 << 20
	azureMinBlockSize     = 64 << 10
	// azureMaxBlocks is Azure's limit on the committed blocks of one blob.
	// Block sizes double every azureBlocksPerSize blocks (at most 16 times
	// the first), so 8 MiB blocks reach far beyond any backup while small
	// objects keep small buffers.
	azureMaxBlocks      = 50000
	azureBlocksPerSize  = 10000
	azureMaxBlockFactor = 4 // doublings
	// azureMaxRetries bounds the retries of one call: 5xx, 429, timeouts
	// and connection errors are retried a few times with backoff, then
	// reported, so an unreachable account is an error in seconds.
	azureMaxRetries    = 2
	azureRetryDelay    = 200 * time.Millisecond
	azureMaxRetryDelay = time.Second
	// azureTryTimeout bounds one attempt of one call; a block is at most
	// 128 MiB, which this leaves time for on slow links.
	azureTryTimeout = 5 * time.Minute
)

// Environment variables Open takes an Azure location's credential from.
const (
	EnvAzureStorageKey              = "AZURE_STORAGE_KEY"
	EnvAzureStorageSASToken         = "AZURE_STORAGE_SAS_TOKEN"
	EnvAzureStorageConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
)

// credentialCount is how many credential forms opts gives.
func (o AzureOptions) credentialCount() int {
	n := 0
	for _, v := range []string{o.AccountKey, o.SASToken, o.ConnectionString} {
		if v != "" {
			n++
		}
	}
	return n
}

// OpenAzure connects to containerName with the one credential opts gives.
// It makes no request: a wrong credential or a missing container shows in
// the first call, as an error naming the location.
func OpenAzure(ctx context.Context, containerName, prefix string, opts AzureOptions) (*AzureStore, error) {
	_ = ctx
	where := "azure://" + containerName
	if containerName == "" || strings.Contains(containerName, "/") {
		return nil, fmt.Errorf("%s: want a container name, without slashes", where)
	}
	switch opts.credentialCount() {
	case 0:
		return nil, fmt.Errorf("%s: no Azure credential: give an account key, a SAS token or a connection string (for a location URL: %s, %s or %s in the environment)",
			where, EnvAzureStorageKey, EnvAzureStorageSASToken, EnvAzureStorageConnectionString)
	case 1:
	default:
		return nil, fmt.Errorf("%s: more than one Azure credential is set (account key, SAS token, connection string: %s, %s, %s); give exactly one",
			where, EnvAzureStorageKey, EnvAzureStorageSASToken, EnvAzureStorageConnectionString)
	}
	if opts.BlockSize != 0 && opts.BlockSize < azureMinBlockSize {
		return nil, fmt.Errorf("%s: block size %d is below %d bytes", where, opts.BlockSize, azureMinBlockSize)
	}
	clientOpts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    azureMaxRetries,
			RetryDelay:    azureRetryDelay,
			MaxRetryDelay: azureMaxRetryDelay,
			TryTimeout:    azureTryTimeout,
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "ark"},
	}}
	// A query on the endpoint (a SAS pasted with it) is dropped: the token
	// goes in SASToken, and String must never show it.
	endpoint := strings.TrimSuffix(withoutQuery(opts.Endpoint), "/")
	if endpoint == "" && opts.ConnectionString == "" {
		if opts.AccountName == "" {
			return nil, fmt.Errorf("%s: an account name or an endpoint is needed", where)
		}
		endpoint = "https://" + opts.AccountName + ".blob.core.windows.net"
	}
	var client *azblob.Client
	var err error
	switch {
	case opts.AccountKey != "":
		if opts.AccountName == "" {
			return nil, fmt.Errorf("%s: an account key needs the account name", where)
		}
		cred, cerr := azblob.NewSharedKeyCredential(opts.AccountName, opts.AccountKey)
		if cerr != nil {
			// The SDK's message is about the key's encoding; never the key.
			return nil, fmt.Errorf("%s: the account key is not valid base64", where)
		}
		client, err = azblob.NewClientWithSharedKeyCredential(endpoint+"/", cred, clientOpts)
	case opts.SASToken != "":
		client, err = azblob.NewClientWithNoCredential(endpoint+"/?"+strings.TrimPrefix(opts.SASToken, "?"), clientOpts)
	default:
		if opts.Endpoint != "" || opts.AccountName != "" {
			return nil, fmt.Errorf("%s: a connection string names the account and endpoint itself; the location must not name others", where)
		}
		client, err = azblob.NewClientFromConnectionString(opts.ConnectionString, clientOpts)
		if err == nil {
			endpoint = strings.TrimSuffix(withoutQuery(client.URL()), "/")
		}
	}
	if err != nil {
		// SDK errors about a credential may quote it: say what, not which.
		return nil, fmt.Errorf("%s: the Azure credential or endpoint is malformed", where)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkAzureName(prefix); err != nil {
			return nil, fmt.Errorf("%s: the prefix %q %s", where, prefix, err)
		}
		prefix += "/"
	}
	s := &AzureStore{
		client:    client.ServiceClient().NewContainerClient(containerName),
		container: containerName,
		prefix:    prefix,
		account:   opts.AccountName,
		blockSize: azureDefaultBlockSize,
		now:       time.Now,
	}
	if opts.Endpoint != "" || opts.ConnectionString != "" {
		s.endpoint = endpoint
	}
	if opts.BlockSize != 0 {
		s.blockSize = opts.BlockSize
	}
	return s, nil
}

// withoutQuery drops a URL's query, where a SAS token would be.
func withoutQuery(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i]
	}
	return raw
}

// String returns the location's URL with its account and endpoint, never a
// credential.
func (s *AzureStore) String() string {
	u := "azure://" + s.container + "/" + strings.TrimSuffix(s.prefix, "/")
	var q []string
	if s.account != "" {
		q = append(q, "account="+s.account)
	}
	if s.endpoint != "" {
		// Unescaped, so that the endpoint reads as the URL it is.
		q = append(q, "endpoint="+s.endpoint)
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	return u
}

// Close releases nothing: the SDK's client holds only idle connections.
func (s *AzureStore) Close() error { return nil }

// name returns the blob name for key, refusing what other backends refuse
// and counting the prefix toward MaxKeyBytes (Azure's limit is 1024
// characters). It refuses more (checkAzureName): names Azure would store
// under another name, which would alias another key.
func (s *AzureStore) name(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if err := checkAzureName(key); err != nil {
		return "", fmt.Errorf("%w: %s %s", ErrInvalidKey, quoteKey(key), err)
	}
	if n := len(s.prefix) + len(key); n > MaxKeyBytes {
		return "", fmt.Errorf("%w: %s with the location's prefix %q is an object key of %d bytes, more than the %d bytes an object key may have",
			ErrInvalidKey, quoteKey(key), s.prefix, n, MaxKeyBytes)
	}
	return s.prefix + key, nil
}

// checkAzureName refuses what Azure does not keep as written: a backslash,
// which the service reads as a slash (Azurite stores a\b as a/b), and
// a segment ending in a dot, which Azure's naming rules say to avoid because
// URL normalisation may drop it. Kubernetes names, which Ark's keys are
// built from, have neither. The message completes a sentence that starts
// with the key.
func checkAzureName(name string) error {
	if strings.IndexByte(name, '\\') >= 0 {
		return errors.New("contains a backslash, which Azure Blob Storage reads as a slash")
	}
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasSuffix(seg, ".") {
			return errors.New("has a segment ending in a dot, which Azure Blob Storage may drop")
		}
	}
	return nil
}

// mapErr turns an SDK error about key into the store's errors, always naming
// the location for anything but a missing object or a failed precondition.
func (s *AzureStore) mapErr(key string, err error) error {
	err = redactSAS(err)
	var respErr *azcore.ResponseError
	status := 0
	if errors.As(err, &respErr) {
		status = respErr.StatusCode
		err = briefResponseError(respErr, err)
	}
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return fmt.Errorf("backup location %s: container does not exist: %w", s, err)
	case bloberror.HasCode(err, bloberror.BlobNotFound) || status == http.StatusNotFound:
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	case bloberror.HasCode(err, bloberror.ConditionNotMet, bloberror.BlobAlreadyExists, bloberror.TargetConditionNotMet) ||
		status == http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", key, ErrPreconditionFailed)
	case status == http.StatusForbidden || status == http.StatusUnauthorized ||
		bloberror.HasCode(err, bloberror.AuthenticationFailed, bloberror.AuthorizationFailure, bloberror.AuthorizationPermissionMismatch,
			bloberror.InvalidAuthenticationInfo, bloberror.NoAuthenticationInformation, bloberror.InsufficientAccountPermissions):
		return fmt.Errorf("backup location %s: access denied, check the credentials (the location's credential, else %s, %s or %s) and their permissions on the container: %w",
			s, EnvAzureStorageKey, EnvAzureStorageSASToken, EnvAzureStorageConnectionString, err)
	}
	return fmt.Errorf("backup location %s: %w", s, err)
}

// briefResponseError says in one line what the service answered (the
// SDK's own message spans many lines of headers and body, which API
// statuses and events carry badly); it unwraps to the SDK's error.
func briefResponseError(respErr *azcore.ResponseError, err error) error {
	what := "request"
	if r := respErr.RawResponse; r != nil && r.Request != nil {
		what = r.Request.Method + " " + r.Request.URL.Path
	}
	code := respErr.ErrorCode
	if code == "" {
		code = http.StatusText(respErr.StatusCode)
	}
	return &redactedError{msg: redactSAS(fmt.Errorf("%s: HTTP %d %s", what, respErr.StatusCode, code)).Error(), err: err}
}

// sasSignature matches the signature of a shared access signature in a URL.
var sasSignature = regexp.MustCompile(`(?i)([?&]sig=)[^&\s"]*`)

// redactedError is an error whose message had a SAS signature removed; it
// unwraps to the original, so errors.Is and errors.As still see through it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactSAS removes SAS signatures from err's message. The SDK keeps them
// out of its response errors, but a transport error (connection refused, a
// timeout) quotes the request's whole URL, query and all.
func redactSAS(err error) error {
	msg := err.Error()
	if !sasSignature.MatchString(msg) {
		return err
	}
	return &redactedError{msg: sasSignature.ReplaceAllString(msg, "${1}REDACTED"), err: err}
}

// azureToken is the change token of an ETag: without quotes, which headers
// carry and listings may not.
func azureToken(etag *azcore.ETag) string {
	if etag == nil {
		return ""
	}
	return strings.Trim(string(*etag), `"`)
}

// azureGeneration reads Ark's generation from a blob's metadata. Names come
// back capitalised from headers (Go canonicalises them) and as written from
// listings, hence the case-insensitive look-up. A blob written by another
// tool has none; its modification time in microseconds stands in.
func azureGeneration(meta map[string]*string, modified *time.Time) int64 {
	for k, v := range meta {
		if strings.EqualFold(k, azureGenerationMeta) && v != nil {
			if g, err := strconv.ParseInt(*v, 10, 64); err == nil && g > 0 {
				return g
			}
		}
	}
	if modified != nil && modified.UnixMicro() > 0 {
		return modified.UnixMicro()
	}
	return 1
}

func derefInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefTime(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// Attrs reads the blob's properties.
func (s *AzureStore) Attrs(ctx context.Context, key string) (ObjectAttrs, error) {
	name, err := s.name(key)
	if err != nil {
		return ObjectAttrs{}, err
	}
	a, _, err := s.head(ctx, key, name)
	return a, err
}

// head is Attrs with the raw ETag, which conditions send back.
func (s *AzureStore) head(ctx context.Context, key, name string) (ObjectAttrs, *azcore.ETag, error) {
	p, err := s.client.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return ObjectAttrs{}, nil, s.mapErr(key, err)
	}
	return ObjectAttrs{
		Key:        key,
		Size:       derefInt64(p.ContentLength),
		Generation: azureGeneration(p.Metadata, p.LastModified),
		Updated:    derefTime(p.LastModified),
		Token:      azureToken(p.ETag),
	}, p.ETag, nil
}

// NewReader streams the blob. The body is read in one response; a
// connection that breaks mid-way is an error for the caller, who knows
// whether starting over is worth it.
func (s *AzureStore) NewReader(ctx context.Context, key string) (io.ReadCloser, ObjectAttrs, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, ObjectAttrs{}, err
	}
	out, err := s.client.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, ObjectAttrs{}, s.mapErr(key, err)
	}
	return out.Body, ObjectAttrs{
		Key:        key,
		Size:       derefInt64(out.ContentLength),
		Generation: azureGeneration(out.Metadata, out.LastModified),
		Updated:    derefTime(out.LastModified),
		Token:      azureToken(out.ETag),
	}, nil
}

// List returns one page of List Blobs, whose marker is our page token.
// Azure counts blob prefixes toward maxresults as we count them toward
// Limit. Uncommitted blobs (blocks staged by unfinished writers) are not
// listed.
func (s *AzureStore) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if err := checkListOptions(opts); err != nil {
		return ListPage{}, fmt.Errorf("backup location %s: %w", s, err)
	}
	prefix := s.prefix + opts.Prefix
	maxResults := int32(min(limit, DefaultPageSize))
	var marker *string
	if opts.PageToken != "" {
		marker = &opts.PageToken
	}
	include := container.ListBlobsInclude{Metadata: true}
	var (
		items    []*container.BlobItem
		prefixes []*container.BlobPrefix
		next     *string
	)
	if opts.Delimiter != "" {
		pager := s.client.NewListBlobsHierarchyPager(opts.Delimiter, &container.ListBlobsHierarchyOptions{
			Include: include, Marker: marker, MaxResults: &maxResults, Prefix: &prefix,
		})
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return ListPage{}, s.mapErr(opts.Prefix, err)
		}
		if resp.Segment != nil {
			items, prefixes = resp.Segment.BlobItems, resp.Segment.BlobPrefixes
		}
		next = resp.NextMarker
	} else {
		pager := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
			Include: include, Marker: marker, MaxResults: &maxResults, Prefix: &prefix,
		})
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return ListPage{}, s.mapErr(opts.Prefix, err)
		}
		if resp.Segment != nil {
			items = resp.Segment.BlobItems
		}
		next = resp.NextMarker
	}
	var page ListPage
	for _, b := range items {
		if b == nil || b.Name == nil || !matchesName(*b.Name, opts.Name) {
			continue // Azure lists no filter but a prefix
		}
		o := ObjectAttrs{Key: strings.TrimPrefix(*b.Name, s.prefix)}
		if p := b.Properties; p != nil {
			o.Size = derefInt64(p.ContentLength)
			o.Updated = derefTime(p.LastModified)
			o.Token = azureToken(p.ETag)
			o.Generation = azureGeneration(b.Metadata, p.LastModified)
		}
		page.Objects = append(page.Objects, o)
	}
	for _, p := range prefixes {
		if p != nil && p.Name != nil {
			page.Prefixes = append(page.Prefixes, strings.TrimPrefix(*p.Name, s.prefix))
		}
	}
	if next != nil {
		page.NextPageToken = *next
	}
	return page, nil
}

// Delete removes the blob (and any snapshots of it) under conditions. Azure
// answers a missing blob with 404, so only a generation needs a look first;
// the delete then carries If-Match on the ETag read, which Azure checks
// atomically.
func (s *AzureStore) Delete(ctx context.Context, key string, cond Conditions) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if cond.DoesNotExist {
		return fmt.Errorf("%s: delete cannot require absence: %w", key, ErrPreconditionFailed)
	}
	opts := &blob.DeleteOptions{DeleteSnapshots: to(blob.DeleteSnapshotsOptionTypeInclude)}
	if cond.GenerationMatch != 0 {
		cur, etag, err := s.head(ctx, key, name)
		if err != nil {
			return err
		}
		if cur.Generation != cond.GenerationMatch {
			return fmt.Errorf("%s is at generation %d, not %d: %w", key, cur.Generation, cond.GenerationMatch, ErrPreconditionFailed)
		}
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: etag}}
	}
	if _, err := s.client.NewBlobClient(name).Delete(ctx, opts); err != nil {
		err = s.mapErr(key, err)
		if cond.GenerationMatch != 0 && errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%s was deleted: %w", key, ErrPreconditionFailed)
		}
		return err
	}
	return nil
}

func to[T any](v T) *T { return &v }

// NewWriter starts a write. Nothing is sent until the data outgrows one
// block or the writer closes; see azureWriter.
func (s *AzureStore) NewWriter(ctx context.Context, key string, cond Conditions) (Writer, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &azureWriter{s: s, ctx: ctx, key: key, name: name, cond: cond, blob: s.client.NewBlockBlobClient(name), id: hex.EncodeToString(id)}, nil
}

// azureWriter buffers up to one block. An object that fits is written with
// one conditional Put Blob at Close; a larger one is staged block by block
// (Put Block), each block uploading in the background while the next fills,
// so a writer holds at most two blocks in memory, and Close commits the
// block list (Put Block List) with the write's condition.
//
// Staged blocks are invisible: a blob that has only uncommitted blocks does
// not exist for reads and listings. Azure has no call to discard them, so
// Abort just stops; the service drops them at the next commit of the same
// name or after a week. Block IDs carry a random writer ID, so writers of
// the same key never commit each other's blocks. A commit by another writer
// discards this writer's staged blocks, and its own commit then fails:
// for a conditional write that is a lost race (ErrPreconditionFailed),
// which is what it would have been anyway.
type azureWriter struct {
	s         *AzureStore
	ctx       context.Context
	key, name string
	cond      Conditions
	blob      *blockblob.Client
	id        string // random, in every block ID

	prepared bool
	gen      int64
	ifMatch  *azcore.ETag // the ETag a GenerationMatch write requires

	buf   []byte
	spare []byte
	size  int64

	blocks   []string // staged block IDs, in order
	inflight chan azureBlockResult

	err   error
	done  bool
	attrs ObjectAttrs
}

type azureBlockResult struct {
	buf []byte
	err error
}

// prepare checks the write's condition where that can be done before the
// upload and decides the generation the object will have. A create needs
// no look (If-None-Match: * decides) unless staging is about to begin: then
// a look fails it before gigabytes move.
func (w *azureWriter) prepare(early bool) error {
	if w.prepared {
		return nil
	}
	now := w.s.now().UnixMicro()
	if w.cond.DoesNotExist && !early {
		w.gen, w.prepared = now, true
		return nil
	}
	gen, ifMatch, err := planWrite(w.key, w.cond, now, func() (ObjectAttrs, *azcore.ETag, error) { return w.s.head(w.ctx, w.key, w.name) })
	if err != nil {
		return err
	}
	w.gen = gen
	if ifMatch != nil {
		w.ifMatch = *ifMatch
	}
	w.prepared = true
	return nil
}

func (w *azureWriter) accessConditions() *blob.AccessConditions {
	switch {
	case w.cond.DoesNotExist:
		return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to(azcore.ETagAny)}}
	case w.ifMatch != nil:
		return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: w.ifMatch}}
	}
	return nil
}

func (w *azureWriter) metadata() map[string]*string {
	return map[string]*string{azureGenerationMeta: to(strconv.FormatInt(w.gen, 10))}
}

// blockSize is the size of block n (from 1).
func (w *azureWriter) blockSize(n int) int64 {
	return w.s.blockSize << min((n-1)/azureBlocksPerSize, azureMaxBlockFactor)
}

// blockID is the ID of block n: base64 of a fixed-length string, as Azure
// requires all IDs of a blob to have the same length.
func (w *azureWriter) blockID(n int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "ark-%s-%08d", w.id, n))
}

func (w *azureWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write to a closed writer")
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = w.newBuffer(len(w.blocks) + 1)
		}
		if len(w.buf) == cap(w.buf) {
			// Full, and more is coming: stage it.
			if err := w.stage(); err != nil {
				w.err = err
				return written, err
			}
			continue
		}
		n := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		written += n
		w.size += int64(n)
	}
	return written, nil
}

// newBuffer returns an empty buffer for block n, reusing the spare one.
func (w *azureWriter) newBuffer(n int) []byte {
	size := w.blockSize(n)
	if w.spare != nil && int64(cap(w.spare)) >= size {
		b := w.spare
		w.spare = nil
		return b[:0:size]
	}
	return make([]byte, 0, size)
}

// stage waits for the block in flight and stages the buffer in the
// background. Before the first block it checks the condition.
func (w *azureWriter) stage() error {
	if len(w.blocks) == 0 && w.inflight == nil {
		if err := w.prepare(true); err != nil {
			return err
		}
		klog.V(4).InfoS("Staging blocks", "location", w.s, "key", w.key, "generation", w.gen)
	}
	if err := w.wait(); err != nil {
		return err
	}
	n := len(w.blocks) + 1
	if n > azureMaxBlocks {
		return fmt.Errorf("backup location %s: %s is larger than %d blocks can hold", w.s, w.key, azureMaxBlocks)
	}
	buf := w.buf
	w.buf = nil
	id := w.blockID(n)
	w.blocks = append(w.blocks, id)
	done := make(chan azureBlockResult, 1)
	w.inflight = done
	go func() {
		_, err := w.blob.StageBlock(w.ctx, id, streaming.NopCloser(bytes.NewReader(buf)), nil)
		if err != nil {
			err = w.s.mapErr(w.key, err)
		}
		done <- azureBlockResult{buf: buf, err: err}
	}()
	return nil
}

// wait waits for the block in flight and keeps its buffer for the next one.
func (w *azureWriter) wait() error {
	if w.inflight == nil {
		return nil
	}
	r := <-w.inflight
	w.inflight = nil
	w.spare = r.buf
	return r.err
}

// Close commits the object: one conditional Put Blob, or the last block and
// a conditional Put Block List.
func (w *azureWriter) Close() error {
	if w.done {
		return errors.New("writer already closed")
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	var etag *azcore.ETag
	var modified *time.Time
	if len(w.blocks) == 0 {
		if err := w.prepare(false); err != nil {
			w.done = true
			return err
		}
		out, err := w.blob.Upload(w.ctx, streaming.NopCloser(bytes.NewReader(w.buf)), &blockblob.UploadOptions{
			Metadata:         w.metadata(),
			AccessConditions: w.accessConditions(),
		})
		if err == nil {
			w.done = true
			etag, modified = out.ETag, out.LastModified
		} else if !w.cond.DoesNotExist || !bloberror.HasCode(err, bloberror.BlobAlreadyExists) || !w.onlyUncommitted() {
			w.done = true
			return w.conditionalErr(err)
		} else {
			// Blocks an abandoned upload staged make Azurite (at least)
			// refuse Put Blob with If-None-Match: * although no blob is
			// committed; Put Block List with the same condition goes by
			// the committed blob, as a create should.
			if len(w.buf) > 0 {
				if err := w.stage(); err != nil {
					w.Abort()
					return err
				}
			}
			if err := w.wait(); err != nil {
				w.Abort()
				return err
			}
			out, err := w.blob.CommitBlockList(w.ctx, w.blocks, &blockblob.CommitBlockListOptions{
				Metadata:         w.metadata(),
				AccessConditions: w.accessConditions(),
			})
			w.done = true
			if err != nil {
				return w.commitErr(err)
			}
			etag, modified = out.ETag, out.LastModified
		}
	} else {
		if len(w.buf) > 0 {
			if err := w.stage(); err != nil {
				w.Abort()
				return err
			}
		}
		if err := w.wait(); err != nil {
			w.Abort()
			return err
		}
		out, err := w.blob.CommitBlockList(w.ctx, w.blocks, &blockblob.CommitBlockListOptions{
			Metadata:         w.metadata(),
			AccessConditions: w.accessConditions(),
		})
		w.done = true
		if err != nil {
			return w.commitErr(err)
		}
		etag, modified = out.ETag, out.LastModified
	}
	w.buf, w.spare = nil, nil
	updated := w.s.now()
	if modified != nil {
		updated = *modified
	}
	w.attrs = ObjectAttrs{Key: w.key, Size: w.size, Generation: w.gen, Updated: updated, Token: azureToken(etag)}
	return nil
}

// onlyUncommitted reports whether the key holds no committed blob, so that
// a create refused with BlobAlreadyExists was refused for uncommitted blocks.
func (w *azureWriter) onlyUncommitted() bool {
	_, _, err := w.s.head(w.ctx, w.key, w.name)
	return errors.Is(err, ErrNotFound)
}

// conditionalErr maps a failed commit. Azure answers If-Match on a blob that
// is gone with 404: for a conditional write that is a failed precondition.
func (w *azureWriter) conditionalErr(err error) error {
	err = w.s.mapErr(w.key, err)
	if w.ifMatch != nil && errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s was deleted: %w", w.key, ErrPreconditionFailed)
	}
	return err
}

// commitErr maps a failed Put Block List. InvalidBlockList means staged
// blocks are gone, which happens when another writer committed the same
// name meanwhile (a commit discards every uncommitted block of the blob):
// for a conditional write whose condition no longer holds, that is a lost
// race.
func (w *azureWriter) commitErr(err error) error {
	if !bloberror.HasCode(err, bloberror.InvalidBlockList) {
		return w.conditionalErr(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
	defer cancel()
	_, etag, herr := w.s.head(ctx, w.key, w.name)
	switch {
	case w.cond.DoesNotExist && herr == nil,
		w.ifMatch != nil && errors.Is(herr, ErrNotFound),
		w.ifMatch != nil && herr == nil && (etag == nil || *etag != *w.ifMatch):
		return fmt.Errorf("%s was written by someone else during the upload: %w", w.key, ErrPreconditionFailed)
	}
	return fmt.Errorf("backup location %s: committing %s: its staged blocks are gone (another write of the same key discards them): %w", w.s, w.key, err)
}

// Abort discards the write. Staged blocks stay uncommitted, invisible, until
// Azure drops them (see azureWriter).
func (w *azureWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	_ = w.wait()
	w.buf, w.spare = nil, nil
}

func (w *azureWriter) Attrs() ObjectAttrs { return w.attrs }
