package config

import (
	"errors"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/codec"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// loadBoth loads as both binaries, for tests of variables either one reads:
// it fails if either does, and returns the worker's settings over the
// starter's.
func loadBoth(getenv func(string) string) (Config, error) {
	s, serr := Load(getenv, Starter)
	w, werr := Load(getenv, Worker)
	if err := errors.Join(serr, werr); err != nil {
		return Config{}, err
	}
	s.DatabaseURL, s.OutboxDir = w.DatabaseURL, w.OutboxDir
	s.SlackBotToken, s.SlackChannel, s.SlackAPIURL, s.SlackPerSecond = w.SlackBotToken, w.SlackChannel, w.SlackAPIURL, w.SlackPerSecond
	s.SendGridAPIKey, s.SendGridAPIURL, s.EmailFrom, s.EmailFromName = w.SendGridAPIKey, w.SendGridAPIURL, w.EmailFrom, w.EmailFromName
	s.CoursesFile, s.DigestThreshold, s.DigestWindow, s.EmailsPerSecond = w.CoursesFile, w.DigestThreshold, w.DigestWindow, w.EmailsPerSecond
	s.DigestOff = w.DigestOff
	return s, nil
}

func TestDefaults(t *testing.T) {
	c, err := loadBoth(env(nil))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", c.TemporalAddress)
	require.Equal(t, "default", c.TemporalNamespace)
	require.Equal(t, "coursehook", c.TaskQueue)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, ".data/coursehook.db", c.DatabaseURL)
	require.Equal(t, ".data/outbox", c.OutboxDir)
	require.Equal(t, "https://slack.com/api/", c.SlackAPIURL)
	require.Equal(t, "https://api.sendgrid.com", c.SendGridAPIURL)
	require.Equal(t, int64(64<<10), c.MaxBodyBytes)
	require.Equal(t, ".data/dead-letter", c.DeadLetterDir)
	require.Equal(t, 5*time.Second, c.StartTimeout)
	require.Equal(t, 24*time.Hour, c.NoticeDeadline)
	require.True(t, c.SlackOutbox())
	require.True(t, c.EmailOutbox())
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("54.243.7.71/32"), netip.MustParsePrefix("3.83.213.76/32")},
		c.AllowedSources, "only the platform's two addresses")
	require.False(t, c.AllowAllSources)
	require.Empty(t, c.TrustedProxies, "no proxy is trusted unless listed")
	require.Empty(t, c.WebhookSecret)
	require.Empty(t, c.WebhookSecretPrevious)
	require.Empty(t, c.CoursesFile)
	require.Equal(t, 5, c.DigestThreshold)
	require.Equal(t, time.Minute, c.DigestWindow)
	require.False(t, c.DigestOff, "the cohort digest is on")
	require.Equal(t, 10.0, c.EmailsPerSecond)
	require.Zero(t, c.CertificateRenderer, "the newest renderer")
}

func TestWorkflowCacheSize(t *testing.T) {
	c, err := Load(env(nil), Worker)
	require.NoError(t, err)
	require.Equal(t, DefaultWorkflowCacheSize, c.WorkflowCacheSize)
	c, err = Load(env(map[string]string{"WORKER_WORKFLOW_CACHE_SIZE": " 10000 "}), Worker)
	require.NoError(t, err)
	require.Equal(t, 10000, c.WorkflowCacheSize, "the SDK's own default, for a worker with memory to spare")
	for _, b := range []Binary{Starter, Ctl} {
		c, err := Load(env(map[string]string{"WORKER_WORKFLOW_CACHE_SIZE": "lots"}), b)
		require.NoError(t, err, "only the worker process runs Temporal workers")
		require.Zero(t, c.WorkflowCacheSize)
	}
}

func TestCertificateRendererCanBePinned(t *testing.T) {
	c, err := Load(env(map[string]string{"CERTIFICATE_RENDERER": "1"}), Worker)
	require.NoError(t, err)
	require.Equal(t, 1, c.CertificateRenderer)
}

func TestDigestCanBeTurnedOff(t *testing.T) {
	c, err := Load(env(map[string]string{"SLACK_DIGEST_ENABLED": "false"}), Worker)
	require.NoError(t, err)
	require.True(t, c.DigestOff)
}

