// Package verify lets anyone check a coursehook certificate: a short
// verification code printed on each certificate, a public page that states
// whether the certificate is valid or revoked, and an Open Badges 3.0
// credential signed by the issuer.
//
// # One secret
//
// Everything is keyed by one secret, CERTIFICATE_SIGNING_KEY (at least 32
// bytes), from which NewKeys derives, with HMAC-SHA-256 under distinct
// labels:
//
//   - the code key, "coursehook verification code v1": a certificate's code
//     is the HMAC of its event id under this key, cut to 100 bits and written
//     in Crockford base32 as XXXXX-XXXXX-XXXXX-XXXXX. Without the secret
//     nobody can guess a valid code, and the same event id always gets the
//     same code;
//   - the Ed25519 seed, "coursehook ed25519 v1": the key that signs the
//     credentials (JWS alg EdDSA);
//   - the salt key, "coursehook identity salt v1": the per-certificate salt
//     of the learner's hashed email in the credential.
//
// Rotating the secret changes all three. Codes already issued keep working
// because the store keeps each certificate's code and lookups go through it;
// Code gives new codes only for new events. Previous secrets passed to
// NewKeys keep their public keys in the published key set, so credentials
// signed before the rotation still verify. Only the current secret signs.
//
// # Routes
//
// Package verify/page's Handler.Register mounts, on the public port (the
// HTTP side lives there, so the worker and coursehookctl, which need only
// codes, reasons and keys, do not link gin):
//
//   - GET /certificates/<code>: the verification page, HTML, or JSON for
//     Accept: application/json or ?format=json. It never shows the learner's
//     email address, company or anything else from the platform's payload:
//     Certificate does not carry them, and the email it carries for the
//     credential cannot be printed. An unknown code and a malformed one get
//     byte-for-byte the same 404, and a malformed code is looked up as a
//     fixed dummy code so both take the same path.
//   - GET /certificates/<code>.pdf: the certificate PDF again, from the
//     caller's renderer.
//   - GET /certificates/<code>/credential: the OpenBadgeCredential as a
//     VC-JWT (application/vc+jwt). A revoked certificate gets 410 Gone and a
//     JSON error instead: a signed credential cannot be taken back, so none
//     is issued once the certificate is revoked.
//   - GET /.well-known/jwks.json: the public keys, current first.
//
// The certificate routes are rate-limited per client address (IPv6 per
// /64); over the limit the answer is 429 with Retry-After.
//
// # The credential
//
// The JWT follows the JSON Web Token proof format of Open Badges 3.0: the
// payload is the credential itself (VC Data Model 2.0 context, so validFrom
// rather than issuanceDate) with the claims iss (issuer.id), jti (id) and
// nbf (validFrom). There is no sub, since the subject has no id: it is
// identified by a salted SHA-256 hash of the lower-cased email address, as
// an IdentityObject. There is no exp, since certificates do not expire. The
// JOSE header holds alg, kid and typ "JWT" only; kid is a URL into the
// published key set, "<base>/.well-known/jwks.json#<RFC 7638 thumbprint>",
// and the key set lists each key under that same kid.
package verify
