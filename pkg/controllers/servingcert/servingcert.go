// Package servingcert renews ark-apiserver's serving certificate before it
// expires. `ark install` keeps the certificate and the CA that signed it in
// two Secrets; the pods mount the first, and the API server libraries
// reload the files when the kubelet updates them. This controller, on the
// replica running the controllers, issues a new certificate from the CA
// when less than a third of the current one's lifetime is left, for the
// same names, so the APIService's caBundle stays right. A certificate of
// the administrator's own (no CA Secret) is left alone, and so is the CA:
// renewing it changes what kube-apiserver trusts, which `ark install` does.
package servingcert

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/arkproject/ark/pkg/certs"
)

// Renewer keeps the serving certificate in Secret Namespace/Serving
// renewed from the CA in Namespace/CA.
type Renewer struct {
	Kube      kubernetes.Interface
	Namespace string
	Serving   string
	CA        string
	// Interval is how often the certificate is checked; 0 is an hour.
	Interval time.Duration
	Clock    clock.PassiveClock
}

// Run checks the certificate every Interval until ctx ends.
func (r *Renewer) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	klog.InfoS("Starting serving certificate renewal", "secret", klog.KRef(r.Namespace, r.Serving), "ca", klog.KRef(r.Namespace, r.CA))
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if _, err := r.Renew(ctx); err != nil {
			klog.ErrorS(err, "Renewing the serving certificate", "secret", klog.KRef(r.Namespace, r.Serving))
		}
	}, interval)
}

// Renew issues a new serving certificate if the current one is due, and
// reports whether it did.
func (r *Renewer) Renew(ctx context.Context) (bool, error) {
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock.Now()
	}
	secrets := r.Kube.CoreV1().Secrets(r.Namespace)
	caSecret, err := secrets.Get(ctx, r.CA, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil // the administrator's own certificate
	}
	if err != nil {
		return false, fmt.Errorf("reading the CA: %w", err)
	}
	ca, err := certs.Parse(caSecret.Data[corev1.TLSCertKey], caSecret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return false, fmt.Errorf("the CA in Secret %s/%s: %w", r.Namespace, r.CA, err)
	}
	if certs.RenewalDue(ca.Cert, now) {
		klog.InfoS("The CA kube-apiserver trusts for Ark is due for renewal: run `ark install` again to renew it and the APIService's caBundle", "ca", klog.KRef(r.Namespace, r.CA), "notAfter", ca.Cert.NotAfter)
	}
	serving, err := secrets.Get(ctx, r.Serving, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("reading the serving certificate: %w", err)
	}
	current, err := certs.Parse(serving.Data[corev1.TLSCertKey], serving.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return false, fmt.Errorf("the serving certificate in Secret %s/%s: %w", r.Namespace, r.Serving, err)
	}
	if current.Cert.CheckSignatureFrom(ca.Cert) != nil {
		return false, errors.New("the serving certificate was not signed by the CA in " + r.Namespace + "/" + r.CA + ": left alone")
	}
	if !certs.RenewalDue(current.Cert, now) {
		return false, nil
	}
	hosts := append([]string(nil), current.Cert.DNSNames...)
	for _, ip := range current.Cert.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	if len(hosts) == 0 {
		return false, errors.New("the serving certificate names no host to renew it for")
	}
	renewed, err := ca.Issue(certs.Options{CommonName: current.Cert.Subject.CommonName, Hosts: hosts, Server: true, Validity: certs.ServingValidity})
	if err != nil {
		return false, fmt.Errorf("issuing the serving certificate: %w", err)
	}
	updated := serving.DeepCopy()
	updated.Data[corev1.TLSCertKey], updated.Data[corev1.TLSPrivateKeyKey] = renewed.CertPEM, renewed.KeyPEM
	// Conditional on the version read: an install running meanwhile wins,
	// and this is looked at again at the next interval.
	if _, err := secrets.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("writing the renewed serving certificate: %w", err)
	}
	klog.InfoS("Renewed the serving certificate", "secret", klog.KObj(serving), "notAfter", renewed.Cert.NotAfter, "previousNotAfter", current.Cert.NotAfter)
	return true, nil
}
