package objectstore

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"google.golang.org/api/option"
)

// LocationConfig says where a backup storage location is and how to reach
// it, as a BackupStorageLocation's spec does: the provider, the bucket and
// prefix, the provider's config, and the credential read from the Secret
// the spec names. It is what OpenLocation opens; ParseLocationURL turns a
// location URL into one.
type LocationConfig struct {
	// Provider is "file" (a directory), "gcp" (Google Cloud Storage) or
	// "aws" (S3 and S3-compatible servers).
	Provider string
	// Bucket is the bucket's name; for "file", the directory's absolute path.
	Bucket string
	// Prefix is the path within the bucket the location's objects are under.
	Prefix string
	// Config holds the provider's settings, by the names Heptio Ark gave
	// them; see CheckLocationConfig.
	Config map[string]string
	// Credential is the content of the credential Secret's key: for "aws",
	// an AWS shared credentials file; for "gcp", a service account's JSON
	// key. Empty means the server's own credentials (its environment).
	Credential []byte
}

// Config keys of the aws provider, named as in Heptio Ark and Velero.
const (
	awsRegion                = "region"
	awsS3URL                 = "s3Url"
	awsS3ForcePathStyle      = "s3ForcePathStyle"
	awsInsecureSkipTLSVerify = "insecureSkipTLSVerify"
	awsCACert                = "caCert"
	awsServerSideEncryption  = "serverSideEncryption"
	awsKMSKeyID              = "kmsKeyId"
	awsProfile               = "profile"
)

// locationConfigKeys are the config keys each provider knows; a provider
// without any takes none. Its keys are the providers there are.
var locationConfigKeys = map[string][]string{
	"file": nil,
	"gcp":  {gcpPubsubSubscription},
	"aws": {awsRegion, awsS3URL, awsS3ForcePathStyle, awsInsecureSkipTLSVerify, awsCACert,
		awsServerSideEncryption, awsKMSKeyID, awsProfile},
	"azure": {azureStorageAccount, azureStorageAccountURI},
}

// Config keys of the azure provider, named as in Velero.
const (
	// azureStorageAccount is the storage account's name.
	azureStorageAccount = "storageAccount"
	// azureStorageAccountURI is the Blob service URL (Azurite's, a sovereign
	// cloud's); unset is https://ACCOUNT.blob.core.windows.net.
	azureStorageAccountURI = "storageAccountURI"
)

// Config keys of the gcp provider.
const (
	// gcpPubsubSubscription is the Pub/Sub subscription, as
	// projects/PROJECT/subscriptions/ID, of a topic the bucket sends its
	// object notifications to. With it, changes other writers make show
	// within a second instead of at the next poll.
	gcpPubsubSubscription = "pubsubSubscription"
)

// gcsQueryAliases are the shorter names a gs:// URL's query takes.
var gcsQueryAliases = map[string]string{
	"subscription": gcpPubsubSubscription,
}

// pubsubSubscriptionRE matches a subscription's full name and captures its
// project: a project ID (possibly domain-scoped, example.com:id) and a
// subscription ID as Pub/Sub allows them (a letter, then 2-254 letters,
// digits or -_.~+%).
var pubsubSubscriptionRE = regexp.MustCompile(`^projects/((?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9])/subscriptions/[A-Za-z][A-Za-z0-9_.~+%-]{2,254}$`)

// pubsubProject checks a subscription's full name and returns its project.
func pubsubProject(subscription string) (string, error) {
	m := pubsubSubscriptionRE.FindStringSubmatch(subscription)
	if m == nil {
		return "", fmt.Errorf("config %s=%q: want projects/PROJECT/subscriptions/ID", gcpPubsubSubscription, subscription)
	}
	return m[1], nil
}

// azureQueryAliases are the shorter names an azure:// URL's query takes.
var azureQueryAliases = map[string]string{
	"account":  azureStorageAccount,
	"endpoint": azureStorageAccountURI,
}

// s3QueryAliases are the names an s3:// URL's query took before it used
// Heptio Ark's; they keep working and are normalized to the new names.
var s3QueryAliases = map[string]string{
	"endpoint":       awsS3URL,
	"forcePathStyle": awsS3ForcePathStyle,
}

