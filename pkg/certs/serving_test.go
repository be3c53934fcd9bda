package certs

import (
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

var hosts = []string{"ark-apiserver.ark-system.svc", "ark-apiserver.ark-system.svc.cluster.local"}

// verifies checks that server is trusted through bundle for every host.
func verifies(t *testing.T, s *Serving) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Bundle) {
		t.Fatalf("bundle holds no certificate: %q", s.Bundle)
	}
	for _, h := range hosts {
		if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: h, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("the serving certificate does not verify for %s: %v", h, err)
		}
	}
}

func TestEnsureServingIssuesKeepsAndRenews(t *testing.T) {
	now := time.Now()
	first, err := EnsureServing(nil, nil, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Issued, []string{"CA", "serving certificate"}) {
		t.Errorf("issued %q, want both", first.Issued)
	}
	verifies(t, first)
	if got := first.Server.Cert.NotAfter.Sub(now); got < ServingValidity-2*time.Hour || got > ServingValidity {
		t.Errorf("serving certificate valid for %s, want %s", got, ServingValidity)
	}

	// Read back from their PEM, as from the Secrets, a month later: kept.
	ca, err := Parse(first.CA.CertPEM, first.CA.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	server, err := Parse(first.Server.CertPEM, first.Server.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := EnsureServing(ca, server, hosts, now.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.Issued) != 0 || kept.CA != ca || kept.Server != server || string(kept.Bundle) != string(first.CA.CertPEM) {
		t.Errorf("a month later: issued %q, want everything kept", kept.Issued)
	}

	// Nine months later, under a third of the year is left: a new serving
	// certificate from the same CA, so the bundle does not change.
	renewed, err := EnsureServing(ca, server, hosts, now.Add(9*30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(renewed.Issued, []string{"serving certificate"}) || renewed.CA != ca || string(renewed.Bundle) != string(first.CA.CertPEM) {
		t.Errorf("nine months later: issued %q, want only the serving certificate", renewed.Issued)
	}
	verifies(t, renewed)

	// A host it does not name, or a certificate of another CA: reissued.
	other, err := EnsureServing(nil, nil, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*KeyPair{"another CA's": other.Server} {
		got, err := EnsureServing(ca, s, hosts, now)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Issued, []string{"serving certificate"}) {
			t.Errorf("%s certificate: issued %q, want a new serving certificate", name, got.Issued)
		}
	}
	moreHosts := append(slices.Clone(hosts), "ark.example.com")
	if got, err := EnsureServing(ca, server, moreHosts, now); err != nil || !slices.Equal(got.Issued, []string{"serving certificate"}) || got.Server.Cert.VerifyHostname("ark.example.com") != nil {
		t.Errorf("a new host: %v, issued %q, want a new serving certificate naming it", err, got.Issued)
	}

	// Seven years on the CA is due too: a new CA and serving certificate,
	// and the bundle trusts the old CA as well until it expires.
	rotated, err := EnsureServing(ca, server, hosts, now.Add(7*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rotated.Issued, []string{"CA", "serving certificate"}) || rotated.CA == ca {
		t.Fatalf("seven years later: issued %q, want a new CA", rotated.Issued)
	}
	verifies(t, rotated)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rotated.Bundle)
	if _, err := server.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: hosts[0], CurrentTime: now}); err != nil {
		t.Errorf("the new bundle does not trust the old CA's serving certificate: %v", err)
	}
}

func TestParseRefusesAMismatchedKey(t *testing.T) {
	a, err := NewCA("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewCA("b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(a.CertPEM, b.KeyPEM); err == nil {
		t.Error("a certificate with another's key parsed")
	}
	if _, err := Parse([]byte("not PEM"), a.KeyPEM); err == nil {
		t.Error("a non-PEM certificate parsed")
	}
}
