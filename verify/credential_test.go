package verify

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	base        = "https://certificates.example.com"
	learnerMail = "Grace.Hopper@Example.org"
)

func sampleCertificate(k *Keys) Certificate {
	return Certificate{
		Code:              k.Code("32ed16df-9c83-4a6b-b7e4-2f0a5b6c7d8e"),
		LearnerName:       "Grace Hopper",
		LearnerEmail:      NewEmail(learnerMail),
		CourseID:          "7670fdbe-15ed-504b-a680-d404fa4b0eb4",
		CourseTitle:       "Compilers for Everyone",
		CompletedAt:       time.Date(2026, 2, 14, 9, 30, 15, 250_000_000, time.UTC),
		Issuer:            "Example Academy",
		CertificateSHA256: strings.Repeat("ab", 32),
	}
}

// verifyJWT checks token as a client would: the key set parsed from its JSON,
// the key chosen by the header's kid, the EdDSA signature checked. It returns
// the decoded header and payload.
func verifyJWT(t *testing.T, jwks []byte, token string) (header, payload map[string]any) {
	t.Helper()
	header, payload, err := VerifyCredential(jwks, token)
	require.NoError(t, err)
	return header, payload
}

func TestCredentialIsASignedOpenBadge(t *testing.T) {
	k := testKeys(t, secretA)
	c := sampleCertificate(k)
	token, err := k.Credential(c, base+"/")
	require.NoError(t, err)
	header, vc := verifyJWT(t, k.JWKS(base), token)

	// Open Badges 3.0 allows alg, kid (or jwk) and typ "JWT", nothing else.
	require.Equal(t, map[string]any{"alg": "EdDSA", "kid": k.KeyID(base), "typ": "JWT"}, header)
	require.True(t, strings.HasPrefix(k.KeyID(base), base+"/.well-known/jwks.json#"))

	id := base + "/certificates/" + c.Code + "/credential"
	require.Equal(t, []any{"https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"}, vc["@context"])
	require.Equal(t, []any{"VerifiableCredential", "OpenBadgeCredential"}, vc["type"])
	require.Equal(t, id, vc["id"])
	require.Equal(t, map[string]any{"id": base, "type": []any{"Profile"}, "name": "Example Academy"}, vc["issuer"])
	require.Equal(t, "2026-02-14T09:30:15Z", vc["validFrom"])
	require.Equal(t, "Compilers for Everyone", vc["name"])

	// The JWT claims mirror the credential's fields.
	require.Equal(t, base, vc["iss"])
	require.Equal(t, id, vc["jti"])
	require.EqualValues(t, c.CompletedAt.Truncate(time.Second).Unix(), vc["nbf"])
	require.NotContains(t, vc, "sub", "the subject has no id")
	require.NotContains(t, vc, "exp", "certificates do not expire")
	require.NotContains(t, vc, "issuanceDate", "VC 2.0 context, so validFrom")

	subject := vc["credentialSubject"].(map[string]any)
	require.Equal(t, []any{"AchievementSubject"}, subject["type"])
	require.NotContains(t, subject, "id")
	ids := subject["identifier"].([]any)
	require.Len(t, ids, 1)
	identity := ids[0].(map[string]any)
	salt := identity["salt"].(string)
	require.Len(t, salt, 32)
	sum := sha256.Sum256([]byte(strings.ToLower(learnerMail) + salt))
	require.Equal(t, map[string]any{
		"type":         "IdentityObject",
		"identityHash": "sha256$" + hex.EncodeToString(sum[:]),
		"identityType": "emailAddress",
		"hashed":       true,
		"salt":         salt,
	}, identity)

	ach := subject["achievement"].(map[string]any)
	require.Regexp(t, `^urn:uuid:[0-9a-f-]{36}$`, ach["id"])
	require.Equal(t, []any{"Achievement"}, ach["type"])
	require.Equal(t, "Compilers for Everyone", ach["name"])
	require.NotEmpty(t, ach["description"])
	require.NotEmpty(t, ach["criteria"].(map[string]any)["narrative"])

	// No part of the token holds the address, in any case.
	decoded := strings.ToLower(string(mustJSON(t, header)) + string(mustJSON(t, vc)))
	require.NotContains(t, decoded, strings.ToLower(learnerMail))
	require.NotContains(t, decoded, "hopper@")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestCredentialIsStable(t *testing.T) {
	k := testKeys(t, secretA)
	c := sampleCertificate(k)
	first, err := k.Credential(c, base)
	require.NoError(t, err)
	again, err := testKeys(t, secretA).Credential(c, base)
	require.NoError(t, err)
	require.Equal(t, first, again, "same secret and certificate, same token")

	other := c
	other.Code = k.Code("another event")
	_, a := verifyJWT(t, k.JWKS(base), first)
	otherToken, err := k.Credential(other, base)
	require.NoError(t, err)
	_, b := verifyJWT(t, k.JWKS(base), otherToken)
	achievementOf := func(vc map[string]any) any {
		return vc["credentialSubject"].(map[string]any)["achievement"].(map[string]any)["id"]
	}
	identityOf := func(vc map[string]any) map[string]any {
		return vc["credentialSubject"].(map[string]any)["identifier"].([]any)[0].(map[string]any)
	}
	require.Equal(t, achievementOf(a), achievementOf(b), "one course, one achievement")
	require.NotEqual(t, identityOf(a)["salt"], identityOf(b)["salt"], "a salt per certificate")
	require.NotEqual(t, identityOf(a)["identityHash"], identityOf(b)["identityHash"], "the same learner is not linkable across certificates")
}

func TestCredentialsSignedBeforeARotationStillVerify(t *testing.T) {
	old := testKeys(t, secretA)
	c := sampleCertificate(old)
	token, err := old.Credential(c, base)
	require.NoError(t, err)

	rotated := testKeys(t, secretB, secretA, secretB) // the current one repeated is ignored
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(rotated.JWKS(base), &set))
	require.Len(t, set.Keys, 2)
	require.Equal(t, rotated.KeyID(base), set.Keys[0]["kid"], "the current key comes first")
	require.Equal(t, old.KeyID(base), set.Keys[1]["kid"])
	verifyJWT(t, rotated.JWKS(base), token)

	fresh, err := rotated.Credential(c, base)
	require.NoError(t, err)
	header, _ := verifyJWT(t, rotated.JWKS(base), fresh)
	require.Equal(t, rotated.KeyID(base), header["kid"])
}

