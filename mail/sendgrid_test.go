package mail

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/sendgridtest"
)

const testAPIKey = "SG.test-key"

// fixedNow is a whole second so that X-RateLimit-Reset, which has second
// precision, gives exact waits.
var fixedNow = time.Unix(1_571_345_453, 0)

func response(status int, body string, headers map[string]string) *rest.Response {
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	return &rest.Response{StatusCode: status, Body: body, Headers: h}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	netErr := errors.New(`Post "https://api.sendgrid.com/v3/mail/send": dial tcp: connection refused`)
	reset := func(d time.Duration) map[string]string {
		return map[string]string{"X-RateLimit-Reset": strconv.FormatInt(fixedNow.Add(d).Unix(), 10)}
	}
	cases := []struct {
		name       string
		resp       *rest.Response
		err        error
		ok         bool
		status     int
		permanent  bool
		retryAfter time.Duration
		message    string
	}{
		{name: "202 accepted", resp: response(202, "", nil), ok: true},
		{name: "200 treated as accepted", resp: response(200, `{}`, nil), ok: true},
		{name: "202 with a body read error is still accepted", resp: response(202, "", nil), err: errors.New("unexpected EOF"), ok: true},
		{name: "network error", err: netErr, message: netErr.Error()},
		{name: "canceled", err: context.Canceled, message: "context canceled"},
		{name: "no response and no error", message: "no response"},
		{
			name: "429 waits until reset", resp: response(429, `{"errors":[{"field":null,"message":"too many requests"}]}`, reset(3*time.Second)),
			status: 429, retryAfter: 3 * time.Second, message: "too many requests",
		},
		{name: "429 reset in the past waits a second", resp: response(429, "", reset(-time.Minute)), status: 429, retryAfter: time.Second, message: "too many requests"},
		{name: "429 without reset waits a second", resp: response(429, "", nil), status: 429, retryAfter: time.Second, message: "too many requests"},
		{name: "429 garbled reset waits a second", resp: response(429, "", map[string]string{"X-RateLimit-Reset": "soon"}), status: 429, retryAfter: time.Second, message: "too many requests"},
		{name: "500", resp: response(500, `{"errors":[{"message":"internal error"}]}`, nil), status: 500, message: "internal error"},
		{name: "502 html from a proxy", resp: response(502, "<html>\r\n<body>Bad Gateway</body>\r\n</html>", nil), status: 502, message: "<html> <body>Bad Gateway</body> </html>"},
		{name: "503 empty body", resp: response(503, "", nil), status: 503, message: "service unavailable"},
		{
			name: "400 with fields", resp: response(400, `{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email","help":"http://sendgrid.com/docs"},{"message":"The subject is required.","field":"subject","help":null}]}`, nil),
			status: 400, permanent: true, message: "personalizations.0.to.0.email: Does not contain a valid address.; subject: The subject is required.",
		},
		{name: "400 without field", resp: response(400, `{"errors":[{"message":"Bad Request","field":null,"help":null}]}`, nil), status: 400, permanent: true, message: "Bad Request"},
		{
			name: "401", resp: response(401, `{"errors":[{"field":null,"message":"The provided authorization grant is invalid, expired, or revoked","help":null}]}`, nil),
			status: 401, permanent: true, message: "The provided authorization grant is invalid, expired, or revoked",
		},
		{name: "403", resp: response(403, `{"errors":[{"field":null,"message":"access forbidden"}]}`, nil), status: 403, permanent: true, message: "access forbidden"},
		{name: "404 plain text", resp: response(404, "404 page not found\n", nil), status: 404, permanent: true, message: "404 page not found"},
		{name: "413", resp: response(413, "", nil), status: 413, permanent: true, message: "request entity too large"},
		{name: "unexpected redirect", resp: response(302, "", nil), status: 302, permanent: true, message: "found"},
		{
			name: "long body is cut", resp: response(400, strings.Repeat("x", 5000), nil),
			status: 400, permanent: true, message: strings.Repeat("x", maxSnippetRunes-1) + "…",
		},
		{name: "json without errors is a snippet", resp: response(400, `{"message":"nope"}`, nil), status: 400, permanent: true, message: `{"message":"nope"}`},
	}
	s := &SendGrid{Now: func() time.Time { return fixedNow }}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := s.classify(c.resp, c.err)
			if c.ok {
				require.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, c.status, e.StatusCode)
			require.Equal(t, c.permanent, e.Permanent)
			require.Equal(t, c.retryAfter, e.RetryAfter)
			require.Equal(t, c.message, e.Message)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
			}
		})
	}
}

