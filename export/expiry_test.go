package export

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/store"
)

// TestWhoIsDueIsExported: each item carries its expiry date, and the
// export lists the certificates expiring in a range, or expired, by date,
// paging through them.
func TestWhoIsDueIsExported(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 10 {
		c := store.Completion{
			EventID: fmt.Sprintf("e%02d", i), EventType: "courseCompletion", LearnerEmail: fmt.Sprintf("l%d@example.org", i),
			CourseID: "c-a", CompletedAt: now.AddDate(-1, 0, i), ReceivedAt: now, Payload: []byte(`{}`),
		}
		if i%2 == 0 {
			// Later completions expire sooner: the export orders by date.
			c.ExpiresAt = now.AddDate(0, 0, 20-3*i)
		}
		_, _, err := st.Insert(context.Background(), c, store.StatusRecorded)
		require.NoError(t, err)
	}
	srv := httptest.NewServer(Handler(st, token, nil))
	t.Cleanup(srv.Close)

	walk := func(q url.Values) []string {
		var ids []string
		q.Set("limit", "2")
		for range 10 {
			resp := get(t, srv, q.Encode(), "application/json", token)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var p page
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
			for _, it := range p.Items {
				ids = append(ids, it.EventID)
				require.NotNil(t, it.ExpiresAt)
			}
			if p.NextCursor == nil {
				return ids
			}
			q.Set("cursor", *p.NextCursor)
		}
		t.Fatal("too many pages")
		return nil
	}
	// e00 +20d, e02 +14d, e04 +8d, e06 +2d, e08 -4d.
	in30 := url.Values{"expiresAfter": {now.Format(time.RFC3339)}, "expiresBefore": {now.AddDate(0, 0, 30).Format(time.RFC3339)}}
	require.Equal(t, []string{"e06", "e04", "e02", "e00"}, walk(in30), "by expiry date, across pages")
	require.Equal(t, []string{"e08"}, walk(url.Values{"expired": {"true"}}))

	resp := get(t, srv, "course=c-a&limit=3", "text/csv", token)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"expiresAt", "supersededBy"}, rows[0][len(rows[0])-2:])
	require.Equal(t, now.AddDate(0, 0, 20).Format(time.RFC3339Nano), rows[1][len(rows[1])-2], "e00's date")
	require.Empty(t, rows[2][len(rows[2])-2], "e01 never expires")

	for query, param := range map[string]string{
		"expiresBefore=soon":                              "expiresBefore",
		"expiresAfter=2027-01-01T00:00:00Z":               "expiresAfter",
		"expired=yes":                                     "expired",
		"expired=true&expiresBefore=2027-01-01T00:00:00Z": "expired",
		"expired=true&cursor=" + encodeCursor(store.Cursor{CompletedAt: now, EventID: "e01"}): "cursor",
	} {
		resp := get(t, srv, query, "", token)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, query)
		var body struct {
			Problems []problem `json:"problems"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		require.Equal(t, param, body.Problems[0].Parameter, query)
	}
}
