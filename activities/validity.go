package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/coursehook/coursehook/channel"
	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/metrics"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// validitySchedule is what is due for the certificate of rec under route:
// each reminder the route names that falls after the certificate was
// issued, earliest first, then the expiry. Nil for a certificate that
// never expires.
func validitySchedule(rec store.Record, route *courses.Route) *workflows.CertificateValidityInput {
	if rec.ExpiresAt.IsZero() || route == nil {
		return nil
	}
	in := &workflows.CertificateValidityInput{EventID: rec.EventID, ExpiresAt: rec.ExpiresAt}
	// Remind is kept longest first, so the reminders come earliest first.
	for _, before := range route.Certificate.Remind {
		p, err := courses.ParsePeriod(before)
		if err != nil {
			continue // only a hand-edited stored route; Load refuses it
		}
		if at := p.Before(rec.ExpiresAt); at.After(rec.ReceivedAt) {
			in.Reminders = append(in.Reminders, workflows.DueReminder{Before: before, At: at})
		}
	}
	return in
}

// CertificateNotice sends one notice about a certificate's validity: a
// reminder by email, or the expiry notice on Slack. It reads the row
// first, so a renewed certificate (Superseded) or a revoked one (Revoked)
// ends its schedule with nothing sent, and a notice kept as sent (by an earlier attempt that
// crashed before answering, or a reset run) is not sent again. An expiry
// notice the course's digest announced is only kept.
func (a *Activities) CertificateNotice(ctx context.Context, in workflows.CertificateNoticeInput) (workflows.CertificateNoticeResult, error) {
	rec, err := a.Store.Get(ctx, in.EventID)
	if err != nil {
		return workflows.CertificateNoticeResult{}, a.recordFailure(ctx, fmt.Errorf("%s notice of %s: %w", in.Notice, in.EventID, err))
	}
	if rec.SupersededBy != "" {
		return workflows.CertificateNoticeResult{Superseded: true}, nil
	}
	if sent, found, err := a.Store.FindNotice(ctx, in.EventID, in.Notice); err != nil || found {
		if err != nil {
			return workflows.CertificateNoticeResult{}, a.recordFailure(ctx, err)
		}
		activity.GetLogger(ctx).Info("certificate notice was sent before", "eventId", in.EventID, "notice", in.Notice, "receipt", sent.Receipt.String())
		return workflows.CertificateNoticeResult{Receipt: sent.Receipt, Again: true}, nil
	}
	name := workflows.StepNameSlack
	if in.Notice != workflows.ExpiryNotice {
		name = workflows.StepNameEmail
	}
	if in.Announced != nil {
		return a.keepNotice(ctx, in, name, *in.Announced)
	}
	if rec.Revoked() {
		return workflows.CertificateNoticeResult{Revoked: true}, nil
	}
	route, err := a.storedRoute(rec)
	if err != nil {
		return workflows.CertificateNoticeResult{}, a.recordFailure(ctx, err)
	}
	ch := a.channel(name)
	if ch == nil {
		return workflows.CertificateNoticeResult{}, temporal.NewApplicationError("this worker has no channel "+name, channel.RetryableType(name))
	}
	if !ch.Enabled(route) {
		return workflows.CertificateNoticeResult{Skipped: name + " is off for this course (COURSES_FILE)"}, nil
	}
	ev, err := rec.Event()
	if err != nil {
		return workflows.CertificateNoticeResult{}, a.recordFailure(ctx, fmt.Errorf("%w: %w", store.ErrInvalid, err))
	}
	n := workflows.NoticeInput{Event: ev.Brief(), ReceivedAt: rec.ReceivedAt, Route: &route, VerificationCode: rec.VerificationCode,
		To: rec.CorrectedEmail, ExpiresAt: rec.ExpiresAt, Kind: in.Notice, Renderer: rec.Renderer}
	spec := ch.Spec()
	start := time.Now()
	r, err := ch.Send(ctx, n)
	a.Metrics.ProviderCall(spec.Provider, time.Since(start), err)
	if err != nil {
		return workflows.CertificateNoticeResult{}, a.counted(spec.Name, failure(spec, in.EventID, err))
	}
	a.Metrics.Notice(spec.Name, metrics.Sent)
	return a.keepNotice(ctx, in, name, r)
}

