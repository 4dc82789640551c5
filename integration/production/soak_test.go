package production

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// `make soak-cluster` runs TestClusterSoak with -soak; it is not part of
// make test.
var (
	soak         = flag.Bool("soak", false, "run the cluster soak (make soak-cluster)")
	soakEvents   = flag.Int("soak-events", 1000, "events the soak posts")
	soakDuration = flag.Duration("soak-duration", 10*time.Minute, "how long the soak posts them over")
)

// TestClusterSoak runs the production cluster for a while the way the
// platform uses it, under the cluster test's faults repeated and flaky
// providers, and prints what a production run would be judged by. It fails
// when an event is lost or a Slack notice is sent twice.
func TestClusterSoak(t *testing.T) {
	if !*soak {
		t.Skip("the soak runs with -soak (make soak-cluster)")
	}
	tb := startDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), *soakDuration+20*time.Minute)
	defer cancel()
	require.NoError(t, tb.c.UpTemporal(ctx))
	tb.startWorker("worker-1")
	tb.startWorker("worker-2")
	urls := []string{tb.startWebhook("webhook-1"), tb.startWebhook("webhook-2")}
	for _, u := range urls {
		eventually(t, time.Minute, u+"/readyz to turn 200", func() bool { return readyz(u) == http.StatusOK })
	}

	// The platform posts each event once to its one URL, which a load
	// balancer spreads over the webhook servers; one in ten comes again
	// later, to whichever server the balancer picks.
	plan := func(n int) []target {
		out := []target{{url: urls[n%2]}}
		if n%10 == 9 {
			out = append(out, target{url: urls[(n+1)%2], after: time.Duration(5+rand.IntN(25)) * time.Second})
		}
		return out
	}
	stopFlaky := flakyProviders(tb)
	s := startStream(t, *soakDuration/time.Duration(*soakEvents), plan)
	deadline := time.Now().Add(*soakDuration)
	rounds := 0
	for time.Now().Before(deadline) && len(snapshot(s)) < *soakEvents {
		injectFaults(t, ctx, tb, s)
		rounds++
	}
	for len(snapshot(s)) < *soakEvents && time.Now().Before(deadline.Add(time.Minute)) {
		time.Sleep(time.Second) // the stream's own pace; nothing to wait on
	}
	events := s.stop()
	stopFlaky()

	tc, err := client.Dial(client.Options{HostPort: tb.c.Frontend(), Namespace: "default"})
	require.NoError(t, err)
	defer tc.Close()
	r := judge(t, ctx, tb, tc, events)
	t.Logf("soak: %d events over %s, %d rounds of faults, providers failing on a third of the seconds\n%s",
		len(events), *soakDuration, rounds, r)
	if r.lost > 0 {
		t.Errorf("%d events lost (must be 0)", r.lost)
	}
	if r.slackTwice > 0 {
		t.Errorf("%d events got two Slack notices (must be 0)", r.slackTwice)
	}
}

func snapshot(s *stream) []*sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sent(nil), s.events...)
}

// flakyProviders makes Slack answer 5xx or 429, and SendGrid 503 or 429, on
// about a third of the seconds, until the returned function is called.
func flakyProviders(tb *testbed) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if rand.IntN(3) == 0 {
				if rand.IntN(2) == 0 {
					tb.slack.FailAlways(slacktest.Failure{Status: http.StatusInternalServerError})
					tb.sendgrid.FailAlways(sendgridtest.Failure{Status: http.StatusServiceUnavailable})
				} else {
					tb.slack.FailAlways(slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "1"})
					tb.sendgrid.FailAlways(sendgridtest.Failure{Status: http.StatusTooManyRequests, RateLimitReset: time.Now().Add(time.Second)})
				}
			} else {
				tb.slack.FailAlways(slacktest.Failure{})
				tb.sendgrid.ClearFailAlways()
			}
			select {
			case <-done:
				tb.slack.FailAlways(slacktest.Failure{})
				tb.sendgrid.ClearFailAlways()
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// report is what the soak is judged by.
type report struct {
	events, accepted, retriedThenAccepted, duplicateOnly, completed, lost, slackTwice, emailTwice int
}

func (r report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  events posted             %d\n", r.events)
	fmt.Fprintf(&b, "  accepted (202)            %d\n", r.accepted)
	fmt.Fprintf(&b, "  503, then accepted        %d\n", r.retriedThenAccepted)
	fmt.Fprintf(&b, "  only 200 duplicate        %d (an answer failed after the start went through)\n", r.duplicateOnly)
	fmt.Fprintf(&b, "  completed                 %d\n", r.completed)
	fmt.Fprintf(&b, "  lost                      %d (must be 0)\n", r.lost)
	fmt.Fprintf(&b, "  Slack duplicates          %d (must be 0)\n", r.slackTwice)
	fmt.Fprintf(&b, "  email duplicates          %d (SendGrid's window, docs/reliability.md, \"Crash windows\")", r.emailTwice)
	return b.String()
}

// judge waits for every event's workflow and counts. An event is lost when
// no delivery of it succeeded, or it did not end completed with its row.
func judge(t *testing.T, ctx context.Context, tb *testbed, tc client.Client, events []*sent) report {
	t.Helper()
	dbURL, err := tb.c.DatabaseURL()
	require.NoError(t, err)
	st, err := store.Open(ctx, dbURL)
	require.NoError(t, err)
	defer st.Close()
	r := report{events: len(events)}
	for _, e := range events {
		ok, accepted, retried := false, false, false
		for _, d := range e.deliveries {
			ok = ok || d.succeeded()
			for i, a := range d.attempts {
				if a.status == http.StatusAccepted {
					accepted = true
					retried = retried || i > 0
				}
			}
		}
		if accepted {
			r.accepted++
		}
		if retried {
			r.retriedThenAccepted++
		}
		if ok && !accepted {
			// An answer failed (a timeout or a 503 while a service
			// restarted) after the start had gone through, and the
			// retry found the workflow: 200 duplicate, never 202.
			r.duplicateOnly++
		}
		var res workflows.CourseCompletionResult
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := tc.GetWorkflow(wctx, workflows.WorkflowID(e.id), "").Get(wctx, &res)
		cancel()
		rec, rerr := st.Get(ctx, e.id)
		if !ok || err != nil || res.Status != workflows.StatusCompleted || rerr != nil || rec.Status != store.StatusCompleted {
			r.lost++
			t.Logf("lost %s: delivered %v, workflow %v %v, row %v %v", e.id, ok, res.Status, err, rec.Status, rerr)
			continue
		}
		r.completed++
		if len(tb.slack.MessagesFor(e.id)) > 1 {
			r.slackTwice++
		}
		if len(tb.sendgrid.MessagesFor(e.id)) > 1 {
			r.emailTwice++
		}
	}
	return r
}
