package sgevents

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// handlerRig is a Handler on stand-in storage and start, and the key its
// batches are signed with.
type handlerRig struct {
	h                 *Handler
	key               *ecdsa.PrivateKey
	router            *gin.Engine
	saved             [][]Event
	started           [][]string
	saveErr, startErr error
	reg               *prometheus.Registry
}

func newRig(t *testing.T, engagement bool) *handlerRig {
	t.Helper()
	key, v := newPair(t)
	v.Now = time.Now // the rig signs its posts now, not at testNow
	r := &handlerRig{key: key, reg: prometheus.NewRegistry()}
	r.h = &Handler{
		Verifier: v, MaxBodyBytes: 4096, Engagement: engagement, Timeout: time.Second,
		Save: func(_ context.Context, evs []Event) ([]Event, []string, error) {
			if r.saveErr != nil {
				return nil, nil, r.saveErr
			}
			r.saved = append(r.saved, evs)
			var ids []string
			for _, e := range evs {
				ids = append(ids, e.ID)
			}
			// The first event was stored by an earlier post.
			return evs[min(1, len(evs)):], ids, nil
		},
		Start: func(_ context.Context, ids []string) error {
			r.started = append(r.started, ids)
			return r.startErr
		},
		Metrics: NewMetrics(r.reg),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	gin.SetMode(gin.TestMode)
	r.router = gin.New()
	require.NoError(t, r.h.Register(r.router))
	return r
}

func (r *handlerRig) post(t *testing.T, body []byte, signed bool) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	if signed {
		sig, ts, err := SignNow(r.key, body, time.Now())
		require.NoError(t, err)
		req.Header.Set(SignatureHeader, sig)
		req.Header.Set(TimestampHeader, ts)
	}
	w := httptest.NewRecorder()
	r.router.ServeHTTP(w, req)
	var answer map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &answer), w.Body.String())
	return w, answer
}

const rigBatch = `[
 {"event":"processed","sg_event_id":"p1","sg_message_id":"m1.filter1","email":"a@example.com","timestamp":1765011600,"event_id":"e1"},
 {"event":"bounce","sg_event_id":"b1","sg_message_id":"m1.filter1","email":"a@example.com","timestamp":1765011601,"event_id":"e1","reason":"550 no such user"},
 {"event":"open","sg_event_id":"o1","sg_message_id":"m1.filter1","email":"a@example.com","timestamp":1765011602,"event_id":"e1"},
 {"event":"unsubscribe","sg_event_id":"u1","email":"a@example.com","timestamp":1765011603,"event_id":"e1"},
 {"event":"delivered","sg_event_id":"d1","email":"x@example.com","timestamp":1765011604},
 {"event":"account_status_change","sg_event_id":"s1"},
 {"event":"bounce","sg_event_id":"b1","sg_message_id":"m1.filter1","email":"a@example.com","timestamp":1765011601,"event_id":"e1"}
]`

func TestHandlerStoresThenStarts(t *testing.T) {
	r := newRig(t, false)
	w, answer := r.post(t, []byte(rigBatch), true)
	require.Equal(t, http.StatusOK, w.Code, answer)
	require.Len(t, r.saved, 1)
	var kept []string
	for _, e := range r.saved[0] {
		kept = append(kept, e.ID)
	}
	require.Equal(t, []string{"p1", "b1"}, kept, "opens are off, unsubscribes not tracked, an event naming no email is not ours")
	require.Equal(t, [][]string{{"p1", "b1"}}, r.started)
	require.EqualValues(t, 7, answer["received"])
	require.EqualValues(t, 1, answer["stored"])
	require.EqualValues(t, 1, answer["repeated"])
	require.Equal(t, map[string]any{"engagement_off": 1.0, "not_tracked": 1.0, "no_email_named": 1.0,
		"unknown_shape": 1.0, "duplicate_in_batch": 1.0}, answer["ignored"])
	require.Equal(t, 1.0, testutil.ToFloat64(r.h.Metrics.events.WithLabelValues(TypeBounce)), "counted once, as stored")
	require.Zero(t, testutil.ToFloat64(r.h.Metrics.events.WithLabelValues(TypeProcessed)), "stored by an earlier post")
}

func TestHandlerKeepsEngagementWhenAsked(t *testing.T) {
	r := newRig(t, true)
	w, _ := r.post(t, []byte(rigBatch), true)
	require.Equal(t, http.StatusOK, w.Code)
	require.Len(t, r.saved[0], 3)
	require.Equal(t, "open", r.saved[0][2].Engagement)
}

func TestHandlerRefusals(t *testing.T) {
	r := newRig(t, false)
	w, answer := r.post(t, []byte(rigBatch), false)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, answer["error"], SignatureHeader)

	big := []byte("[" + strings.Repeat(`{"event":"processed"},`, 400) + "{}]")
	w, answer = r.post(t, big, true)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Contains(t, answer["error"], "4096 bytes")

	w, answer = r.post(t, []byte(`{"event":"processed"}`), true)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, answer["error"], "JSON array")
	require.Empty(t, r.saved, "nothing refused is stored")
	require.Equal(t, 1.0, testutil.ToFloat64(r.h.Metrics.batches.WithLabelValues("unauthorized")))
}

func TestHandlerOutagesAre503(t *testing.T) {
	r := newRig(t, false)
	r.saveErr = errors.New("connection refused")
	w, answer := r.post(t, []byte(rigBatch), true)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "60", w.Header().Get("Retry-After"))
	require.Contains(t, answer["error"], "not stored")
	require.Empty(t, r.started)
	require.Zero(t, testutil.ToFloat64(r.h.Metrics.events.WithLabelValues(TypeBounce)), "nothing counted")

	r.saveErr, r.startErr = nil, errors.New("temporal unavailable")
	w, answer = r.post(t, []byte(rigBatch), true)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, answer["error"], "Temporal")
	require.Zero(t, testutil.ToFloat64(r.h.Metrics.events.WithLabelValues(TypeBounce)), "counted when accepted, not before")
}
