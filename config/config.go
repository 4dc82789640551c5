// Package config reads coursehook's settings from the environment, once, and
// refuses a bad value with a message that names the variable.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/coursehook/coursehook/codec"
)

// Config is every setting of the worker and the webhook server; Load fills
// the ones of the binary that asks. A variable Load reads needs its row in
// Settings (settings.go), from which docs/configuration.md is generated;
// TestEveryVariableIsDocumented fails until it has one.
type Config struct {
	// Temporal is the whole connection: the temporal.toml profile
	// TEMPORAL_PROFILE names, under the TEMPORAL_* variables (address,
	// namespace, API key, TLS and client certificate), checked.
	// TemporalAddress and TemporalNamespace are its Address and Namespace.
	Temporal          envconfig.ClientConfigProfile
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	HTTPAddr          string
	DatabaseURL       string
	SlackBotToken     string
	SlackChannel      string
	SlackAPIURL       string
	SlackPerSecond    float64
	// CoursesFile is the per-course routing (COURSES_FILE); empty means
	// every course gets the variables below.
	CoursesFile string
	// DigestThreshold and DigestWindow: past DigestThreshold completions of
	// a course within DigestWindow, Slack gets one digest per window.
	DigestThreshold int
	DigestWindow    time.Duration
	// DigestOff (SLACK_DIGEST_ENABLED=false) posts every completion's
	// notice at once, without asking the course's digest: one workflow
	// round trip less per event, and no folding of cohorts.
	DigestOff       bool
	EmailsPerSecond float64
	// CertificateRenderer (CERTIFICATE_RENDERER) is the renderer version
	// recorded with new completions, 0 for the current one; each row keeps
	// its own. 1 pins new certificates to the renderer of releases before
	// versions, while such workers still run beside newer ones.
	CertificateRenderer int
	// WebhookOutPerSecond caps the onward webhooks to each destination
	// host, per worker; WebhookOutAllowPrivate lets them reach private,
	// loopback and link-local addresses (a local receiver).
	WebhookOutPerSecond    float64
	WebhookOutAllowPrivate bool
	SendGridAPIKey         string
	SendGridAPIURL         string
	EmailFrom              string
	EmailFromName          string
	OutboxDir              string
	MaxBodyBytes           int64
	StartTimeout           time.Duration
	NoticeDeadline         time.Duration
	ShutdownTimeout        time.Duration
	LogLevel               string
	// AllowedSources are the addresses that may post webhooks. It is nil
	// exactly when AllowAllSources is set.
	AllowedSources []netip.Prefix
	// AllowAllSources is ALLOWED_SOURCE_IPS spelled "*": no source check.
	AllowAllSources bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// WebhookSecret, when set, is the token the platform's URL must carry;
	// WebhookSecretPrevious is accepted too while the URL is being rotated.
	WebhookSecret         string
	WebhookSecretPrevious string
	// Encryption holds the payload keys; nil when ENCRYPTION_KEYS is unset
	// and payloads reach Temporal in plaintext.
	Encryption *codec.Keys
	// CodecAddr is where the starter serves the codec endpoint for the
	// Temporal UI and CLI; it only runs when Encryption is set.
	CodecAddr string
	// CodecOrigin is the Temporal UI's origin, the only one the codec
	// endpoint answers from a browser.
	CodecOrigin string
	// CodecToken, when set, is the bearer token the codec endpoint requires.
	CodecToken string
	// DeadLetterDir is where the webhook server keeps the raw body of an
	// event Temporal refused for good, and the worker that of an event the
	// database refused for good, for an operator to replay.
	DeadLetterDir string
	// LearnerHashKey keys the learner hash of logs and of the LearnerHash
	// search attribute. LearnerHashKeyDefault says it is the development
	// default, because LEARNER_HASH_KEY is unset.
	LearnerHashKey        []byte
	LearnerHashKeyDefault bool
	// PublicBaseURL is where the public can reach the webhook server
	// (PUBLIC_BASE_URL), such as https://certificates.example.com; empty
	// turns certificate verification off. With it, CertificateSigningKey
	// derives each certificate's code and signs its credential, and
	// CertificateSigningKeyPrevious are earlier keys whose credentials
	// still verify.
	PublicBaseURL                 string
	CertificateSigningKey         []byte
	CertificateSigningKeyPrevious [][]byte
	// CertificateIssuer names the issuer of a certificate whose course
	// names none (COURSES_FILE), on the verification page and credential.
	CertificateIssuer string
	// VerifyPerMinute is how many verification lookups a source address
	// may make a minute.
	VerifyPerMinute int
	// AdminAddr is the webhook server's private listener, for the
	// completions export; APIToken is the bearer token the export requires,
	// and without it the export (and the store) stay off.
	AdminAddr string
	APIToken  string
	// SendGridWebhookPublicKey turns the SendGrid Event Webhook on
	// (POST /webhooks/sendgrid): the base64 key of SendGrid's "Signed Event
	// Webhook" settings, which every batch's signature is checked with.
	SendGridWebhookPublicKey string
	// SendGridTrackEngagement counts opens and clicks; off by default,
	// since they are personal data.
	SendGridTrackEngagement bool
	// SendGridEventsMaxBodyBytes caps one batch of delivery events.
	SendGridEventsMaxBodyBytes int64
	// SendGridEventsWait is how long a retried certificate email waits for
	// SendGrid's report of an earlier attempt's send (worker).
	SendGridEventsWait time.Duration
	// MetricsAddr is where the worker serves /metrics.
	MetricsAddr string
	// WorkflowCacheSize (WORKER_WORKFLOW_CACHE_SIZE) bounds the SDK's
	// sticky cache of running workflows in the worker process; a workflow
	// evicted from it replays its history on its next task.
	WorkflowCacheSize int
	// RegisterSearchAttributes lets a binary register coursehook's search
	// attributes when the namespace lacks them; without it, a missing one
	// stops the binary with the command to run.
	RegisterSearchAttributes bool
}

