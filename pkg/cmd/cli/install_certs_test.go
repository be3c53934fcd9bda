package cli

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/arkproject/ark/pkg/certs"
)

// decodeManifests parses install's output into its objects by kind/name.
func decodeManifests(t *testing.T, out string) map[string]*unstructured.Unstructured {
	t.Helper()
	objs := map[string]*unstructured.Unstructured{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err == io.EOF {
			return objs
		} else if err != nil {
			t.Fatalf("the manifests do not parse: %v", err)
		}
		if len(obj.Object) > 0 {
			objs[obj.GetKind()+"/"+obj.GetName()] = &obj
		}
	}
}

// Without --ca-bundle-file, install generates the serving certificate and
// its CA as Secrets, before the StatefulSet that mounts them, and the
// APIService trusts that CA: kube-apiserver can verify ark-apiserver.
func TestInstallGeneratesTheServingCertificate(t *testing.T) {
	r := mustRun(t, nil, nil, "install", "--dry-run")
	objs := decodeManifests(t, r.out)
	tls, ca, svc := objs["Secret/ark-apiserver-tls"], objs["Secret/ark-apiserver-ca"], objs["APIService/v1.ark.heptio.com"]
	if tls == nil || ca == nil || svc == nil {
		t.Fatalf("missing manifests; have %v", keys(objs))
	}
	if strings.Index(r.out, "name: ark-apiserver-tls") > strings.Index(r.out, "kind: StatefulSet") {
		t.Error("the serving certificate's Secret comes after the StatefulSet that mounts it")
	}
	data := func(obj *unstructured.Unstructured, key string) []byte {
		v, _, _ := unstructured.NestedString(obj.Object, "data", key)
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s data[%s]: %v", obj.GetName(), key, err)
		}
		return b
	}
	bundle, _, _ := unstructured.NestedString(svc.Object, "spec", "caBundle")
	caPEM, err := base64.StdEncoding.DecodeString(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if string(caPEM) != string(data(ca, "tls.crt")) || string(data(tls, "ca.crt")) != string(caPEM) {
		t.Error("the APIService's caBundle is not the generated CA")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	kp, err := certs.Parse(data(tls, "tls.crt"), data(tls, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "ark-apiserver.ark-system.svc", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the serving certificate does not verify as kube-apiserver checks it: %v", err)
	}
	if typ, _, _ := unstructured.NestedString(tls.Object, "type"); typ != string(corev1.SecretTypeTLS) {
		t.Errorf("Secret type %q", typ)
	}
}

// Run again, install keeps the certificates in the cluster while they are
// good, and replaces a Secret that holds no usable pair.
func TestInstallKeepsGoodCertificates(t *testing.T) {
	ctx := context.Background()
	kube := kubefake.NewSimpleClientset()
	first, err := servingPKI(ctx, kube, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.describe(), "Generated ark-apiserver's CA and serving certificate") {
		t.Errorf("first install: %s", first.describe())
	}
	docs, err := first.manifests()
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range docs {
		var s corev1.Secret
		if err := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096).Decode(&s); err != nil {
			t.Fatal(err)
		}
		if _, err := kube.CoreV1().Secrets(s.Namespace).Create(ctx, &s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	again, err := servingPKI(ctx, kube, time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Issued) != 0 || string(again.Server.CertPEM) != string(first.Server.CertPEM) || string(again.Bundle) != string(first.Bundle) {
		t.Errorf("a day later install replaced good certificates: %s", again.describe())
	}
	if !strings.HasPrefix(again.describe(), "Kept ark-apiserver's serving certificate") {
		t.Errorf("second install: %s", again.describe())
	}

	// A serving Secret whose key is not its certificate's: a new pair from
	// the same CA.
	broken, _ := kube.CoreV1().Secrets("ark-system").Get(ctx, "ark-apiserver-tls", metav1.GetOptions{})
	broken.Data["tls.key"] = first.CA.KeyPEM
	if _, err := kube.CoreV1().Secrets("ark-system").Update(ctx, broken, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fixed, err := servingPKI(ctx, kube, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fixed.Issued, ",") != "serving certificate" || string(fixed.Bundle) != string(first.Bundle) {
		t.Errorf("with a broken serving Secret: issued %q, bundle changed %v", fixed.Issued, string(fixed.Bundle) != string(first.Bundle))
	}
}

// An install that may not read the Secrets says so, rather than replace
// certificates it cannot see.
func TestInstallRefusesWhenItCannotReadTheSecrets(t *testing.T) {
	kube := kubefake.NewSimpleClientset()
	kube.PrependReactor("get", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "ark-apiserver-ca", errors.New("RBAC: no rule"))
	})
	_, err := servingPKI(context.Background(), kube, time.Now())
	if err == nil || !strings.Contains(err.Error(), "reading Secret ark-system/ark-apiserver-ca") || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("err = %v", err)
	}
}
