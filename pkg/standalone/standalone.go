// Package standalone lets ark-apiserver serve without a kube-apiserver: it
// keeps a private CA in the data directory, serves with a certificate signed
// by it, accepts client certificates it issued, and writes a kubeconfig for an
// administrator. It is for trying Ark and for tests; a cluster uses the
// aggregated mode with delegated authentication and authorization.
package standalone

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/arkproject/ark/pkg/certs"
)

// AdminUser and AdminGroup are the identity in the generated kubeconfig.
const (
	AdminUser  = "ark-admin"
	AdminGroup = "system:masters"
)

// PKI is the standalone server's certificates, as PEM files in Dir.
type PKI struct {
	Dir string
	// CACert is the PEM of the CA that signs the serving and client certificates.
	CACert []byte
	// ServingCertFile and ServingKeyFile are the server's TLS files.
	ServingCertFile, ServingKeyFile string
	// Admin is the administrator's client certificate.
	Admin *certs.KeyPair
}

// EnsurePKI loads the certificates in dir, creating whatever is missing. The
// CA is kept across restarts so that kubeconfigs handed out stay valid.
func EnsurePKI(dir string, hosts []string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	ca, err := certs.LoadOrCreate(path("ca.crt"), path("ca.key"), nil, func() (*certs.KeyPair, error) {
		return certs.NewCA("ark-standalone-ca")
	})
	if err != nil {
		return nil, fmt.Errorf("standalone CA: %w", err)
	}
	p := &PKI{Dir: dir, CACert: ca.CertPEM, ServingCertFile: path("serving.crt"), ServingKeyFile: path("serving.key")}
	if _, err := certs.LoadOrCreate(p.ServingCertFile, p.ServingKeyFile, ca.Cert, func() (*certs.KeyPair, error) {
		return ca.Issue(certs.Options{CommonName: "ark-apiserver", Hosts: hosts, Server: true})
	}); err != nil {
		return nil, fmt.Errorf("standalone serving certificate: %w", err)
	}
	p.Admin, err = certs.LoadOrCreate(path("admin.crt"), path("admin.key"), ca.Cert, func() (*certs.KeyPair, error) {
		return ca.Issue(certs.Options{CommonName: AdminUser, Organization: []string{AdminGroup}, Client: true})
	})
	if err != nil {
		return nil, fmt.Errorf("standalone admin certificate: %w", err)
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
	cfg.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: p.Admin.CertPEM, ClientKeyData: p.Admin.KeyPEM}
	cfg.Contexts["ark"] = &clientcmdapi.Context{Cluster: "ark", AuthInfo: AdminUser, Namespace: namespace}
	cfg.CurrentContext = "ark"
	return clientcmd.WriteToFile(*cfg, path)
}
