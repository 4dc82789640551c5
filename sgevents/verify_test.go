package sgevents

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNow is the clock every verifier in these tests reads.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

const signedBody = `[{"email":"ada@example.com","timestamp":1773500966,"event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTAtMzA5","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.recvd-5b6594c664-csn64-1-65A9F4D1-A.0","response":"250 OK","event_id":"evt_1"}]` + "\r\n"

// newPair makes a key pair and a verifier for its public half, on testNow.
func newPair(t *testing.T) (*ecdsa.PrivateKey, *Verifier) {
	t.Helper()
	key, err := GenerateKey()
	require.NoError(t, err)
	pub, err := PublicKeyBase64(&key.PublicKey)
	require.NoError(t, err)
	v, err := NewVerifier(pub)
	require.NoError(t, err)
	v.Now = func() time.Time { return testNow }
	return key, v
}

// sign signs body at t and fails the test on error.
func sign(t *testing.T, key *ecdsa.PrivateKey, at time.Time, body []byte) (signature, timestamp string) {
	t.Helper()
	signature, timestamp, err := SignNow(key, body, at)
	require.NoError(t, err)
	return signature, timestamp
}

func TestVerify(t *testing.T) {
	key, v := newPair(t)
	other, err := GenerateKey()
	require.NoError(t, err)
	body := []byte(signedBody)

	goodSig, goodTS := sign(t, key, testNow, body)
	otherSig, _ := sign(t, other, testNow, body)
	oldSig, oldTS := sign(t, key, testNow.Add(-6*time.Minute), body)
	futureSig, futureTS := sign(t, key, testNow.Add(6*time.Minute), body)
	recentSig, recentTS := sign(t, key, testNow.Add(-4*time.Minute), body)

	tampered := []byte(signedBody)
	tampered[len(`[{"email":"`)] = 'e' // ada@ becomes eda@

	// The same events, decoded and marshalled again: same meaning, other
	// bytes (key order, no trailing CRLF), so the signature must not hold.
	var generic []map[string]any
	require.NoError(t, json.Unmarshal(body, &generic))
	reencoded, err := json.Marshal(generic)
	require.NoError(t, err)
	require.NotEqual(t, body, reencoded)

	// Valid base64 and valid ASN.1, but the integers do not match.
	zeroSig := base64.StdEncoding.EncodeToString([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})

	tests := []struct {
		name      string
		signature string
		timestamp string
		body      []byte
		want      error
	}{
		{"good", goodSig, goodTS, body, nil},
		{"four minutes old", recentSig, recentTS, body, nil},
		{"signed by another key", otherSig, goodTS, body, ErrBadSignature},
		{"one byte changed", goodSig, goodTS, tampered, ErrBadSignature},
		{"body cut short", goodSig, goodTS, body[:len(body)-2], ErrBadSignature},
		{"re-encoded JSON", goodSig, goodTS, reencoded, ErrBadSignature},
		{"timestamp changed", goodSig, strconv.FormatInt(testNow.Unix()-1, 10), body, ErrBadSignature},
		{"six minutes old", oldSig, oldTS, body, ErrStale},
		{"six minutes ahead", futureSig, futureTS, body, ErrStale},
		{"no signature", "", goodTS, body, ErrNoSignature},
		{"no timestamp", goodSig, "", body, ErrNoSignature},
		{"no headers", "", "", body, ErrNoSignature},
		{"signature not base64", "not base64!", goodTS, body, ErrBadSignature},
		{"signature not ASN.1", base64.StdEncoding.EncodeToString([]byte("hello")), goodTS, body, ErrBadSignature},
		{"signature of small integers", zeroSig, goodTS, body, ErrBadSignature},
		{"timestamp not a number", goodSig, "yesterday", body, ErrBadSignature},
		{"timestamp with a sign", goodSig, "+" + goodTS, body, ErrBadSignature},
		{"timestamp in milliseconds", goodSig, goodTS + "000", body, ErrStale},
		{"timestamp at the end of time", goodSig, "999999999999999999", body, ErrStale},
		{"timestamp too long", goodSig, "9999999999999999999", body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.signature, tt.timestamp, tt.body)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			for _, other := range []error{ErrNoSignature, ErrBadSignature, ErrStale} {
				if other != tt.want {
					require.NotErrorIs(t, err, other)
				}
			}
			require.NotContains(t, err.Error(), "ada@example.com")
		})
	}
}

