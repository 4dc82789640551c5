package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// certified is when the certificates of these tests were issued.
var certified = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// yearly is a 12-month certificate with reminders 30 and 7 days ahead, as
// the record step schedules it.
func yearly() CertificateValidityInput {
	expires := certified.AddDate(1, 0, 0)
	return CertificateValidityInput{EventID: "evt-1", ExpiresAt: expires, Reminders: []DueReminder{
		{Before: "30d", At: expires.AddDate(0, 0, -30)},
		{Before: "7d", At: expires.AddDate(0, 0, -7)},
	}}
}

// sent is one CertificateNotice attempt the fake database answered, and
// when, by the workflow's clock.
type sent struct {
	Notice string
	At     time.Time
}

// noticeBook stands in for the worker's side of the notices: the
// certificate_notices table that makes a second attempt find the first's
// send, and the standing of the certificate.
type noticeBook struct {
	mu       sync.Mutex
	sends    []sent // each real send
	kept     map[string]bool
	attempts map[string]int
	// crashOnce makes the first attempt of a notice send, then fail
	// before answering, as a worker that dies in between.
	crashOnce map[string]bool
	// failForGood refuses a notice permanently.
	failForGood map[string]bool
	// superseded and revoked are the certificate's standing from a time on.
	supersededAt, revokedAt time.Time
}

func newNoticeBook() *noticeBook {
	return &noticeBook{kept: map[string]bool{}, attempts: map[string]int{}, crashOnce: map[string]bool{}, failForGood: map[string]bool{}}
}

func (b *noticeBook) answer(now time.Time, in CertificateNoticeInput) (CertificateNoticeResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now = now.UTC()
	b.attempts[in.Notice]++
	switch {
	case !b.supersededAt.IsZero() && !now.Before(b.supersededAt):
		return CertificateNoticeResult{Superseded: true}, nil
	case !b.revokedAt.IsZero() && !now.Before(b.revokedAt):
		return CertificateNoticeResult{Revoked: true}, nil
	case b.kept[in.Notice]:
		return CertificateNoticeResult{Receipt: Receipt{ID: "r-" + in.Notice}, Again: true}, nil
	case b.failForGood[in.Notice]:
		return CertificateNoticeResult{}, temporal.NewApplicationError("SendGrid: the address does not exist", ErrEmailPermanent)
	}
	b.sends = append(b.sends, sent{in.Notice, now})
	b.kept[in.Notice] = true
	if b.crashOnce[in.Notice] && b.attempts[in.Notice] == 1 {
		return CertificateNoticeResult{}, errors.New("worker lost before it answered")
	}
	return CertificateNoticeResult{Receipt: Receipt{ID: "r-" + in.Notice}}, nil
}

func (b *noticeBook) sent() []sent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]sent(nil), b.sends...)
}

// runValidity runs a certificate's schedule to its end the way the
// server does: each continue-as-new starts the next run, here in a fresh
// test environment, as a worker restarted between runs would. setup may
// add signals to a run; it gets the run's number.
func runValidity(t *testing.T, in CertificateValidityInput, book *noticeBook, setup func(env *testEnv, run int)) (CertificateValidityResult, int) {
	t.Helper()
	now := certified
	for run := 1; run < 100; run++ {
		env := newEnv(t)
		env.SetStartTime(now)
		env.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
		env.OnActivity(ActivityCertificateNotice, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in CertificateNoticeInput) (CertificateNoticeResult, error) {
				return book.answer(env.Now(), in)
			})
		env.OnActivity(ActivityEnqueueExpiry, mock.Anything, mock.Anything).Return(
			func(context.Context, EnqueueExpiryInput) (ExpiryPlan, error) {
				// Posted at once, as while few of the course expire.
				return ExpiryPlan{}, nil
			})
		if setup != nil {
			setup(env, run)
		}
		env.ExecuteWorkflow(ValidityWorkflowType, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			require.Equal(t, ValidityWorkflowType, can.WorkflowType.Name)
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
			require.LessOrEqual(t, env.Now().Sub(now), validityRunLimit, "no run sleeps past the limit")
			now = env.Now()
			continue
		}
		require.NoError(t, err)
		var res CertificateValidityResult
		require.NoError(t, env.GetWorkflowResult(&res))
		return res, run
	}
	t.Fatal("the schedule did not end in 100 runs")
	return CertificateValidityResult{}, 0
}

func TestAYearlyCertificateIsRemindedThenExpires(t *testing.T) {
	book := newNoticeBook()
	res, runs := runValidity(t, yearly(), book, nil)
	in := yearly()
	require.Equal(t, []sent{
		{"reminder-30d", in.Reminders[0].At},
		{"reminder-7d", in.Reminders[1].At},
		{"expiry", in.ExpiresAt},
	}, book.sent(), "each notice on its day, once")
	require.Equal(t, "expired", res.Ended)
	require.Equal(t, map[string]string{"reminder-30d": "sent", "reminder-7d": "sent", "expiry": "sent"}, res.Outcomes)
	// 335 days to the first reminder in runs of at most 30 days, then one
	// run a notice.
	require.Equal(t, 14, runs)
}

func TestAWorkerRestartSendsNothingTwice(t *testing.T) {
	book := newNoticeBook()
	// Each run is a fresh environment (a restarted worker), and the first
	// attempt of each notice dies after sending, before it answers.
	book.crashOnce = map[string]bool{"reminder-30d": true, "reminder-7d": true, "expiry": true}
	res, _ := runValidity(t, yearly(), book, nil)
	require.Len(t, book.sent(), 3, "three notices, each sent once: %v", book.sent())
	require.Equal(t, 2, book.attempts["reminder-30d"], "the retry found the first attempt's send")
	require.Equal(t, "expired", res.Ended)
}

