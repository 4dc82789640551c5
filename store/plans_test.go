package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/delivery"
)

// queryPlan is the database's plan for query with args, as text: EXPLAIN
// QUERY PLAN on SQLite, EXPLAIN on PostgreSQL. On PostgreSQL sequential
// scans and sorts are priced out: on a test's small table a scan, or a
// sort of the few matches, is cheapest, and the question is only whether an
// index can serve the query in its order at all. A plan that still sorts
// has no such index.
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	conn, err := s.db.Conn(t.Context())
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	explain := "EXPLAIN QUERY PLAN "
	if s.dialect == postgres {
		for _, set := range []string{"SET enable_seqscan = off", "SET enable_sort = off"} {
			_, err := conn.ExecContext(t.Context(), set)
			require.NoError(t, err)
		}
		explain = "EXPLAIN "
	}
	rows, err := conn.QueryContext(t.Context(), explain+s.dialect.rebind(query), args...)
	require.NoError(t, err)
	defer func() { require.NoError(t, rows.Close()) }()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		require.NoError(t, rows.Scan(vals...))
		for _, v := range vals {
			fmt.Fprint(&plan, *(v.(*any)), " ")
		}
		plan.WriteString("\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}

// sorts says whether a plan sorts rows: a page that must sort reads every
// match before it can return its first hundred.
func sorts(d dialect, plan string) bool {
	if d == postgres {
		return strings.Contains(plan, "Sort ")
	}
	return strings.Contains(plan, "TEMP B-TREE")
}

// deliveryOf spreads delivery states as in production: a few bounces among
// many delivered, and some events that sent no email.
func deliveryOf(i int) string {
	switch {
	case i%50 == 7:
		return "bounced"
	case i%5 == 0:
		return ""
	}
	return "delivered"
}

// expiresOf is the expiry date of the i-th row of the plans' table: a
// third of the certificates expire, a year after completion, spread over
// days; the rest never do.
func expiresOf(s *Store, base time.Time, i int) any {
	if i%3 != 0 {
		return nil
	}
	return s.dialect.timeArg(base.AddDate(1, 0, i%90))
}

// testQueriesUseTheirIndexes: each filter of find and the export, a page
// deep in the table, and the re-completion lookup read one index in the
// listing order, without a full scan or a sort, on both databases. The
// table holds a spread of courses, companies and learners first, and
// PostgreSQL has its statistics, so the planner chooses as it would in
// production.
func testQueriesUseTheirIndexes(t *testing.T, url string) {
	s := open(t, url)
	ctx := t.Context()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	for i := range 2000 {
		at := s.dialect.timeArg(base.Add(time.Duration(i) * time.Minute))
		email := fmt.Sprintf("learner%d@example.org", i%700)
		_, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO completions
			(event_id, status, learner_email, learner_key, company_id, course_id, completed_at, received_at, payload,
			recorded_at, updated_at, delivery, verification_code, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			fmt.Sprintf("evt-%05d", i), map[bool]string{true: "partial", false: "completed"}[i%20 == 0],
			email, email, fmt.Sprintf("company-%d", i%150), fmt.Sprintf("course-%d", i%40),
			at, at, s.dialect.payloadArg([]byte(`{}`)), at, at,
			deliveryOf(i), fmt.Sprintf("CODE%06d", i), expiresOf(s, base, i))
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	if s.dialect == postgres {
		_, err := s.db.ExecContext(ctx, "ANALYZE completions")
		require.NoError(t, err)
	}
	deep := &Cursor{CompletedAt: base.Add(1500 * time.Minute), EventID: "evt-01500"}
	soon := base.AddDate(1, 0, 1)
	cases := []struct {
		name   string
		filter Filter
		// index is the index the plan reads, or one of them: where most
		// rows match, walking the time index and skipping the few others
		// is as good.
		index []string
	}{
		{"course", Filter{CourseID: "course-7"}, []string{"completions_course_idx"}},
		{"course, next page", Filter{CourseID: "course-7", After: deep}, []string{"completions_course_idx"}},
		{"company", Filter{CompanyID: "company-9"}, []string{"completions_company_idx"}},
		{"email", Filter{LearnerEmail: "Learner42@Example.org"}, []string{"completions_learner_idx"}},
		{"status since", Filter{Status: StatusCompleted, Since: base.Add(1000 * time.Minute)}, []string{"completions_status_time_idx", "completions_completed_at_idx"}},
		{"status, next page", Filter{Status: StatusPartial, After: deep}, []string{"completions_status_time_idx"}},
		{"one delivery state", Filter{Delivery: []delivery.State{delivery.Bounced}}, []string{"completions_delivery_time_idx"}},
		{"every event, deep page", Filter{After: deep}, []string{"completions_completed_at_idx"}},
		{"a month", Filter{Since: base.Add(100 * time.Minute), Until: base.Add(200 * time.Minute)}, []string{"completions_completed_at_idx"}},
		{"expiring within 30 days", Filter{Expiring: &ExpiryRange{From: soon, Before: soon.AddDate(0, 0, 30)}}, []string{"completions_expires_idx"}},
		{"expired", Filter{Expiring: &ExpiryRange{Before: soon}}, []string{"completions_expires_idx"}},
		{"expired, next page", Filter{Expiring: &ExpiryRange{Before: soon}, After: &Cursor{ExpiresAt: base.AddDate(1, 0, 0), EventID: "evt-00300"}}, []string{"completions_expires_idx"}},
		{"course, expiring within 30 days", Filter{CourseID: "course-7", Expiring: &ExpiryRange{From: soon, Before: soon.AddDate(0, 0, 30)}}, []string{"completions_course_expires_idx"}},
		{"course, expiring, next page", Filter{CourseID: "course-7", Expiring: &ExpiryRange{Before: soon.AddDate(0, 0, 90)}, After: &Cursor{ExpiresAt: soon.AddDate(0, 0, 30), EventID: "evt-00300"}}, []string{"completions_course_expires_idx"}},
		{"company, expiring within 30 days", Filter{CompanyID: "company-9", Expiring: &ExpiryRange{From: soon, Before: soon.AddDate(0, 0, 30)}}, []string{"completions_company_expires_idx"}},
		{"email, expiring within 90 days", Filter{LearnerEmail: "Learner42@Example.org", Expiring: &ExpiryRange{Before: soon.AddDate(0, 0, 90)}}, []string{"completions_learner_expires_idx"}},
	}
	for _, c := range cases {
		q, args, err := s.listQuery(c.filter)
		require.NoError(t, err)
		plan := queryPlan(t, s, q, args...)
		require.True(t, slices.ContainsFunc(c.index, func(ix string) bool { return strings.Contains(plan, ix+" ") }), "%s does not read %s:\n%s", c.name, c.index, plan)
		require.False(t, sorts(s.dialect, plan), "%s sorts:\n%s", c.name, plan)
	}

	plan := queryPlan(t, s, expiringQuery, s.dialect.timeArg(soon), s.dialect.timeArg(soon.AddDate(0, 0, 30)))
	require.Contains(t, plan, "completions_expires_idx", "the metric's count per course:\n%s", plan)

	plan = queryPlan(t, s, previousQuery, "course-7", "learner42@example.org", "evt-x", string(StatusIgnored), s.dialect.timeArg(base.Add(2000*time.Minute)))
	require.Contains(t, plan, "completions_course_learner_key_idx", plan)
	require.False(t, sorts(s.dialect, plan), plan)
	plan = queryPlan(t, s, byCodeQuery, codeA)
	require.Contains(t, plan, "completions_verification_code_idx", plan)
	plan = queryPlan(t, s, "SELECT "+resendColumns+" FROM resends WHERE event_id IN (?, ?) ORDER BY requested_at, request_id", "evt-00001", "evt-00002")
	require.Contains(t, plan, "resends_event_id_idx", plan)
}
