package onward

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The specification's test vector. It appears, with the same values, in the
// sign tests of every reference library in
// github.com/standard-webhooks/standard-webhooks (libraries/go/webhook_test.go
// TestWebhookSign, libraries/python/tests/test_webhooks.py test_sign_function,
// libraries/javascript/src/webhook.test.ts, libraries/php/tests/WebhookTest.php,
// libraries/java/.../TestScenario.java, libraries/csharp/.../WebhookTest.cs);
// spec/standard-webhooks.md itself has no vector with a secret.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// otherSecret is well-formed but is not vectorSecret.
const otherSecret = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIz"

// delivery is what a receiver saw of one request.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a local endpoint that records every request and answers with
// the handler's status.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen []delivery
}

func newReceiver(t *testing.T, answer http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.seen = append(r.seen, delivery{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		answer(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.seen...)
}

// viaLocalhost is the receiver's URL with the name localhost instead of
// 127.0.0.1, so the address is only known once the name is resolved.
func (r *receiver) viaLocalhost(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(r.URL)
	require.NoError(t, err)
	u.Host = "localhost:" + u.Port()
	return u.String()
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// deliveryError requires err to be an *Error and returns it.
func deliveryError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "error %T %v is not an *onward.Error", err, err)
	return e
}

func localSender(o Options) *Sender {
	o.AllowPrivate = true
	if o.PerSecond == 0 {
		o.PerSecond = 1000
	}
	return NewSender(o)
}

func send(t *testing.T, s *Sender, url string) (Result, error) {
	t.Helper()
	return s.Send(context.Background(), url, vectorSecret, vectorMsgID, []byte(vectorPayload))
}
