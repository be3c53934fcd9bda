// Package provenance lets Ark tell the Backups its own API accepted from
// records that merely appear in the bucket. Anyone who can write to the
// bucket can write an ark-backup.json; only this API server, which holds a
// secret key, can sign one. The API signs every Backup it creates or whose
// spec it changes — over its namespace, name, UID, requester, spec and the
// cluster it belongs to — and the backup controller runs only Backups whose
// signature verifies. A New record without one becomes FailedValidation and
// never runs, however powerful the requester it names.
//
// The cluster a Backup belongs to is part of what is signed: replicas of one
// cluster share the key (kept in a Secret), other clusters sharing the bucket
// have their own, and a controller leaves the Backups of other clusters alone.
package provenance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

const (
	// SignatureAnnotation holds the API's signature of a Backup.
	SignatureAnnotation = "ark.heptio.com/provenance"
	// ClusterAnnotation names the cluster whose Ark accepted a Backup (its
	// kube-system namespace UID); only that cluster runs it.
	ClusterAnnotation = "ark.heptio.com/cluster"
	// signatureVersion prefixes signatures, for rotating the scheme.
	signatureVersion = "v1:"
	// KeySize is the size of a signing key in bytes.
	KeySize = 32
)

// Signer signs and verifies Backups for one cluster.
type Signer struct {
	key []byte
	// Cluster identifies this cluster (its kube-system namespace UID).
	Cluster string
}

// NewSigner returns a signer with key for cluster.
func NewSigner(key []byte, cluster string) (*Signer, error) {
	if len(key) < KeySize {
		return nil, fmt.Errorf("a provenance key must have at least %d bytes, not %d", KeySize, len(key))
	}
	return &Signer{key: append([]byte(nil), key...), Cluster: cluster}, nil
}

// signed is what a signature covers. Field order is fixed, and
// encoding/json writes map keys sorted, so the encoding is canonical.
type signed struct {
	Cluster   string            `json:"cluster"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	UID       string            `json:"uid"`
	Spec      arkv1.BackupSpec  `json:"spec"`
	Extra     map[string]string `json:"extra,omitempty"`
}

// signedAnnotations are the annotations besides the signature that the
// signature covers: what Ark records about a Backup's origin.
var signedAnnotations = []string{arkv1.AnnotationNamespaceUID}

func (s *Signer) mac(b *arkv1.Backup, cluster string) ([]byte, error) {
	payload := signed{Cluster: cluster, Namespace: b.Namespace, Name: b.Name, UID: string(b.UID), Spec: b.Spec}
	for _, k := range signedAnnotations {
		if v, ok := b.Annotations[k]; ok {
			if payload.Extra == nil {
				payload.Extra = map[string]string{}
			}
			payload.Extra[k] = v
		}
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(data)
	return m.Sum(nil), nil
}

// Sign records this cluster and the signature on b; call it after
// everything it covers is final.
func (s *Signer) Sign(b *arkv1.Backup) error {
	sum, err := s.mac(b, s.Cluster)
	if err != nil {
		return fmt.Errorf("signing backup %s/%s: %w", b.Namespace, b.Name, err)
	}
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	b.Annotations[ClusterAnnotation] = s.Cluster
	b.Annotations[SignatureAnnotation] = signatureVersion + base64.RawStdEncoding.EncodeToString(sum)
	return nil
}

// Foreign reports whether a Backup's annotations say it belongs to another
// cluster sharing the bucket: that cluster's to run, change, expire or
// delete, never this one's. A Backup that names no cluster is not foreign
// (this cluster's controllers fail it if it is not signed).
func (s *Signer) Foreign(annotations map[string]string) bool {
	cluster := annotations[ClusterAnnotation]
	return cluster != "" && cluster != s.Cluster
}

// ErrUnsigned is the error of a Backup this API did not accept.
var ErrUnsigned = errors.New("was not accepted by this cluster's Ark API")

// Verify checks that this cluster's API signed b as it is.
func (s *Signer) Verify(b *arkv1.Backup) error {
	sig, ok := b.Annotations[SignatureAnnotation]
	if !ok {
		return fmt.Errorf("backup %s/%s %w: it carries no signature (it was written to the bucket, not created through the API)", b.Namespace, b.Name, ErrUnsigned)
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sig, signatureVersion))
	if err != nil || !strings.HasPrefix(sig, signatureVersion) {
		return fmt.Errorf("backup %s/%s %w: its signature is malformed", b.Namespace, b.Name, ErrUnsigned)
	}
	want, err := s.mac(b, s.Cluster)
	if err != nil {
		return err
	}
	if !hmac.Equal(raw, want) {
		return fmt.Errorf("backup %s/%s %w: its signature does not match its namespace, name, requester and spec (changed in the bucket, or signed by another key)", b.Namespace, b.Name, ErrUnsigned)
	}
	return nil
}
