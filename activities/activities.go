// Package activities holds the side effects of a course completion: the
// database record, the notices on each channel (Slack, the certificate
// email, and whichever others the worker registers), the cohort digest's
// Slack post and the resends' audit. Each method is a Temporal activity,
// registered under the name the workflows' contract gives it; the workflow
// decides when and how often to run them.
package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/deadletter"
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
	KeepReceipt(ctx context.Context, eventID, channel string, r workflows.Receipt, expect []string) (bool, error)
	PlanNotice(ctx context.Context, eventID string, rule store.NoticeRule) (store.Plan, error)
	Get(ctx context.Context, eventID string) (store.Record, error)
	InsertResend(ctx context.Context, r store.Resend) (store.Resend, bool, error)
	FinishResend(ctx context.Context, r store.Resend) error
	SetVerificationCode(ctx context.Context, eventID, code string) (string, error)
	FindNotice(ctx context.Context, eventID, notice string) (store.CertificateNotice, bool, error)
	NoticeSent(ctx context.Context, n store.CertificateNotice) (bool, error)
}

// Activities carries the clients the activities need. The worker registers
// one value of it; tests build their own with stand-in servers behind it.
type Activities struct {
	Store Store
	// Channels are the worker's notice channels, in the order an event's
	// steps, and its FailedSteps, list them.
	Channels []channel.Channel
	// DigestPoster and DigestFinder post a course window's digest to
	// Slack and find one an earlier attempt posted (nil turns the check
	// off).
	DigestPoster slacknotify.DigestPoster
	DigestFinder slacknotify.DigestFinder
	// Metrics counts notices and times the providers; nil counts nothing.
	Metrics *metrics.Worker
	// Routes decides each course's routing (COURSES_FILE); nil means no
	// routing: every course gets the configured channel and wording.
	Routes Routes
	// Digests feeds a course's cohort digest (a workflow) by
	// signal-with-start; the worker passes its Temporal client.
	Digests Signaller
	// Verifier, when set, gives each certificate a verification code,
	// stored with its row; nil leaves certificates as they were.
	Verifier *Verifier
	// DeadLetters is DEAD_LETTER_DIR, where KeepDeadLetter puts the body of
	// an event the database refused for good.
	DeadLetters deadletter.Dir
	// Renderer is the certificate renderer version recorded with each new
	// completion; zero means certificate.CurrentRenderer. A row keeps the
	// version it was first recorded with.
	Renderer int

	blockedLog onceAMinute
}

// Verifier derives certificates' verification codes.
type Verifier struct {
	Keys *verify.Keys
}

// Routes decides what coursehook does for a course.
type Routes interface {
	Route(courseID string) courses.Route
}

// findSkew widens the search for an earlier delivery, for clock
// differences between the worker, Temporal and the provider.
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
		route := a.Routes.Route(e.NotifiableID)
		b, err := json.Marshal(route)
		if err != nil {
			return workflows.RecordResult{}, fmt.Errorf("record event %s: encode its route: %w", e.ID, err)
		}
		c.Route = string(b)
		// Decided once, with the route: a later edit of COURSES_FILE
		// changes nothing for a certificate already issued.
		if at, ok := route.Certificate.Expires(issued(c, in.RecordOnly)); ok {
			c.ExpiresAt = at
		}
	}
	if a.Verifier != nil && status == store.StatusRecorded {
		c.VerificationCode = a.Verifier.Keys.Code(e.ID)
	}
	if status == store.StatusRecorded {
		c.Renderer = cmp.Or(a.Renderer, certificate.CurrentRenderer)
	}
	rec, created, err := a.Store.Insert(ctx, c, status)
	if err != nil {
		return workflows.RecordResult{}, a.recordFailure(ctx, fmt.Errorf("record event %s: %w", e.ID, err))
	}
	if status == store.StatusRecorded {
		if rec.VerificationCode, err = a.verificationCode(ctx, rec); err != nil {
			return workflows.RecordResult{}, a.recordFailure(ctx, fmt.Errorf("record event %s: %w", e.ID, err))
		}
	}
	res := workflows.RecordResult{
		Created:          created,
		AlreadyCompleted: rec.Status == store.StatusCompleted,
		Receipts:         rec.Receipts,
		VerificationCode: rec.VerificationCode,
		Renderer:         rec.Renderer,
	}
	if status == store.StatusRecorded {
		if a.Routes != nil {
			if res.Route, err = a.recordedRoute(rec); err != nil {
				return workflows.RecordResult{}, a.recordFailure(ctx, fmt.Errorf("record event %s: %w", e.ID, err))
			}
		}
		res.Channels = a.steps(res.Route)
		res.ExpiresAt = rec.ExpiresAt
		if in.PlanNotice && !in.RecordOnly && throughDigest(res) {
			if res.Notice, res.Enqueued, res.Window, err = a.planNotice(ctx, in, res.Route); err != nil {
				return workflows.RecordResult{}, err
			}
		}
		if !in.RecordOnly {
			res.Validity = validitySchedule(rec, res.Route)
		}
		if in.RecordOnly {
			// History from before go-live: recorded, with its code, so old
			// certificates can be verified; nobody is notified. The steps
			// go into the history, so a reset run stays quiet too.
			for i := range res.Channels {
				res.Channels[i].Off = true
			}
		}
	}
	if rec.PreviousEventID != "" {
		prev, err := a.Store.Get(ctx, rec.PreviousEventID)
		if err != nil {
			return workflows.RecordResult{}, a.recordFailure(ctx, fmt.Errorf("record event %s: read the earlier completion: %w", e.ID, err))
		}
		res.Previous = &workflows.Previous{EventID: prev.EventID, CompletedAt: prev.CompletedAt, Renewed: !prev.ExpiresAt.IsZero()}
	}
	activity.GetLogger(ctx).Info("event recorded", "eventId", e.ID, "created", created, "status", string(rec.Status),
		"course", courseName(res.Route), "channel", routeChannel(res.Route), "recompletion", res.Previous != nil,
		"recordOnly", in.RecordOnly)
	return res, nil
}

