// Package standalone lets ark-apiserver serve without a kube-apiserver: it
// keeps a private CA in the data directory, serves with a certificate signed
// by it, accepts client certificates it issued, and writes a kubeconfig for an
// administrator. It is for trying Ark and for tests; a cluster uses the
// aggregated mode with delegated authentication and authorization.
package standalone

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
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"
)

// AdminUser and AdminGroup are the identity in the generated kubeconfig.
const (
	AdminUser  = "ark-admin"
	AdminGroup = "system:masters"
)

const validity = 5 * 365 * 24 * time.Hour

// PKI is the standalone server's certificates, as PEM files in Dir.
type PKI struct {
	Dir string
	// CACert is the PEM of the CA that signs the serving and client certificates.
	CACert []byte
	// ServingCertFile and ServingKeyFile are the server's TLS files.
	ServingCertFile, ServingKeyFile string
	// AdminCert and AdminKey are the administrator's client credentials.
	AdminCert, AdminKey []byte
}

// EnsurePKI loads the certificates in dir, creating whatever is missing. The
// CA is kept across restarts so that kubeconfigs handed out stay valid.
func EnsurePKI(dir string, hosts []string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	caCertFile, caKeyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	caCert, caKey, err := loadOrCreate(caCertFile, caKeyFile, func(key crypto.Signer) (*x509.Certificate, error) {
		tmpl := template("ark-standalone-ca")
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		return sign(tmpl, tmpl, key.Public(), key)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("standalone CA: %w", err)
	}
	p := &PKI{
		Dir:             dir,
		CACert:          pemCert(caCert),
		ServingCertFile: filepath.Join(dir, "serving.crt"),
		ServingKeyFile:  filepath.Join(dir, "serving.key"),
	}
	_, _, err = loadOrCreate(p.ServingCertFile, p.ServingKeyFile, func(key crypto.Signer) (*x509.Certificate, error) {
		tmpl := template("ark-apiserver")
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		return sign(tmpl, caCert, key.Public(), caKey)
	}, caCert)
	if err != nil {
		return nil, fmt.Errorf("standalone serving certificate: %w", err)
	}
	adminCertFile, adminKeyFile := filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	_, _, err = loadOrCreate(adminCertFile, adminKeyFile, func(key crypto.Signer) (*x509.Certificate, error) {
		tmpl := template(AdminUser)
		tmpl.Subject.Organization = []string{AdminGroup}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		return sign(tmpl, caCert, key.Public(), caKey)
	}, caCert)
	if err != nil {
		return nil, fmt.Errorf("standalone admin certificate: %w", err)
	}
	if p.AdminCert, err = os.ReadFile(adminCertFile); err != nil {
		return nil, err
	}
	if p.AdminKey, err = os.ReadFile(adminKeyFile); err != nil {
		return nil, err
	}
	return p, nil
}

// CAPool returns the CA as a pool for verifying client certificates.
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CACert)
	return pool
}

// WriteKubeconfig writes an administrator kubeconfig for server to path.
func (p *PKI) WriteKubeconfig(path, server, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ark"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.CACert}
	cfg.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: p.AdminCert, ClientKeyData: p.AdminKey}
	cfg.Contexts["ark"] = &clientcmdapi.Context{Cluster: "ark", AuthInfo: AdminUser, Namespace: namespace}
	cfg.CurrentContext = "ark"
	return clientcmd.WriteToFile(*cfg, path)
}

// loadOrCreate returns the certificate and key in certFile/keyFile, creating
// them with create when either is missing or the certificate no longer
// verifies against issuer (so a new CA re-issues its leaves).
func loadOrCreate(certFile, keyFile string, create func(crypto.Signer) (*x509.Certificate, error), issuer *x509.Certificate) (*x509.Certificate, crypto.Signer, error) {
	if cert, key, err := load(certFile, keyFile); err == nil && valid(cert, issuer) {
		return cert, key, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	cert, err := create(key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, pemCert(cert), 0o644); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func load(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	keyObj, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("reading %s: %w", keyFile, err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", certFile, err)
	}
	signer, ok := keyObj.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a signing key", keyFile)
	}
	return cert, signer, nil
}

func valid(cert, issuer *x509.Certificate) bool {
	if time.Now().After(cert.NotAfter.Add(-24 * time.Hour)) {
		return false
	}
	if issuer == nil {
		return true
	}
	return cert.CheckSignatureFrom(issuer) == nil
}

func template(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
	}
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
