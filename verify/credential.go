package verify

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/coursehook/coursehook/event"
)

// ErrRevoked is returned by Credential for a revoked certificate.
var ErrRevoked = errors.New("certificate revoked")

// Contexts of the credential: Verifiable Credentials Data Model 2.0 and
// Open Badges 3.0.
var credentialContext = []string{
	"https://www.w3.org/ns/credentials/v2",
	"https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
}

type joseHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// openBadgeCredential is the JWT payload: the credential, with the JWT
// claims Open Badges 3.0 maps onto its fields alongside.
type openBadgeCredential struct {
	Context           []string           `json:"@context"`
	ID                string             `json:"id"`
	Type              []string           `json:"type"`
	Issuer            profile            `json:"issuer"`
	ValidFrom         string             `json:"validFrom"`
	ValidUntil        string             `json:"validUntil,omitempty"`
	Name              string             `json:"name"`
	CredentialSubject achievementSubject `json:"credentialSubject"`

	Iss string `json:"iss"`
	Jti string `json:"jti"`
	Nbf int64  `json:"nbf"`
	// Exp is validUntil as the JWT's own claim, as VC-JWT maps it; a
	// certificate that never expires has neither.
	Exp int64 `json:"exp,omitempty"`
}

type profile struct {
	ID   string   `json:"id"`
	Type []string `json:"type"`
	Name string   `json:"name"`
}

type achievementSubject struct {
	Type        []string         `json:"type"`
	Identifier  []identityObject `json:"identifier"`
	Achievement achievement      `json:"achievement"`
}

type identityObject struct {
	Type         string `json:"type"`
	IdentityHash string `json:"identityHash"`
	IdentityType string `json:"identityType"`
	Hashed       bool   `json:"hashed"`
	Salt         string `json:"salt"`
}

type achievement struct {
	ID          string   `json:"id"`
	Type        []string `json:"type"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Criteria    criteria `json:"criteria"`
}

type criteria struct {
	Narrative string `json:"narrative"`
}

// Credential is c's OpenBadgeCredential as a VC-JWT (a compact JWS, alg
// EdDSA) signed with the current key, for an issuer whose public pages are
// at baseURL. The same certificate always gives the same token: validFrom is
// the completion time (whole seconds, so nbf equals it) and Ed25519
// signatures are deterministic. It returns ErrRevoked for a revoked
// certificate.
func (k *Keys) Credential(c Certificate, baseURL string) (string, error) {
	if c.Revoked() {
		return "", ErrRevoked
	}
	code, ok := Normalize(c.Code)
	switch {
	case !ok || code != c.Code:
		return "", fmt.Errorf("credential: code %q is not canonical", c.Code)
	case c.LearnerEmail.IsZero():
		return "", errors.New("credential: no learner email to identify the subject")
	case c.CompletedAt.IsZero():
		return "", errors.New("credential: no completion time")
	}
	title, issuer := event.Clean(c.CourseTitle), event.Clean(c.Issuer)
	if title == "" || issuer == "" {
		return "", errors.New("credential: no course title or issuer name")
	}
	base := strings.TrimRight(baseURL, "/")
	validFrom := c.CompletedAt.UTC().Truncate(time.Second)
	salt := k.saltFor(code)
	id := PageURL(base, code) + CredentialSuffix
	vc := openBadgeCredential{
		Context:   credentialContext,
		ID:        id,
		Type:      []string{"VerifiableCredential", "OpenBadgeCredential"},
		Issuer:    profile{ID: base, Type: []string{"Profile"}, Name: issuer},
		ValidFrom: validFrom.Format(time.RFC3339),
		Name:      title,
		CredentialSubject: achievementSubject{
			Type: []string{"AchievementSubject"},
			Identifier: []identityObject{{
				Type:         "IdentityObject",
				IdentityHash: identityHash(c.LearnerEmail, salt),
				IdentityType: "emailAddress",
				Hashed:       true,
				Salt:         salt,
			}},
			Achievement: achievement{
				ID:          achievementID(base, c.CourseID, title),
				Type:        []string{"Achievement"},
				Name:        title,
				Description: "Awarded for completing the course " + title + ".",
				Criteria:    criteria{Narrative: "Complete the course " + title + " on the learning platform."},
			},
		},
		Iss: base,
		Jti: id,
		Nbf: validFrom.Unix(),
	}
	if !c.ExpiresAt.IsZero() {
		until := c.ExpiresAt.UTC().Truncate(time.Second)
		vc.ValidUntil, vc.Exp = until.Format(time.RFC3339), until.Unix()
	}
	header, err := json.Marshal(joseHeader{Alg: "EdDSA", Kid: k.KeyID(base), Typ: "JWT"})
	if err != nil {
		return "", fmt.Errorf("credential header: %w", err)
	}
	payload, err := json.Marshal(vc)
	if err != nil {
		return "", fmt.Errorf("credential payload: %w", err)
	}
	signed := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(ed25519.Sign(k.signing, []byte(signed))), nil
}

// identityHash is the Open Badges hash of an email identity: "sha256$" and
// the hex SHA-256 of the lower-cased address followed by the salt. A verifier
// who knows the address (and lower-cases it) can check it; nobody can read it
// back.
func identityHash(e Email, salt string) string {
	sum := sha256.Sum256([]byte(event.EmailKey(e.addr) + salt))
	return "sha256$" + hex.EncodeToString(sum[:])
}

// achievementID names the course as an achievement: a name-based UUID of the
// issuer and the course id, so every certificate of one course names the same
// achievement. The title stands in for a missing course id.
func achievementID(base, courseID, title string) string {
	name := "course-id:" + courseID
	if courseID == "" {
		name = "course-title:" + title
	}
	return "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(base+"#"+name)).String()
}

// VerifyCredential checks token, a credential as Credential makes it,
// against jwks, a key set as JWKS publishes it, the way a relying party
// would: the header's kid picks an Ed25519 key from the set, and the
// signature must verify under it. It returns the decoded header and payload.
func VerifyCredential(jwks []byte, token string) (header, payload map[string]any, err error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, nil, fmt.Errorf("verify credential: key set: %w", err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("verify credential: not a compact JWS")
	}
	var raw [3][]byte
	for i, p := range parts {
		if raw[i], err = b64.DecodeString(p); err != nil {
			return nil, nil, fmt.Errorf("verify credential: part %d: %w", i+1, err)
		}
	}
	if err := json.Unmarshal(raw[0], &header); err != nil {
		return nil, nil, fmt.Errorf("verify credential: header: %w", err)
	}
	if err := json.Unmarshal(raw[1], &payload); err != nil {
		return nil, nil, fmt.Errorf("verify credential: payload: %w", err)
	}
	for _, k := range set.Keys {
		if k.Kid != header["kid"] || k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || header["alg"] != "EdDSA" {
			continue
		}
		pub, err := b64.DecodeString(k.X)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, nil, errors.New("verify credential: the key set's key is not an Ed25519 public key")
		}
		if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), raw[2]) {
			return nil, nil, errors.New("verify credential: the signature does not verify")
		}
		return header, payload, nil
	}
	return nil, nil, fmt.Errorf("verify credential: no EdDSA key %v in the key set", header["kid"])
}
