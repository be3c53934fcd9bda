package certs

import (
	"bytes"
	"fmt"
	"time"
)

// Lifetimes of the serving PKI EnsureServing keeps: the CA outlives many
// serving certificates, so that renewing one never changes what clients
// trust; the serving certificate is renewed well before it expires.
const (
	ServingCAValidity = 10 * 365 * 24 * time.Hour
	ServingValidity   = 365 * 24 * time.Hour
)

// Serving is the PKI of an API server whose clients trust a private CA, as
// kube-apiserver trusts an aggregated API server through the APIService's
// caBundle.
type Serving struct {
	// CA signs Server; its key is kept so that Server can be renewed.
	CA *KeyPair
	// Server is the serving certificate.
	Server *KeyPair
	// Bundle is what clients should trust: CA, and the CA it replaced
	// while that one is still valid, so that a server still presenting a
	// certificate of the old CA (until its new one is mounted) is trusted.
	Bundle []byte
	// Issued names what was issued anew ("CA", "serving certificate"),
	// empty when both were kept.
	Issued []string
}

// EnsureServing returns a CA and a serving certificate for hosts, keeping ca
// and server (either may be nil) when they are still good at now: the CA
// not yet due for renewal (see RenewalDue), the serving certificate signed
// by it, for every host, and not due either. What is not good is issued
// anew; a new CA always brings a new serving certificate.
func EnsureServing(ca, server *KeyPair, hosts []string, now time.Time) (*Serving, error) {
	s := &Serving{CA: ca, Server: server}
	if ca == nil || !ca.Cert.IsCA || RenewalDue(ca.Cert, now) {
		fresh, err := NewCAFor(fmt.Sprintf("ark-apiserver-ca@%d", now.Unix()), ServingCAValidity)
		if err != nil {
			return nil, fmt.Errorf("creating a CA: %w", err)
		}
		s.CA, s.Server = fresh, nil
		s.Issued = append(s.Issued, "CA")
		s.Bundle = append(s.Bundle, fresh.CertPEM...)
		if ca != nil && ca.Cert.IsCA && now.Before(ca.Cert.NotAfter) {
			s.Bundle = append(s.Bundle, ca.CertPEM...)
		}
	} else {
		s.Bundle = append(s.Bundle, ca.CertPEM...)
	}
	if s.Server == nil || !servingGood(s.Server, s.CA, hosts, now) {
		issued, err := s.CA.Issue(Options{CommonName: hosts[0], Hosts: hosts, Server: true, Validity: ServingValidity})
		if err != nil {
			return nil, fmt.Errorf("issuing a serving certificate: %w", err)
		}
		s.Server = issued
		s.Issued = append(s.Issued, "serving certificate")
	}
	if !bytes.HasSuffix(s.Bundle, []byte("\n")) {
		s.Bundle = append(s.Bundle, '\n')
	}
	return s, nil
}

func servingGood(server, ca *KeyPair, hosts []string, now time.Time) bool {
	if server.Cert.CheckSignatureFrom(ca.Cert) != nil || RenewalDue(server.Cert, now) || now.Before(server.Cert.NotBefore) {
		return false
	}
	for _, h := range hosts {
		if server.Cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}
