// Package activities holds the side effects of a course completion: the
// database record, the Slack notice and the certificate email. Each method is
// a Temporal activity; the workflow decides when and how often to run them.
package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/mail"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/slacknotify"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
	"github.com/coursehook/coursehook/workflows"
)

// Store is the part of the database the activities use.
type Store interface {
	Insert(ctx context.Context, c store.Completion, status store.Status) (store.Record, bool, error)
	RecordOutcome(ctx context.Context, o store.Outcome) error
	Get(ctx context.Context, eventID string) (store.Record, error)
	InsertResend(ctx context.Context, r store.Resend) (store.Resend, bool, error)
	FinishResend(ctx context.Context, r store.Resend) error
	SetVerificationCode(ctx context.Context, eventID, code string) (string, error)
}

// Activities carries the clients the activities need. The worker registers
// one value of it; tests build their own with stand-in servers behind it.
type Activities struct {
	Store Store
	Slack slacknotify.Poster
	// SlackFinder finds a notice an earlier attempt already posted, in the
	// course's channel or (an empty one) the configured one; nil turns the
	// check off.
	SlackFinder slacknotify.ChannelFinder
	// DigestPoster and DigestFinder post a course window's digest and find
	// one an earlier attempt posted (nil turns the check off).
	DigestPoster      slacknotify.DigestPoster
	DigestFinder      slacknotify.DigestFinder
	Mail              mail.Sender
	RenderCertificate func(certificate.Data) ([]byte, error)
	// Metrics counts notices and times the providers; nil counts nothing.
	Metrics *metrics.Worker
	// Routes decides each course's routing (COURSES_FILE); nil means no
	// routing: every course gets the configured channel and wording.
	Routes Routes
	// Digests feeds a course's cohort digest (a workflow) by
	// signal-with-start; the worker passes its Temporal client.
	Digests Signaller
	// ReadFile reads a course's certificate logo; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Verifier, when set, gives each certificate a verification code,
	// stored with its row, and prints the code and a QR code of its public
	// page on it; nil leaves certificates as they were.
	Verifier *Verifier
}

// Verifier derives certificates' verification codes and their pages'
// addresses.
type Verifier struct {
	Keys *verify.Keys
	// BaseURL is PUBLIC_BASE_URL, where the pages are served.
	BaseURL string
}

// verification is what the certificate with code shows, or nil.
func (v *Verifier) verification(code string) *certificate.Verification {
	if v == nil || code == "" {
		return nil
	}
	return &certificate.Verification{Code: code, URL: verify.PageURL(v.BaseURL, code)}
}

// Routes decides what coursehook does for a course.
type Routes interface {
	Route(courseID string) courses.Route
}

// postedBefore looks, on a retry, for the message (what: "notice" or
// "digest", id its event or window id) that an earlier attempt may have
// posted before its answer was lost, to a worker crash or a timeout. found
// means return that receipt rather than post; an error means retry the
// whole attempt. logArgs name the message in the log.
func (a *Activities) postedBefore(ctx context.Context, what, id string,
	find func(since time.Time) (slacknotify.Receipt, bool, error), logArgs ...any) (workflows.SlackResult, bool, error) {
	info := activity.GetInfo(ctx)
	if info.Attempt <= 1 {
		return workflows.SlackResult{}, false, nil
	}
	r, found, err := find(info.ScheduledTime.Add(-findSkew))
	var se *slacknotify.Error
	switch {
	case err == nil && found:
		activity.GetLogger(ctx).Info("slack "+what+" was already posted by an earlier attempt", append(logArgs, "channel", r.Channel, "ts", r.TS)...)
		a.Metrics.Notice("slack", metrics.FoundExisting)
		return workflows.SlackResult{Channel: r.Channel, TS: r.TS}, true, nil
	case err == nil:
	case errors.Is(err, slacknotify.ErrChannelNotID), errors.As(err, &se) && se.Permanent:
		// The check cannot work with this configuration (a channel
		// name, a token without history scope); posting is still
		// better than never telling the team.
		activity.GetLogger(ctx).Warn("cannot check slack for an earlier "+what+"; posting anyway", append(logArgs, "error", err)...)
	default:
		// Slack is unreachable: posting would fail too, and a blind
		// post could duplicate. Retry the whole attempt later.
		return workflows.SlackResult{}, false, a.counted("slack", slackFailure(id, err))
	}
	return workflows.SlackResult{}, false, nil
}