// Defaults for the settings that have one.
const (
	DefaultTemporalAddress = "127.0.0.1:7233"
	DefaultNamespace       = "default"
	DefaultHTTPAddr        = ":8080"
	DefaultDatabaseURL     = ".data/coursehook.db"
	DefaultSlackAPIURL     = "https://slack.com/api/"
	DefaultSendGridAPIURL  = "https://api.sendgrid.com"
	DefaultOutboxDir       = ".data/outbox"
	DefaultEmailFromName   = "Course Certificates"
	// DefaultMaxBodyBytes is 64 KiB: the platform's events are about 1 KB,
	// and the body travels in the workflow input and the record step's input,
	// base64-encoded (4/3 of its size), each far below Temporal's 512 KB
	// payload warning and 2 MB limit.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultSendGridEventsMaxBodyBytes is 8 MiB: SendGrid posts a batch
	// every 30 seconds or once it reaches 768 KB, per sending server, so a
	// real batch stays an order of magnitude below it.
	DefaultSendGridEventsMaxBodyBytes = 8 << 20
	// DefaultSendGridEventsWait and MaxSendGridEventsWait bound the wait
	// of a retried email for SendGrid's events: an email attempt has 30 s,
	// and rendering and sending need the rest.
	DefaultSendGridEventsWait = 20 * time.Second
	MaxSendGridEventsWait     = 20 * time.Second
	// MaxMaxBodyBytes is the largest WEBHOOK_MAX_BODY_BYTES accepted: 1 MiB
	// encodes to 1.4 MB, still under the 2 MB limit with room for the
	// event's other fields and the encryption envelope.
	MaxMaxBodyBytes = 1 << 20
	// DefaultStartTimeout bounds starting a workflow, well inside the
	// platform's 15 s wait, so a Temporal outage is answered 503 in time.
	DefaultStartTimeout = 5 * time.Second
	// DefaultAllowedSources are the two addresses the learning platform
	// posts its webhooks from.
	DefaultAllowedSources = "54.243.7.71,3.83.213.76"
	// AllSources, as ALLOWED_SOURCE_IPS, turns the source check off. It must
	// be written out: no empty or catch-all value means the same.
	AllSources = "*"
	// MinSecretLength keeps a webhook secret out of reach of guessing.
	MinSecretLength = 16
	// DefaultOutboxFrom stands in as the sender in outbox mode, where no
	// email leaves the machine.
	DefaultOutboxFrom = "certificates@coursehook.invalid"
	// DefaultCodecAddr keeps the codec endpoint on loopback: whoever reaches
	// it can decrypt.
	DefaultCodecAddr   = "127.0.0.1:8081"
	DefaultCodecOrigin = "http://localhost:8233"
	// DefaultMetricsAddr keeps the worker's /metrics on loopback.
	DefaultMetricsAddr = "127.0.0.1:9091"
	// DefaultAdminAddr keeps the export on loopback.
	DefaultAdminAddr = "127.0.0.1:8082"
	// DefaultDeadLetterDir keeps the bodies of events Temporal refused for a
	// reason a retry cannot fix, for an operator to replay.
	DefaultDeadLetterDir = ".data/dead-letter"
	// DefaultTaskQueue is where the worker polls and the webhook server
	// starts workflows; workflows.TaskQueue is the same value.
	DefaultTaskQueue = "coursehook"
	// DefaultNoticeDeadline is how long the Slack notice and the email are
	// retried before the workflow gives up on them and ends partial. A day
	// rides out any provider outage worth waiting for.
	DefaultNoticeDeadline = 24 * time.Hour

	// DefaultDigestThreshold and DefaultDigestWindow: a course's first five
	// completions in a minute get a Slack message each, the rest of that
	// minute one digest. Slack allows about one message a second a channel.
	DefaultDigestThreshold = 5
	DefaultDigestWindow    = time.Minute
	// MaxDigestWindow bounds how long a completion may wait for its digest.
	MaxDigestWindow = 24 * time.Hour
	// CertificateRenderers is the newest certificate renderer version,
	// certificate.CurrentRenderer, named here so the webhook server, which
	// reads this package too, does not link the renderers
	// (TestTheRendererVersionsAgree holds the two together).
	CertificateRenderers = 2
	// DefaultEmailsPerSecond caps certificate emails across the deployment,
	// under SendGrid's per-account rate limit.
	DefaultEmailsPerSecond = 10
	// DefaultWebhookOutPerSecond caps the onward webhooks to one host: a
	// customer's endpoint is rarely built for a cohort's burst.
	DefaultWebhookOutPerSecond = 10
	// DefaultWorkflowCacheSize bounds the SDK's cache of running workflows
	// (its own default is 10,000). Each cached workflow keeps its
	// goroutines and state, and under the worker's GOGC=400 the heap grows
	// to several times that live set, until GOMEMLIMIT holds it. In a
	// 5,000-event burst (go run ./bench --only burst --burst 5000) the
	// worker peaked at 308 MB of RSS with 10,000 and 288 MB with 1,000,
	// both over its 256 MiB (268 MB) limit, and at 221 MB with 500, twice;
	// the workflows it evicted replayed their short histories on 15-20% of
	// their tasks, and the drain took 5 min 48 s against 6 min 7 s with
	// 10,000 in the run before it, on a busier machine.
	DefaultWorkflowCacheSize = 500
)