func TestRealChannels(t *testing.T) {
	c, err := loadBoth(env(map[string]string{
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
		"TEMPORAL_ADDRESS":               {"TEMPORAL_ADDRESS": "localhost"},
		"HTTP_ADDR":                      {"HTTP_ADDR": ":99999"},
		"SLACK_API_URL":                  {"SLACK_API_URL": "ftp://slack"},
		"SENDGRID_API_URL":               {"SENDGRID_API_URL": "not a url"},
		"EMAIL_FROM":                     {"EMAIL_FROM": "Certs <certs@example.org>"},
		"SLACK_CHANNEL":                  {"SLACK_BOT_TOKEN": "xoxb-1"},
		"DATABASE_URL":                   {"DATABASE_URL": "mysql://db/x"},
		"WEBHOOK_MAX_BODY_BYTES":         {"WEBHOOK_MAX_BODY_BYTES": "-1"},
		"WEBHOOK_MAX_BODY_BYTES ":        {"WEBHOOK_MAX_BODY_BYTES": "2000000"},
		"TEMPORAL_START_TIMEOUT":         {"TEMPORAL_START_TIMEOUT": "5"},
		"NOTICE_DEADLINE":                {"NOTICE_DEADLINE": "forever"},
		"LOG_LEVEL":                      {"LOG_LEVEL": "loud"},
		"EMAIL_FROM_NAME":                {"EMAIL_FROM_NAME": "a\nBcc: x@y"},
		"ALLOWED_SOURCE_IPS":             {"ALLOWED_SOURCE_IPS": "54.243.7.71,10.0.0.0/33"},
		"TRUSTED_PROXIES":                {"TRUSTED_PROXIES": "proxy.internal"},
		"WEBHOOK_SECRET":                 {"WEBHOOK_SECRET": "short"},
		"WEBHOOK_SECRET_PREVIOUS":        {"WEBHOOK_SECRET_PREVIOUS": "old-secret-0123456789"},
		"SLACK_DIGEST_THRESHOLD":         {"SLACK_DIGEST_THRESHOLD": "-1"},
		"SLACK_DIGEST_WINDOW":            {"SLACK_DIGEST_WINDOW": "48h"},
		"SLACK_DIGEST_WINDOW ":           {"SLACK_DIGEST_WINDOW": "60"},
		"SLACK_DIGEST_ENABLED":           {"SLACK_DIGEST_ENABLED": "sometimes"},
		"SENDGRID_EMAILS_PER_SECOND":     {"SENDGRID_EMAILS_PER_SECOND": "0"},
		"SENDGRID_EVENTS_WAIT":           {"SENDGRID_EVENTS_WAIT": "1m"},
		"SENDGRID_TRACK_ENGAGEMENT":      {"SENDGRID_TRACK_ENGAGEMENT": "maybe"},
		"SENDGRID_EVENTS_MAX_BODY_BYTES": {"SENDGRID_EVENTS_MAX_BODY_BYTES": "0"},
		"CERTIFICATE_RENDERER":           {"CERTIFICATE_RENDERER": "3"},
		"CERTIFICATE_RENDERER ":          {"CERTIFICATE_RENDERER": "0"},
		"WORKER_WORKFLOW_CACHE_SIZE":     {"WORKER_WORKFLOW_CACHE_SIZE": "0"},
		"WORKER_WORKFLOW_CACHE_SIZE ":    {"WORKER_WORKFLOW_CACHE_SIZE": "-100"},
		"WORKER_WORKFLOW_CACHE_SIZE  ":   {"WORKER_WORKFLOW_CACHE_SIZE": "1k"},
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadBoth(env(vars))
			require.ErrorContains(t, err, strings.TrimSpace(name))
		})
	}
	// A missing sender only matters once SendGrid is really used.
	_, err := loadBoth(env(map[string]string{"SENDGRID_API_KEY": "SG.x"}))
	require.ErrorContains(t, err, "EMAIL_FROM")
}

