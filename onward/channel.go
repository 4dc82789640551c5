package onward

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/outbox"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// Name is the channel's name: in FailedSteps, --what, COURSES_FILE and the
// metrics.
const Name = "webhook"

// Channel is the onward webhook as a notice channel: each completion of a
// course whose route has a webhook: section is posted, signed, to the URL
// it names, once, with a webhook-id that stays the same on every retry.
type Channel struct {
	Sender *Sender
	// Getenv resolves a secret's "env:NAME"; the file never holds the
	// secret itself.
	Getenv func(string) string
	// Event reads the event whole, as the platform sent it, for the
	// references the brief event the workflow carries leaves out; nil
	// sends the brief event.
	Event func(ctx context.Context, eventID string) (event.Event, error)
	// PublicBaseURL, with verification on, gives the certificate's page.
	PublicBaseURL string
	// OutboxDir receives the event of a course whose section names no
	// url, as the request that would have been sent (make run).
	OutboxDir string
}

var _ channel.Channel = Channel{}

// Spec: its own queue, no rate of its own on the server (each destination
// host has its own throttle in the Sender), 30 s an attempt: the request's
// 10 s and a wait for the host's throttle.
func (c Channel) Spec() channel.Spec {
	return channel.Spec{
		Name:     Name,
		Provider: Name,
		Section:  c.section(),
		Queue:    channel.Queue{Suffix: "-" + Name, StartToClose: 30 * time.Second},
	}
}

// envName is the shape of an environment variable's name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// section is the webhook: key of COURSES_FILE: url, secret (env:NAME) and
// enabled, each checked as the file loads.
func (c Channel) section() *courses.Section {
	return &courses.Section{
		Key:    Name,
		Fields: []string{"url", "secret", "enabled"},
		Check: func(field, value string) error {
			switch field {
			case "url":
				return CheckURL(value)
			case "secret":
				name, ok := strings.CutPrefix(value, "env:")
				if !ok || !envName.MatchString(name) {
					return errors.New("want env:NAME, the environment variable that holds the whsec_ secret (the file never holds the secret)")
				}
				secret := c.getenv(name)
				if secret == "" {
					return fmt.Errorf("the environment variable %s is not set", name)
				}
				if err := CheckSecret(secret); err != nil {
					return fmt.Errorf("the environment variable %s: %v", name, err)
				}
			case "enabled":
				if value != "true" && value != "false" {
					return fmt.Errorf("is %q; want true or false", value)
				}
			}
			return nil
		},
		Complete: func(f map[string]string) error {
			if f["enabled"] != "false" && f["url"] != "" && f["secret"] == "" {
				return errors.New("a url needs its secret: secret: env:NAME")
			}
			return nil
		},
	}
}

func (c Channel) getenv(name string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(name)
}

// Enabled: the route has a webhook: section, not turned off.
func (Channel) Enabled(r courses.Route) bool {
	f, ok := r.Channels[Name]
	return ok && f["enabled"] != "false"
}

// MessageID is the webhook-id of an event's delivery: derived from the
// event id (and a resend's id), so every retry, and every worker, sends the
// same one. An operator's resend is a delivery of its own.
func MessageID(eventID, resendID string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + resendID))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// Send posts the completion event to the route's URL, or writes it to the
// outbox when the route names none.
func (c Channel) Send(ctx context.Context, in workflows.NoticeInput) (workflows.Receipt, error) {
	var fields map[string]string
	if in.Route != nil {
		fields = in.Route.Channels[Name]
	}
	full := in.Event
	if c.Event != nil {
		e, err := c.Event(ctx, in.Event.ID)
		if err != nil {
			return workflows.Receipt{}, fmt.Errorf("read event %s: %w", in.Event.ID, err)
		}
		full = e
	}
	id := MessageID(in.Event.ID, in.ResendID)
	var verification string
	if in.VerificationCode != "" && c.PublicBaseURL != "" {
		verification = verify.PageURL(c.PublicBaseURL, in.VerificationCode)
	}
	body, err := json.Marshal(NewEvent(id, full, in, verification))
	if err != nil {
		return workflows.Receipt{}, channel.Fail(true, 0, err, "webhook: encode the event: %v", err)
	}
	url := fields["url"]
	if url == "" {
		return c.toOutbox(in, id, body)
	}
	name := strings.TrimPrefix(fields["secret"], "env:")
	secret := c.getenv(name)
	if secret == "" {
		// Checked when the file was loaded; a worker started without it
		// since can be given it and restarted before the deadline.
		return workflows.Receipt{}, channel.Fail(false, 0, nil, "webhook: the secret's environment variable %s is not set on this worker", name)
	}
	res, err := c.Sender.Send(ctx, url, secret, id, body)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return workflows.Receipt{}, &channel.Failure{Permanent: e.Permanent, RetryAfter: e.RetryAfter, Message: "webhook: " + e.Message, Err: err}
		}
		return workflows.Receipt{}, err
	}
	return workflows.Receipt{ID: id, Where: res.Host}, nil
}

// outboxRequest is what the outbox keeps of a delivery: the id it would
// have been sent with, and the body.
type outboxRequest struct {
	WebhookID string          `json:"webhook-id"`
	Body      json.RawMessage `json:"body"`
}

func (c Channel) toOutbox(in workflows.NoticeInput, id string, body []byte) (workflows.Receipt, error) {
	if c.OutboxDir == "" {
		return workflows.Receipt{}, channel.Fail(true, 0, nil, "webhook: the course's webhook section names no url, and there is no outbox")
	}
	data, err := json.MarshalIndent(outboxRequest{WebhookID: id, Body: body}, "", "  ")
	if err != nil {
		return workflows.Receipt{}, err
	}
	if _, err := outbox.Write(c.OutboxDir, Name, outbox.MessageName(in.Event.ID, in.ResendID), ".json", data); err != nil {
		return workflows.Receipt{}, err
	}
	return workflows.Receipt{ID: id, Where: "outbox"}, nil
}

// Find cannot look at the customer's system; the webhook-id lets the
// receiver drop a repeat instead.
func (Channel) Find(context.Context, workflows.NoticeInput, time.Time) (workflows.Receipt, bool, error) {
	return workflows.Receipt{}, false, nil
}