// providerNames lists the providers for messages: "aws, file or gcp".
func providerNames() string {
	names := slices.Sorted(maps.Keys(locationConfigKeys))
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// CheckLocationConfig reports whether provider is known and config holds
// only keys it knows, with values it accepts, without opening anything, so
// that an API can refuse a location up front. Unknown keys are refused, with
// the known ones listed: a misspelt option silently ignored would send
// backups somewhere else than intended.
//
// The aws provider knows region, s3Url (the base URL of an S3-compatible
// server), s3ForcePathStyle and insecureSkipTLSVerify (true or false), caCert
// (PEM certificates to trust besides the system's), serverSideEncryption
// (AES256, aws:kms or aws:kms:dsse), kmsKeyId (implies aws:kms) and profile
// (the profile of the credential file, default "default"). The gcp provider
// knows pubsubSubscription (projects/PROJECT/subscriptions/ID, whose
// messages tell of the bucket's changes). file takes no keys.
func CheckLocationConfig(provider string, config map[string]string) error {
	known, ok := locationConfigKeys[provider]
	if !ok {
		return fmt.Errorf("unknown provider %q (want %s)", provider, providerNames())
	}
	for _, k := range slices.Sorted(maps.Keys(config)) {
		if slices.Contains(known, k) {
			continue
		}
		if len(known) == 0 {
			return fmt.Errorf("unknown config key %q: provider %s takes no config keys", k, provider)
		}
		return fmt.Errorf("unknown config key %q for provider %s (known keys: %s)", k, provider, strings.Join(known, ", "))
	}
	switch provider {
	case "aws":
		_, err := s3OptionsFromConfig(config)
		return err
	case "gcp":
		if v, ok := config[gcpPubsubSubscription]; ok {
			_, err := pubsubProject(v)
			return err
		}
	case "azure":
		if e := config[azureStorageAccountURI]; e != "" {
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
				return fmt.Errorf("%s: want an http:// or https:// URL without credentials or query", azureStorageAccountURI)
			}
		}
	}
	return nil
}

// azureCredentialKeys are the lines an azure credential may hold, each
// NAME=VALUE: exactly one of the key (Velero's name for it too), the SAS
// token or the connection string, and optionally the account's name.
var azureCredentialKeys = []string{
	EnvAzureStorageKey, "AZURE_STORAGE_ACCOUNT_ACCESS_KEY", EnvAzureStorageSASToken,
	EnvAzureStorageConnectionString, "AZURE_STORAGE_ACCOUNT",
}

// parseAzureCredential reads an azure location's credential: lines of
// NAME=VALUE (blank lines and # comments allowed), as the environment
// variables of the same names would say. Unknown names are refused; errors
// give line numbers and names, never values.
func parseAzureCredential(data []byte, opts *AzureOptions) error {
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimPrefix(string(data), "\ufeff"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return fmt.Errorf("line %d: want NAME=VALUE", i+1)
		}
		if !slices.Contains(azureCredentialKeys, k) {
			return fmt.Errorf("line %d: unknown name %s (want %s)", i+1, k, strings.Join(azureCredentialKeys, ", "))
		}
		if seen[k] {
			return fmt.Errorf("line %d: %s is given twice", i+1, k)
		}
		seen[k] = true
		switch k {
		case EnvAzureStorageKey, "AZURE_STORAGE_ACCOUNT_ACCESS_KEY":
			if opts.AccountKey != "" {
				return fmt.Errorf("line %d: the account key is given twice", i+1)
			}
			opts.AccountKey = v
		case EnvAzureStorageSASToken:
			opts.SASToken = v
		case EnvAzureStorageConnectionString:
			opts.ConnectionString = v
		case "AZURE_STORAGE_ACCOUNT":
			if opts.AccountName != "" && opts.AccountName != v {
				return fmt.Errorf("line %d: AZURE_STORAGE_ACCOUNT names another account than config.storageAccount", i+1)
			}
			opts.AccountName = v
		}
	}
	if opts.credentialCount() != 1 {
		return fmt.Errorf("want exactly one of %s, %s or %s", EnvAzureStorageKey, EnvAzureStorageSASToken, EnvAzureStorageConnectionString)
	}
	return nil
}

