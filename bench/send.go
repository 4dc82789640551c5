package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coursehook/coursehook/webhook"
)

// The platform's delivery rules (shared/samples/README.md): it waits 15 s for
// an answer and makes ten attempts in all.
const (
	platformWait     = 15 * time.Second
	platformAttempts = 10
)

// delivery is one event posted to one webhook server.
type delivery struct {
	URL     string
	EventID string
	Body    []byte
}

// sendStats is what a batch of deliveries got. It is safe for concurrent use.
type sendStats struct {
	// Start is the first post, End the last 2xx answer.
	Start, End time.Time
	// Latencies holds the time to answer of every attempt that got an
	// answer, whatever its status.
	Latencies []time.Duration
	// Answers holds each event's 2xx answers, one per delivery.
	Answers map[string][]answerBody
	// OK holds when each 2xx answer arrived, for peak rates.
	OK []time.Time
	// Retried counts the attempts answered 503, or not answered within the
	// platform's wait, and posted again later.
	Retried int
	// Unavailable counts the 503 answers.
	Unavailable int
	problems

	mu sync.Mutex
}

// problems collects error messages, keeping the first few in full.
type problems struct {
	Count int
	First []string
}

func (p *problems) add(format string, args ...any) {
	p.Count++
	if len(p.First) < 10 {
		p.First = append(p.First, fmt.Sprintf(format, args...))
	}
}

// merge adds q's problems to p.
func (p *problems) merge(q problems) {
	p.Count += q.Count
	for _, m := range q.First {
		if len(p.First) < 10 {
			p.First = append(p.First, m)
		}
	}
}

// newSender is the platform's side of the wire: keep-alive connections, one
// per concurrent sender, and the platform's 15 s wait.
func newSender(conns int) *http.Client {
	return &http.Client{
		Timeout: platformWait,
		Transport: &http.Transport{
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// send posts every delivery with c concurrent senders and returns once each
// got a 2xx answer or failed for good. An answer of 503, or none within 15 s,
// is posted again after retryDelay, doubling after each further attempt,
// beside the senders, as the platform re-delivers on its own schedule; any
// other answer than 2xx is a failure and is not retried.
func send(ctx context.Context, hc *http.Client, deliveries []delivery, c int, retryDelay time.Duration) *sendStats {
	st := &sendStats{Answers: map[string][]answerBody{}}
	var retries sync.WaitGroup
	var deliver func(d delivery, attempt int)
	deliver = func(d delivery, attempt int) {
		if again := st.post(ctx, hc, d, attempt); !again {
			return
		}
		if attempt == platformAttempts {
			st.fail("event %s: no 2xx answer from %s in %d attempts", d.EventID, d.URL, attempt)
			return
		}
		retries.Add(1)
		go func() {
			defer retries.Done()
			wait := time.NewTimer(retryDelay << (attempt - 1))
			defer wait.Stop()
			select {
			case <-wait.C:
				deliver(d, attempt+1)
			case <-ctx.Done():
				st.fail("event %s: %v before its retry", d.EventID, ctx.Err())
			}
		}()
	}

	jobs := make(chan delivery)
	var senders sync.WaitGroup
	for range c {
		senders.Go(func() {
			for d := range jobs {
				deliver(d, 1)
			}
		})
	}
	st.Start = time.Now()
	for _, d := range deliveries {
		select {
		case jobs <- d:
		case <-ctx.Done():
		}
	}
	close(jobs)
	senders.Wait()
	retries.Wait()
	return st
}

// post makes one attempt and records it; it reports whether the delivery
// should be tried again.
func (st *sendStats) post(ctx context.Context, hc *http.Client, d delivery, attempt int) (again bool) {
	if ctx.Err() != nil {
		st.fail("event %s: %v", d.EventID, ctx.Err())
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL+webhook.Path, bytes.NewReader(d.Body))
	if err != nil {
		st.fail("event %s: %v", d.EventID, err)
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		// No answer within the platform's wait is a failed attempt it
		// retries; the README promises an answer within 5 s, so it is an
		// error as well.
		st.fail("event %s, attempt %d: %v", d.EventID, attempt, err)
		st.retried()
		return ctx.Err() == nil
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.Latencies = append(st.Latencies, took)
	switch {
	case err != nil:
		st.add("event %s, attempt %d: reading the answer: %v", d.EventID, attempt, err)
		return false
	case resp.StatusCode == http.StatusServiceUnavailable:
		st.Unavailable++
		st.Retried++
		return true
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted:
		st.add("event %s, attempt %d: %d %s", d.EventID, attempt, resp.StatusCode, bytes.TrimSpace(raw))
		return false
	}
	a, err := decodeAnswer(raw)
	if err != nil || a.EventID != d.EventID {
		st.add("event %s: unreadable answer %d %q", d.EventID, resp.StatusCode, raw)
		return false
	}
	now := time.Now()
	st.Answers[d.EventID] = append(st.Answers[d.EventID], a)
	st.OK = append(st.OK, now)
	if now.After(st.End) {
		st.End = now
	}
	return false
}

func (st *sendStats) fail(format string, args ...any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.add(format, args...)
}

func (st *sendStats) retried() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.Retried++
}

// accepted returns each event's run, from the answer that started it
// (status accepted) or, for an event whose first 2xx was a duplicate, that
// answer: either names the run that does the event's work.
func (st *sendStats) accepted() map[string]answerBody {
	out := make(map[string]answerBody, len(st.Answers))
	for id, as := range st.Answers {
		out[id] = as[0]
		for _, a := range as {
			if a.Status == "accepted" {
				out[id] = a
				break
			}
		}
	}
	return out
}

// rate is the 2xx answers a second over the batch.
func (st *sendStats) rate() float64 {
	return perSecond(len(st.OK), st.End.Sub(st.Start))
}
