package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/store"
)

const token = "export-token-0123456789"

// seeded serves a real SQLite store holding n completions, every third one
// partial and for course c-b, the rest for c-a; event 7's learner is named
// to run a formula.
func seeded(t *testing.T, n int) *httptest.Server {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		c := store.Completion{
			EventID: fmt.Sprintf("e%03d", i), EventType: "courseCompletion", LearnerEmail: fmt.Sprintf("l%d@example.org", i),
			FirstName: "Ana", LastName: "Silva, \"Jr\"", CourseID: "c-a", CompanyID: "acme", CourseTitle: "Safety\nFirst",
			// Pairs of events share an instant, so pages must break ties.
			CompletedAt: at.Add(time.Duration(i/2) * time.Minute), ReceivedAt: at, Payload: []byte(`{}`),
		}
		if i%3 == 0 {
			c.CourseID = "c-b"
		}
		if i == 7 {
			c.FirstName, c.LastName = `=HYPERLINK("https://evil.example","click")`, "@SUM(A1)"
		}
		_, _, err := st.Insert(context.Background(), c, store.StatusRecorded)
		require.NoError(t, err)
		status := store.StatusCompleted
		if i%3 == 0 {
			status = store.StatusPartial
		}
		require.NoError(t, st.RecordOutcome(context.Background(), store.Outcome{EventID: c.EventID, Status: status}))
	}
	srv := httptest.NewServer(Handler(st, token, nil))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, query, accept, bearer string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+Path+"?"+query, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type page struct {
	Items      []Item  `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func TestPagesWalkEveryRowOnce(t *testing.T) {
	srv := seeded(t, 25)
	seen := map[string]int{}
	var order []string
	q := url.Values{"limit": {"4"}}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		resp := get(t, srv, q.Encode(), "", token)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var p page
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		for _, it := range p.Items {
			seen[it.EventID]++
			order = append(order, it.EventID)
		}
		if p.NextCursor == nil {
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	require.Len(t, seen, 25, "no row skipped")
	for id, n := range seen {
		require.Equal(t, 1, n, "%s repeated", id)
	}
	require.Equal(t, "e000", order[0])
	require.Equal(t, "e024", order[24], "ordered by completion time")
}

func TestFilters(t *testing.T) {
	srv := seeded(t, 12)
	var p page
	resp := get(t, srv, "course=c-b&status=partial&since=2026-11-01T00:02:00Z&until=2026-11-01T00:05:00Z", "application/json", token)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	var ids []string
	for _, it := range p.Items {
		ids = append(ids, it.EventID)
	}
	require.Equal(t, []string{"e006", "e009"}, ids)
	require.Nil(t, p.NextCursor, "a short page is the last")
}

func TestCSVIsRFC4180AndNeutralisesFormulas(t *testing.T) {
	srv := seeded(t, 9)
	resp := get(t, srv, "company=acme&limit=5", "text/csv", token)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Link"), `rel="next"`)
	require.NotEmpty(t, resp.Header.Get("X-Next-Cursor"))
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Equal(t, csvHeader, rows[0])
	require.Len(t, rows, 6)
	require.Equal(t, `Silva, "Jr"`, rows[1][9], "commas and quotes survive the quoting")
	require.Equal(t, "Safety\nFirst", rows[1][5])

	resp = get(t, srv, "cursor="+resp.Header.Get("X-Next-Cursor"), "text/csv", token)
	rows, err = csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	var formula []string
	for _, r := range rows {
		if r[0] == "e007" {
			formula = r
		}
	}
	require.NotNil(t, formula)
	require.Equal(t, `'=HYPERLINK("https://evil.example","click")`, formula[8])
	require.Equal(t, "'@SUM(A1)", formula[9])
}

func TestTokenIsRequired(t *testing.T) {
	srv := seeded(t, 1)
	for _, bearer := range []string{"", "wrong", token + "x"} {
		resp := get(t, srv, "", "", bearer)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
	}
}

func TestBadParametersAreNamed(t *testing.T) {
	srv := seeded(t, 1)
	resp := get(t, srv, "status=stuck&since=yesterday&limit=5000&cursor=nope&colour=red", "", token)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var body struct {
		Problems []problem `json:"problems"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	var names []string
	for _, p := range body.Problems {
		names = append(names, p.Parameter)
	}
	require.ElementsMatch(t, []string{"status", "since", "limit", "cursor", "colour"}, names)
	require.True(t, strings.Contains(fmt.Sprint(body.Problems), "1 to 1000"))
}

// listFunc is a Lister that answers with a function.
type listFunc func(context.Context, store.Filter) ([]store.Record, error)

func (f listFunc) List(ctx context.Context, flt store.Filter) ([]store.Record, error) {
	return f(ctx, flt)
}

// TestListErrorsAreToldApart: the store refusing the filter is the
// request's fault (400, naming why); anything else is an outage (503 with
// Retry-After), and it is logged, since the client never sees the cause.
func TestListErrorsAreToldApart(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, c := range []struct {
		err    error
		status int
		body   string
	}{
		{fmt.Errorf("list completions: %w: unknown delivery state %q", store.ErrInvalid, "lost"), http.StatusBadRequest, "unknown delivery state"},
		{errors.New("dial tcp 127.0.0.1:5432: connection refused"), http.StatusServiceUnavailable, "try again"},
	} {
		srv := httptest.NewServer(Handler(listFunc(func(context.Context, store.Filter) ([]store.Record, error) { return nil, c.err }), token, log))
		resp := get(t, srv, "", "", token)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		srv.Close()
		require.Equal(t, c.status, resp.StatusCode, "%s", body)
		require.Contains(t, string(body), c.body)
	}
	require.Contains(t, logs.String(), "connection refused", "the outage's cause is logged")
	require.NotContains(t, logs.String(), "unknown delivery state", "bad input is the client's to read")
}

// failingWriter takes the headers, then fails every write, as a client
// gone mid-page does.
type failingWriter struct{ *httptest.ResponseRecorder }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestATruncatedPageIsNotAnswered: a page that could not be written whole
// aborts the connection (http.ErrAbortHandler) rather than end as if it
// were complete, for CSV and JSON.
func TestATruncatedPageIsNotAnswered(t *testing.T) {
	recs := []store.Record{{Completion: store.Completion{EventID: "e1"}, Status: store.StatusCompleted}}
	h := Handler(listFunc(func(context.Context, store.Filter) ([]store.Record, error) { return recs, nil }), token, nil)
	for _, accept := range []string{"text/csv", "application/json"} {
		req := httptest.NewRequest(http.MethodGet, Path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", accept)
		require.PanicsWithValue(t, http.ErrAbortHandler, func() {
			h.ServeHTTP(failingWriter{httptest.NewRecorder()}, req)
		}, accept)
	}
}
