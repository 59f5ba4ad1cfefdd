// Package etcdpki issues the certificates that protect meshapi's etcd: a
// certificate authority of its own, etcd's serving certificate for the
// names of its Service, and the client certificate meshapi-apiserver
// presents. etcd trusts every certificate its CA signed, so the CA signs
// nothing else.
package etcdpki

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
	"time"
)

// Default lifetimes of what Issue creates.
const (
	// DefaultCAValidity is how long a new CA is valid: ten years.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultValidity is how long a serving or client certificate is
	// valid: one year. Re-running the install step renews them.
	DefaultValidity = 365 * 24 * time.Hour
	// backdate tolerates clocks a little behind the issuer's.
	backdate = 5 * time.Minute
)

// CA is a certificate authority: its certificate and private key.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
	// CertPEM is the PEM certificate.
	CertPEM []byte
	// KeyPEM is the PEM (PKCS #8) private key.
	KeyPEM []byte
}

// KeyPair is a certificate and its private key, PEM encoded.
type KeyPair struct {
	// CertPEM is the PEM certificate.
	CertPEM []byte
	// KeyPEM is the PEM (PKCS #8) private key.
	KeyPEM []byte
}

// Request describes a certificate to issue.
type Request struct {
	// CommonName is the subject's common name.
	CommonName string
	// DNSNames and IPs are the subject alternative names.
	DNSNames []string
	// IPs are the IP address subject alternative names.
	IPs []net.IP
	// Server and Client select the extended key usages.
	Server, Client bool
	// Validity is the lifetime from now; DefaultValidity when zero.
	Validity time.Duration
}

// NewCA creates a self-signed CA named commonName, valid for validity
// (DefaultCAValidity when zero) from now.
func NewCA(commonName string, now time.Time, validity time.Duration) (*CA, error) {
	if commonName == "" {
		return nil, errors.New("creating a CA: the common name is empty")
	}
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key of CA %q: %w", commonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-signing CA %q: %w", commonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return LoadCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

// LoadCA parses a CA from its PEM certificate and key, checking that the
// certificate is a CA's and that the key is its own.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("CA certificate %q is not a CA (basicConstraints CA:FALSE)", cert.Subject.CommonName)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key of CA %q: %w", cert.Subject.CommonName, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("key of CA %q does not match its certificate", cert.Subject.CommonName)
	}
	return &CA{cert: cert, key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// Certificate returns the parsed CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Issue signs a new key for req, valid from now.
func (c *CA) Issue(req Request, now time.Time) (KeyPair, error) {
	if req.CommonName == "" {
		return KeyPair{}, errors.New("issuing a certificate: the common name is empty")
	}
	if !req.Server && !req.Client {
		return KeyPair{}, fmt.Errorf("issuing %q: neither server nor client usage requested", req.CommonName)
	}
	validity := req.Validity
	if validity <= 0 {
		validity = DefaultValidity
	}
	notAfter := now.Add(validity)
	if notAfter.After(c.cert.NotAfter) {
		return KeyPair{}, fmt.Errorf("issuing %q valid until %s: CA %q expires before, at %s (issue a new CA)",
			req.CommonName, notAfter.UTC().Format(time.RFC3339), c.cert.Subject.CommonName, c.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating the key of %q: %w", req.CommonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.CommonName},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPs,
	}
	if req.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("signing %q with CA %q: %w", req.CommonName, c.cert.Subject.CommonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	return serial, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	return cert, nil
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block type %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return signer, nil
}