// SlackOutbox reports whether Slack notices go to files instead of Slack.
func (c Config) SlackOutbox() bool { return c.SlackBotToken == "" }

// EmailOutbox reports whether emails go to files instead of SendGrid.
func (c Config) EmailOutbox() bool { return c.SendGridAPIKey == "" }

// Binary names which program is loading its settings. Each reads and checks
// only the variables it uses, so a setting meant for the other one can never
// stop it from starting.
type Binary int

// The binaries.
const (
	// Worker runs the workflows and activities: database, Slack, SendGrid.
	Worker Binary = iota + 1
	// Starter is the webhook server: HTTP, the source check, the secret,
	// the codec endpoint and the dead-letter folder.
	Starter
	// Ctl is coursehookctl, the operators' command line: the worker's
	// settings (the store, the channels), the learner hash key, and what
	// import starts workflows with as the webhook server does (the start
	// timeout, the notice deadline).
	Ctl
)

// Load reads the settings of binary b through getenv (os.Getenv in the
// binaries, a map in tests). Both read the Temporal connection, the task
// queue, the log level, the shutdown timeout and the encryption keys; the rest
// only the binary that uses them. Settings of the other binary are left zero.
// It reports every bad variable at once.
func Load(getenv func(string) string, b Binary) (Config, error) {
	r := reader{getenv: getenv}
	temporal := r.temporal()
	c := Config{
		TemporalAddress:   temporal.Address,
		TemporalNamespace: temporal.Namespace,
		Temporal:          temporal,
		TaskQueue:         r.str("TEMPORAL_TASK_QUEUE", DefaultTaskQueue),
		ShutdownTimeout:   r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		LogLevel:          r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
	}
	c.RegisterSearchAttributes = r.boolean("TEMPORAL_REGISTER_SEARCH_ATTRIBUTES", true)
	keys, id := r.getenv(codec.KeysVar), r.getenv(codec.KeyIDVar)
	if keys == "" && id == "" {
		keys, id = r.keyFile()
	}
	if keys != "" || id != "" {
		k, err := codec.ParseKeys(keys, id)
		if err != nil {
			// The codec's errors name the variable and never the key.
			r.errs = append(r.errs, err)
		} else {
			c.Encryption = &k
		}
	}
	switch b {
	case Worker:
		r.worker(&c)
		r.verification(&c)
		// Only the worker process runs Temporal workers; coursehookctl
		// shares its other settings.
		c.WorkflowCacheSize = int(r.positiveInt("WORKER_WORKFLOW_CACHE_SIZE", DefaultWorkflowCacheSize))
	case Starter:
		r.starter(&c)
		r.verification(&c)
		if c.PublicBaseURL != "" {
			// The verification page reads the database the worker writes.
			c.DatabaseURL = r.databaseURL("DATABASE_URL", DefaultDatabaseURL)
		}
	case Ctl:
		r.worker(&c)
		c.LearnerHashKey, c.LearnerHashKeyDefault = r.learnerHashKey("LEARNER_HASH_KEY")
		// import starts workflows as the webhook server does.
		c.StartTimeout = r.duration("TEMPORAL_START_TIMEOUT", DefaultStartTimeout)
		c.NoticeDeadline = r.duration("NOTICE_DEADLINE", DefaultNoticeDeadline)
	default:
		r.errs = append(r.errs, fmt.Errorf("config: unknown binary %d", b))
	}
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// verification reads the settings both binaries need to verify
// certificates: the worker prints codes and QR codes on them, the webhook
// server answers the page.
func (r *reader) verification(c *Config) {
	c.PublicBaseURL = strings.TrimRight(r.str("PUBLIC_BASE_URL", ""), "/")
	if c.PublicBaseURL == "" {
		return
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		r.fail("PUBLIC_BASE_URL", "must be an http(s) URL with a host and no query, such as https://certificates.example.com, got %q", c.PublicBaseURL)
	}
	key, ok := r.keyOrFile("CERTIFICATE_SIGNING_KEY", DefaultCertificateSigningKeyFile, MinCertificateSigningKeyLength)
	if !ok && r.str("CERTIFICATE_SIGNING_KEY_FILE", "") == "" {
		r.fail("CERTIFICATE_SIGNING_KEY", "is required with PUBLIC_BASE_URL (or CERTIFICATE_SIGNING_KEY_FILE; make run writes %s): it derives the certificates' codes and signs their credentials", DefaultCertificateSigningKeyFile)
	}
	c.CertificateSigningKey = key
	for _, v := range strings.Split(r.str("CERTIFICATE_SIGNING_KEY_PREVIOUS", ""), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if len(v) < MinCertificateSigningKeyLength {
			r.fail("CERTIFICATE_SIGNING_KEY_PREVIOUS", "each key must be at least %d characters long", MinCertificateSigningKeyLength)
		}
		c.CertificateSigningKeyPrevious = append(c.CertificateSigningKeyPrevious, []byte(v))
	}
	c.CertificateIssuer = r.str("CERTIFICATE_ISSUER", DefaultCertificateIssuer)
	c.VerifyPerMinute = int(r.positiveInt("VERIFY_REQUESTS_PER_MINUTE", DefaultVerifyPerMinute))
}

// Certificate verification defaults.
const (
	// DefaultCertificateSigningKeyFile is where `make run` keeps a
	// generated signing key.
	DefaultCertificateSigningKeyFile = ".data/certificate-signing.key"
	// MinCertificateSigningKeyLength: the key is a secret of 256 bits.
	MinCertificateSigningKeyLength = 32
	DefaultCertificateIssuer       = DefaultEmailFromName
	DefaultVerifyPerMinute         = 30
)

func (r *reader) worker(c *Config) {
	c.DatabaseURL = r.databaseURL("DATABASE_URL", DefaultDatabaseURL)
	// A workflow that fails on the database keeps its event here.
	c.DeadLetterDir = r.str("DEAD_LETTER_DIR", DefaultDeadLetterDir)
	c.SlackBotToken = r.str("SLACK_BOT_TOKEN", "")
	c.SlackChannel = r.str("SLACK_CHANNEL", "")
	c.SlackAPIURL = r.httpURL("SLACK_API_URL", DefaultSlackAPIURL)
	c.SlackPerSecond = r.positiveFloat("SLACK_MESSAGES_PER_SECOND", 1)
	c.CoursesFile = r.str("COURSES_FILE", "")
	c.DigestThreshold = int(r.nonNegativeInt("SLACK_DIGEST_THRESHOLD", DefaultDigestThreshold))
	c.DigestWindow = r.duration("SLACK_DIGEST_WINDOW", DefaultDigestWindow)
	c.DigestOff = !r.boolean("SLACK_DIGEST_ENABLED", true)
	c.SendGridEventsWait = DefaultSendGridEventsWait
	if v := strings.TrimSpace(r.getenv("SENDGRID_EVENTS_WAIT")); v == "0" || v == "0s" {
		// Look once, do not wait.
		c.SendGridEventsWait = 0
	} else if c.SendGridEventsWait = r.duration("SENDGRID_EVENTS_WAIT", DefaultSendGridEventsWait); c.SendGridEventsWait > MaxSendGridEventsWait {
		r.fail("SENDGRID_EVENTS_WAIT", "is %s; at most %s is accepted, since an email's attempt has 30 s", c.SendGridEventsWait, MaxSendGridEventsWait)
	}
	if c.DigestWindow > MaxDigestWindow {
		r.fail("SLACK_DIGEST_WINDOW", "is %s; at most %s is accepted", c.DigestWindow, MaxDigestWindow)
	}
	c.EmailsPerSecond = r.positiveFloat("SENDGRID_EMAILS_PER_SECOND", DefaultEmailsPerSecond)
	c.CertificateRenderer = int(r.positiveInt("CERTIFICATE_RENDERER", 0))
	if c.CertificateRenderer > CertificateRenderers {
		r.fail("CERTIFICATE_RENDERER", "is %d; this release has renderer versions 1 to %d", c.CertificateRenderer, CertificateRenderers)
	}
	c.WebhookOutPerSecond = r.positiveFloat("WEBHOOK_OUT_PER_SECOND", DefaultWebhookOutPerSecond)
	c.WebhookOutAllowPrivate = r.boolean("WEBHOOK_OUT_ALLOW_PRIVATE", false)
	c.SendGridAPIKey = r.str("SENDGRID_API_KEY", "")
	c.SendGridAPIURL = r.httpURL("SENDGRID_API_URL", DefaultSendGridAPIURL)
	c.EmailFrom = r.email("EMAIL_FROM", "")
	c.EmailFromName = r.str("EMAIL_FROM_NAME", DefaultEmailFromName)
	c.OutboxDir = r.str("OUTBOX_DIR", DefaultOutboxDir)
	c.MetricsAddr = r.hostPort("METRICS_ADDR", DefaultMetricsAddr)
	if c.SlackBotToken != "" && c.SlackChannel == "" {
		r.fail("SLACK_CHANNEL", "is required when SLACK_BOT_TOKEN is set")
	}
	if c.SendGridAPIKey != "" && c.EmailFrom == "" {
		r.fail("EMAIL_FROM", "is required when SENDGRID_API_KEY is set: SendGrid only sends from a verified sender")
	}
	if c.EmailFrom == "" {
		c.EmailFrom = DefaultOutboxFrom
	}
	if strings.ContainsAny(c.EmailFromName, "\r\n") {
		r.fail("EMAIL_FROM_NAME", "must be one line")
	}
}

func (r *reader) starter(c *Config) {
	c.HTTPAddr = r.hostPort("HTTP_ADDR", DefaultHTTPAddr)
	c.MaxBodyBytes = r.positiveInt("WEBHOOK_MAX_BODY_BYTES", DefaultMaxBodyBytes)
	if c.MaxBodyBytes > MaxMaxBodyBytes {
		r.fail("WEBHOOK_MAX_BODY_BYTES", "is %d; at most %d is accepted, since the body travels base64-encoded in the workflow input and Temporal refuses a payload over 2 MB", c.MaxBodyBytes, MaxMaxBodyBytes)
	}
	c.StartTimeout = r.duration("TEMPORAL_START_TIMEOUT", DefaultStartTimeout)
	c.NoticeDeadline = r.duration("NOTICE_DEADLINE", DefaultNoticeDeadline)
	c.TrustedProxies = r.prefixes("TRUSTED_PROXIES", "")
	c.WebhookSecret = r.secret("WEBHOOK_SECRET")
	c.WebhookSecretPrevious = r.secret("WEBHOOK_SECRET_PREVIOUS")
	c.CodecAddr = r.hostPort("CODEC_ADDR", DefaultCodecAddr)
	c.CodecOrigin = r.httpURL("CODEC_CORS_ORIGIN", DefaultCodecOrigin)
	c.CodecToken = r.str("CODEC_AUTH_TOKEN", "")
	c.DeadLetterDir = r.str("DEAD_LETTER_DIR", DefaultDeadLetterDir)
	c.LearnerHashKey, c.LearnerHashKeyDefault = r.learnerHashKey("LEARNER_HASH_KEY")
	c.AdminAddr = r.hostPort("ADMIN_ADDR", DefaultAdminAddr)
	c.APIToken = r.token("API_TOKEN")
	c.SendGridWebhookPublicKey = strings.TrimSpace(r.str("SENDGRID_WEBHOOK_PUBLIC_KEY", ""))
	c.SendGridTrackEngagement = r.boolean("SENDGRID_TRACK_ENGAGEMENT", false)
	c.SendGridEventsMaxBodyBytes = r.positiveInt("SENDGRID_EVENTS_MAX_BODY_BYTES", DefaultSendGridEventsMaxBodyBytes)
	if c.APIToken != "" || c.SendGridWebhookPublicKey != "" {
		// The export and SendGrid's delivery events open the database
		// from the webhook server.
		c.DatabaseURL = r.databaseURL("DATABASE_URL", DefaultDatabaseURL)
	}
	if v := r.str("ALLOWED_SOURCE_IPS", DefaultAllowedSources); v == AllSources {
		c.AllowAllSources = true
	} else {
		c.AllowedSources = r.prefixes("ALLOWED_SOURCE_IPS", DefaultAllowedSources)
	}
	if c.WebhookSecretPrevious != "" && r.getenv("WEBHOOK_SECRET") == "" {
		r.fail("WEBHOOK_SECRET_PREVIOUS", "is only accepted beside WEBHOOK_SECRET: set the new secret there")
	}
	if c.WebhookSecret != "" && c.WebhookSecret == c.WebhookSecretPrevious {
		r.fail("WEBHOOK_SECRET_PREVIOUS", "is the same as WEBHOOK_SECRET; leave it unset when not rotating")
	}
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) hostPort(name, def string) string {
	v := r.str(name, def)
	// An empty host is fine: for HTTP_ADDR it means every interface.
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		r.fail(name, "must be host:port, got %q", v)
		return v
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		r.fail(name, "has an invalid port in %q", v)
	}
	return v
}

