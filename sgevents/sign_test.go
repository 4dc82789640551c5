package sgevents

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPrivateKeyRoundTrip(t *testing.T) {
	key, err := GenerateKey()
	require.NoError(t, err)
	pemBytes, err := MarshalPrivateKey(key)
	require.NoError(t, err)
	require.Contains(t, string(pemBytes), "-----BEGIN PRIVATE KEY-----")

	back, err := ParsePrivateKey(pemBytes)
	require.NoError(t, err)
	require.True(t, key.Equal(back))

	// What openssl ecparam -genkey writes is read too.
	sec1, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	back, err = ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	require.NoError(t, err)
	require.True(t, key.Equal(back))
}

func TestParsePrivateKeyRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)

	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"not PEM", []byte("hello"), "no PEM block"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `PEM block "CERTIFICATE"`},
		{"broken DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), "parse private key"},
		{"P-384", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "ECDSA on P-384, want P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.in)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestSignNow(t *testing.T) {
	key, v := newPair(t)
	sig, ts, err := SignNow(key, []byte("[]"), testNow)
	require.NoError(t, err)
	require.Equal(t, "1773500966", ts)
	require.NoError(t, v.Verify(sig, ts, []byte("[]")))

	_, _, err = SignNow(nil, []byte("[]"), time.Now())
	require.Error(t, err)
	_, err = PublicKeyBase64(nil)
	require.Error(t, err)
	_, err = MarshalPrivateKey(nil)
	require.Error(t, err)
}
