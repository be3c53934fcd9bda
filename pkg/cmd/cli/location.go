package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/util/retry"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/backupstore/encryption"
	"github.com/arkproject/ark/pkg/generated/clientset/versioned"
)

// newLocationCommand is `ark backup-location`: the BackupStorageLocations
// of Ark's home namespace (-n, default heptio-ark). The command line only
// checks its flags' syntax; what a location may say (providers, buckets,
// which one may be the default) is the server's to decide.
func newLocationCommand(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "backup-location",
		Aliases: []string{"backup-locations", "bsl"},
		Short:   "Work with backup storage locations",
		Long: `A backup storage location is a bucket (and a prefix in it) that Ark keeps backups in: an object
BackupStorageLocation (short name bsl) in Ark's home namespace, heptio-ark unless -n says otherwise.
Locations name buckets and credential Secrets, so they are administrators' business (ark-admin).`,
	}
	cmd.AddCommand(newLocationCreate(env), newGet(env, locationsResource), newDescribe(env, locationsResource),
		newLocationSet(env), newDelete(env, locationsResource), newLocationRotateKey(env))
	return cmd
}

func newLocationCreate(env *Env) *cobra.Command {
	var provider, bucket, prefix, credential, accessMode, format, keySecret string
	var config, labelPairs []string
	var isDefault bool
	cmd := &cobra.Command{
		Use:   "create NAME --provider PROVIDER --bucket BUCKET",
		Short: "Create a backup storage location",
		Long: `Create a backup storage location in Ark's home namespace. The server checks what it says: the
provider (file, gcp, aws, ...), the bucket, and which location may be the default.`,
		Example: `  ark backup-location create eu --provider aws --bucket ark-backups --prefix cluster-1 --config region=eu-west-1
  ark backup-location create minio --provider aws --bucket ark --config region=minio,endpoint=http://minio:9000,forcePathStyle=true --credential minio-creds=cloud
  ark backup-location create archive --provider gcp --bucket old-backups --access-mode ReadOnly
  ark backup-location create velero --provider aws --bucket velero-backups --format velero
  ark backup-location create sealed --provider gcp --bucket ark-backups --encryption-key-secret ark-keys`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case provider == "":
				return fmt.Errorf("--provider is required: the kind of object store (file, gcp or aws)")
			case bucket == "":
				return fmt.Errorf("--bucket is required: the bucket's name (for the file provider, an absolute directory)")
			}
			cfg, err := parseKeyValues("--config", config, false)
			if err != nil {
				return err
			}
			lbls, err := parseKeyValues("--labels", labelPairs, true)
			if err != nil {
				return err
			}
			var fmtVal arkv1.BackupStorageLocationFormat
			switch format {
			case "", string(arkv1.BackupStorageLocationFormatArk):
			case string(arkv1.BackupStorageLocationFormatVelero):
				fmtVal = arkv1.BackupStorageLocationFormatVelero
				// A Velero bucket is only ever read: say so unless told otherwise
				// (and the server refuses anything else).
				if !cmd.Flags().Changed("access-mode") {
					accessMode = string(arkv1.BackupStorageLocationAccessModeReadOnly)
				}
			default:
				return fmt.Errorf("--format is ark or velero, not %q", format)
			}
			mode, err := parseAccessMode(accessMode)
			if err != nil {
				return err
			}
			l := &arkv1.BackupStorageLocation{
				ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: env.Namespace(), Labels: lbls},
				Spec: arkv1.BackupStorageLocationSpec{
					Provider:      provider,
					ObjectStorage: arkv1.ObjectStorageLocation{Bucket: bucket, Prefix: prefix},
					Config:        cfg,
					AccessMode:    mode,
					Default:       isDefault,
					Format:        fmtVal,
				},
			}
			if credential != "" {
				if l.Spec.Credential, err = parseCredential(credential); err != nil {
					return err
				}
			}
			if keySecret != "" {
				l.Spec.Encryption = &arkv1.BackupStorageLocationEncryption{KeySecret: keySecret}
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			created, err := client.ArkV1().BackupStorageLocations(l.Namespace).Create(cmd.Context(), l, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Backup storage location %q created.\n", created.Name)
			fmt.Fprintf(env.Out, "Run `%s backup-location describe %s -n %s` to see whether Ark reaches its bucket.\n", env.Name, created.Name, created.Namespace)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "kind of object store: file, gcp or aws (S3 and compatible stores)")
	f.StringVar(&bucket, "bucket", "", "bucket name; for the file provider, the absolute path of a directory")
	f.StringVar(&prefix, "prefix", "", "path within the bucket Ark's files are kept under")
	f.StringSliceVar(&config, "config", nil, "provider settings as key=value,key2=value2 (aws: region, endpoint, forcePathStyle)")
	f.StringVar(&credential, "credential", "", "SECRET=KEY: the key of a Secret in Ark's home namespace holding the bucket's credentials (default: the server's own)")
	f.StringVar(&accessMode, "access-mode", string(arkv1.BackupStorageLocationAccessModeReadWrite), "ReadWrite, or ReadOnly to only read backups from the location")
	f.BoolVar(&isDefault, "default", false, "make this the location of backups that name none")
	f.StringSliceVar(&labelPairs, "labels", nil, "labels of the location: key=value,key2=value2")
	f.StringVar(&format, "format", "", "ark (default), or velero for a bucket a Velero server wrote, which is only read (ReadOnly)")
	f.StringVar(&keySecret, "encryption-key-secret", "", "encrypt the location's backups with the keys of this Secret in Ark's home namespace (see ark backup-location rotate-key, which makes one)")
	return cmd
}

