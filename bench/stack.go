package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coursehook/coursehook/internal/sendgridtest"
	"github.com/coursehook/coursehook/internal/slacktest"
	"github.com/coursehook/coursehook/store"
)

// The log lines that say a binary is ready.
var (
	webhookListening = regexp.MustCompile(`"msg":"webhook server listening","addr":"([^"]+)"`)
	workerStarting   = regexp.MustCompile(`"msg":"worker starting"`)
	metricsListening = regexp.MustCompile(`"msg":"metrics server listening","addr":"([^"]+)"`)
)

// startupTimeout bounds a binary's start, Temporal's dial included.
const startupTimeout = time.Minute

// stack is one coursehook deployment: Slack and SendGrid stand-ins in the
// bench process, a SQLite database (a PostgreSQL one on the cluster),
// worker processes and webhook server
// processes, all on one task queue.
type stack struct {
	Name     string
	Queue    string
	Dir      string
	Database string
	Slack    *slacktest.Server
	SendGrid *sendgridtest.Server
	Webhooks []*process
	URLs     []string
	Workers  []*process
	// Store reads the database the workers write; open once a worker has
	// migrated it.
	Store *store.Store
	// Digest says the workers run with the cohort digest on.
	Digest bool
	b      *bench
}

// newStack starts the stand-ins and the webhook servers; the workers come
// with startWorkers.
func (b *bench) newStack(ctx context.Context, name string, webhooks int) (*stack, error) {
	s := &stack{Name: name, Queue: b.queue(name), Dir: filepath.Join(b.work, name), b: b}
	// A --work folder used before holds the last run's database.
	if err := os.RemoveAll(s.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return nil, err
	}
	s.Database = filepath.Join(s.Dir, "coursehook.db")
	s.Slack, s.SendGrid = slacktest.NewServer(b.tb), sendgridtest.NewServer(b.tb)
	s.Slack.SetRateLimit(b.opts.SlackLimit)
	for i := range webhooks {
		env := append(b.env(s.Queue),
			"HTTP_ADDR=127.0.0.1:0",
			"ADMIN_ADDR=127.0.0.1:0",
			"CODEC_ADDR=127.0.0.1:0",
			"ALLOWED_SOURCE_IPS=127.0.0.1,::1",
			"LEARNER_HASH_KEY="+b.hashKey,
			"DEAD_LETTER_DIR="+filepath.Join(s.Dir, fmt.Sprintf("dead-letter-%d", i+1)),
		)
		p, addr, err := startProcess(ctx, fmt.Sprintf("webhook-%d", i+1), b.starterBin, s.Dir, env, webhookListening, startupTimeout)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.Webhooks = append(s.Webhooks, p)
		url := "http://" + addr
		if err := waitReady(ctx, url); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: webhook server %d: %w", name, i+1, err)
		}
		s.URLs = append(s.URLs, url)
		b.progress("%s: webhook server %d at %s (pid %d, log %s)", name, i+1, url, p.Pid(), p.LogPath)
	}
	return s, nil
}

// startWorkers starts n worker processes one after the other, so that only
// the first migrates the fresh database, and opens the store. With digest
// the cohort digest is on; throttled then also paces Slack as production
// does.
func (s *stack) startWorkers(ctx context.Context, n int, digest, throttled bool) error {
	s.Digest = digest
	if c := s.b.cluster; c != nil {
		// On the cluster, the store is on its PostgreSQL, as compose has
		// it: a database of the row's own, owned by coursehook's role.
		url, err := c.CreateDatabase(ctx, strings.ReplaceAll("bench_"+s.b.runID+"_"+s.Name, "-", "_"))
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		s.Database = url
	}
	for i := range n {
		env := append(s.b.env(s.Queue),
			"DATABASE_URL="+s.Database,
			"METRICS_ADDR=127.0.0.1:0",
			"OUTBOX_DIR="+filepath.Join(s.Dir, "outbox"),
			"SLACK_BOT_TOKEN=xoxb-bench-token",
			"SLACK_CHANNEL="+slacktest.ChannelID,
			"SLACK_API_URL="+s.Slack.URL(),
			"SLACK_MESSAGES_PER_SECOND="+strconv.FormatFloat(s.b.opts.SlackPerSecond, 'g', -1, 64),
			"SENDGRID_EMAILS_PER_SECOND="+strconv.FormatFloat(s.b.opts.EmailsPerSecond, 'g', -1, 64),
			"SENDGRID_API_KEY=SG.bench-key",
			"SENDGRID_API_URL="+s.SendGrid.URL(),
			"EMAIL_FROM=certificates@coursehook.example",
		)
		switch {
		case digest && throttled:
			// As in production: Slack's throttle, and the stand-in holds
			// Slack's own limit (a second's burst of three) unless told.
			env = append(env, "SLACK_DIGEST_WINDOW="+s.b.opts.DigestWindow.String(), "SLACK_MESSAGES_PER_SECOND=1")
			if s.b.opts.SlackLimit == 0 {
				s.Slack.SetRateLimit(3)
			}
		case digest:
			env = append(env, "SLACK_DIGEST_WINDOW="+s.b.opts.CostWindow.String())
		default:
			env = append(env, "SLACK_DIGEST_ENABLED=false")
		}
		p, _, err := startProcess(ctx, fmt.Sprintf("worker-%d", i+1), s.b.workerBin, s.Dir, env, workerStarting, startupTimeout)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		s.Workers = append(s.Workers, p)
		metrics := "?"
		if m := metricsListening.FindStringSubmatch(p.Tail(1 << 16)); m != nil {
			metrics = "http://" + m[1] + "/metrics"
		}
		s.b.progress("%s: worker %d (pid %d, metrics %s, log %s)", s.Name, i+1, p.Pid(), metrics, p.LogPath)
	}
	st, err := store.Open(ctx, s.Database)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	s.Store = st
	return nil
}

// alive fails once a process of the stack has ended on its own.
func (s *stack) alive() error {
	if err := exited(append(append([]*process(nil), s.Webhooks...), s.Workers...)); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// peakRSS is the largest VmHWM among ps.
func peakRSS(ps []*process) (int64, error) {
	var peak int64
	for _, p := range ps {
		rss, err := p.PeakRSS()
		if err != nil {
			return 0, err
		}
		peak = max(peak, rss)
	}
	return peak, nil
}

// Close stops the webhook servers, then the workers, and closes the store.
// The stand-ins stop with the bench.
func (s *stack) Close() {
	for _, p := range s.Webhooks {
		p.Stop()
	}
	for _, p := range s.Workers {
		p.Stop()
	}
	if s.Store != nil {
		s.Store.Close()
	}
}

// waitReady polls /readyz until the webhook server answers 200: it has
// reached Temporal, so the first measured request does not pay the dial.
func waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("/readyz: %w (last answer: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}
