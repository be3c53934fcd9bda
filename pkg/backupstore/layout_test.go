package backupstore

import "testing"

// Only a metadata file in a backup's own folder names a backup, and its
// folder decides the namespace.
func TestParseMetadataKey(t *testing.T) {
	l := Layout{HomeNamespace: "heptio-ark"}
	for key, want := range map[string]string{
		"backups/a/ark-backup.json":                       "heptio-ark/a",
		"namespaces/team-a/backups/a/ark-backup.json":     "team-a/a",
		"backups/a/a.tar.gz":                              "",
		"backups/ark-backup.json":                         "",
		"backups//ark-backup.json":                        "",
		"restores/a/ark-backup.json":                      "",
		"backups/a/b/ark-backup.json":                     "",
		"namespaces/team-a/restores/a/ark-backup.json":    "",
		"namespaces/team-a/backups/a/b/ark-backup.json":   "",
		"namespaces//backups/a/ark-backup.json":           "",
		"namespaces/heptio-ark/backups/a/ark-backup.json": "",
		"namespaces/Team_A/backups/a/ark-backup.json":     "",
		"namespaces/team-a/backups/A_B/ark-backup.json":   "",
		"namespaces/team-a/ark-backup.json":               "",
	} {
		ref, ok := l.ParseMetadataKey(key)
		got := ""
		if ok {
			got = ref.Namespace + "/" + ref.Name
			if ref.MetadataKey() != key {
				t.Errorf("%q parses to %q, whose key is %q", key, got, ref.MetadataKey())
			}
		}
		if got != want {
			t.Errorf("ParseMetadataKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// The home namespace keeps Heptio Ark's layout; the others have their own
// folders, for backups and restore files alike.
func TestLayout(t *testing.T) {
	l := Layout{HomeNamespace: "heptio-ark"}
	for _, c := range []struct{ got, want string }{
		{l.Backup("heptio-ark", "n").TarballKey(), "backups/n/n.tar.gz"},
		{l.Backup("team-a", "n").TarballKey(), "namespaces/team-a/backups/n/n.tar.gz"},
		{l.Backup("team-a", "n").ManifestKey(), "namespaces/team-a/backups/n/n-manifest.json"},
		{l.Restore("heptio-ark", "r").LogsKey(), "restores/r/r-logs.gz"},
		{l.Restore("team-a", "r").ResultsKey(), "namespaces/team-a/restores/r/r-results.json.gz"},
		{Home("n").TarballKey(), "backups/n/n.tar.gz"},
		{HomeRestore("r").LogsKey(), "restores/r/r-logs.gz"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

// A Velero bucket holds the home namespace's backups only, each named by
// its velero-backup.json; Ark's records and other namespaces' folders are
// not backups there, so nothing in it reaches a namespace's users.
func TestVeleroLayout(t *testing.T) {
	l := Layout{HomeNamespace: "heptio-ark", Format: FormatVelero}
	for key, want := range map[string]string{
		"backups/a/velero-backup.json":                   "heptio-ark/a",
		"backups/a/ark-backup.json":                      "",
		"namespaces/team-a/backups/a/velero-backup.json": "",
		"backups/a/b/velero-backup.json":                 "",
		"backups/A_B/velero-backup.json":                 "",
		"restores/a/velero-backup.json":                  "",
	} {
		ref, ok := l.ParseMetadataKey(key)
		got := ""
		if ok {
			got = ref.Namespace + "/" + ref.Name
			if ref.MetadataKey() != key || ref.Format() != FormatVelero {
				t.Errorf("%q parses to %q, whose key is %q (format %q)", key, got, ref.MetadataKey(), ref.Format())
			}
		}
		if got != want {
			t.Errorf("ParseMetadataKey(%q) = %q, want %q", key, got, want)
		}
	}
	if got := l.Prefixes(); len(got) != 1 || got[0] != BackupsPrefix {
		t.Errorf("Prefixes() = %q, want only %q", got, BackupsPrefix)
	}
	if l.Serves("team-a") || !l.Serves("heptio-ark") {
		t.Errorf("a Velero layout must serve the home namespace only")
	}
	if got := l.Backup("heptio-ark", "n").TarballKey(); got != "backups/n/n.tar.gz" {
		t.Errorf("tarball key %q", got)
	}
	if got := (Layout{HomeNamespace: "heptio-ark"}).Backup("heptio-ark", "n").Format(); got != FormatArk {
		t.Errorf("an Ark layout's backup has format %q", got)
	}
}
