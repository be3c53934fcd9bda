// Package certs issues the small private PKIs Ark needs where no cluster
// provides one: the standalone server's CA, and the local development
// cluster's CAs, serving certificates and client certificates. Keys are ECDSA
// P-256; files are PEM.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"k8s.io/client-go/util/keyutil"
)

// Validity of the certificates issued here unless told otherwise.
const Validity = 5 * 365 * 24 * time.Hour

// KeyPair is a certificate and its key.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// Options describe a certificate to issue.
type Options struct {
	CommonName   string
	Organization []string
	// Hosts are DNS names or IP addresses of a serving certificate.
	Hosts []string
	// Server and Client select the extended key usages.
	Server, Client bool
	// Validity is how long the certificate is valid; zero is Validity.
	Validity time.Duration
}

// NewCA creates a self-signed certificate authority valid for Validity.
func NewCA(cn string) (*KeyPair, error) { return NewCAFor(cn, Validity) }

// NewCAFor creates a self-signed certificate authority valid for validity.
func NewCAFor(cn string, validity time.Duration) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := template(cn, validity)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign
	return sign(tmpl, tmpl, key, key)
}

// Issue signs a new certificate with the CA.
func (ca *KeyPair) Issue(o Options) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := template(o.CommonName, o.Validity)
	tmpl.Subject.Organization = o.Organization
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, ca.Cert, key, ca.Key)
}

// Write stores the pair as PEM files; the key is readable by its owner only.
func (kp *KeyPair) Write(certFile, keyFile string) error {
	if err := os.WriteFile(keyFile, kp.KeyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, kp.CertPEM, 0o644)
}

// Load reads a pair written by Write.
func Load(certFile, keyFile string) (*KeyPair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	kp, err := Parse(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", certFile, keyFile, err)
	}
	return kp, nil
}

// Parse reads a PEM certificate (the first of certPEM) and its key.
func Parse(certPEM, keyPEM []byte) (*KeyPair, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	keyObj, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing the key: %w", err)
	}
	signer, ok := keyObj.(crypto.Signer)
	if !ok {
		return nil, errors.New("the key is not a signing key")
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, errors.New("the key is not the certificate's")
	}
	return &KeyPair{Cert: cert, Key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// RenewalDue reports whether a certificate should be replaced at now: when
// less than a third of its lifetime is left, as kubelet renews its own, so
// that a renewal that fails has time to be retried long before expiry.
func RenewalDue(cert *x509.Certificate, now time.Time) bool {
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	return now.After(cert.NotAfter.Add(-lifetime / 3))
}

// LoadOrCreate returns the pair in certFile/keyFile, or creates and writes a
// new one when either file is missing, the certificate is about to expire, or
// it was not signed by issuer (when issuer is given): so a new CA re-issues
// its leaves, and restarts keep what clients already trust.
func LoadOrCreate(certFile, keyFile string, issuer *x509.Certificate, create func() (*KeyPair, error)) (*KeyPair, error) {
	kp, err := Load(certFile, keyFile)
	switch {
	case err == nil && valid(kp.Cert, issuer):
		return kp, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if kp, err = create(); err != nil {
		return nil, err
	}
	if err := kp.Write(certFile, keyFile); err != nil {
		return nil, err
	}
	return kp, nil
}

func valid(cert, issuer *x509.Certificate) bool {
	if time.Now().After(cert.NotAfter.Add(-24 * time.Hour)) {
		return false
	}
	return issuer == nil || cert.CheckSignatureFrom(issuer) == nil
}

// NewSigningKey returns a PEM private key and public key, e.g. for signing
// service-account tokens.
func NewSigningKey() (private, public []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	private, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return private, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func template(cn string, validity time.Duration) *x509.Certificate {
	if validity <= 0 {
		validity = Validity
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
	}
}

func sign(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) (*KeyPair, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  keyPEM,
	}, nil
}
