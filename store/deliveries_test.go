package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/delivery"
	"github.com/coursehook/coursehook/internal/pgtest"
)

// testDeliveries: SendGrid's events are stored once, applied once, move an
// email's state forward only (whatever the order), reach the completion's
// delivery through its latest email, match by message id without custom
// args, and claim one reply per failed email for the first batch.
func testDeliveries(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"evt-a", "evt-b", "evt-c"} {
		_, _, err := s.Insert(ctx, sampleCompletion(id), StatusRecorded)
		require.NoError(t, err)
	}
	require.NoError(t, s.EmailSent(ctx, Email{EmailKey: EmailKey{EventID: "evt-a"}, To: "a@example.com", MessageID: "msg-a", SentAt: at}))
	require.NoError(t, s.EmailSent(ctx, Email{EmailKey: EmailKey{EventID: "evt-b"}, To: "b@example.com", MessageID: "msg-b", SentAt: at}))
	rec, err := s.Get(ctx, "evt-a")
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, rec.Delivery)

	ev := func(id, typ string, state delivery.State, eventID, msg string, sec int) DeliveryEvent {
		return DeliveryEvent{ID: id, Type: typ, State: state, EventID: eventID, MessageKey: msg,
			At: at.Add(time.Duration(sec) * time.Second), Reason: typ + " reason", Raw: []byte(`{"sg_event_id":"` + id + `"}`)}
	}
	batch := []DeliveryEvent{
		// Delivered before processed, as SendGrid may post them.
		ev("sg-1", "delivered", delivery.Delivered, "evt-a", "msg-a", 3),
		ev("sg-2", "processed", delivery.Processed, "evt-a", "msg-a", 1),
		ev("sg-3", "deferred", delivery.Deferred, "evt-a", "msg-a", 2),
		// A Return-Path bounce without the custom args: matched by message id.
		ev("sg-4", "bounce", delivery.Bounced, "", "msg-b", 5),
		// An event for an email coursehook never sent.
		ev("sg-5", "delivered", delivery.Delivered, "evt-unknown", "", 5),
		// The third event's email is dropped before the send's own record.
		ev("sg-6", "dropped", delivery.Dropped, "evt-c", "msg-c", 4),
	}
	fresh, pending, err := s.SaveDeliveryEvents(ctx, batch)
	require.NoError(t, err)
	require.Len(t, fresh, len(batch))
	require.Len(t, pending, len(batch))
	// SendGrid's repeat of the batch stores nothing new, and the events
	// are still pending until applied.
	fresh, pending2, err := s.SaveDeliveryEvents(ctx, batch[:2])
	require.NoError(t, err)
	require.Empty(t, fresh)
	require.Equal(t, []string{"sg-1", "sg-2"}, pending2)

	res, err := s.ApplyDeliveryEvents(ctx, "batch-1", pending)
	require.NoError(t, err)
	require.Equal(t, 6, res.Applied)
	require.Equal(t, 1, res.Unmatched)
	require.Len(t, res.Alerts, 2)
	require.Equal(t, "evt-b", res.Alerts[0].EventID)
	require.Equal(t, delivery.Bounced, res.Alerts[0].State)
	require.Equal(t, "evt-c", res.Alerts[1].EventID)
	require.Equal(t, delivery.Dropped, res.Alerts[1].State)

	// Applied once: a retry of the batch applies nothing, and gets its
	// claimed replies again; another batch gets none.
	again, err := s.ApplyDeliveryEvents(ctx, "batch-1", pending)
	require.NoError(t, err)
	require.Zero(t, again.Applied)
	require.Len(t, again.Alerts, 2)
	_, pending3, err := s.SaveDeliveryEvents(ctx, batch)
	require.NoError(t, err)
	require.Empty(t, pending3)
	more := []DeliveryEvent{ev("sg-7", "bounce", delivery.Bounced, "evt-b", "msg-b", 9), ev("sg-8", "deferred", delivery.Deferred, "evt-a", "msg-a", 9)}
	_, pending4, err := s.SaveDeliveryEvents(ctx, more)
	require.NoError(t, err)
	other, err := s.ApplyDeliveryEvents(ctx, "batch-2", pending4)
	require.NoError(t, err)
	require.Equal(t, 2, other.Applied)
	require.Empty(t, other.Alerts, "the bounce's reply belongs to the first batch")

	a, err := s.GetEmail(ctx, EmailKey{EventID: "evt-a"})
	require.NoError(t, err)
	require.Equal(t, delivery.Delivered, a.State, "a late deferral never moves delivered back")
	require.Equal(t, "delivered reason", a.Reason)
	require.True(t, a.StateAt.Equal(at.Add(3*time.Second)))
	rec, err = s.Get(ctx, "evt-a")
	require.NoError(t, err)
	require.Equal(t, delivery.Delivered, rec.Delivery)

	c, err := s.GetEmail(ctx, EmailKey{EventID: "evt-c"})
	require.NoError(t, err)
	require.Equal(t, delivery.Dropped, c.State)
	// The send's record, arriving late, keeps the state the events gave.
	require.NoError(t, s.EmailSent(ctx, Email{EmailKey: EmailKey{EventID: "evt-c"}, To: "c@example.com", MessageID: "msg-c", SentAt: at}))
	rec, err = s.Get(ctx, "evt-c")
	require.NoError(t, err)
	require.Equal(t, delivery.Dropped, rec.Delivery)
	require.Equal(t, "dropped reason", rec.DeliveryReason)

	require.NoError(t, s.AlertPosted(ctx, EmailKey{EventID: "evt-b"}, "1733475600.000100"))
	after, err := s.ApplyDeliveryEvents(ctx, "batch-1", nil)
	require.NoError(t, err)
	require.Len(t, after.Alerts, 1, "a posted reply is not owed again")

	bounced, err := s.List(ctx, Filter{Delivery: []delivery.State{delivery.Bounced, delivery.Dropped}})
	require.NoError(t, err)
	require.Len(t, bounced, 2)
	require.Equal(t, []string{"evt-b", "evt-c"}, []string{bounced[0].EventID, bounced[1].EventID})
	_, err = s.List(ctx, Filter{Delivery: []delivery.State{"lost"}})
	require.ErrorIs(t, err, ErrInvalid)

	// A resend is the event's latest email: a resend delivered makes the
	// event delivered, whatever its first email did.
	_, _, err = s.InsertResend(ctx, Resend{RequestID: "req-1", EventID: "evt-b", What: "email", RequestedAt: at,
		OldAddress: "b@example.com", NewAddress: "fixed@example.com"})
	require.NoError(t, err)
	require.NoError(t, s.EmailSent(ctx, Email{EmailKey: EmailKey{EventID: "evt-b", ResendID: "req-1"}, To: "fixed@example.com", MessageID: "msg-b2", SentAt: at.Add(time.Hour)}))
	rec, err = s.Get(ctx, "evt-b")
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, rec.Delivery)
	require.Equal(t, "fixed@example.com", rec.CorrectedEmail)
	require.Equal(t, "fixed@example.com", rec.EmailAddress())
	resend := []DeliveryEvent{{ID: "sg-9", Type: "delivered", State: delivery.Delivered, EventID: "evt-b", ResendID: "req-1", At: at.Add(time.Hour), Raw: []byte(`{}`)}}
	_, p, err := s.SaveDeliveryEvents(ctx, resend)
	require.NoError(t, err)
	_, err = s.ApplyDeliveryEvents(ctx, "batch-3", p)
	require.NoError(t, err)
	rec, err = s.Get(ctx, "evt-b")
	require.NoError(t, err)
	require.Equal(t, delivery.Delivered, rec.Delivery)
	emails, err := s.Emails(ctx, "evt-b")
	require.NoError(t, err)
	require.Len(t, emails, 2)
	require.Equal(t, delivery.Bounced, emails[0].State)
	require.Equal(t, "req-1", emails[1].ResendID)
	rs, err := s.Resends(ctx, "evt-b")
	require.NoError(t, err)
	require.Equal(t, "b@example.com", rs[0].OldAddress)
	require.Equal(t, "fixed@example.com", rs[0].NewAddress)

	total, left, err := s.DeliveryEventsReceived(ctx)
	require.NoError(t, err)
	require.Equal(t, 9, total)
	require.Zero(t, left)
}

