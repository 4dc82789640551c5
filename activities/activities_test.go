package activities

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/certmail"
	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/workflows"
)

func TestProviderFailures(t *testing.T) {
	cases := []struct {
		name         string
		err          error
		wantType     string
		nonRetryable bool
		nextDelay    time.Duration
		message      string
	}{
		{"slack permanent", &slacknotify.Error{Code: "invalid_auth", Permanent: true}, workflows.ErrSlackPermanent, true, 0, "slack: invalid_auth"},
		{"slack rate limited", &slacknotify.Error{Code: "rate_limited", RetryAfter: 2 * time.Second}, workflows.ErrSlackRetryable, false, 2 * time.Second, "slack: rate_limited"},
		{"slack 5xx", fmt.Errorf("post: %w", &slacknotify.Error{Code: "http_503"}), workflows.ErrSlackRetryable, false, 0, "slack: http_503"},
		{"sendgrid 400", &mail.Error{StatusCode: 400, Message: "The from address does not match a verified Sender Identity.", Permanent: true},
			workflows.ErrEmailPermanent, true, 0, "sendgrid 400: The from address does not match a verified Sender Identity."},
		{"sendgrid 429", &mail.Error{StatusCode: 429, Message: "too many requests", RetryAfter: 3 * time.Second},
			workflows.ErrEmailRetryable, false, 3 * time.Second, "sendgrid 429: too many requests"},
		{"sendgrid network", &mail.Error{Message: "connection refused"}, workflows.ErrEmailRetryable, false, 0, "sendgrid: connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got error
			if errors.As(c.err, new(*slacknotify.Error)) {
				got = failure(channel.Spec{Name: "slack"}, "evt", slacknotify.Failure(c.err))
			} else {
				got = failure(channel.Spec{Name: "email"}, "evt", certmail.Failure(c.err))
			}
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, got, &appErr)
			require.Equal(t, c.wantType, appErr.Type())
			require.Equal(t, c.nonRetryable, appErr.NonRetryable())
			require.Equal(t, c.nextDelay, appErr.NextRetryDelay())
			require.Equal(t, c.message, appErr.Message())
		})
	}
}

func TestUnclassifiedErrorsStayRetryable(t *testing.T) {
	err := failure(channel.Spec{Name: "webhook"}, "evt", errors.New("boom"))
	var appErr *temporal.ApplicationError
	require.False(t, errors.As(err, &appErr), "a plain error is retried by the policy")
	require.ErrorContains(t, err, "evt")
}

// TestEveryActivityIsRegisteredByItsContractName: the workflows schedule
// activities by name, so each name must be a method of Activities.
func TestEveryActivityIsRegisteredByItsContractName(t *testing.T) {
	typ := reflect.TypeOf(&Activities{})
	for _, name := range workflows.ActivityNames() {
		_, ok := typ.MethodByName(name)
		require.True(t, ok, "workflows schedule %s, which Activities does not have", name)
	}
}

func TestResendCommandQuotesTheEventID(t *testing.T) {
	require.Equal(t, `coursehookctl resend --event 32ed16df-27cb-5f72-90ff-4eaf39346f86 --what email --to NEW@ADDRESS --reason "corrected address"`,
		ResendCommand("32ed16df-27cb-5f72-90ff-4eaf39346f86"))
	require.Equal(t, `coursehookctl resend --event 'a $(rm -rf ~) it'\''s' --what email --to NEW@ADDRESS --reason "corrected address"`,
		ResendCommand("a $(rm -rf ~) it's"))
}