// newLocationSet changes what may change of a location: not its provider,
// bucket or prefix (create another location for another bucket).
func newLocationSet(env *Env) *cobra.Command {
	var credential, accessMode string
	var config []string
	var isDefault bool
	cmd := &cobra.Command{
		Use:               "set NAME",
		ValidArgsFunction: completeArgs(env, locationsResource),
		Short:             "Change a backup storage location's default flag, credential, access mode or config",
		Long: `Change a backup storage location. Only the flags given change anything:

  --default, --default=false   make it, or stop it being, the location of backups that name none
                               (the server decides whether another location may be the default)
  --credential SECRET=KEY      use this key of a Secret in Ark's home namespace; --credential= goes
                               back to the server's own credentials
  --access-mode MODE           ReadWrite or ReadOnly
  --config k=v,k2=             merged into the config: k is set to v, and k2 (given with an empty
                               value) is removed; keys not named are kept

The provider, bucket and prefix do not change: create another location for another bucket.`,
		Example: `  ark backup-location set default --config region=eu-west-1,endpoint=
  ark backup-location set archive --access-mode ReadOnly --credential archive-creds=cloud
  ark backup-location set secondary --default`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			if !changed("default") && !changed("credential") && !changed("access-mode") && !changed("config") {
				return fmt.Errorf("nothing to change: give --default, --credential, --access-mode or --config")
			}
			cfg, err := parseKeyValues("--config", config, true)
			if err != nil {
				return err
			}
			var mode arkv1.BackupStorageLocationAccessMode
			if changed("access-mode") {
				if mode, err = parseAccessMode(accessMode); err != nil {
					return err
				}
			}
			var cred *arkv1.SecretKeyReference
			if credential != "" {
				if cred, err = parseCredential(credential); err != nil {
					return err
				}
			}
			client, err := env.Ark()
			if err != nil {
				return err
			}
			locations := client.ArkV1().BackupStorageLocations(env.Namespace())
			unchanged := false
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				l, err := locations.Get(cmd.Context(), args[0], metav1.GetOptions{})
				if err != nil {
					return err
				}
				spec := l.Spec.DeepCopy()
				if changed("default") {
					spec.Default = isDefault
				}
				if changed("credential") {
					spec.Credential = cred
				}
				if changed("access-mode") {
					spec.AccessMode = mode
				}
				for k, v := range cfg {
					if v == "" {
						delete(spec.Config, k)
						continue
					}
					if spec.Config == nil {
						spec.Config = map[string]string{}
					}
					spec.Config[k] = v
				}
				if len(spec.Config) == 0 {
					spec.Config = nil
				}
				if unchanged = apiequality.Semantic.DeepEqual(*spec, l.Spec); unchanged {
					return nil
				}
				l.Spec = *spec
				_, err = locations.Update(cmd.Context(), l, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				return err
			}
			if unchanged {
				fmt.Fprintf(env.Out, "Backup storage location %q unchanged.\n", args[0])
			} else {
				fmt.Fprintf(env.Out, "Backup storage location %q updated.\n", args[0])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&isDefault, "default", false, "make this the location of backups that name none (--default=false to stop)")
	f.StringVar(&credential, "credential", "", "SECRET=KEY of a Secret in Ark's home namespace; empty for the server's own credentials")
	f.StringVar(&accessMode, "access-mode", "", "ReadWrite or ReadOnly")
	f.StringSliceVar(&config, "config", nil, "config to merge: key=value sets a key, key= removes it")
	return cmd
}

// parseKeyValues reads key=value pairs of a flag. With allowEmpty, a pair
// may have an empty value ("key="); without, it is refused.
func parseKeyValues(flag string, pairs []string, allowEmpty bool) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: %q is not key=value", flag, p)
		case strings.TrimSpace(k) == "":
			return nil, fmt.Errorf("%s: %q has no key (want key=value)", flag, p)
		case v == "" && !allowEmpty:
			return nil, fmt.Errorf("%s: %q has no value (want key=value)", flag, p)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: %q is given twice", flag, k)
		}
		out[k] = v
	}
	return out, nil
}