// findSkew widens the search for an earlier post, for clock differences
// between the worker, Temporal and Slack.
const findSkew = 2 * time.Minute

// RecordCompletion stores the completion once per event id. A second call
// for the same id, from a retry or a new run, returns the stored row instead.
func (a *Activities) RecordCompletion(ctx context.Context, in workflows.RecordInput) (workflows.RecordResult, error) {
	return a.insert(ctx, in, store.StatusRecorded)
}

// RecordIgnored keeps the raw payload of an event type coursehook does not act
// on, so nothing the platform sent is lost.
func (a *Activities) RecordIgnored(ctx context.Context, in workflows.RecordInput) (workflows.RecordResult, error) {
	return a.insert(ctx, in, store.StatusIgnored)
}

func (a *Activities) insert(ctx context.Context, in workflows.RecordInput, status store.Status) (workflows.RecordResult, error) {
	e := in.Event
	c := store.Completion{
		EventID:      e.ID,
		EventType:    e.Event,
		LearnerEmail: e.User,
		CompanyID:    e.CompanyID,
		CourseID:     e.NotifiableID,
		CourseTitle:  e.Title,
		CompletedAt:  e.CompletionTime(in.ReceivedAt),
		ReceivedAt:   in.ReceivedAt,
		Payload:      in.Payload,
	}
	if d := e.UserDetail; d != nil {
		c.FirstName, c.LastName, c.LearnerID, c.ExternalCustomerID = d.FirstName, d.LastName, d.ID, d.ExternalCustomerID
	}
	if a.Routes != nil && status == store.StatusRecorded {
		route, err := json.Marshal(a.Routes.Route(e.NotifiableID))
		if err != nil {
			return workflows.RecordResult{}, fmt.Errorf("record event %s: encode its route: %w", e.ID, err)
		}
		c.Route = string(route)
	}
	if a.Verifier != nil && status == store.StatusRecorded {
		c.VerificationCode = a.Verifier.Keys.Code(e.ID)
	}
	rec, created, err := a.Store.Insert(ctx, c, status)
	if err != nil {
		return workflows.RecordResult{}, recordFailure(fmt.Errorf("record event %s: %w", e.ID, err))
	}
	if status == store.StatusRecorded {
		if rec.VerificationCode, err = a.verificationCode(ctx, rec); err != nil {
			return workflows.RecordResult{}, recordFailure(fmt.Errorf("record event %s: %w", e.ID, err))
		}
	}
	res := workflows.RecordResult{
		Created:           created,
		AlreadyCompleted:  rec.Status == store.StatusCompleted,
		SlackChannel:      rec.SlackChannel,
		SlackTS:           rec.SlackTS,
		EmailMessageID:    rec.EmailMessageID,
		CertificateSHA256: rec.CertificateSHA256,
		Announcement:      rec.Announcement,
		VerificationCode:  rec.VerificationCode,
	}
	if a.Routes != nil && status == store.StatusRecorded {
		if res.Route, err = a.recordedRoute(rec); err != nil {
			return workflows.RecordResult{}, recordFailure(fmt.Errorf("record event %s: %w", e.ID, err))
		}
	}
	if rec.PreviousEventID != "" {
		prev, err := a.Store.Get(ctx, rec.PreviousEventID)
		if err != nil {
			return workflows.RecordResult{}, recordFailure(fmt.Errorf("record event %s: read the earlier completion: %w", e.ID, err))
		}
		res.Previous = &workflows.Previous{EventID: prev.EventID, CompletedAt: prev.CompletedAt}
	}
	activity.GetLogger(ctx).Info("event recorded", "eventId", e.ID, "created", created, "status", string(rec.Status),
		"course", courseName(res.Route), "channel", routeChannel(res.Route), "recompletion", res.Previous != nil)
	return res, nil
}

