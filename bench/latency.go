package main

import (
	"context"
	"fmt"
	"time"

	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
)

// latencyResult is the time one learner waits on a quiet server: from the
// platform's POST to the SendGrid stand-in's receipt of the certificate
// email, and to the Slack stand-in's receipt of the notice.
type latencyResult struct {
	Events             int
	EmailP50, EmailP99 time.Duration
	SlackP50, SlackP99 time.Duration
}

// latencyWarmUp events go first and are not counted: the first workflow
// tasks of a fresh worker fill its caches and open its connections.
const latencyWarmUp = 3

// latencyWait bounds one event's wait for its email and its notice.
const latencyWait = time.Minute

// latency posts opts.Latency events one at a time to a stack run as make run
// runs it (the cohort digest on, Slack and SendGrid throttled at their
// defaults), each completing a course of its own so no cohort forms, and
// waits for both stand-ins to have each before the next.
func (b *bench) latency(ctx context.Context) (latencyResult, error) {
	res := latencyResult{Events: b.opts.Latency}
	s, err := b.newStack(ctx, "latency", 1)
	if err != nil {
		return res, err
	}
	defer s.Close()
	if err := s.startWorkers(ctx, 1, true, true); err != nil {
		return res, err
	}
	ids, bodies, err := b.samples.events(latencyWarmUp+b.opts.Latency, eachOwnCourse)
	if err != nil {
		return res, err
	}
	b.progress("latency: %d events one at a time (and %d first, not counted)", b.opts.Latency, latencyWarmUp)
	hc := newSender(1)
	defer hc.CloseIdleConnections()
	var email, slack []time.Duration
	for i, id := range ids {
		st := &sendStats{Answers: map[string][]answerBody{}}
		posted := time.Now()
		if st.post(ctx, hc, delivery{URL: s.URLs[0], EventID: id, Body: bodies[i]}, 1); len(st.Answers[id]) == 0 {
			b.errs.merge(st.problems)
			return res, fmt.Errorf("latency: event %s was not accepted", id)
		}
		mailAt, slackAt, err := waitDelivered(ctx, s, id)
		if err != nil {
			return res, fmt.Errorf("latency: event %s: %w", id, err)
		}
		if i >= latencyWarmUp {
			email, slack = append(email, mailAt.Sub(posted)), append(slack, slackAt.Sub(posted))
		}
	}
	e, sl := newDist(email), newDist(slack)
	res.EmailP50, res.EmailP99, res.SlackP50, res.SlackP99 = e.pct(50), e.pct(99), sl.pct(50), sl.pct(99)
	return res, nil
}

// waitDelivered waits until both stand-ins hold event id's message, and
// returns when each received it (the stand-ins' own clocks, this process's,
// so polling costs no precision).
func waitDelivered(ctx context.Context, s *stack, id string) (mailAt, slackAt time.Time, err error) {
	deadline := time.Now().Add(latencyWait)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if mailAt.IsZero() {
			mailAt = emailAt(s.SendGrid, id)
		}
		if slackAt.IsZero() {
			slackAt = slackMessageAt(s.Slack, id)
		}
		if !mailAt.IsZero() && !slackAt.IsZero() {
			return mailAt, slackAt, nil
		}
		if time.Now().After(deadline) {
			return mailAt, slackAt, fmt.Errorf("no email (%v) or no Slack notice (%v) within %s", !mailAt.IsZero(), !slackAt.IsZero(), latencyWait)
		}
		select {
		case <-ctx.Done():
			return mailAt, slackAt, ctx.Err()
		case <-tick.C:
		}
	}
}

func emailAt(s *sendgridtest.Server, id string) time.Time {
	if sent := s.MessagesFor(id); len(sent) > 0 {
		return sent[0].At
	}
	return time.Time{}
}

func slackMessageAt(s *slacktest.Server, id string) time.Time {
	msgs := s.Messages()
	// The newest last: this event's notice is among the latest.
	for i := len(msgs) - 1; i >= 0; i-- {
		if slackEventID(msgs[i].Metadata) == id {
			return msgs[i].At
		}
	}
	return time.Time{}
}
