package servingcert

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/arkproject/ark/pkg/certs"
)

var hosts = []string{"ark-apiserver.ark-system.svc", "ark-apiserver.ark-system.svc.cluster.local"}

func secret(name string, kp *certs.KeyPair, ca []byte) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ark-system"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM},
	}
	if ca != nil {
		s.Data["ca.crt"] = ca
	}
	return s
}

func setup(t *testing.T, withCA bool, at time.Time) (*Renewer, *kubefake.Clientset, *certs.Serving) {
	t.Helper()
	pki, err := certs.EnsureServing(nil, nil, hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kube := kubefake.NewSimpleClientset(secret("ark-apiserver-tls", pki.Server, pki.Bundle))
	if withCA {
		if err := kube.Tracker().Add(secret("ark-apiserver-ca", pki.CA, nil)); err != nil {
			t.Fatal(err)
		}
	}
	return &Renewer{Kube: kube, Namespace: "ark-system", Serving: "ark-apiserver-tls", CA: "ark-apiserver-ca", Clock: clocktesting.NewFakePassiveClock(at)}, kube, pki
}

func served(t *testing.T, kube *kubefake.Clientset) *corev1.Secret {
	t.Helper()
	s, err := kube.CoreV1().Secrets("ark-system").Get(context.Background(), "ark-apiserver-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func updates(kube *kubefake.Clientset) int {
	n := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == "update" {
			n++
		}
	}
	return n
}

// Nine months into a year's certificate, a new one from the same CA, for
// the same names, replaces it in the Secret; the bundle is left alone.
func TestRenewsADueCertificateFromTheCA(t *testing.T) {
	r, kube, pki := setup(t, true, time.Now().Add(9*30*24*time.Hour))
	renewed, err := r.Renew(context.Background())
	if err != nil || !renewed {
		t.Fatalf("Renew = %v, %v; want renewed", renewed, err)
	}
	s := served(t, kube)
	kp, err := certs.Parse(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	// (Issued at the real time, so its dates are the old one's here.)
	if kp.Cert.SerialNumber.Cmp(pki.Server.Cert.SerialNumber) == 0 || kp.Cert.CheckSignatureFrom(pki.CA.Cert) != nil || !slices.Equal(kp.Cert.DNSNames, hosts) {
		t.Errorf("renewed certificate: serial %v (was %v), names %v, signed by the CA: %v", kp.Cert.SerialNumber, pki.Server.Cert.SerialNumber, kp.Cert.DNSNames, kp.Cert.CheckSignatureFrom(pki.CA.Cert))
	}
	if string(s.Data["ca.crt"]) != string(pki.Bundle) {
		t.Error("the renewal changed ca.crt")
	}
}

func TestLeavesAGoodCertificateAlone(t *testing.T) {
	r, kube, _ := setup(t, true, time.Now().Add(30*24*time.Hour))
	if renewed, err := r.Renew(context.Background()); err != nil || renewed {
		t.Errorf("Renew = %v, %v; want nothing done", renewed, err)
	}
	if n := updates(kube); n != 0 {
		t.Errorf("%d updates", n)
	}
}

// A certificate of the administrator's own (no CA Secret) is theirs to
// renew, even when due.
func TestLeavesTheAdministratorsCertificateAlone(t *testing.T) {
	r, kube, _ := setup(t, false, time.Now().Add(11*30*24*time.Hour))
	if renewed, err := r.Renew(context.Background()); err != nil || renewed {
		t.Errorf("Renew = %v, %v; want nothing done", renewed, err)
	}
	if n := updates(kube); n != 0 {
		t.Errorf("%d updates", n)
	}
}

// A serving certificate that the CA did not sign is not replaced by one
// the APIService may not trust.
func TestRefusesACertificateOfAnotherCA(t *testing.T) {
	r, kube, _ := setup(t, true, time.Now().Add(11*30*24*time.Hour))
	other, err := certs.EnsureServing(nil, nil, hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Secrets("ark-system").Update(context.Background(), secret("ark-apiserver-tls", other.Server, other.Bundle), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kube.ClearActions()
	renewed, err := r.Renew(context.Background())
	if err == nil || renewed || !strings.Contains(err.Error(), "not signed by the CA") {
		t.Errorf("Renew = %v, %v; want refused", renewed, err)
	}
	if n := updates(kube); n != 0 {
		t.Errorf("%d updates", n)
	}
}