func TestVerifyStaleSaysHowOld(t *testing.T) {
	key, v := newPair(t)
	sig, ts := sign(t, key, testNow.Add(-10*time.Minute), []byte("[]"))
	err := v.Verify(sig, ts, []byte("[]"))
	require.ErrorIs(t, err, ErrStale)
	require.ErrorContains(t, err, "10m0s ago")
}

func TestVerifyWindowAndClock(t *testing.T) {
	key, v := newPair(t)
	body := []byte("[]")
	sig, ts := sign(t, key, testNow.Add(-20*time.Minute), body)
	require.ErrorIs(t, v.Verify(sig, ts, body), ErrStale)

	v.Window = time.Hour
	require.NoError(t, v.Verify(sig, ts, body))

	// A nil clock is the real one.
	v.Window, v.Now = 0, nil
	sig, ts = sign(t, key, time.Now(), body)
	require.NoError(t, v.Verify(sig, ts, body))
}

// TestVerifySendGridVector checks a signature SendGrid made, with the key,
// signature, timestamp and body published as the known-answer test of
// sendgrid-go's eventwebhook helper: the format here is SendGrid's, not
// merely consistent with Sign.
func TestVerifySendGridVector(t *testing.T) {
	v, err := NewVerifier("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")
	require.NoError(t, err)
	v.Now = func() time.Time { return time.Unix(1600112502, 0) }
	body := `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
	sig := "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	require.NoError(t, v.Verify(sig, "1600112502", []byte(body)))
	require.ErrorIs(t, v.Verify(sig, "1600112502", []byte(body[:len(body)-2])), ErrBadSignature)
}

func TestNewVerifierBadKeys(t *testing.T) {
	pkix := func(pub any) string {
		t.Helper()
		der, err := x509.MarshalPKIXPublicKey(pub)
		require.NoError(t, err)
		return base64.StdEncoding.EncodeToString(der)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name string
		key  string
		want string
	}{
		{"empty", "", "empty"},
		{"blank", " \n\t", "empty"},
		{"garbage", "this is not a key", "not base64"},
		{"base64 of garbage", base64.StdEncoding.EncodeToString([]byte("hello, world")), "not a PKIX public key"},
		{"RSA", pkix(&rsaKey.PublicKey), "RSA key, want ECDSA P-256"},
		{"P-384", pkix(&p384.PublicKey), "ECDSA key on P-384, want P-256"},
		{"Ed25519", pkix(edPub), "ED25519 key, want ECDSA P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v *Verifier
			require.NotPanics(t, func() { v, err = NewVerifier(tt.key) })
			require.Nil(t, v)
			require.ErrorContains(t, err, "SENDGRID_WEBHOOK_PUBLIC_KEY: "+tt.want)
		})
	}
}

func TestVerifyWithoutKeyRefuses(t *testing.T) {
	key, _ := newPair(t)
	sig, ts := sign(t, key, time.Now(), []byte("[]"))
	require.ErrorIs(t, (&Verifier{}).Verify(sig, ts, []byte("[]")), ErrBadSignature)
}

func TestNewVerifierToleratesWhitespace(t *testing.T) {
	key, err := GenerateKey()
	require.NoError(t, err)
	pub, err := PublicKeyBase64(&key.PublicKey)
	require.NoError(t, err)
	wrapped := "  " + pub[:40] + "\n" + pub[40:] + "\n"
	v, err := NewVerifier(wrapped)
	require.NoError(t, err)
	sig, ts := sign(t, key, time.Now(), []byte("[]"))
	require.NoError(t, v.Verify(sig, ts, []byte("[]")))
}