func TestSendAccepted(t *testing.T) {
	t.Parallel()
	srv := sendgridtest.NewServer(t)
	sg := NewSendGrid(testAPIKey, srv.URL()+"/", sampleFrom, nil)

	receipt, err := sg.Send(t.Context(), sampleMessage())
	require.NoError(t, err)

	msgs := srv.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, msgs[0].MessageID, receipt.MessageID)
	require.Equal(t, "Bearer "+testAPIKey, msgs[0].Auth)
	require.JSONEq(t, string(sgmail.GetRequestBody(Build(sampleFrom, sampleMessage()))), string(msgs[0].Body), "the posted body is exactly Build's JSON")

	m, err := msgs[0].Mail()
	require.NoError(t, err)
	require.Equal(t, []string{"bob.johnson@example.com"}, m.To)
	require.Equal(t, "Your certificate for New Student Orientation", m.Subject)
	require.Equal(t, map[string]string{"event_id": sampleEventID}, m.CustomArgs)
	require.Len(t, m.Attachments, 1)
	require.Equal(t, samplePDF, m.Attachments[0].Content)
}

func TestSendFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		failure    sendgridtest.Failure
		apiKey     string
		status     int
		permanent  bool
		retryAfter time.Duration
		message    string
	}{
		{name: "503", failure: sendgridtest.Failure{Status: 503}, apiKey: testAPIKey, status: 503},
		{
			name: "429", failure: sendgridtest.Failure{Status: 429, RateLimitReset: fixedNow.Add(3 * time.Second)}, apiKey: testAPIKey,
			status: 429, retryAfter: 3 * time.Second,
		},
		{
			name: "400", failure: sendgridtest.Failure{Status: 400, Errors: []string{"Does not contain a valid address."}}, apiKey: testAPIKey,
			status: 400, permanent: true, message: "Does not contain a valid address.",
		},
		{name: "401 from a missing key", apiKey: "", status: 401, permanent: true, message: "The provided authorization grant is invalid, expired, or revoked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := sendgridtest.NewServer(t)
			if c.failure.Status != 0 {
				srv.FailNext(1, c.failure)
			}
			sg := NewSendGrid(c.apiKey, srv.URL(), sampleFrom, nil)
			sg.Now = func() time.Time { return fixedNow }

			_, err := sg.Send(t.Context(), sampleMessage())
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, c.status, e.StatusCode)
			require.Equal(t, c.permanent, e.Permanent)
			require.Equal(t, c.retryAfter, e.RetryAfter)
			if c.message != "" {
				require.Equal(t, c.message, e.Message)
			}
			require.Contains(t, err.Error(), sampleEventID)
			require.NotContains(t, err.Error(), testAPIKey)
			require.Equal(t, 1, srv.Attempts())
			require.Empty(t, srv.Messages())
		})
	}
}

func TestSendNetworkError(t *testing.T) {
	t.Parallel()
	srv := sendgridtest.NewServer(t)
	url := srv.URL()
	srv.Close()

	_, err := NewSendGrid(testAPIKey, url, sampleFrom, nil).Send(t.Context(), sampleMessage())
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Zero(t, e.StatusCode)
	require.False(t, e.Permanent)
	require.Error(t, e.Err)
	require.NotContains(t, err.Error(), testAPIKey)
}

func TestSendUsesTheContext(t *testing.T) {
	t.Parallel()
	srv := sendgridtest.NewServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := NewSendGrid(testAPIKey, srv.URL(), sampleFrom, nil).Send(ctx, sampleMessage())
	require.ErrorIs(t, err, context.Canceled)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.False(t, e.Permanent)
	require.Zero(t, srv.Attempts())
}

func TestNewSendGridDefaults(t *testing.T) {
	t.Parallel()
	sg := NewSendGrid(testAPIKey, "", sampleFrom, nil)
	require.Equal(t, DefaultAPIURL, sg.host)
	require.NotZero(t, sg.client.HTTPClient.Timeout, "a hung connection must not block the activity forever")

	custom := &http.Client{}
	require.Same(t, custom, NewSendGrid(testAPIKey, "https://api.eu.sendgrid.com/", sampleFrom, custom).client.HTTPClient)
}