// verificationCode is the code stored with rec; a row from before codes
// existed gets one now, and keeps it. Empty without verification.
func (a *Activities) verificationCode(ctx context.Context, rec store.Record) (string, error) {
	if rec.VerificationCode != "" || a.Verifier == nil {
		return rec.VerificationCode, nil
	}
	return a.Store.SetVerificationCode(ctx, rec.EventID, a.Verifier.Keys.Code(rec.EventID))
}

// recordedRoute is the route stored with the event's row. Rows recorded
// before routing existed have none, and take the current one.
func (a *Activities) recordedRoute(rec store.Record) (*courses.Route, error) {
	if rec.Route == "" {
		r := a.Routes.Route(rec.CourseID)
		return &r, nil
	}
	var r courses.Route
	if err := json.Unmarshal([]byte(rec.Route), &r); err != nil {
		return nil, fmt.Errorf("%w: stored route does not decode: %v", store.ErrInvalid, err)
	}
	return &r, nil
}

func courseName(r *courses.Route) string {
	if r == nil {
		return ""
	}
	return r.CourseName
}

func routeChannel(r *courses.Route) string {
	if r == nil {
		return ""
	}
	return r.Slack.Channel
}

// PostSlackNotice tells the business team's channel about the completion.
//
// A retry first looks in the channel for a message tagged with this event
// id: an earlier attempt may have been posted by Slack and then lost, to a
// worker crash or a timeout, before its answer arrived.
func (a *Activities) PostSlackNotice(ctx context.Context, in workflows.NoticeInput) (workflows.SlackResult, error) {
	e := in.Event
	channel := routeChannel(in.Route)
	if a.SlackFinder != nil {
		find := func(since time.Time) (slacknotify.Receipt, bool, error) {
			return a.SlackFinder.FindIn(ctx, channel, e.ID, since)
		}
		if r, found, err := a.postedBefore(ctx, "notice", e.ID, find, "eventId", e.ID); found || err != nil {
			return r, err
		}
	}
	start := time.Now()
	n := slacknotify.Notice{
		EventID:      e.ID,
		LearnerName:  e.LearnerName(),
		LearnerEmail: e.User,
		CourseTitle:  e.Title,
		CourseID:     e.NotifiableID,
		CompanyID:    e.CompanyID,
		CompletedAt:  e.CompletionTime(in.ReceivedAt),
		ResendID:     in.ResendID,
		Channel:      channel,
		CourseName:   courseName(in.Route),
	}
	if p := in.Previous; p != nil {
		n.PreviousEventID, n.PreviousCompletedAt = p.EventID, p.CompletedAt
	}
	r, err := a.Slack.Post(ctx, n)
	a.Metrics.ProviderCall("slack", time.Since(start), err)
	if err != nil {
		return workflows.SlackResult{}, a.counted("slack", slackFailure(e.ID, err))
	}
	a.Metrics.Notice("slack", metrics.Sent)
	activity.GetLogger(ctx).Info("slack notice posted", "eventId", e.ID, "channel", r.Channel, "ts", r.TS)
	return workflows.SlackResult{Channel: r.Channel, TS: r.TS}, nil
}

// EmailCertificate renders the learner's certificate and emails it to them.
// The PDF is rendered inside the activity, not passed in, so its bytes never
// enter the workflow history; rendering is deterministic, so a retry attaches
// the very same file.
func (a *Activities) EmailCertificate(ctx context.Context, in workflows.NoticeInput) (workflows.EmailResult, error) {
	e := in.Event
	completed := e.CompletionTime(in.ReceivedAt)
	data, err := certificate.ForEvent(e, in.ReceivedAt, in.Route, a.ReadFile, a.Verifier.verification(in.VerificationCode))
	if err != nil {
		// A logo gone since the routing was loaded is an operator's to put
		// back: retried until the deadline.
		return workflows.EmailResult{}, a.counted("email", err)
	}
	msg := mail.Message{
		EventID:         e.ID,
		ResendID:        in.ResendID,
		To:              e.User,
		LearnerName:     e.LearnerName(),
		CourseTitle:     e.Title,
		CompletedAt:     completed,
		CertificateName: "certificate-" + e.ID + ".pdf",
	}
	if err := applyRoute(in.Route, e, completed, &msg); err != nil {
		return workflows.EmailResult{}, a.counted("email", err)
	}
	pdf, err := a.RenderCertificate(data)
	if errors.Is(err, certificate.ErrInvalidData) {
		return workflows.EmailResult{}, a.counted("email", temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("render certificate for %s: %v", e.ID, err), workflows.ErrCertificate,
			temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err}))
	}
	if err != nil {
		return workflows.EmailResult{}, fmt.Errorf("render certificate for %s: %w", e.ID, err)
	}
	sum := sha256.Sum256(pdf)
	msg.Certificate = pdf
	start := time.Now()
	r, err := a.Mail.Send(ctx, msg)
	a.Metrics.ProviderCall("sendgrid", time.Since(start), err)
	if err != nil {
		return workflows.EmailResult{}, a.counted("email", emailFailure(e.ID, err))
	}
	a.Metrics.Notice("email", metrics.Sent)
	activity.GetLogger(ctx).Info("certificate emailed", "eventId", e.ID, "messageId", r.MessageID)
	return workflows.EmailResult{MessageID: r.MessageID, CertificateSHA256: hex.EncodeToString(sum[:])}, nil
}

