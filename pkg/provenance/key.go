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

// secretKey is the data key of the signing key in its Secret.
const secretKey = "key"

// KeyFromSecret returns the signing key kept in the Secret namespace/name,
// creating the Secret with a new random key if there is none yet. Every
// replica of one cluster reads the same key this way.
func KeyFromSecret(ctx context.Context, kube kubernetes.Interface, namespace, name string) ([]byte, error) {
	secrets := kube.CoreV1().Secrets(namespace)
	for attempt := 0; attempt < 2; attempt++ {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			key := s.Data[secretKey]
			if len(key) < KeySize {
				return nil, fmt.Errorf("secret %s/%s holds no %d-byte %q", namespace, name, KeySize, secretKey)
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading secret %s/%s: %w", namespace, name, err)
		}
		key, err := newKey()
		if err != nil {
			return nil, err
		}
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/name": "ark-apiserver"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{secretKey: key},
		}, metav1.CreateOptions{})
		if err == nil {
			return key, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating secret %s/%s: %w", namespace, name, err)
		}
		// Another replica created it first: read theirs.
	}
	return nil, fmt.Errorf("secret %s/%s could not be read or created", namespace, name)
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