// keepNotice keeps a delivered notice, so that it is never sent again.
func (a *Activities) keepNotice(ctx context.Context, in workflows.CertificateNoticeInput, name string, r workflows.Receipt) (workflows.CertificateNoticeResult, error) {
	_, err := a.Store.NoticeSent(ctx, store.CertificateNotice{EventID: in.EventID, Notice: in.Notice, Channel: name, Receipt: r, SentAt: time.Now()})
	if err != nil {
		// Retried: the retry finds nothing kept and, for a sent notice,
		// the send's own look-before-send is all that stands between the
		// learner and a second one. The window is this one statement.
		return workflows.CertificateNoticeResult{}, a.recordFailure(ctx, err)
	}
	activity.GetLogger(ctx).Info("certificate notice delivered", "eventId", in.EventID, "notice", in.Notice, "receipt", r.String())
	return workflows.CertificateNoticeResult{Receipt: r}, nil
}

// EnqueueExpiry hands an expired certificate to its course's expiry
// digest (CourseDigest of kind expiry), which answers the validity
// workflow: post your own notice while few expire, or "announced in the
// digest" when a cohort does. A course whose digest is off posts at once;
// one whose Slack notice is off, and a revoked certificate, get none.
func (a *Activities) EnqueueExpiry(ctx context.Context, in workflows.EnqueueExpiryInput) (workflows.ExpiryPlan, error) {
	rec, err := a.Store.Get(ctx, in.EventID)
	if err != nil {
		return workflows.ExpiryPlan{}, a.recordFailure(ctx, fmt.Errorf("expiry of %s: %w", in.EventID, err))
	}
	switch {
	case rec.SupersededBy != "":
		return workflows.ExpiryPlan{Superseded: true}, nil
	case rec.Revoked():
		return workflows.ExpiryPlan{Revoked: true}, nil
	}
	_, found, err := a.Store.FindNotice(ctx, in.EventID, workflows.ExpiryNotice)
	switch {
	case err != nil:
		return workflows.ExpiryPlan{}, a.recordFailure(ctx, err)
	case found:
		// Posted by an earlier run: CertificateNotice finds it again.
		return workflows.ExpiryPlan{}, nil
	}
	route, err := a.storedRoute(rec)
	if err != nil {
		return workflows.ExpiryPlan{}, a.recordFailure(ctx, err)
	}
	if ch := a.channel(workflows.StepNameSlack); ch != nil && !ch.Enabled(route) {
		return workflows.ExpiryPlan{Skipped: "slack is off for this course (COURSES_FILE)"}, nil
	}
	if route.Digest.Off || a.Routes == nil {
		return workflows.ExpiryPlan{}, nil
	}
	if a.Digests == nil {
		return workflows.ExpiryPlan{}, errors.New("enqueue expiry: the worker has no Temporal client for digests")
	}
	ev, err := rec.Event()
	if err != nil {
		return workflows.ExpiryPlan{}, a.recordFailure(ctx, fmt.Errorf("%w: %w", store.ErrInvalid, err))
	}
	id := workflows.ExpiryDigestWorkflowID(in.TaskQueue, rec.CourseID, route.Slack.Channel)
	entry := workflows.DigestEntry{
		EventID: in.EventID, WorkflowID: in.WorkflowID, LearnerName: ev.LearnerName(), CourseTitle: ev.Title,
		CourseName: route.CourseName, Threshold: route.Digest.Threshold, Window: route.Digest.Window,
	}
	start := workflows.DigestStart{TaskQueue: in.TaskQueue, CourseID: rec.CourseID, Channel: route.Slack.Channel,
		NoticeDeadline: in.NoticeDeadline, Kind: workflows.DigestExpiry}
	if _, err := a.Digests.SignalWithStartWorkflow(ctx, id, workflows.DigestEntrySignal, entry,
		client.StartWorkflowOptions{ID: id, TaskQueue: in.TaskQueue}, workflows.DigestWorkflowType, start); err != nil {
		return workflows.ExpiryPlan{}, fmt.Errorf("enqueue the expiry of %s in digest %s: %w", in.EventID, id, err)
	}
	deadline := in.NoticeDeadline
	if deadline <= 0 {
		deadline = workflows.DefaultNoticeDeadline
	}
	return workflows.ExpiryPlan{Gather: true, Wait: route.Digest.Window + deadline}, nil
}

// storedRoute is the route stored with rec, or what a worker without
// routing does for every course.
func (a *Activities) storedRoute(rec store.Record) (courses.Route, error) {
	if a.Routes == nil {
		return noRoute, nil
	}
	r, err := a.recordedRoute(rec)
	if err != nil {
		return courses.Route{}, err
	}
	return *r, nil
}
