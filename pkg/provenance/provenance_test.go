package provenance

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

func signer(t *testing.T, key byte, cluster string) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{key}, KeySize), cluster)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func backup() *arkv1.Backup {
	return &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "b1", UID: "u-1", Annotations: map[string]string{arkv1.AnnotationNamespaceUID: "ns-1"}},
		Spec: arkv1.BackupSpec{
			IncludedNamespaces: []string{"team-a"},
			Requester:          &arkv1.UserInfo{Username: "alice", Groups: []string{"devs"}, Extra: map[string]arkv1.ExtraValue{"b": {"2"}, "a": {"1"}}},
		},
	}
}

// A signed backup verifies; any change to what the signature covers —
// requester, spec, namespace, name, uid, namespace UID, cluster — or a key
// of another cluster does not.
func TestSignAndVerify(t *testing.T) {
	s := signer(t, 1, "cluster-1")
	b := backup()
	if err := s.Verify(b); !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "carries no signature") {
		t.Errorf("unsigned: %v", err)
	}
	if err := s.Sign(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(b); err != nil {
		t.Fatalf("signed: %v", err)
	}
	if s.Foreign(b.Annotations) || b.Annotations[ClusterAnnotation] != "cluster-1" {
		t.Errorf("cluster annotation %v", b.Annotations)
	}
	// Labels, status and other annotations are not covered.
	b.Labels = map[string]string{"x": "y"}
	b.Annotations["note"] = "hi"
	b.Status.Phase = arkv1.BackupPhaseCompleted
	if err := s.Verify(b); err != nil {
		t.Errorf("after a label, annotation and status change: %v", err)
	}
	for name, tamper := range map[string]func(*arkv1.Backup){
		"requester":     func(b *arkv1.Backup) { b.Spec.Requester.Groups = append(b.Spec.Requester.Groups, "system:masters") },
		"requester nil": func(b *arkv1.Backup) { b.Spec.Requester = nil },
		"spec":          func(b *arkv1.Backup) { b.Spec.IncludedNamespaces = []string{"*"} },
		"hooks":         func(b *arkv1.Backup) { b.Spec.Hooks.Resources = []arkv1.BackupResourceHookSpec{{Name: "x"}} },
		"namespace":     func(b *arkv1.Backup) { b.Namespace = "team-b" },
		"name":          func(b *arkv1.Backup) { b.Name = "b2" },
		"uid":           func(b *arkv1.Backup) { b.UID = "u-2" },
		"namespace uid": func(b *arkv1.Backup) { b.Annotations[arkv1.AnnotationNamespaceUID] = "ns-2" },
		"cluster":       func(b *arkv1.Backup) { b.Annotations[ClusterAnnotation] = "cluster-2" },
		"signature":     func(b *arkv1.Backup) { b.Annotations[SignatureAnnotation] = "v1:AAAA" },
		"malformed":     func(b *arkv1.Backup) { b.Annotations[SignatureAnnotation] = "garbage" },
	} {
		c := b.DeepCopy()
		tamper(c)
		err := s.Verify(c)
		if name == "cluster" {
			// Verification is against this cluster: the annotation says
			// whose it is, and another cluster's is not verified here.
			if !s.Foreign(c.Annotations) {
				t.Errorf("%s: still ours", name)
			}
			continue
		}
		if !errors.Is(err, ErrUnsigned) {
			t.Errorf("%s: tampered backup verifies: %v", name, err)
		}
	}
	if err := signer(t, 2, "cluster-1").Verify(b); !errors.Is(err, ErrUnsigned) {
		t.Errorf("verified with another key: %v", err)
	}
	if _, err := NewSigner([]byte("short"), "c"); err == nil {
		t.Error("a short key was accepted")
	}
}

// Replicas share one identity through a Secret, created by whichever comes
// first; a Secret carried to a rebuilt cluster keeps its identity there.
func TestIdentityFromSecret(t *testing.T) {
	kube := fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "ks-1"}})
	ctx := context.Background()
	id1, err := IdentityFromSecret(ctx, kube, "ark-system", "ark-provenance")
	if err != nil || len(id1.Key) != KeySize || id1.Cluster != "ks-1" {
		t.Fatalf("%v %d %q", err, len(id1.Key), id1.Cluster)
	}
	id2, err := IdentityFromSecret(ctx, kube, "ark-system", "ark-provenance")
	if err != nil || !bytes.Equal(id1.Key, id2.Key) || id2.Cluster != "ks-1" {
		t.Fatalf("second read: %v %q", err, id2.Cluster)
	}

	// The rebuilt cluster has another kube-system UID, and the old Secret.
	secret, err := kube.CoreV1().Secrets("ark-system").Get(ctx, "ark-provenance", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret.ResourceVersion = ""
	rebuilt := fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "ks-2"}}, secret)
	id3, err := IdentityFromSecret(ctx, rebuilt, "ark-system", "ark-provenance")
	if err != nil || !bytes.Equal(id1.Key, id3.Key) || id3.Cluster != "ks-1" {
		t.Fatalf("rebuilt cluster: %v %q", err, id3.Cluster)
	}

	// A Secret of an earlier Ark holds only the key: the cluster is kube-system's UID.
	old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ark-system", Name: "ark-provenance"}, Data: map[string][]byte{SecretKey: id1.Key}}
	id4, err := IdentityFromSecret(ctx, fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "ks-3"}}, old), "ark-system", "ark-provenance")
	if err != nil || id4.Cluster != "ks-3" {
		t.Fatalf("earlier Secret: %v %q", err, id4.Cluster)
	}
}