// throughDigest reports whether the event's Slack notice goes through its
// course's digest: a route whose digest is on, and the channel on.
func throughDigest(res workflows.RecordResult) bool {
	return res.Route != nil && slices.ContainsFunc(res.Channels, func(s workflows.ChannelStep) bool { return s.Digest && !s.Off })
}

// planNotice decides whether the event's Slack notice posts at once or its
// course's digest gathers it, by the route's rule and for the digest the
// run would ask (the run's task queue), and hands a gathered one to that
// digest. enqueued says it did; not where the worker has no client for
// digests, and the run then enqueues it itself. Where the run asks
// (KeepEntry), a gathered entry is kept in its planned window's rows in
// the planning transaction instead, and only the window's first entry
// signals the digest: window is that window, for the run to wait on.
func (a *Activities) planNotice(ctx context.Context, in workflows.RecordInput, route *courses.Route) (plan string, enqueued bool, window *workflows.PlannedWindow, err error) {
	info := activity.GetInfo(ctx)
	enqueue := workflows.DigestEnqueue(info.TaskQueue, info.WorkflowExecution.ID, in.Event, route, in.NoticeDeadline, true)
	rule := store.NoticeRule{
		DigestID:  enqueue.WorkflowID,
		Threshold: enqueue.Entry.Threshold,
		Window:    workflows.DigestWindowLength(enqueue.Entry.Window),
	}
	keep := in.KeepEntry && a.Digests != nil
	if keep {
		rule.Keep = &store.DigestEntry{EventID: in.Event.ID, WorkflowID: info.WorkflowExecution.ID, LearnerName: enqueue.Entry.LearnerName}
	}
	p, err := a.Store.PlanNotice(ctx, in.Event.ID, rule)
	if err != nil {
		return "", false, nil, a.recordFailure(ctx, fmt.Errorf("record event %s: %w", in.Event.ID, err))
	}
	if p.Notice != workflows.NoticeGather || a.Digests == nil {
		return p.Notice, false, nil, nil
	}
	if keep && p.Window != "" {
		window = &workflows.PlannedWindow{ID: p.Window, End: p.Until, Digest: enqueue.WorkflowID}
		if !p.Signal {
			return p.Notice, true, window, nil
		}
		enqueue.Entry.Planned = window
	}
	// After the plan is kept: a retry finds it and hands the entry (or the
	// window) over again, which the digest takes once. Not a database
	// failure: retried.
	if err := a.EnqueueDigestEntry(ctx, enqueue); err != nil {
		return "", false, nil, fmt.Errorf("record event %s: %w", in.Event.ID, err)
	}
	return p.Notice, true, window, nil
}