// OpenLocation opens the store a location describes. Its config is checked
// first (CheckLocationConfig); errors name the location but never carry the
// credential.
func OpenLocation(ctx context.Context, c LocationConfig) (Store, error) {
	name := c.Provider + " location " + strconv.Quote(c.Bucket)
	if c.Prefix != "" {
		name += " prefix " + strconv.Quote(c.Prefix)
	}
	if err := CheckLocationConfig(c.Provider, c.Config); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if c.Bucket == "" {
		return nil, fmt.Errorf("%s: the bucket is empty", name)
	}
	prefix := strings.Trim(c.Prefix, "/")
	switch c.Provider {
	case "file":
		if len(c.Credential) > 0 {
			return nil, fmt.Errorf("%s: a file location takes no credential", name)
		}
		if !filepath.IsAbs(c.Bucket) {
			return nil, fmt.Errorf("%s: the bucket of a file location must be an absolute directory path", name)
		}
		dir := c.Bucket
		if prefix != "" {
			// The prefix names directories inside the bucket: no "..".
			if err := CheckKey(prefix); err != nil {
				return nil, fmt.Errorf("%s: bad prefix: %w", name, err)
			}
			dir = filepath.Join(dir, filepath.FromSlash(prefix))
		}
		return NewFileStore(dir)
	case "gcp":
		var opts []option.ClientOption
		if len(c.Credential) > 0 {
			if err := checkServiceAccountKey(c.Credential); err != nil {
				return nil, fmt.Errorf("%s: credential: %w", name, err)
			}
			opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, c.Credential))
		}
		s, err := OpenGCS(ctx, c.Bucket, prefix, opts...)
		if err != nil {
			return nil, err
		}
		s.PubsubSubscription = c.Config[gcpPubsubSubscription]
		return s, nil
	case "aws":
		opts, err := s3OptionsFromConfig(c.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err) // checked above already
		}
		if len(c.Credential) > 0 {
			profile := opts.Profile
			if profile == "" {
				profile = "default"
			}
			creds, err := parseAWSCredentials(c.Credential, profile)
			if err != nil {
				return nil, fmt.Errorf("%s: credential: %w", name, err)
			}
			opts.Credentials = creds
			opts.Profile = "" // the profile was the credential's, not the environment's
		}
		return OpenS3(ctx, c.Bucket, prefix, opts)
	case "azure":
		opts := AzureOptions{AccountName: c.Config[azureStorageAccount], Endpoint: c.Config[azureStorageAccountURI]}
		if len(c.Credential) > 0 {
			if err := parseAzureCredential(c.Credential, &opts); err != nil {
				return nil, fmt.Errorf("%s: credential: %w", name, err)
			}
		} else {
			opts.AccountKey = os.Getenv(EnvAzureStorageKey)
			opts.SASToken = os.Getenv(EnvAzureStorageSASToken)
			opts.ConnectionString = os.Getenv(EnvAzureStorageConnectionString)
		}
		return OpenAzure(ctx, c.Bucket, prefix, opts)
	}
	return nil, fmt.Errorf("%s: unknown provider", name) // CheckLocationConfig knows no other
}