func (r *reader) httpURL(name, def string) string {
	v := r.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, "must be an http or https URL, got %q", v)
	}
	return v
}

func (r *reader) email(name, def string) string {
	v := r.str(name, def)
	if v == "" {
		return v
	}
	if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
		r.fail(name, "must be a plain email address such as certificates@example.org, got %q", v)
	}
	return v
}

func (r *reader) databaseURL(name, def string) string {
	v := r.str(name, def)
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		switch {
		case err != nil:
			r.fail(name, "is not a valid URL")
		case u.Scheme == "postgres" || u.Scheme == "postgresql":
			if u.Host == "" {
				r.fail(name, "needs a host, as in postgres://user@host:5432/db")
			}
		case u.Scheme == "sqlite":
		default:
			// The value may hold a password: name the scheme only.
			r.fail(name, "has unsupported scheme %q; use postgres:// or a SQLite file path", u.Scheme)
		}
		return v
	}
	// Anything else is a SQLite file path.
	return v
}

// prefixes reads a comma-separated list of IP addresses and CIDR prefixes,
// IPv4 or IPv6. A single address stands for itself alone. A prefix that
// matches every address is refused: for ALLOWED_SOURCE_IPS that must be
// written "*", and trusting every sender's X-Forwarded-For would let anyone
// claim any address.
func (r *reader) prefixes(name, def string) []netip.Prefix {
	v := r.str(name, def)
	if v == "" {
		return nil
	}
	var out []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			r.fail(name, "has an empty entry in %q", v)
			continue
		}
		if item == AllSources {
			if name == "ALLOWED_SOURCE_IPS" {
				r.fail(name, "may only be %q on its own, to allow every source", AllSources)
			} else {
				r.fail(name, "must list proxy addresses; %q is not accepted", AllSources)
			}
			continue
		}
		p, err := parsePrefix(item)
		if err != nil {
			r.fail(name, "has %q, which is neither an IP address nor a CIDR prefix such as 203.0.113.0/24 or 2001:db8::/32", item)
			continue
		}
		if p.Bits() == 0 {
			if name == "ALLOWED_SOURCE_IPS" {
				r.fail(name, "has %q, which matches every address; write %q to allow every source", item, AllSources)
			} else {
				r.fail(name, "has %q, which would believe every sender's X-Forwarded-For", item)
			}
			continue
		}
		out = append(out, p)
	}
	return out
}