// issued is when a certificate's validity starts: when coursehook took in
// the completion and issued the certificate, which for a live event is
// the completion's own time give or take the platform's retries, while
// an event dated long ago (a platform's reset, the sample from 2019)
// still gets its whole validity from today. History imported with
// --record-only was certified back then, so it counts from its own date.
func issued(c store.Completion, recordOnly bool) time.Time {
	if recordOnly {
		return c.CompletedAt
	}
	return c.ReceivedAt
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

// noRoute is how a worker without routing treats every course: the Slack
// notice at once and the email, nothing else.
var noRoute = courses.Route{Slack: courses.SlackRoute{Enabled: true}, Email: courses.EmailRoute{Enabled: true}}

// steps are the event's notice steps for route: every channel of the
// worker, each on or off by the route. They are decided here, in an
// activity, so the workflow's history keeps them.
func (a *Activities) steps(route *courses.Route) []workflows.ChannelStep {
	r := noRoute
	if route != nil {
		r = *route
	}
	steps := make([]workflows.ChannelStep, 0, len(a.Channels))
	for _, ch := range a.Channels {
		spec := ch.Spec()
		step := spec.Step(spec.Digest && route != nil && !route.Digest.Off)
		step.Off = !ch.Enabled(r)
		steps = append(steps, step)
	}
	return steps
}

// RecordOutcome stores the receipts and the final status.
func (a *Activities) RecordOutcome(ctx context.Context, in workflows.OutcomeInput) error {
	err := a.Store.RecordOutcome(ctx, store.Outcome{
		EventID:    in.EventID,
		Status:     store.Status(in.Status),
		Receipts:   in.Receipts,
		FailedStep: in.FailedStep,
		Error:      in.Error,
	})
	if err != nil {
		return a.recordFailure(ctx, fmt.Errorf("record outcome of %s: %w", in.EventID, err))
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
// retries those without limit. Those an operator must fix (store.Blocked:
// a right revoked, a migration half applied, a read-only database, a full
// disk) are retried without limit too, since the fix needs no reset: each
// attempt counts in coursehook_database_blocked_total, which the
// CoursehookDatabaseBlocked alert watches, and the log says what to do at
// most once a minute for each reason. The ones store.IsPermanent names
// would fail the same way forever, so they stop at once and fail the
// workflow with the database's own words; it keeps the event as a dead
// letter first.
func (a *Activities) recordFailure(ctx context.Context, err error) error {
	if reason, ok := store.Blocked(err); ok {
		a.Metrics.DatabaseBlocked(reason)
		if a.blockedLog.due(reason, time.Now()) {
			activity.GetLogger(ctx).Error("the database needs an operator: the work waits and goes on by itself once it is fixed",
				"reason", reason, "fix", blockedFix(reason), "error", err)
		}
		return err
	}
	if !store.IsPermanent(err) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), workflows.ErrRecordPermanent,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err})
}

// blockedFix says what an operator does for each store.Blocked reason.
func blockedFix(reason string) string {
	switch reason {
	case store.BlockedPermission:
		return "grant the store's database role what it lost (SELECT, INSERT, UPDATE, DELETE on coursehook's tables)"
	case store.BlockedSchema:
		return "apply coursehook's migrations: start a worker of this version, or restore the schema"
	case store.BlockedReadOnly:
		return "point DATABASE_URL at a primary that takes writes, or give the SQLite file and its folder back to the worker"
	case store.BlockedFull:
		return "free disk space on the database server"
	}
	return ""
}

// onceAMinute says, for each key, whether a minute has passed since it last
// said yes: one log line a minute for a failure every waiting workflow hits
// on each attempt.
type onceAMinute struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (o *onceAMinute) due(key string, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now.Sub(o.last[key]) < time.Minute {
		return false
	}
	if o.last == nil {
		o.last = map[string]time.Time{}
	}
	o.last[key] = now
	return true
}

// failure turns a channel's failed send into a Temporal failure of the
// channel's type: a permanent one stops the retries, and a rate limit waits
// as long as the provider asked. An error the channel did not classify is
// retried by the workflow's policy.
func failure(spec channel.Spec, eventID string, err error) error {
	var f *channel.Failure
	if !errors.As(err, &f) {
		return fmt.Errorf("%s notice for %s: %w", spec.Name, eventID, err)
	}
	if f.Permanent {
		return temporal.NewApplicationErrorWithOptions(f.Error(), cmp.Or(f.Type, channel.PermanentType(spec.Name)),
			temporal.ApplicationErrorOptions{NonRetryable: true, Cause: f.Err})
	}
	return temporal.NewApplicationErrorWithOptions(f.Error(), cmp.Or(f.Type, channel.RetryableType(spec.Name)),
		temporal.ApplicationErrorOptions{NextRetryDelay: f.RetryAfter, Cause: f.Err})
}
