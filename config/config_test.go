package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", c.TemporalAddress)
	require.Equal(t, "default", c.TemporalNamespace)
	require.Equal(t, "coursehook", c.TaskQueue)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, ".data/coursehook.db", c.DatabaseURL)
	require.Equal(t, ".data/outbox", c.OutboxDir)
	require.Equal(t, "https://slack.com/api/", c.SlackAPIURL)
	require.Equal(t, "https://api.sendgrid.com", c.SendGridAPIURL)
	require.Equal(t, int64(1<<20), c.MaxBodyBytes)
	require.Equal(t, 5*time.Second, c.StartTimeout)
	require.Equal(t, 24*time.Hour, c.NoticeDeadline)
	require.True(t, c.SlackOutbox())
	require.True(t, c.EmailOutbox())
}

func TestRealChannels(t *testing.T) {
	c, err := Load(env(map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL": "#done",
		"SENDGRID_API_KEY": "SG.x", "EMAIL_FROM": "certs@example.org",
		"DATABASE_URL": "postgres://app@db:5432/coursehook?sslmode=disable",
	}))
	require.NoError(t, err)
	require.False(t, c.SlackOutbox())
	require.False(t, c.EmailOutbox())
	require.Equal(t, "certs@example.org", c.EmailFrom)
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"TEMPORAL_ADDRESS":       {"TEMPORAL_ADDRESS": "localhost"},
		"HTTP_ADDR":              {"HTTP_ADDR": ":99999"},
		"SLACK_API_URL":          {"SLACK_API_URL": "ftp://slack"},
		"SENDGRID_API_URL":       {"SENDGRID_API_URL": "not a url"},
		"EMAIL_FROM":             {"EMAIL_FROM": "Certs <certs@example.org>"},
		"SLACK_CHANNEL":          {"SLACK_BOT_TOKEN": "xoxb-1"},
		"DATABASE_URL":           {"DATABASE_URL": "mysql://db/x"},
		"WEBHOOK_MAX_BODY_BYTES": {"WEBHOOK_MAX_BODY_BYTES": "-1"},
		"TEMPORAL_START_TIMEOUT": {"TEMPORAL_START_TIMEOUT": "5"},
		"NOTICE_DEADLINE":        {"NOTICE_DEADLINE": "forever"},
		"LOG_LEVEL":              {"LOG_LEVEL": "loud"},
		"EMAIL_FROM_NAME":        {"EMAIL_FROM_NAME": "a\nBcc: x@y"},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(vars))
			require.ErrorContains(t, err, name)
		})
	}
	// A missing sender only matters once SendGrid is really used.
	_, err := Load(env(map[string]string{"SENDGRID_API_KEY": "SG.x"}))
	require.ErrorContains(t, err, "EMAIL_FROM")
}

func TestDatabaseURLPasswordStaysOutOfErrors(t *testing.T) {
	_, err := Load(env(map[string]string{"DATABASE_URL": "mysql://user:s3cret@db/x"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}