func TestJWKSHoldsNoPrivateKey(t *testing.T) {
	k := testKeys(t, secretA, secretB)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(k.JWKS(base), &set))
	for _, key := range set.Keys {
		require.ElementsMatch(t, []string{"kty", "crv", "x", "kid", "use", "alg"}, keysOf(key))
	}
	require.NotContains(t, string(k.JWKS(base)), b64.EncodeToString(k.signing.Seed()))
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The thumbprint and the signature match RFC 8037's Ed25519 examples
// (appendices A.3 and A.4), so other JOSE implementations agree with ours.
func TestRFC8037Examples(t *testing.T) {
	seed, err := b64.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	require.NoError(t, err)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	require.Equal(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", b64.EncodeToString(pub))
	require.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", thumbprint(pub))
	input := "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	require.Equal(t, "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
		b64.EncodeToString(ed25519.Sign(priv, []byte(input))))
}

func TestCredentialRefusals(t *testing.T) {
	k := testKeys(t, secretA)
	cases := []struct {
		name string
		edit func(*Certificate)
		want string
	}{
		{"revoked", func(c *Certificate) { c.RevokedAt = time.Now(); c.Reason = ReasonOther }, ErrRevoked.Error()},
		{"no email", func(c *Certificate) { c.LearnerEmail = Email{} }, "no learner email"},
		{"no completion time", func(c *Certificate) { c.CompletedAt = time.Time{} }, "no completion time"},
		{"code not canonical", func(c *Certificate) { c.Code = strings.ToLower(c.Code) }, "not canonical"},
		{"invisible title", func(c *Certificate) { c.CourseTitle = "\u200b" }, "no course title"},
		{"no issuer", func(c *Certificate) { c.Issuer = "" }, "issuer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleCertificate(k)
			tc.edit(&c)
			_, err := k.Credential(c, base)
			require.ErrorContains(t, err, tc.want)
		})
	}
	c := sampleCertificate(k)
	c.RevokedAt = time.Now()
	_, err := k.Credential(c, base)
	require.ErrorIs(t, err, ErrRevoked)
}

func BenchmarkCredential(b *testing.B) {
	k := testKeys(b, secretA)
	c := sampleCertificate(k)
	for b.Loop() {
		if _, err := k.Credential(c, base); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyCredentialRefusesForgeries(t *testing.T) {
	k := testKeys(t, secretA)
	token, err := k.Credential(sampleCertificate(k), base)
	require.NoError(t, err)
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + b64.EncodeToString([]byte(`{"name":"forged"}`)) + "." + parts[2]
	_, _, err = VerifyCredential(k.JWKS(base), forged)
	require.ErrorContains(t, err, "does not verify")
	_, _, err = VerifyCredential(testKeys(t, secretB).JWKS(base), token)
	require.ErrorContains(t, err, "no EdDSA key")
	_, _, err = VerifyCredential(k.JWKS(base), "not.a-token")
	require.Error(t, err)
}

// TestCredentialCarriesValidUntil: a certificate that expires says until
// when, as validUntil and as the JWT's exp; one that does not has neither.
func TestCredentialCarriesValidUntil(t *testing.T) {
	k := testKeys(t, secretA)
	c := sampleCertificate(k)
	token, err := k.Credential(c, base)
	require.NoError(t, err)
	_, payload := verifyJWT(t, k.JWKS(base), token)
	require.NotContains(t, payload, "validUntil")
	require.NotContains(t, payload, "exp")

	c.ExpiresAt = time.Date(2027, 2, 14, 9, 30, 15, 250_000_000, time.UTC)
	token, err = k.Credential(c, base)
	require.NoError(t, err)
	_, payload = verifyJWT(t, k.JWKS(base), token)
	require.Equal(t, "2027-02-14T09:30:15Z", payload["validUntil"])
	require.Equal(t, float64(c.ExpiresAt.Unix()), payload["exp"])
}