// parsePrefix reads an address or a prefix. An IPv4 address written in
// IPv6 form (::ffff:192.0.2.1) becomes IPv4, which is how the server sees
// such a peer.
func parsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, err
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// secret reads a webhook secret. It travels in a URL, so it must be made of
// the characters a URL carries unescaped, and long enough not to be guessed.
// The value never appears in a message.
func (r *reader) secret(name string) string {
	v := r.getenv(name)
	if v == "" {
		return ""
	}
	if len(v) < MinSecretLength {
		r.fail(name, "must be at least %d characters long", MinSecretLength)
		return ""
	}
	for _, c := range v {
		if !urlSafe(c) {
			r.fail(name, "may only hold letters, digits, '-', '.', '_' and '~', which a URL carries as they are")
			return ""
		}
	}
	return v
}

func urlSafe(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// DefaultEncryptionKeyFile is where `make run` keeps its generated key
// ("id:base64key"), read when ENCRYPTION_KEYS is unset, so coursehookctl run
// beside `make run` reads what the binaries wrote.
const DefaultEncryptionKeyFile = ".data/encryption.key"

// keyFile reads ENCRYPTION_KEYS_FILE, or DefaultEncryptionKeyFile when it
// exists: one "id:key" entry, which is also the active one.
func (r *reader) keyFile() (keys, id string) {
	keys, _ = r.file("ENCRYPTION_KEYS_FILE", DefaultEncryptionKeyFile)
	id, _, _ = strings.Cut(keys, ":")
	return keys, id
}

// file reads the file the variable name points at, or def when the variable
// is unset and that file exists, trimmed. A file named and unreadable is a
// configuration error; a default that is missing is simply not there.
func (r *reader) file(name, def string) (string, bool) {
	path := r.str(name, "")
	explicit := path != ""
	if !explicit {
		path = def
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if explicit {
			r.fail(name, "cannot be read: %v", err)
		}
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// DevelopmentLearnerHashKey keys learner hashes when LEARNER_HASH_KEY is
// unset. It is public, so hashes under it only keep addresses out of sight,
// and the binaries warn about it at start.
const DevelopmentLearnerHashKey = "coursehook development learner-hash key; set LEARNER_HASH_KEY"

// MinLearnerHashKeyLength keeps the key out of reach of guessing.
const MinLearnerHashKeyLength = 16

// DefaultLearnerHashKeyFile is where `make run` keeps a generated key, read
// when LEARNER_HASH_KEY is unset, so the binaries and coursehookctl agree.
const DefaultLearnerHashKeyFile = ".data/learner-hash.key"

// learnerHashKey reads LEARNER_HASH_KEY, else the file LEARNER_HASH_KEY_FILE
// names (DefaultLearnerHashKeyFile when it is unset and the file exists),
// else the development key.
func (r *reader) learnerHashKey(name string) ([]byte, bool) {
	// A key file named but unreadable has failed already: no default then.
	if key, ok := r.keyOrFile(name, DefaultLearnerHashKeyFile, MinLearnerHashKeyLength); ok || r.str(name+"_FILE", "") != "" {
		return key, false
	}
	return []byte(DevelopmentLearnerHashKey), true
}

// keyOrFile reads the secret name, else the file name_FILE names (defFile
// when it is unset and the file exists), and checks its length; ok is
// false when there is neither.
func (r *reader) keyOrFile(name, defFile string, minLength int) (key []byte, ok bool) {
	v := r.getenv(name)
	if v == "" {
		fromFile, ok := r.file(name+"_FILE", defFile)
		if !ok {
			return nil, false
		}
		v, name = fromFile, name+"_FILE"
	}
	if len(v) < minLength {
		r.fail(name, "must be at least %d characters long", minLength)
	}
	return []byte(v), true
}

// token reads a bearer token: unset, or long enough not to be guessed. The
// value never appears in a message.
func (r *reader) token(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v != "" && len(v) < MinSecretLength {
		r.fail(name, "must be at least %d characters long", MinSecretLength)
		return ""
	}
	return v
}

func (r *reader) boolean(name string, def bool) bool {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, "must be true or false, got %q", v)
		return def
	}
	return b
}

func (r *reader) positiveInt(name string, def int64) int64 {
	v := r.getenv(name)
	if strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		r.fail(name, "must be a positive whole number, got %q", v)
		return def
	}
	return n
}

func (r *reader) nonNegativeInt(name string, def int64) int64 {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt32 {
		r.fail(name, "must be a whole number, 0 or more, got %q", v)
		return def
	}
	return n
}

func (r *reader) positiveFloat(name string, def float64) float64 {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		r.fail(name, "must be a positive number such as 1 or 0.5, got %q", v)
		return def
	}
	return f
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if strings.TrimSpace(v) == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		r.fail(name, "must be a positive duration such as 5s or 24h, got %q", v)
		return def
	}
	return d
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}
