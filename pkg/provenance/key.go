package provenance

import (
	"context"
	"crypto/rand"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Data keys of the identity Secret.
const (
	// SecretKey holds the signing key.
	SecretKey = "key"
	// SecretCluster holds the cluster's ID as its backups record it.
	SecretCluster = "cluster"
)

// Identity is what makes a cluster's Ark itself: the key it signs Backups
// with and the ID its Backups name.
type Identity struct {
	Key     []byte
	Cluster string
}

// IdentityFromSecret returns the identity kept in the Secret
// namespace/name, creating the Secret if there is none yet with a new
// random key and the cluster's ID (the UID of its kube-system namespace).
// Every replica of one cluster reads the same identity this way.
//
// The Secret, not the cluster, is the identity: whoever holds it acts as
// that cluster's Ark on a shared bucket. So a cluster rebuilt with its old
// Secret (a disaster recovery that keeps it, or `make run` on a fresh etcd
// with its saved copy) carries on with its backups, while a cluster given
// a copy of a living cluster's Secret would act on that cluster's backups
// too; adoption (backups/adopt) is the way to take over a lost cluster's
// backups without its Secret. A Secret from before the cluster ID was kept
// in it uses the kube-system UID.
func IdentityFromSecret(ctx context.Context, kube kubernetes.Interface, namespace, name string) (Identity, error) {
	secrets := kube.CoreV1().Secrets(namespace)
	for attempt := 0; attempt < 2; attempt++ {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			id := Identity{Key: s.Data[SecretKey], Cluster: string(s.Data[SecretCluster])}
			if len(id.Key) < KeySize {
				return Identity{}, fmt.Errorf("secret %s/%s holds no %d-byte %q", namespace, name, KeySize, SecretKey)
			}
			if id.Cluster == "" {
				if id.Cluster, err = ClusterID(ctx, kube); err != nil {
					return Identity{}, err
				}
			}
			return id, nil
		}
		if !apierrors.IsNotFound(err) {
			return Identity{}, fmt.Errorf("reading secret %s/%s: %w", namespace, name, err)
		}
		key, err := newKey()
		if err != nil {
			return Identity{}, err
		}
		cluster, err := ClusterID(ctx, kube)
		if err != nil {
			return Identity{}, err
		}
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/name": "ark-apiserver"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{SecretKey: key, SecretCluster: []byte(cluster)},
		}, metav1.CreateOptions{})
		if err == nil {
			return Identity{Key: key, Cluster: cluster}, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return Identity{}, fmt.Errorf("creating secret %s/%s: %w", namespace, name, err)
		}
		// Another replica created it first: read theirs.
	}
	return Identity{}, fmt.Errorf("secret %s/%s could not be read or created", namespace, name)
}

// ClusterID identifies the cluster: the UID of its kube-system namespace,
// which lives as long as the cluster does.
func ClusterID(ctx context.Context, kube kubernetes.Interface) (string, error) {
	ns, err := kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading namespace %s to identify the cluster: %w", metav1.NamespaceSystem, err)
	}
	return string(ns.UID), nil
}

func newKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, nil
}