// parseCredential reads --credential SECRET=KEY.
func parseCredential(s string) (*arkv1.SecretKeyReference, error) {
	name, key, ok := strings.Cut(s, "=")
	if !ok || name == "" || key == "" || strings.Contains(key, "=") {
		return nil, fmt.Errorf("--credential: %q is not SECRET=KEY (the name of a Secret in Ark's home namespace, and the key in it that holds the credentials)", s)
	}
	return &arkv1.SecretKeyReference{Name: name, Key: key}, nil
}

// parseAccessMode reads --access-mode, in any case.
func parseAccessMode(s string) (arkv1.BackupStorageLocationAccessMode, error) {
	for _, m := range []arkv1.BackupStorageLocationAccessMode{arkv1.BackupStorageLocationAccessModeReadWrite, arkv1.BackupStorageLocationAccessModeReadOnly} {
		if strings.EqualFold(s, string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("--access-mode: %q is neither ReadWrite nor ReadOnly", s)
}

// checkLocation fails when the backup storage location a backup or a
// schedule names does not exist, before anything is created. Locations
// live in Ark's home namespace: the command's namespace (-n), and, when
// that is another one (a tenant's backup), heptio-ark. A user who may not
// read locations (only ark-admin may), or a server that cannot be asked,
// is no reason to refuse: then the server decides.
func checkLocation(ctx context.Context, env *Env, client versioned.Interface, name string) error {
	if name == "" {
		return nil
	}
	namespaces := []string{env.Namespace()}
	if env.Namespace() != DefaultNamespace {
		namespaces = append(namespaces, DefaultNamespace)
	}
	for _, ns := range namespaces {
		_, err := client.ArkV1().BackupStorageLocations(ns).Get(ctx, name, metav1.GetOptions{})
		if !locationMissing(err, name) {
			return nil // found, or not known to be missing
		}
	}
	return fmt.Errorf("--storage-location: backup storage location %q not found in namespace %s (see `%s backup-location get`; leave --storage-location out for the default location)",
		name, strings.Join(namespaces, " or "), env.Name)
}

// locationMissing says whether err says that location name does not exist,
// not that the server serves no locations at all (an older server: a bare
// 404 naming no object).
func locationMissing(err error, name string) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Name == name
}

func describeLocation(w io.Writer, l *arkv1.BackupStorageLocation, now time.Time) {
	d := &describer{w: w}
	d.line("Name", l.Name)
	d.line("Namespace", l.Namespace)
	d.line("Labels", pairsString(l.Labels, "=", ","))
	phase := string(l.Status.Phase)
	if phase == "" {
		phase = "Unknown"
	}
	d.line("Phase", phase)
	d.section("Spec", func() {
		d.line("Provider", l.Spec.Provider)
		d.line("Bucket", l.Spec.ObjectStorage.Bucket)
		d.line("Prefix", orNone(l.Spec.ObjectStorage.Prefix))
		d.line("Config", pairsString(l.Spec.Config, "=", ", "))
		// Only the reference: the Secret is neither read nor shown.
		cred := "<none> (the server's own)"
		if c := l.Spec.Credential; c != nil {
			cred = fmt.Sprintf("key %q of Secret %q", c.Key, c.Name)
		}
		d.line("Credential", cred)
		mode := string(l.Spec.AccessMode)
		if mode == "" {
			mode = string(arkv1.BackupStorageLocationAccessModeReadWrite)
		}
		d.line("Access mode", mode)
		format := string(l.Spec.Format)
		if format == "" {
			format = string(arkv1.BackupStorageLocationFormatArk)
		}
		d.line("Format", format)
		d.line("Default", l.Spec.Default)
		enc := "<none> (backups are stored in plaintext)"
		if e := l.Spec.Encryption; e != nil {
			enc = fmt.Sprintf("keys of Secret %q", e.KeySecret)
		}
		d.line("Encryption", enc)
	})
	d.section("Status", func() {
		last := timeOr(l.Status.LastSyncedTime, "<never>")
		if t := l.Status.LastSyncedTime; t != nil && !t.IsZero() && !t.After(now) {
			last += " (" + duration.HumanDuration(now.Sub(t.Time)) + " ago)"
		}
		d.line("Last synced", last)
		d.line("Backups", l.Status.BackupCount)
		if e := l.Status.Encryption; e != nil {
			d.line("Active key", orNone(e.ActiveKeyID))
			d.line("Keys held", listOr(e.KeyIDs, "<none>"))
			byKey := map[string]string{}
			for id, n := range e.BackupsByKey {
				byKey[id] = fmt.Sprint(n)
			}
			d.line("Backups by key", pairsString(byKey, ": ", ", "))
			if e.UnreadableBackups > 0 {
				d.line("Unreadable backups", fmt.Sprintf("%d (their keys are not in the Secret)", e.UnreadableBackups))
			}
		}
		d.line("Message", orNone(printable(l.Status.Message)))
	})
}

// newLocationRotateKey is key rotation: a fresh key is added to the
// location's key Secret and made active, as the user running the command
// (who must be allowed to update the Secret). The server then encrypts new
// backups with it and re-wraps the data keys of the location's older
// backups under it, rewriting only their key files; once `describe` counts
// every backup under the new key, the old keys can leave the Secret.
func newLocationRotateKey(env *Env) *cobra.Command {
	var keyID string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:               "rotate-key NAME",
		ValidArgsFunction: completeArgs(env, locationsResource),
		Short:             "Add a fresh encryption key to a location and make it the active one",
		Long: `Add a fresh random 32-byte key to the Secret a location's spec.encryption names (creating the
Secret if it is missing) and make it the active key: new backups are encrypted with it, and the server
re-wraps the data keys of the location's existing backups under it, without rewriting their data.
Old keys stay in the Secret; remove one once ` + "`ark backup-location describe`" + ` counts no backup under it.

Copy the Secret somewhere safe outside the cluster after every rotation: without its keys, the
location's backups cannot be restored, and a cluster that is lost takes its Secrets with it.`,
		Example: `  ark backup-location rotate-key default
  ark backup-location rotate-key sealed --key-id 2026-12 --wait 2m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := env.Ark()
			if err != nil {
				return err
			}
			l, err := client.ArkV1().BackupStorageLocations(env.Namespace()).Get(ctx, args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			if l.Spec.Encryption == nil || l.Spec.Encryption.KeySecret == "" {
				return fmt.Errorf("backup storage location %q has no spec.encryption.keySecret: create it with --encryption-key-secret (or set one) before rotating", l.Name)
			}
			if keyID == "" {
				keyID = "k-" + time.Now().UTC().Format("20060102-150405")
			}
			kube, err := env.Kube()
			if err != nil {
				return err
			}
			secrets := kube.CoreV1().Secrets(env.Namespace())
			name := l.Spec.Encryption.KeySecret
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				s, err := secrets.Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.Namespace()}}
				} else if err != nil {
					return err
				}
				if _, taken := s.Data[keyID]; taken || keyID == encryption.ActiveField {
					return fmt.Errorf("the Secret %q already has an entry %q: give another --key-id", name, keyID)
				}
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				s.Data[keyID] = encryption.NewKey()
				s.Data[encryption.ActiveField] = []byte(keyID)
				if _, err := encryption.ParseSecret(s.Data); err != nil {
					return fmt.Errorf("the Secret %q would not be a valid key Secret: %w", name, err)
				}
				if s.ResourceVersion == "" {
					_, err = secrets.Create(ctx, s, metav1.CreateOptions{})
				} else {
					_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
				}
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Out, "Key %q added to Secret %q and made active for backup storage location %q.\n", keyID, name, l.Name)
			fmt.Fprintf(env.Out, "Keep a copy of the Secret outside the cluster: kubectl get secret %s -n %s -o yaml\n", name, env.Namespace())
			if wait <= 0 {
				fmt.Fprintf(env.Out, "The server re-wraps older backups under it; `%s backup-location describe %s` shows the backups by key.\n", env.Name, l.Name)
				return nil
			}
			return waitRewrapped(ctx, env, client, l.Name, keyID, wait)
		},
	}
	cmd.Flags().StringVar(&keyID, "key-id", "", "ID of the new key (default k-<UTC date-time>); it is recorded in every backup written with it")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long until every backup of the location is under the new key")
	return cmd
}

// waitRewrapped waits until the location's status counts every encrypted
// backup under the key, printing the counts as they change.
func waitRewrapped(ctx context.Context, env *Env, client versioned.Interface, name, keyID string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		l, err := client.ArkV1().BackupStorageLocations(env.Namespace()).Get(ctx, name, metav1.GetOptions{})
		if err == nil && l.Status.Encryption != nil {
			e := l.Status.Encryption
			others := int32(0)
			for id, n := range e.BackupsByKey {
				if id != keyID {
					others += n
				}
			}
			now := fmt.Sprintf("active %s, %d backups under it, %d under older keys", orNone(e.ActiveKeyID), e.BackupsByKey[keyID], others)
			if now != last {
				fmt.Fprintln(env.Out, now)
				last = now
			}
			if e.ActiveKeyID == keyID && others == 0 {
				fmt.Fprintf(env.Out, "Every backup of %q is under key %q: older keys can be removed from the Secret.\n", name, keyID)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("backups of %q are still under older keys (%s): keep those keys until they are re-wrapped", name, last)
		case <-time.After(2 * time.Second):
		}
	}
}