// RecordOutcome stores the receipts and the final status.
func (a *Activities) RecordOutcome(ctx context.Context, in workflows.OutcomeInput) error {
	err := a.Store.RecordOutcome(ctx, store.Outcome{
		EventID:           in.EventID,
		Status:            store.Status(in.Status),
		SlackChannel:      in.SlackChannel,
		SlackTS:           in.SlackTS,
		EmailMessageID:    in.EmailMessageID,
		CertificateSHA256: in.CertificateSHA256,
		FailedStep:        in.FailedStep,
		Error:             in.Error,
		Announcement:      in.Announcement,
	})
	if err != nil {
		return recordFailure(fmt.Errorf("record outcome of %s: %w", in.EventID, err))
	}
	activity.GetLogger(ctx).Info("outcome recorded", "eventId", in.EventID, "status", in.Status)
	return nil
}

// counted records a failed notice attempt by what it means for the workflow:
// permanent, or to be retried.
func (a *Activities) counted(channel string, err error) error {
	outcome := metrics.Retryable
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		outcome = metrics.Permanent
	}
	a.Metrics.Notice(channel, outcome)
	return err
}

// recordFailure decides, in one place, whether a database failure is worth
// retrying. Most are (an outage ends, a lock is released), and the workflow
// retries those without limit; the ones store.IsPermanent names would fail
// the same way forever, so they stop at once and fail the workflow with the
// database's own words, for an operator to fix and reset.
func recordFailure(err error) error {
	if !store.IsPermanent(err) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), workflows.ErrRecordPermanent,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err})
}

// slackFailure turns the notifier's classification into a Temporal failure:
// permanent ones stop retrying, and a rate limit waits as long as Slack asked.
func slackFailure(eventID string, err error) error {
	var se *slacknotify.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("post slack notice for %s: %w", eventID, err)
	}
	return providerFailure(fmt.Sprintf("slack: %s", se.Code), se.Permanent, se.RetryAfter,
		workflows.ErrSlackPermanent, workflows.ErrSlackRetryable, err)
}

// emailFailure does the same for SendGrid, keeping SendGrid's own words.
func emailFailure(eventID string, err error) error {
	var me *mail.Error
	if !errors.As(err, &me) {
		return fmt.Errorf("email certificate for %s: %w", eventID, err)
	}
	msg := "sendgrid: " + me.Message
	if me.StatusCode != 0 {
		msg = fmt.Sprintf("sendgrid %d: %s", me.StatusCode, me.Message)
	}
	return providerFailure(msg, me.Permanent, me.RetryAfter, workflows.ErrEmailPermanent, workflows.ErrEmailRetryable, err)
}

func providerFailure(msg string, permanent bool, retryAfter time.Duration, permanentType, retryableType string, cause error) error {
	if permanent {
		return temporal.NewApplicationErrorWithOptions(msg, permanentType,
			temporal.ApplicationErrorOptions{NonRetryable: true, Cause: cause})
	}
	return temporal.NewApplicationErrorWithOptions(msg, retryableType,
		temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter, Cause: cause})
}