func TestDatabaseURLPasswordStaysOutOfErrors(t *testing.T) {
	_, err := loadBoth(env(map[string]string{"DATABASE_URL": "mysql://user:s3cret@db/x"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}

func TestAllowedSources(t *testing.T) {
	c, err := loadBoth(env(map[string]string{
		"ALLOWED_SOURCE_IPS": " 54.243.7.71 , 10.1.2.3/16,2001:db8::/32, ::1, ::ffff:192.0.2.7",
		"TRUSTED_PROXIES":    "10.0.0.0/8,fd00::1",
	}))
	require.NoError(t, err)
	require.False(t, c.AllowAllSources)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("54.243.7.71/32"),
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.0.2.7/32"),
	}, c.AllowedSources)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::1/128")}, c.TrustedProxies)
}

func TestAllowingEverySourceMustBeSpelledOut(t *testing.T) {
	c, err := loadBoth(env(map[string]string{"ALLOWED_SOURCE_IPS": "*"}))
	require.NoError(t, err)
	require.True(t, c.AllowAllSources)
	require.Nil(t, c.AllowedSources)

	c, err = loadBoth(env(map[string]string{"ALLOWED_SOURCE_IPS": "  "}))
	require.NoError(t, err)
	require.False(t, c.AllowAllSources, "blank means the default, not everyone")
	require.Len(t, c.AllowedSources, 2)

	for _, v := range []string{"0.0.0.0/0", "::/0", "*,54.243.7.71", "54.243.7.71,", "fe80::1%eth0", "54.243.7.71 3.83.213.76"} {
		_, err := loadBoth(env(map[string]string{"ALLOWED_SOURCE_IPS": v}))
		require.ErrorContains(t, err, "ALLOWED_SOURCE_IPS", v)
	}
	for _, v := range []string{"*", "0.0.0.0/0", "::/0"} {
		_, err := loadBoth(env(map[string]string{"TRUSTED_PROXIES": v}))
		require.ErrorContains(t, err, "TRUSTED_PROXIES", v)
	}
}

func TestWebhookSecrets(t *testing.T) {
	c, err := loadBoth(env(map[string]string{
		"WEBHOOK_SECRET":          "new-secret_0123456789",
		"WEBHOOK_SECRET_PREVIOUS": "old.secret~0123456789",
	}))
	require.NoError(t, err)
	require.Equal(t, "new-secret_0123456789", c.WebhookSecret)
	require.Equal(t, "old.secret~0123456789", c.WebhookSecretPrevious)

	for name, vars := range map[string]map[string]string{
		"too short":          {"WEBHOOK_SECRET": "s3cr3t"},
		"not URL-safe":       {"WEBHOOK_SECRET": "s3cr3t/with?slash#0123"},
		"trailing space":     {"WEBHOOK_SECRET": "s3cr3t0123456789abc "},
		"same as the new":    {"WEBHOOK_SECRET": "s3cr3t0123456789abc", "WEBHOOK_SECRET_PREVIOUS": "s3cr3t0123456789abc"},
		"previous bad chars": {"WEBHOOK_SECRET": "s3cr3t0123456789abc", "WEBHOOK_SECRET_PREVIOUS": "s3cr3t%0123456789abd"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadBoth(env(vars))
			require.ErrorContains(t, err, "WEBHOOK_SECRET")
			require.NotContains(t, err.Error(), "s3cr3t", "a secret never appears in an error")
		})
	}
}

func TestEncryptionKeys(t *testing.T) {
	spec, err := codec.GenerateSpec("k1")
	require.NoError(t, err)
	c, err := loadBoth(env(map[string]string{"ENCRYPTION_KEYS": spec, "ENCRYPTION_KEY_ID": "k1"}))
	require.NoError(t, err)
	require.NotNil(t, c.Encryption)
	require.Equal(t, "k1", c.Encryption.ActiveID())
	require.Equal(t, DefaultCodecAddr, c.CodecAddr)
	require.Equal(t, DefaultCodecOrigin, c.CodecOrigin)

	c, err = loadBoth(env(nil))
	require.NoError(t, err)
	require.Nil(t, c.Encryption, "no keys, no encryption")

	_, err = loadBoth(env(map[string]string{"ENCRYPTION_KEYS": spec, "ENCRYPTION_KEY_ID": "k2"}))
	require.ErrorContains(t, err, "ENCRYPTION_KEY_ID")
	require.NotContains(t, err.Error(), spec[3:], "no key material in errors")
	_, err = loadBoth(env(map[string]string{"ENCRYPTION_KEY_ID": "k1"}))
	require.ErrorContains(t, err, "ENCRYPTION_KEYS")
	_, err = loadBoth(env(map[string]string{"CODEC_ADDR": "nowhere"}))
	require.ErrorContains(t, err, "CODEC_ADDR")
}

