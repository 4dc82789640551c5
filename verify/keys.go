package verify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MinSecretBytes is the shortest signing secret NewKeys takes: 256 bits, the
// size of the HMAC-SHA-256 key everything is derived from.
const MinSecretBytes = 32

// Labels of the keys derived from the secret. A new version of a derivation
// gets a new label, never a changed meaning for an old one.
const (
	codeLabel    = "coursehook verification code v1"
	ed25519Label = "coursehook ed25519 v1"
	saltLabel    = "coursehook identity salt v1"
)

// Keys holds everything derived from the signing secret: the code key, the
// salt key and the Ed25519 signing key, plus the public keys of previous
// secrets, still published so that older credentials verify.
type Keys struct {
	code    []byte
	salt    []byte
	signing ed25519.PrivateKey
	// public lists the current key first, then the previous ones.
	public []ed25519.PublicKey
}

// NewKeys derives the keys from secret (at least MinSecretBytes long).
// previous are the secrets used before a rotation: their public keys stay in
// the key set, but nothing is signed or derived with them.
func NewKeys(secret []byte, previous ...[]byte) (*Keys, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("signing secret is %d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	k := &Keys{
		code:    derive(secret, codeLabel),
		salt:    derive(secret, saltLabel),
		signing: ed25519.NewKeyFromSeed(derive(secret, ed25519Label)),
	}
	k.public = append(k.public, k.signing.Public().(ed25519.PublicKey))
	for i, p := range previous {
		if len(p) < MinSecretBytes {
			return nil, fmt.Errorf("previous signing secret %d is %d bytes, want at least %d", i+1, len(p), MinSecretBytes)
		}
		pub := ed25519.NewKeyFromSeed(derive(p, ed25519Label)).Public().(ed25519.PublicKey)
		// A secret listed twice, or the current one listed as previous
		// during a rollout, would publish the same key twice.
		if !slices.ContainsFunc(k.public, func(q ed25519.PublicKey) bool { return q.Equal(pub) }) {
			k.public = append(k.public, pub)
		}
	}
	return k, nil
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Code is the verification code of the certificate for eventID, in its
// canonical form: 20 Crockford base32 characters (100 bits of
// HMAC-SHA-256 under the code key) in four groups of five, such as
// 7KQ2M-X4D9R-0ZPV3-TNW8H.
func (k *Keys) Code(eventID string) string {
	m := hmac.New(sha256.New, k.code)
	m.Write([]byte(eventID))
	sum := m.Sum(nil)
	var raw [codeChars]byte
	for i := range raw {
		raw[i] = crockford[fiveBits(sum, i)]
	}
	return group(raw[:])
}

// fiveBits returns the i-th group of five bits of b, most significant first.
func fiveBits(b []byte, i int) byte {
	bit := i * 5
	window := uint16(b[bit/8])<<8 | uint16(b[bit/8+1])
	return byte(window>>(11-bit%8)) & 0x1f
}

// saltFor is the salt of the learner's hashed email in code's credential:
// unique per certificate, and the same each time the credential is issued.
func (k *Keys) saltFor(code string) string {
	m := hmac.New(sha256.New, k.salt)
	m.Write([]byte(code))
	return fmt.Sprintf("%x", m.Sum(nil)[:16])
}

// b64 is the unpadded base64url encoding that JOSE uses throughout.
var b64 = base64.RawURLEncoding

// jwk is an Ed25519 public key as RFC 8037 writes it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// thumbprint is the RFC 7638 thumbprint of pub: the SHA-256 of its required
// members in lexicographic order, without whitespace.
func thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(sum[:])
}

// JWKSPath is where the key set is published, under the base URL.
const JWKSPath = "/.well-known/jwks.json"

// Where a certificate's page and credential are: CertificatesPath + "/" +
// code, and that + CredentialSuffix.
const (
	CertificatesPath = "/certificates"
	CredentialSuffix = "/credential"
)

// PageURL is the address of the verification page of the certificate with
// code, under the deployment's public base URL: what its QR code holds.
func PageURL(baseURL, code string) string {
	return strings.TrimRight(baseURL, "/") + CertificatesPath + "/" + code
}

func keyID(baseURL string, pub ed25519.PublicKey) string {
	return strings.TrimRight(baseURL, "/") + JWKSPath + "#" + thumbprint(pub)
}

// KeyID is the kid of the current signing key for an issuer at baseURL: a
// URL of the key set with the key's RFC 7638 thumbprint as the fragment.
func (k *Keys) KeyID(baseURL string) string {
	return keyID(baseURL, k.public[0])
}

// JWKS is the JSON Web Key Set of the issuer at baseURL: the current public
// key first, then the previous ones, each an OKP Ed25519 key with its kid,
// use "sig" and alg "EdDSA". It never holds a private part.
func (k *Keys) JWKS(baseURL string) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(k.public))}
	for _, pub := range k.public {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub), Kid: keyID(baseURL, pub), Use: "sig", Alg: "EdDSA"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		// Only strings go in, so this cannot happen.
		panic(errors.Join(errors.New("marshal key set"), err))
	}
	return b
}
