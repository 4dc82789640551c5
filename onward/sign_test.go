package onward

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// TestSendSignsLikeTheSpecVector sends the vector's event at the vector's
// time and expects exactly the vector's headers on the wire.
func TestSendSignsLikeTheSpecVector(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, status(http.StatusNoContent))
	sentAt := time.Unix(vectorTimestamp, 0)
	s := localSender(Options{Now: func() time.Time { return sentAt }})

	res, err := send(t, s, rcv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, res.StatusCode)

	got := rcv.deliveries()
	require.Len(t, got, 1)
	h := got[0].header
	require.Equal(t, vectorMsgID, h.Get("webhook-id"))
	require.Equal(t, strconv.Itoa(vectorTimestamp), h.Get("webhook-timestamp"))
	require.Equal(t, vectorSignature, h.Get("webhook-signature"))
	require.Equal(t, vectorPayload, string(got[0].body))
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Contains(t, h.Get("User-Agent"), "coursehook")

	require.NoError(t, verifyAt(vectorSecret, h, got[0].body, sentAt.Add(time.Minute)))
}

func vectorHeader() http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorMsgID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", vectorSignature)
	return h
}

func TestVerifyVector(t *testing.T) {
	t.Parallel()
	sent := time.Unix(vectorTimestamp, 0)
	tests := []struct {
		name   string
		secret string
		edit   func(http.Header)
		body   string
		now    time.Time
		want   error // nil: verifies
	}{
		{name: "the vector", now: sent},
		{name: "4m59s later", now: sent.Add(4*time.Minute + 59*time.Second)},
		{name: "sender's clock 4m ahead", now: sent.Add(-4 * time.Minute)},
		{
			// Secret rotation: the header lists several signatures, the
			// wrong one taken from the reference libraries' tests.
			name: "one of several signatures",
			now:  sent,
			edit: func(h http.Header) {
				h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+vectorSignature)
			},
		},
		{name: "tampered body", body: `{"test": 2432232315}`, now: sent, want: standardwebhooks.ErrNoMatchingSignature},
		{name: "wrong secret", secret: otherSecret, now: sent, want: standardwebhooks.ErrNoMatchingSignature},
		{
			name: "last character changed", now: sent, want: standardwebhooks.ErrNoMatchingSignature,
			edit: func(h http.Header) {
				h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=")
			},
		},
		{
			name: "wrong version", now: sent, want: standardwebhooks.ErrNoMatchingSignature,
			edit: func(h http.Header) {
				h.Set("webhook-signature", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
			},
		},
		{
			name: "id changed", now: sent, want: standardwebhooks.ErrNoMatchingSignature,
			edit: func(h http.Header) { h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJel") },
		},
		{name: "5m01s later", now: sent.Add(5*time.Minute + time.Second), want: standardwebhooks.ErrMessageTooOld},
		{name: "dated 6m ahead", now: sent.Add(-6 * time.Minute), want: standardwebhooks.ErrMessageTooNew},
		{
			name: "no id", now: sent, want: standardwebhooks.ErrRequiredHeaders,
			edit: func(h http.Header) { h.Del("webhook-id") },
		},
		{
			name: "no timestamp", now: sent, want: standardwebhooks.ErrRequiredHeaders,
			edit: func(h http.Header) { h.Del("webhook-timestamp") },
		},
		{
			name: "timestamp not an integer", now: sent, want: standardwebhooks.ErrInvalidHeaders,
			edit: func(h http.Header) { h.Set("webhook-timestamp", "1614265330.0") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := vectorHeader()
			if tt.edit != nil {
				tt.edit(h)
			}
			secret := vectorSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			body := vectorPayload
			if tt.body != "" {
				body = tt.body
			}
			err := verifyAt(secret, h, []byte(body), tt.now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// TestVerifyUsesTheClock: the vector is from 2021, so the exported Verify,
// which reads the real clock, must refuse it as a replay.
func TestVerifyUsesTheClock(t *testing.T) {
	t.Parallel()
	require.NoError(t, verifyAt(vectorSecret, vectorHeader(), []byte(vectorPayload), time.Unix(vectorTimestamp, 0)))
	require.ErrorIs(t, Verify(vectorSecret, vectorHeader(), []byte(vectorPayload)), standardwebhooks.ErrMessageTooOld)
}

func TestCheckSecret(t *testing.T) {
	t.Parallel()
	ofLen := func(n int) string { return "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{"the vector's", vectorSecret, true},
		{"24 bytes", ofLen(24), true},
		{"64 bytes", ofLen(64), true},
		{"23 bytes", ofLen(23), false},
		{"65 bytes", ofLen(65), false},
		// The library would take it; the specification's form has the prefix.
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{"asymmetric key's prefix", "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false},
		{"prefix only", "whsec_", false},
		{"empty", "", false},
		{"not base64", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w", false},
		{"unpadded", "whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 31)), false},
		{"URL alphabet", "whsec_" + base64.URLEncoding.EncodeToString([]byte("\xfb\xff\xfe012345678901234567890")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSecret(tt.secret)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if body, ok := strings.CutPrefix(tt.secret, "whsec_"); ok && body != "" {
				require.NotContains(t, err.Error(), body, "the error repeats the secret")
			}
		})
	}
}
