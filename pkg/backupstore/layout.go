// Package backupstore names the files of a backup in its storage location.
// The layout is Heptio Ark's (and Velero's), so existing buckets can be read:
//
//	backups/<name>/ark-backup.json               the Backup object: the API's record
//	backups/<name>/<name>.tar.gz                 the backed-up objects
//	backups/<name>/<name>-logs.gz                the backup's log
//	backups/<name>/<name>-logs.live              its start, while it runs
//	backups/<name>/<name>-resource-list.json.gz  what was backed up, by resource
//	backups/<name>/<name>-volumesnapshots.json.gz
//	backups/<name>/<name>-results.json.gz        warnings and errors
//	backups/<name>/<name>-manifest.json          SHA-256 and size of each file above
package backupstore

// BackupsPrefix is the folder of every backup.
const BackupsPrefix = "backups/"

// MetadataFile is the name of a backup's API object in its folder.
const MetadataFile = "ark-backup.json"

// Dir is the folder of a backup, with a trailing slash.
func Dir(name string) string { return BackupsPrefix + name + "/" }

// MetadataKey is where the Backup object lives.
func MetadataKey(name string) string { return Dir(name) + MetadataFile }

// TarballKey is where the backup's objects live.
func TarballKey(name string) string { return Dir(name) + name + ".tar.gz" }

// LogsKey is where the backup's log lives.
func LogsKey(name string) string { return Dir(name) + name + "-logs.gz" }

// LiveLogKey holds the start of a running backup's log as plain text, for
// following it; it is removed when the backup finishes.
func LiveLogKey(name string) string { return Dir(name) + name + "-logs.live" }

// ResourceListKey lists the backed-up items by resource.
func ResourceListKey(name string) string { return Dir(name) + name + "-resource-list.json.gz" }

// VolumeSnapshotsKey records the volume snapshots taken.
func VolumeSnapshotsKey(name string) string { return Dir(name) + name + "-volumesnapshots.json.gz" }

// ResultsKey records warnings and errors.
func ResultsKey(name string) string { return Dir(name) + name + "-results.json.gz" }

// ManifestKey records the checksum of every other file.
func ManifestKey(name string) string { return Dir(name) + name + "-manifest.json" }

// RestoresPrefix is the folder of every restore's files.
const RestoresPrefix = "restores/"

// RestoreResultsKey holds a restore's per-item results.
func RestoreResultsKey(name string) string {
	return RestoresPrefix + name + "/" + name + "-results.json.gz"
}

// RestoreLogsKey holds a restore's log.
func RestoreLogsKey(name string) string { return RestoresPrefix + name + "/" + name + "-logs.gz" }
