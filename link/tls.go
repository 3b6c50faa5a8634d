package link

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLS holds the file names of a link end's TLS material (RPC.tlsCert,
// RPC.tlsKey, RPC.tlsCA). The zero value means plain TCP.
type TLS struct {
	Cert string // PEM certificate chain of this end
	Key  string // PEM private key of Cert
	CA   string // PEM CA bundle that verifies the other end
}

// Enabled reports whether links use TLS.
func (t TLS) Enabled() bool { return t.Cert != "" || t.Key != "" || t.CA != "" }

// Server returns the listener's config: it presents Cert and, when CA is
// set, requires a client certificate signed by CA (mutual TLS).
func (t TLS) Server() (*tls.Config, error) {
	if t.Cert == "" || t.Key == "" {
		return nil, errors.New("link: TLS needs both RPC.tlsCert and RPC.tlsKey to listen")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("link: loading RPC.tlsCert/RPC.tlsKey: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pool, err := loadPool(t.CA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Client returns the dialler's config: it verifies the server with CA (the
// system roots when CA is empty) and presents Cert when set.
func (t TLS) Client() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pool, err := loadPool(t.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("link: loading RPC.tlsCert/RPC.tlsKey: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("link: reading RPC.tlsCA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("link: RPC.tlsCA %s holds no PEM certificate", file)
	}
	return pool, nil
}