// ParseLocationURL describes a location URL as a LocationConfig:
// file:///absolute/path, gs://bucket[/prefix][?query] or
// s3://bucket[/prefix][?query]. The s3 query holds the aws config keys
// (CheckLocationConfig); the names it took before, endpoint and
// forcePathStyle, are accepted and normalized to s3Url and
// s3ForcePathStyle. The gs query holds the gcp ones, pubsubSubscription
// also as subscription. URLs carry no credentials.
func ParseLocationURL(location string) (LocationConfig, error) {
	u, err := url.Parse(location)
	if err != nil {
		// Not the URL itself: it may hold a password.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return LocationConfig{}, fmt.Errorf("parsing backup location: %w", err)
	}
	if u.User != nil {
		return LocationConfig{}, fmt.Errorf("backup location %q: location URLs carry no credentials; they come from the location's credential or the server's environment (for S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role)", u.Redacted())
	}
	var c LocationConfig
	switch u.Scheme {
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !path.IsAbs(u.Path) {
			return LocationConfig{}, fmt.Errorf("backup location %q: file URLs must be file:///absolute/path", location)
		}
		c = LocationConfig{Provider: "file", Bucket: path.Clean(u.Path)}
	case "gs":
		if u.Host == "" {
			return LocationConfig{}, fmt.Errorf("backup location %q: gs URLs must be gs://bucket[/prefix][?options]", location)
		}
		c = LocationConfig{Provider: "gcp", Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	case "s3":
		if u.Host == "" {
			return LocationConfig{}, fmt.Errorf("backup location %q: s3 URLs must be s3://bucket[/prefix][?options]", location)
		}
		c = LocationConfig{Provider: "aws", Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	case "azure":
		if u.Host == "" {
			return LocationConfig{}, fmt.Errorf("backup location %q: azure URLs must be azure://container[/prefix][?options]", location)
		}
		if u.Query().Has("sig") {
			return LocationConfig{}, fmt.Errorf("backup location azure://%s: location URLs carry no shared access signature; set it in %s", u.Host, EnvAzureStorageSASToken)
		}
		c = LocationConfig{Provider: "azure", Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	default:
		return LocationConfig{}, fmt.Errorf("backup location %q: unsupported scheme %q (want file, gs, s3 or azure)", location, u.Scheme)
	}
	aliases := map[string]string(nil)
	switch u.Scheme {
	case "s3":
		aliases = s3QueryAliases
	case "gs":
		aliases = gcsQueryAliases
	case "azure":
		aliases = azureQueryAliases
	}
	config, err := queryConfig(u.Query(), aliases)
	if err != nil {
		return LocationConfig{}, fmt.Errorf("backup location %q: %w", location, err)
	}
	if err := CheckLocationConfig(c.Provider, config); err != nil {
		return LocationConfig{}, fmt.Errorf("backup location %q: %w", location, err)
	}
	c.Config = config
	return c, nil
}

// queryConfig turns a location URL's query into config keys, normalizing
// old names by aliases. A key given twice, or under both its names, is
// refused rather than one of the values picked.
func queryConfig(q url.Values, aliases map[string]string) (map[string]string, error) {
	if len(q) == 0 {
		return nil, nil
	}
	config := map[string]string{}
	from := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if len(q[name]) > 1 {
			return nil, fmt.Errorf("option %s is given %d times", name, len(q[name]))
		}
		key := name
		if k, ok := aliases[name]; ok {
			key = k
		}
		if prev, ok := from[key]; ok {
			return nil, fmt.Errorf("options %s and %s are the same option, given twice", prev, name)
		}
		from[key] = name
		config[key] = q[name][0]
	}
	return config, nil
}

// s3OptionsFromConfig reads the aws provider's config keys (unknown ones
// were refused by CheckLocationConfig).
func s3OptionsFromConfig(config map[string]string) (S3Options, error) {
	var o S3Options
	var err error
	boolean := func(k string) bool {
		v, ok := config[k]
		if !ok || err != nil {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			err = fmt.Errorf("config %s=%q: want true or false", k, v)
		}
		return b
	}
	o.Region = config[awsRegion]
	o.Endpoint = config[awsS3URL]
	o.ForcePathStyle = boolean(awsS3ForcePathStyle)
	o.InsecureSkipTLSVerify = boolean(awsInsecureSkipTLSVerify)
	if err != nil {
		return S3Options{}, err
	}
	if v, ok := config[awsS3URL]; ok {
		u, perr := url.Parse(v)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return S3Options{}, fmt.Errorf("config %s: want an http:// or https:// URL", awsS3URL)
		}
		if u.User != nil {
			return S3Options{}, fmt.Errorf("config %s: the URL must carry no credentials", awsS3URL)
		}
	}
	if v, ok := config[awsCACert]; ok {
		if _, err := certPoolFromPEM([]byte(v)); err != nil {
			return S3Options{}, fmt.Errorf("config %s: %w", awsCACert, err)
		}
		o.CACert = []byte(v)
	}
	o.ServerSideEncryption = config[awsServerSideEncryption]
	o.KMSKeyID = config[awsKMSKeyID]
	if _, ok := config[awsKMSKeyID]; ok && o.KMSKeyID == "" {
		return S3Options{}, fmt.Errorf("config %s is empty", awsKMSKeyID)
	}
	if o.KMSKeyID != "" && o.ServerSideEncryption == "" {
		o.ServerSideEncryption = string(types.ServerSideEncryptionAwsKms) // as Heptio Ark did
	}
	if err := checkS3Encryption(o.ServerSideEncryption, o.KMSKeyID); err != nil {
		return S3Options{}, fmt.Errorf("config %w", err)
	}
	if v, ok := config[awsProfile]; ok {
		if v == "" || strings.ContainsAny(v, "[] \t\r\n") {
			return S3Options{}, fmt.Errorf("config %s=%q: want a profile name", awsProfile, v)
		}
		o.Profile = v
	}
	return o, nil
}

// s3Encryptions are the serverSideEncryption values a location may ask
// for; S3's others (aws:fsx, aws:backup) are not for buckets Ark writes.
var s3Encryptions = []types.ServerSideEncryption{
	types.ServerSideEncryptionAes256, types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse,
}

// checkS3Encryption checks a server-side encryption and KMS key pair; the
// message completes "config ".
func checkS3Encryption(sse, kmsKeyID string) error {
	if sse != "" && !slices.Contains(s3Encryptions, types.ServerSideEncryption(sse)) {
		return fmt.Errorf("%s=%q: want AES256, aws:kms or aws:kms:dsse", awsServerSideEncryption, sse)
	}
	if kmsKeyID != "" && !strings.HasPrefix(sse, "aws:kms") {
		return fmt.Errorf("%s is set, which needs %s aws:kms or aws:kms:dsse, not %q", awsKMSKeyID, awsServerSideEncryption, sse)
	}
	return nil
}

// certPoolFromPEM returns the system's trusted certificates plus those in
// pemCerts, which must hold at least one and nothing but certificates.
func certPoolFromPEM(pemCerts []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	n := 0
	rest := bytes.TrimSpace(pemCerts)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("not PEM: want one or more -----BEGIN CERTIFICATE----- blocks")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s block; want certificates only", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(cert)
		n++
		rest = bytes.TrimSpace(rest)
	}
	if n == 0 {
		return nil, errors.New("holds no certificate")
	}
	return pool, nil
}