// testDeliveryBatchOfThousands stores and applies a batch bigger than one
// IN list, as SendGrid posts at volume.
func testDeliveryBatchOfThousands(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	_, _, err := s.Insert(ctx, sampleCompletion("evt-big"), StatusRecorded)
	require.NoError(t, err)
	var batch []DeliveryEvent
	for i := range 1200 {
		batch = append(batch, DeliveryEvent{ID: fmt.Sprintf("sg-%04d", i), Type: "deferred", State: delivery.Deferred,
			EventID: "evt-big", At: time.Unix(int64(1_700_000_000+i), 0), Raw: []byte(`{}`)})
	}
	fresh, pending, err := s.SaveDeliveryEvents(ctx, batch)
	require.NoError(t, err)
	require.Len(t, fresh, 1200)
	require.Len(t, pending, 1200)
	res, err := s.ApplyDeliveryEvents(ctx, "big", pending)
	require.NoError(t, err)
	require.Equal(t, 1200, res.Applied)
	e, err := s.GetEmail(ctx, EmailKey{EventID: "evt-big"})
	require.NoError(t, err)
	require.Equal(t, delivery.Deferred, e.State)
}

// BenchmarkDeliveryBatch stores and applies one batch of 5,000 events over
// 1,000 emails, as SendGrid posts at volume: the webhook server's part
// (save) must stay well inside SendGrid's wait, and the worker's (apply)
// inside its activity's timeout. It reports both per batch:
// go test -run x -bench DeliveryBatch ./store/
func BenchmarkDeliveryBatch(b *testing.B) {
	for _, db := range []struct {
		name string
		url  func(tb testing.TB) string
	}{
		{"sqlite", func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "bench.db") }},
		{"postgres", func(tb testing.TB) string { return pgtest.URL(tb) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			s, err := Open(b.Context(), db.url(b))
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			ctx := b.Context()
			const emails, perEmail = 1000, 5
			for i := range emails {
				_, _, err := s.Insert(ctx, sampleCompletion(fmt.Sprintf("evt-%04d", i)), StatusRecorded)
				require.NoError(b, err)
			}
			types := []struct {
				typ   string
				state delivery.State
			}{{"processed", delivery.Processed}, {"deferred", delivery.Deferred}, {"delivered", delivery.Delivered}, {"open", ""}, {"bounce", delivery.Bounced}}
			var save, apply time.Duration
			for n := 0; b.Loop(); n++ {
				batch := make([]DeliveryEvent, 0, emails*perEmail)
				for i := range emails {
					for j, ty := range types {
						batch = append(batch, DeliveryEvent{ID: fmt.Sprintf("sg-%d-%04d-%d", n, i, j), Type: ty.typ, State: ty.state,
							EventID: fmt.Sprintf("evt-%04d", i), At: time.Unix(int64(1_765_000_000+j), 0), Reason: "250 OK",
							Raw: []byte(`{"email":"learner@example.com","event":"` + ty.typ + `","sg_event_id":"x"}`)})
					}
				}
				start := time.Now()
				_, pending, err := s.SaveDeliveryEvents(ctx, batch)
				require.NoError(b, err)
				save += time.Since(start)
				start = time.Now()
				_, err = s.ApplyDeliveryEvents(ctx, fmt.Sprintf("batch-%d", n), pending)
				require.NoError(b, err)
				apply += time.Since(start)
			}
			b.ReportMetric(float64(save.Milliseconds())/float64(b.N), "ms-save/batch")
			b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "ms-apply/batch")
		})
	}
}