// TestEachBinaryReadsOnlyItsOwn: a variable only one binary uses never stops
// the other from starting, and neither reads the other's.
func TestEachBinaryReadsOnlyItsOwn(t *testing.T) {
	_, err := Load(env(map[string]string{"NOTICE_DEADLINE": "forever", "WEBHOOK_SECRET": "short", "HTTP_ADDR": "x"}), Worker)
	require.NoError(t, err, "the worker does not read webhook settings")
	_, err = Load(env(map[string]string{"DATABASE_URL": "mysql://db/x", "SLACK_BOT_TOKEN": "xoxb-1", "EMAIL_FROM": "no"}), Starter)
	require.NoError(t, err, "the webhook server does not read the database or the channels")

	read := func(b Binary) []string {
		seen := map[string]bool{}
		_, err := Load(func(k string) string { seen[k] = true; return "" }, b)
		require.NoError(t, err)
		return slices.Sorted(maps.Keys(seen))
	}
	worker, starter := read(Worker), read(Starter)
	require.Contains(t, worker, "DATABASE_URL")
	require.NotContains(t, worker, "NOTICE_DEADLINE")
	require.NotContains(t, worker, "WEBHOOK_SECRET")
	require.Contains(t, starter, "NOTICE_DEADLINE")
	require.Contains(t, starter, "DEAD_LETTER_DIR")
	require.NotContains(t, starter, "DATABASE_URL")
	require.NotContains(t, starter, "SENDGRID_API_KEY")
	for _, shared := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "LOG_LEVEL", "ENCRYPTION_KEYS"} {
		require.Contains(t, worker, shared)
		require.Contains(t, starter, shared)
	}
}

// TestConfigStaysLight: both binaries import config, so it must not drag
// in the database drivers, the providers' clients or the PDF library.
func TestConfigStaysLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, heavy := range []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/slack-go/slack", "github.com/sendgrid/", "codeberg.org/go-pdf/fpdf"} {
		require.NotContains(t, string(out), heavy)
	}
}

func TestLearnerHashKeySources(t *testing.T) {
	c, err := Load(env(nil), Starter)
	require.NoError(t, err)
	require.True(t, c.LearnerHashKeyDefault, "no key, no file: the development key")
	require.Equal(t, []byte(DevelopmentLearnerHashKey), c.LearnerHashKey)

	file := filepath.Join(t.TempDir(), "learner-hash.key")
	require.NoError(t, os.WriteFile(file, []byte("from-the-file-0123456789\n"), 0o600))
	c, err = Load(env(map[string]string{"LEARNER_HASH_KEY_FILE": file}), Ctl)
	require.NoError(t, err)
	require.False(t, c.LearnerHashKeyDefault)
	require.Equal(t, []byte("from-the-file-0123456789"), c.LearnerHashKey)

	c, err = Load(env(map[string]string{"LEARNER_HASH_KEY_FILE": file, "LEARNER_HASH_KEY": "from-the-variable-012345"}), Starter)
	require.NoError(t, err)
	require.Equal(t, []byte("from-the-variable-012345"), c.LearnerHashKey, "the variable wins")

	_, err = Load(env(map[string]string{"LEARNER_HASH_KEY": "short"}), Starter)
	require.ErrorContains(t, err, "LEARNER_HASH_KEY")
	_, err = Load(env(map[string]string{"LEARNER_HASH_KEY_FILE": filepath.Join(t.TempDir(), "missing")}), Starter)
	require.ErrorContains(t, err, "LEARNER_HASH_KEY_FILE")
}

func TestTheWebhookServerReadsTheDatabaseOnlyForTheExport(t *testing.T) {
	c, err := Load(env(map[string]string{"DATABASE_URL": "mysql://db/x"}), Starter)
	require.NoError(t, err)
	require.Empty(t, c.APIToken)
	require.Empty(t, c.DatabaseURL, "no export, no database")
	require.Equal(t, DefaultAdminAddr, c.AdminAddr)

	_, err = Load(env(map[string]string{"DATABASE_URL": "mysql://db/x", "API_TOKEN": "export-token-0123456789"}), Starter)
	require.ErrorContains(t, err, "DATABASE_URL")
	c, err = Load(env(map[string]string{"API_TOKEN": "export-token-0123456789"}), Starter)
	require.NoError(t, err)
	require.Equal(t, DefaultDatabaseURL, c.DatabaseURL)
	_, err = Load(env(map[string]string{"API_TOKEN": "short"}), Starter)
	require.ErrorContains(t, err, "API_TOKEN")
	require.NotContains(t, err.Error(), "short")
}

