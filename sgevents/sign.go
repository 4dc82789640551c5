package sgevents

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The signing side exists so that tests, the sendgrid-sign tool and the
// integration tests can post what SendGrid posts without SendGrid.

// GenerateKey makes a new P-256 key pair, the kind SendGrid signs with.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate P-256 key: %w", err)
	}
	return key, nil
}

// PublicKeyBase64 encodes pub as SendGrid shows its key and NewVerifier
// takes it: base64 of the PKIX DER encoding.
func PublicKeyBase64(pub *ecdsa.PublicKey) (string, error) {
	if pub == nil {
		return "", errors.New("encode public key: nil key")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// Sign signs a post as SendGrid does: an ASN.1 DER ECDSA signature over
// SHA-256 of the timestamp header's value followed by the body, in base64.
func Sign(key *ecdsa.PrivateKey, timestamp string, body []byte) (string, error) {
	if key == nil {
		return "", errors.New("sign: nil key")
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h.Sum(nil))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SignNow signs body with now as the timestamp and returns both header
// values.
func SignNow(key *ecdsa.PrivateKey, body []byte, now time.Time) (signature, timestamp string, err error) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	signature, err = Sign(key, timestamp, body)
	if err != nil {
		return "", "", err
	}
	return signature, timestamp, nil
}

// pemType is the PEM block type of a PKCS#8 private key.
const pemType = "PRIVATE KEY"

// MarshalPrivateKey encodes key as a PKCS#8 PEM block, which openssl and
// ParsePrivateKey read.
func MarshalPrivateKey(key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("encode private key: nil key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParsePrivateKey reads a PEM private key: PKCS#8 as MarshalPrivateKey
// writes it, or SEC 1 ("EC PRIVATE KEY") as openssl ecparam -genkey writes
// it. The key must be ECDSA on P-256.
func ParsePrivateKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("parse private key: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case pemType:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("parse private key: PEM block %q, want %q", block.Type, pemType)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse private key: %T, want ECDSA P-256", key)
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("parse private key: ECDSA on %s, want P-256", ec.Curve.Params().Name)
	}
	return ec, nil
}
