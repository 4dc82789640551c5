package sendgridtest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/internal/standin"
)

// send posts validBody with client and the request's context.
func send(ctx context.Context, client *http.Client, s *Server, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+SendPath, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer SG.key")
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

func TestResponseDelay(t *testing.T) {
	t.Parallel()
	t.Run("recorded before answering", func(t *testing.T) {
		t.Parallel()
		s := NewServer(t)
		s.SetResponseDelay(time.Hour)
		_, err := send(t.Context(), &http.Client{Timeout: 100 * time.Millisecond}, s, validBody)
		var urlErr *url.Error
		require.ErrorAs(t, err, &urlErr)
		require.True(t, urlErr.Timeout(), "want a client timeout, got %v", err)
		require.Len(t, s.Messages(), 1, "SendGrid has the mail though the client never heard")
	})
	t.Run("answers after the delay", func(t *testing.T) {
		t.Parallel()
		s := NewServer(t)
		const delay = 200 * time.Millisecond
		s.SetResponseDelay(delay)
		start := time.Now()
		resp, err := send(t.Context(), testHTTP, s, validBody)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		require.GreaterOrEqual(t, time.Since(start), delay)
		require.Equal(t, s.Messages()[0].MessageID, resp.Header.Get("X-Message-Id"))
	})
	standin.CheckDelayEndsEarly[Sent](t, NewServer, func(ctx context.Context, s *Server) error {
		resp, err := send(ctx, testHTTP, s, validBody)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	t.Run("failures are not delayed", func(t *testing.T) {
		t.Parallel()
		s := NewServer(t)
		s.SetResponseDelay(time.Hour)
		s.FailNext(1, Failure{Status: http.StatusServiceUnavailable})
		r := post(t, s.URL(), "Bearer k", "application/json", validBody)
		require.Equal(t, http.StatusServiceUnavailable, r.status)
		require.Empty(t, s.Messages())
	})
}

func TestMessagesFor(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	bodies := []string{
		validBody, // evt-1 in the personalization
		`{"from":{"email":"a@example.com"},"subject":"s","content":[{"type":"text/plain","value":"x"}],
		  "personalizations":[{"to":[{"email":"b@example.com"}]}],"custom_args":{"event_id":"evt-2"}}`,
		`{"from":{"email":"a@example.com"},"subject":"s","content":[{"type":"text/plain","value":"x"}],
		  "personalizations":[{"to":[{"email":"b@example.com"}],"custom_args":{"event_id":"evt-3"}}],"custom_args":{"event_id":"evt-2"}}`,
		`{"from":{"email":"a@example.com"},"subject":"s","content":[{"type":"text/plain","value":"x"}],
		  "personalizations":[{"to":[{"email":"b@example.com"}]}]}`,
		validBody,
	}
	for _, b := range bodies {
		require.Equal(t, http.StatusAccepted, post(t, s.URL(), "Bearer k", "application/json", b).status)
	}
	msgs := s.Messages()

	require.Equal(t, []Sent{msgs[0], msgs[4]}, s.MessagesFor("evt-1"))
	require.Equal(t, []Sent{msgs[1]}, s.MessagesFor("evt-2"), "a personalization's event_id overrides the top-level one")
	require.Equal(t, []Sent{msgs[2]}, s.MessagesFor("evt-3"))
	require.Empty(t, s.MessagesFor("evt-4"))
	require.Empty(t, s.MessagesFor(""))
}