// TestDeliveryEvents: the webhook server reads SendGrid's key (and then the
// database), the worker how long a retried email waits for its events.
func TestDeliveryEvents(t *testing.T) {
	c, err := Load(env(map[string]string{"SENDGRID_WEBHOOK_PUBLIC_KEY": " MFkw... \n"}), Starter)
	require.NoError(t, err)
	require.Equal(t, "MFkw...", c.SendGridWebhookPublicKey)
	require.Equal(t, DefaultDatabaseURL, c.DatabaseURL, "the events are stored")
	require.False(t, c.SendGridTrackEngagement)
	require.Equal(t, int64(DefaultSendGridEventsMaxBodyBytes), c.SendGridEventsMaxBodyBytes)

	w, err := Load(env(nil), Worker)
	require.NoError(t, err)
	require.Equal(t, DefaultSendGridEventsWait, w.SendGridEventsWait)
	w, err = Load(env(map[string]string{"SENDGRID_EVENTS_WAIT": "0"}), Worker)
	require.NoError(t, err)
	require.Zero(t, w.SendGridEventsWait, "look once, do not wait")
}

func TestCertificateVerification(t *testing.T) {
	c, err := loadBoth(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.PublicBaseURL, "off unless PUBLIC_BASE_URL is set")

	key := strings.Repeat("k", MinCertificateSigningKeyLength)
	c, err = Load(env(map[string]string{"PUBLIC_BASE_URL": "https://certs.example.com/", "CERTIFICATE_SIGNING_KEY": key,
		"CERTIFICATE_SIGNING_KEY_PREVIOUS": " old-" + key + " ,", "DATABASE_URL": "postgres://db/x"}), Starter)
	require.NoError(t, err)
	require.Equal(t, "https://certs.example.com", c.PublicBaseURL)
	require.Equal(t, []byte(key), c.CertificateSigningKey)
	require.Equal(t, [][]byte{[]byte("old-" + key)}, c.CertificateSigningKeyPrevious)
	require.Equal(t, DefaultCertificateIssuer, c.CertificateIssuer)
	require.Equal(t, DefaultVerifyPerMinute, c.VerifyPerMinute)
	require.Equal(t, "postgres://db/x", c.DatabaseURL, "the pages read the database")

	file := filepath.Join(t.TempDir(), "signing.key")
	require.NoError(t, os.WriteFile(file, []byte(key+"\n"), 0o600))
	c, err = Load(env(map[string]string{"PUBLIC_BASE_URL": "http://localhost:8080", "CERTIFICATE_SIGNING_KEY_FILE": file}), Worker)
	require.NoError(t, err)
	require.Equal(t, []byte(key), c.CertificateSigningKey)

	for name, vars := range map[string]map[string]string{
		"CERTIFICATE_SIGNING_KEY":          {"PUBLIC_BASE_URL": "http://localhost:8080"},
		"CERTIFICATE_SIGNING_KEY ":         {"PUBLIC_BASE_URL": "http://localhost:8080", "CERTIFICATE_SIGNING_KEY": "short"},
		"CERTIFICATE_SIGNING_KEY_FILE":     {"PUBLIC_BASE_URL": "http://localhost:8080", "CERTIFICATE_SIGNING_KEY_FILE": "/nonexistent"},
		"PUBLIC_BASE_URL":                  {"PUBLIC_BASE_URL": "localhost:8080", "CERTIFICATE_SIGNING_KEY": key},
		"CERTIFICATE_SIGNING_KEY_PREVIOUS": {"PUBLIC_BASE_URL": "http://localhost:8080", "CERTIFICATE_SIGNING_KEY": key, "CERTIFICATE_SIGNING_KEY_PREVIOUS": "short"},
		"VERIFY_REQUESTS_PER_MINUTE":       {"PUBLIC_BASE_URL": "http://localhost:8080", "CERTIFICATE_SIGNING_KEY": key, "VERIFY_REQUESTS_PER_MINUTE": "0"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadBoth(env(vars))
			require.ErrorContains(t, err, strings.TrimSpace(name))
		})
	}
}
