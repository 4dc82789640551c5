package webhook

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/deadletter"
	"github.com/coursehook/coursehook/internal/syncbuf"
)

// observed is a server over a counting Temporal with metrics and captured
// logs of its own, so that two servers can be compared.
type observed struct {
	srv      *Server
	temporal *countingTemporal
	reg      *prometheus.Registry
	logs     *syncbuf.Buffer
}

func newObserved(t *testing.T, opts Options) *observed {
	t.Helper()
	o := &observed{temporal: &countingTemporal{}, reg: prometheus.NewRegistry(), logs: &syncbuf.Buffer{}}
	opts.DeadLetters = deadletter.Dir(t.TempDir())
	opts.Metrics = NewMetrics(o.reg)
	o.srv = New(o.temporal, slog.New(slog.NewJSONHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), opts)
	return o
}

// logLines are the lines logged so far, without their times.
func (o *observed) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.Lines(o.logs.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		delete(m, "time")
		lines = append(lines, m)
	}
	return lines
}

// counts are every counter's value and every histogram's number of
// observations, by name and labels.
func (o *observed) counts(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := o.reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestAdmitAnswersAsTheRouterDoes: a request Admit refuses is answered,
// logged and counted exactly as the router alone answers, logs and counts
// it, and never reaches next. A request it lets through reaches next once
// and is then answered, logged and counted once, by the router, as if Admit
// had not been there. The header checks after the token (content type,
// encoding, declared size) refuse before the wait too; the payload's are
// the router's.
func TestAdmitAnswersAsTheRouterDoes(t *testing.T) {
	opts := Options{AllowedSources: platform(), TrustedProxies: prefixes(t, "10.0.0.0/8"), Secret: hostileSecret}
	const stranger, proxy = "203.0.113.9:51000", "10.1.2.3:5000"
	for _, c := range []struct {
		name, target, peer, forwarded, contentType string
		encoding                                   string
		length                                     int64
		status                                     int
	}{
		{name: "a stranger", target: Path, peer: stranger, status: 403},
		{name: "a stranger with the token", target: tokenPath, peer: stranger, status: 403},
		{name: "a stranger one segment too deep", target: tokenPath + "/more", peer: stranger, status: 403},
		{name: "a stranger claiming the platform's address", target: tokenPath, peer: stranger, forwarded: "54.243.7.71", status: 403},
		{name: "a trusted proxy passing garbage", target: tokenPath, peer: proxy, forwarded: "54.243.7.71, unknown", status: 403},
		{name: "a Unix socket peer", target: tokenPath, peer: "@", status: 403},
		{name: "no token", target: Path, peer: platformPeer, status: 401},
		{name: "a wrong token in the path", target: Path + "/wrong-secret-0123456789abc", peer: platformPeer, status: 401},
		{name: "a wrong token in the query", target: Path + "?token=wrong", peer: platformPeer, status: 401},
		{name: "the right and a wrong token", target: tokenPath + "?token=wrong", peer: platformPeer, status: 401},
		{name: "one segment too deep", target: tokenPath + "/more", peer: platformPeer, status: 404},
		{name: "the token in the path", target: tokenPath, peer: platformPeer, status: 202},
		{name: "the token in the query", target: Path + "?token=" + hostileSecret, peer: platformPeer, status: 202},
		{name: "the platform through a trusted proxy", target: tokenPath, peer: proxy, forwarded: "54.243.7.71", status: 202},
		{name: "the token, but not JSON", target: tokenPath, peer: platformPeer, contentType: "text/plain", status: 415},
		{name: "the token, but compressed", target: tokenPath, peer: platformPeer, encoding: "gzip", status: 415},
		{name: "the token, but declared too large", target: tokenPath, peer: platformPeer, length: 1 << 30, status: 413},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := func() *http.Request {
				r := request(c.target, sampleBody(t))
				r.RemoteAddr = c.peer
				if c.forwarded != "" {
					r.Header.Set("X-Forwarded-For", c.forwarded)
				}
				if c.contentType != "" {
					r.Header.Set("Content-Type", c.contentType)
				}
				if c.encoding != "" {
					r.Header.Set("Content-Encoding", c.encoding)
				}
				if c.length != 0 {
					r.ContentLength = c.length
				}
				return r
			}
			alone := newObserved(t, opts)
			want := httptest.NewRecorder()
			alone.srv.Router().ServeHTTP(want, req())

			admitting := newObserved(t, opts)
			router := admitting.srv.Router()
			reached := 0
			h := admitting.srv.Admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached++
				router.ServeHTTP(w, r)
			}))
			got := httptest.NewRecorder()
			h.ServeHTTP(got, req())

			require.Equal(t, c.status, got.Code, got.Body.String())
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, want.Header(), got.Header())
			require.Equal(t, want.Body.String(), got.Body.String())
			require.Equal(t, alone.logLines(t), admitting.logLines(t))
			require.Equal(t, alone.counts(t), admitting.counts(t))
			require.Equal(t, alone.temporal.Starts(), admitting.temporal.Starts())

			refused := c.status != 202
			require.Equal(t, !refused, reached == 1, "reached next %d times", reached)
			// Counted once, whichever answered it.
			route := Path
			switch {
			case c.status == 404 || strings.HasSuffix(c.target, "/more"):
				route = "unmatched"
			case strings.HasPrefix(c.target, Path+"/"):
				route = Path + "/:" + tokenParam
			}
			counts := admitting.counts(t)
			require.EqualValues(t, 1, counts[fmt.Sprintf("coursehook_webhook_requests_total{code=%d,route=%s}", c.status, route)], "%v", counts)
			require.EqualValues(t, 1, counts["coursehook_webhook_ack_duration_seconds{route="+route+"}"], "%v", counts)
			if reason, ok := rejectionReasons[c.status]; ok {
				require.EqualValues(t, 1, counts["coursehook_webhook_rejections_total{reason="+reason+"}"], "%v", counts)
			}
		})
	}
}

// TestRouterDoesNotCheckAgainWhatAdmitLetThrough: the source and token
// checks run once. A request Admit let through is not checked again by the
// router: altered on its way to come from a stranger without a token, it is
// still started. The same alteration without Admit is refused.
func TestRouterDoesNotCheckAgainWhatAdmitLetThrough(t *testing.T) {
	o := newObserved(t, Options{AllowedSources: platform(), Secret: hostileSecret})
	router := o.srv.Router()
	asStranger := func(r *http.Request) *http.Request {
		r.RemoteAddr = "203.0.113.9:51000"
		r.URL.Path = Path
		return r
	}
	rec := httptest.NewRecorder()
	o.srv.Admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		router.ServeHTTP(w, asStranger(r))
	})).ServeHTTP(rec, request(tokenPath, sampleBody(t)))
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	require.Equal(t, 1, o.temporal.Starts())

	rec = httptest.NewRecorder()
	router.ServeHTTP(rec, asStranger(request(tokenPath, sampleBody(t))))
	require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
}
