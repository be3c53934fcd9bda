package localcluster

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/arkproject/ark/pkg/certs"
)

// pki is every certificate and key of the local cluster, kept in one
// directory and reused across runs so kubeconfigs stay valid.
type pki struct {
	dir string
	// ca signs the kube-apiserver's serving certificate and all client
	// certificates; frontProxyCA signs the aggregator's client certificate;
	// arkCA signs Ark's serving certificate (the APIService caBundle).
	ca, frontProxyCA, arkCA *certs.KeyPair
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// ensurePKI creates or loads the local cluster's PKI.
func ensurePKI(dir, arkService string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir}
	var err error
	ca := func(name, cn string) (*certs.KeyPair, error) {
		return certs.LoadOrCreate(p.path(name+".crt"), p.path(name+".key"), nil, func() (*certs.KeyPair, error) { return certs.NewCA(cn) })
	}
	if p.ca, err = ca("ca", "ark-local-cluster-ca"); err != nil {
		return nil, err
	}
	if p.frontProxyCA, err = ca("front-proxy-ca", "ark-local-front-proxy-ca"); err != nil {
		return nil, err
	}
	if p.arkCA, err = ca("ark-ca", "ark-local-apiserver-ca"); err != nil {
		return nil, err
	}
	leaves := []struct {
		name   string
		issuer *certs.KeyPair
		opts   certs.Options
	}{
		{"kube-apiserver", p.ca, certs.Options{CommonName: "kube-apiserver", Server: true,
			Hosts: []string{"127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}}},
		{"admin", p.ca, certs.Options{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}, Client: true}},
		{"kube-controller-manager", p.ca, certs.Options{CommonName: "system:kube-controller-manager", Client: true}},
		{"kube-scheduler", p.ca, certs.Options{CommonName: "system:kube-scheduler", Client: true}},
		{"kubelet-client", p.ca, certs.Options{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true}},
		{"kwok", p.ca, certs.Options{CommonName: "kwok", Hosts: []string{"127.0.0.1", "localhost"}, Server: true}},
		{"front-proxy-client", p.frontProxyCA, certs.Options{CommonName: "front-proxy-client", Client: true}},
		{"ark-apiserver", p.arkCA, certs.Options{CommonName: "ark-apiserver", Server: true,
			Hosts: []string{"localhost", "127.0.0.1", arkService, arkService + ".cluster.local"}}},
	}
	for _, l := range leaves {
		if _, err := certs.LoadOrCreate(p.path(l.name+".crt"), p.path(l.name+".key"), l.issuer.Cert, func() (*certs.KeyPair, error) {
			return l.issuer.Issue(l.opts)
		}); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", l.name, err)
		}
	}
	if _, err := os.Stat(p.path("sa.key")); err != nil {
		private, public, err := certs.NewSigningKey()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(p.path("sa.key"), private, 0o600); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p.path("sa.pub"), public, 0o644); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// writeCertKubeconfig writes a kubeconfig that authenticates with the named
// client certificate.
func (p *pki) writeCertKubeconfig(path, server, user, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.ca.CertPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: p.path(user + ".crt"), ClientKey: p.path(user + ".key")}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user, Namespace: namespace}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

// writeTokenKubeconfig writes a kubeconfig that authenticates with a bearer token.
func (p *pki) writeTokenKubeconfig(path, server, user, token, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.ca.CertPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user, Namespace: namespace}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}
