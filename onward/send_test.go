package onward

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"
)

// TestSendRetriesKeepTheID is one event delivered on its third attempt: the
// receiver sees the same webhook-id each time, a fresh valid signature on
// each, and can tell the attempts apart only by their timestamps.
func TestSendRetriesKeepTheID(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	s := localSender(Options{})
	const msgID = "evt_01J9ZQ4Y6R0M3N5B7C9D1F3H5K"
	body := []byte(`{"type":"course.completed","data":{"course":"go-101","learner":"ada"}}`)

	for attempt := 1; attempt <= 3; attempt++ {
		res, err := s.Send(context.Background(), rcv.URL, vectorSecret, msgID, body)
		if attempt < 3 {
			e := deliveryError(t, err)
			require.False(t, e.Permanent, "a 500 is worth retrying")
			require.Equal(t, http.StatusInternalServerError, e.StatusCode)
			require.Equal(t, http.StatusInternalServerError, res.StatusCode)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, Result{StatusCode: http.StatusOK, Host: "127.0.0.1"}, res)
	}

	got := rcv.deliveries()
	require.Len(t, got, 3)
	for i, d := range got {
		require.Equal(t, msgID, d.header.Get("webhook-id"), "attempt %d", i+1)
		require.Equal(t, body, d.body, "attempt %d", i+1)
		require.NoError(t, Verify(vectorSecret, d.header, d.body), "attempt %d", i+1)
		require.Error(t, Verify(otherSecret, d.header, d.body), "attempt %d verified with another secret", i+1)
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      int
		permanent bool
	}{
		{http.StatusBadRequest, true},
		{http.StatusUnauthorized, true},
		{http.StatusForbidden, true},
		{http.StatusNotFound, true},
		{http.StatusGone, true},
		{http.StatusRequestEntityTooLarge, true},
		{http.StatusUnprocessableEntity, true},
		{http.StatusRequestTimeout, false},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusBadGateway, false},
		{http.StatusServiceUnavailable, false},
		{http.StatusGatewayTimeout, false},
	}
	for _, tt := range tests {
		rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tt.code)
			_, _ = w.Write([]byte(`{"error":"because"}`))
		})
		res, err := send(t, localSender(Options{}), rcv.URL)
		e := deliveryError(t, err)
		require.Equal(t, tt.permanent, e.Permanent, "status %d", tt.code)
		require.Equal(t, tt.code, e.StatusCode)
		require.Equal(t, tt.code, res.StatusCode)
		require.Zero(t, e.RetryAfter, "status %d without Retry-After", tt.code)
		require.Contains(t, e.Message, http.StatusText(tt.code))
		require.Contains(t, e.Message, `{"error":"because"}`)
	}
}

func TestSendRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		code   int
		header string
		want   time.Duration
	}{
		{http.StatusTooManyRequests, "7", 7 * time.Second},
		{http.StatusTooManyRequests, " 120 ", 2 * time.Minute},
		{http.StatusTooManyRequests, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{http.StatusTooManyRequests, now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{http.StatusTooManyRequests, "soon", 0},
		{http.StatusTooManyRequests, "-5", 0},
		{http.StatusTooManyRequests, "99999999999999999999999", maxRetryAfter},
		{http.StatusTooManyRequests, "", 0},
		// Only a 429's Retry-After is taken, as the contract says.
		{http.StatusServiceUnavailable, "7", 0},
	}
	for _, tt := range tests {
		rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
			if tt.header != "" {
				w.Header().Set("Retry-After", tt.header)
			}
			w.WriteHeader(tt.code)
		})
		_, err := send(t, localSender(Options{Now: func() time.Time { return now }}), rcv.URL)
		e := deliveryError(t, err)
		require.False(t, e.Permanent)
		require.Equal(t, tt.want, e.RetryAfter, "%d with Retry-After %q", tt.code, tt.header)
	}
}

// TestSendMessageIsSafeToLog: a hostile answer cannot forge log lines, hide
// text with bidi overrides, or fill the log.
func TestSendMessageIsSafeToLog(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("bad\tsignature\r\nlevel=ERROR msg=forged\x1b[31m\u202eevil\xff" + strings.Repeat("x", 10_000)))
	})
	_, err := send(t, localSender(Options{}), rcv.URL)
	e := deliveryError(t, err)
	require.True(t, strings.HasPrefix(e.Message, "status 400 Bad Request: bad signature level=ERROR msg=forged[31mevil"), e.Message)
	require.LessOrEqual(t, len(e.Message), maxMessage+len("…"))
	require.Less(t, strings.Count(e.Message, "x"), maxSnippet)
	for _, r := range e.Message {
		require.False(t, unicode.IsControl(r) || unicode.Is(unicode.Cf, r), "control character %U in %q", r, e.Message)
	}
}

// TestSendTimeout: a receiver slower than Options.Timeout is a retryable
// failure without a status.
func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rcv := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	// Registered after newReceiver's Close, so it runs first: Close waits
	// for this handler.
	t.Cleanup(func() { close(release) })

	res, err := send(t, localSender(Options{Timeout: 100 * time.Millisecond}), rcv.URL)
	e := deliveryError(t, err)
	require.False(t, e.Permanent)
	require.Zero(t, e.StatusCode)
	require.Zero(t, res.StatusCode)
	require.Contains(t, e.Message, "no answer in time")
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
}

func TestSendConnectionRefusedIsRetryable(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, status(http.StatusOK))
	target := rcv.URL
	rcv.Close() // nothing listens on the port any more

	_, err := send(t, localSender(Options{}), target)
	e := deliveryError(t, err)
	require.False(t, e.Permanent)
	require.Zero(t, e.StatusCode)
	require.Contains(t, e.Message, "connection failed")
	require.NotContains(t, e.Message, target, "the message repeats the URL")
}

// TestSendRefusesBadInput: a mistake of the caller's is permanent and
// nothing is sent.
func TestSendRefusesBadInput(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	rcv := newReceiver(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	s := localSender(Options{})
	tests := []struct {
		name, secret, msgID, body, want string
	}{
		{"secret without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", vectorMsgID, vectorPayload, "whsec_"},
		{"empty secret", "", vectorMsgID, vectorPayload, "whsec_"},
		{"id with a dot", vectorSecret, "msg.1", vectorPayload, "message id"},
		{"id with a newline", vectorSecret, "msg\r\nX-Evil: 1", vectorPayload, "message id"},
		{"empty id", vectorSecret, "", vectorPayload, "message id"},
		{"body not JSON", vectorSecret, vectorMsgID, "{not json", "JSON"},
	}
	for _, tt := range tests {
		res, err := s.Send(context.Background(), rcv.URL, tt.secret, tt.msgID, []byte(tt.body))
		e := deliveryError(t, err)
		require.True(t, e.Permanent, tt.name)
		require.Contains(t, e.Message, tt.want, tt.name)
		require.Equal(t, "127.0.0.1", res.Host, tt.name)
	}
	require.Zero(t, hits.Load())
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	require.Equal(t, "webhook delivery failed permanently: status 410 Gone",
		(&Error{StatusCode: 410, Permanent: true, Message: "status 410 Gone"}).Error())
	require.Equal(t, "webhook delivery failed: status 503 Service Unavailable",
		(&Error{StatusCode: 503, Message: "status 503 Service Unavailable"}).Error())
}
