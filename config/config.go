// Package config reads coursehook's settings from the environment, once, and
// refuses a bad value with a message that names the variable.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coursehook/coursehook/workflows"
)

// Config is every setting of the worker and the webhook server. README.md
// has the same list as a table; keep the two in step.
type Config struct {
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	HTTPAddr          string
	DatabaseURL       string
	SlackBotToken     string
	SlackChannel      string
	SlackAPIURL       string
	SendGridAPIKey    string
	SendGridAPIURL    string
	EmailFrom         string
	EmailFromName     string
	OutboxDir         string
	MaxBodyBytes      int64
	StartTimeout      time.Duration
	NoticeDeadline    time.Duration
	ShutdownTimeout   time.Duration
	LogLevel          string
}

// Defaults for the settings that have one.
const (
	DefaultTemporalAddress = "127.0.0.1:7233"
	DefaultNamespace       = "default"
	DefaultTaskQueue       = workflows.TaskQueue
	DefaultHTTPAddr        = ":8080"
	DefaultDatabaseURL     = ".data/coursehook.db"
	DefaultSlackAPIURL     = "https://slack.com/api/"
	DefaultSendGridAPIURL  = "https://api.sendgrid.com"
	DefaultOutboxDir       = ".data/outbox"
	DefaultEmailFromName   = "Course Certificates"
	// DefaultOutboxFrom stands in as the sender in outbox mode, where no
	// email leaves the machine.
	DefaultOutboxFrom = "certificates@coursehook.invalid"
)

// SlackOutbox reports whether Slack notices go to files instead of Slack.
func (c Config) SlackOutbox() bool { return c.SlackBotToken == "" }

// EmailOutbox reports whether emails go to files instead of SendGrid.
func (c Config) EmailOutbox() bool { return c.SendGridAPIKey == "" }

// Load reads the settings through getenv (os.Getenv in the binaries, a map
// in tests). It reports every bad variable at once.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		TemporalAddress:   r.hostPort("TEMPORAL_ADDRESS", DefaultTemporalAddress),
		TemporalNamespace: r.str("TEMPORAL_NAMESPACE", DefaultNamespace),
		TaskQueue:         r.str("TEMPORAL_TASK_QUEUE", DefaultTaskQueue),
		HTTPAddr:          r.hostPort("HTTP_ADDR", DefaultHTTPAddr),
		DatabaseURL:       r.databaseURL("DATABASE_URL", DefaultDatabaseURL),
		SlackBotToken:     r.str("SLACK_BOT_TOKEN", ""),
		SlackChannel:      r.str("SLACK_CHANNEL", ""),
		SlackAPIURL:       r.httpURL("SLACK_API_URL", DefaultSlackAPIURL),
		SendGridAPIKey:    r.str("SENDGRID_API_KEY", ""),
		SendGridAPIURL:    r.httpURL("SENDGRID_API_URL", DefaultSendGridAPIURL),
		EmailFrom:         r.email("EMAIL_FROM", ""),
		EmailFromName:     r.str("EMAIL_FROM_NAME", DefaultEmailFromName),
		OutboxDir:         r.str("OUTBOX_DIR", DefaultOutboxDir),
		MaxBodyBytes:      r.positiveInt("WEBHOOK_MAX_BODY_BYTES", 1<<20),
		StartTimeout:      r.duration("TEMPORAL_START_TIMEOUT", 5*time.Second),
		NoticeDeadline:    r.duration("NOTICE_DEADLINE", 24*time.Hour),
		ShutdownTimeout:   r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		LogLevel:          r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
	}
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
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return c, nil
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