// parseAWSCredentials reads one profile of an AWS shared credentials file:
// [name] sections of key = value lines, blank lines and lines starting with
// # or ; ignored. The AWS SDK parses only files on disk, and a credential
// from a Secret should not be written to one, hence this strict reader: a
// profile holds aws_access_key_id, aws_secret_access_key and optionally
// aws_session_token, and anything else in it (role_arn, credential_process,
// ...) is refused rather than ignored. Errors name lines and keys, never
// values.
func parseAWSCredentials(data []byte, profile string) (credentials.StaticCredentialsProvider, error) {
	var (
		section  string
		inside   bool // a section has started
		profiles []string
		found    bool
		values   = map[string]string{}
	)
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark some editors write
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: a section header must end with ]", n)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if section == "" {
				return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: empty section name", n)
			}
			if slices.Contains(profiles, section) {
				return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: profile [%s] appears twice", n, section)
			}
			profiles = append(profiles, section)
			inside = true
			found = found || section == profile
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: want [profile] or key = value", n)
		}
		if !inside {
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: key = value before any [profile] section", n)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		value = strings.TrimSpace(value)
		if section != profile {
			continue
		}
		switch key {
		case "aws_access_key_id", "aws_secret_access_key", "aws_session_token":
		default:
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: profile [%s] has %q; a credential holds only aws_access_key_id, aws_secret_access_key and aws_session_token", n, profile, key)
		}
		if _, dup := values[key]; dup {
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: %s appears twice in profile [%s]", n, key, profile)
		}
		if value == "" || strings.ContainsAny(value, " \t") {
			// A space would be an inline comment or a paste error.
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("line %d: the value of %s is empty or contains a space", n, key)
		}
		values[key] = value
	}
	if !found {
		if len(profiles) == 0 {
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("no profile %q: the credential holds no [profile] section (want an AWS shared credentials file)", profile)
		}
		return credentials.StaticCredentialsProvider{}, fmt.Errorf("no profile %q in the credential (it has %s); set config profile to choose another", profile, strings.Join(profiles, ", "))
	}
	for _, k := range []string{"aws_access_key_id", "aws_secret_access_key"} {
		if values[k] == "" {
			return credentials.StaticCredentialsProvider{}, fmt.Errorf("profile [%s] has no %s", profile, k)
		}
	}
	return credentials.NewStaticCredentialsProvider(values["aws_access_key_id"], values["aws_secret_access_key"], values["aws_session_token"]), nil
}

// checkServiceAccountKey checks that a gcp credential is a service
// account's JSON key, for a clear error before the client library's; it
// never quotes the key.
func checkServiceAccountKey(data []byte) error {
	var key struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &key); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return fmt.Errorf("not a service account JSON key: invalid JSON at byte %d", syntax.Offset)
		}
		return errors.New("not a service account JSON key: want a JSON object")
	}
	switch {
	case key.Type != "service_account":
		return fmt.Errorf("not a service account JSON key: its type is %q, want \"service_account\"", key.Type)
	case key.ClientEmail == "":
		return errors.New("the service account JSON key has no client_email")
	case key.PrivateKey == "":
		return errors.New("the service account JSON key has no private_key")
	}
	if block, _ := pem.Decode([]byte(key.PrivateKey)); block == nil {
		return errors.New("the service account JSON key's private_key is not PEM")
	}
	return nil
}