func TestAReminderThatFailsForGoodLeavesTheExpiryOnSchedule(t *testing.T) {
	book := newNoticeBook()
	book.failForGood["reminder-30d"] = true
	res, _ := runValidity(t, yearly(), book, nil)
	in := yearly()
	require.Equal(t, []sent{{"reminder-7d", in.Reminders[1].At}, {"expiry", in.ExpiresAt}}, book.sent())
	require.Equal(t, "failed: SendGrid: the address does not exist", res.Outcomes["reminder-30d"])
	require.Equal(t, 1, book.attempts["reminder-30d"], "a permanent refusal is not retried")
	require.Equal(t, "expired", res.Ended)
}

func TestAnEarlyRecompletionCancelsTheRest(t *testing.T) {
	in := yearly()
	book := newNoticeBook()
	renewed := in.Reminders[0].At.Add(48 * time.Hour)
	res, _ := runValidity(t, in, book, func(env *testEnv, _ int) {
		// The re-completion's workflow signals while this one sleeps
		// towards the 7-day reminder.
		if wait := renewed.Sub(env.Now()); wait > 0 && wait < validityRunLimit {
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(ValidityStopSignal, "superseded") }, wait)
		}
	})
	require.Equal(t, []sent{{"reminder-30d", in.Reminders[0].At}}, book.sent())
	require.Equal(t, "superseded", res.Ended)
}

func TestARenewalFoundAtAStepEndsTheSchedule(t *testing.T) {
	in := yearly()
	book := newNoticeBook()
	// The stop signal was lost; the step finds the row superseded.
	book.supersededAt = in.Reminders[0].At.Add(time.Hour)
	res, _ := runValidity(t, in, book, nil)
	require.Equal(t, []sent{{"reminder-30d", in.Reminders[0].At}}, book.sent())
	require.Equal(t, "superseded", res.Ended)
	require.Zero(t, book.attempts["expiry"], "nothing after the renewal")
}

func TestARevocationCancelsTheRest(t *testing.T) {
	in := yearly()
	book := newNoticeBook()
	book.revokedAt = in.Reminders[0].At.Add(time.Hour)
	res, _ := runValidity(t, in, book, nil)
	require.Equal(t, []sent{{"reminder-30d", in.Reminders[0].At}}, book.sent())
	require.Equal(t, "revoked", res.Ended)
	require.Zero(t, book.attempts["expiry"], "a revoked certificate's expiry is not announced")
}

func TestAReminderMissedInAnOutageIsSentLate(t *testing.T) {
	in := yearly()
	book := newNoticeBook()
	// The worker comes back 3 days after the 30-day reminder was due:
	// the run that starts then finds it due and sends it at once.
	late := in.Reminders[0].At.Add(72 * time.Hour)
	env := newEnv(t)
	env.SetStartTime(late)
	env.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
	env.OnActivity(ActivityCertificateNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in CertificateNoticeInput) (CertificateNoticeResult, error) {
			return book.answer(env.Now(), in)
		})
	env.ExecuteWorkflow(ValidityWorkflowType, in)
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Equal(t, []sent{{"reminder-30d", late}}, book.sent())

	// After the expiry, a reminder still pending is no use: it is skipped.
	book = newNoticeBook()
	env = newEnv(t)
	env.SetStartTime(in.ExpiresAt.Add(time.Hour))
	env.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
	env.OnActivity(ActivityCertificateNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in CertificateNoticeInput) (CertificateNoticeResult, error) {
			return book.answer(env.Now(), in)
		})
	in.Done = 1
	env.ExecuteWorkflow(ValidityWorkflowType, in)
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Empty(t, book.sent())
	var next CertificateValidityInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, noticeMissed, next.Outcomes["reminder-7d"])
}

func TestACohortsExpiryIsAnnouncedByTheDigest(t *testing.T) {
	in := CertificateValidityInput{EventID: "evt-1", ExpiresAt: certified.Add(10 * time.Minute)}
	env := newEnv(t)
	env.SetStartTime(certified)
	env.RegisterWorkflowWithOptions(CertificateValidity, workflow.RegisterOptions{Name: ValidityWorkflowType})
	env.OnActivity(ActivityEnqueueExpiry, mock.Anything, mock.Anything).Return(ExpiryPlan{Gather: true, Wait: time.Hour}, nil)
	var kept CertificateNoticeInput
	env.OnActivity(ActivityCertificateNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in CertificateNoticeInput) (CertificateNoticeResult, error) {
			kept = in
			return CertificateNoticeResult{Receipt: *in.Announced}, nil
		})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(AnnouncementSignal, Announcement{EventID: "other", Kind: AnnouncePost})
		env.SignalWorkflow(AnnouncementSignal, Announcement{EventID: "evt-1", Kind: AnnounceDigest, Channel: "C1", TS: "1.2", WindowID: "w1"})
	}, 11*time.Minute)
	env.ExecuteWorkflow(ValidityWorkflowType, in)
	require.NoError(t, env.GetWorkflowError())
	var res CertificateValidityResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "in the course's expiry digest w1", res.Outcomes["expiry"])
	require.Equal(t, &Receipt{ID: "1.2", Where: "C1", Via: AnnouncedDigest}, kept.Announced, "the digest's message is kept as the notice")
	require.Equal(t, 1, env.started[ActivityCertificateNotice])
}
