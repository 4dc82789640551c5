package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coursehook/coursehook/export"
	"github.com/coursehook/coursehook/internal/pgtest"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/verify"
)

// The store row's table: what a few years of a large customer look like.
const (
	storeCourses   = 200
	storeCompanies = 2000
	// storeSpan is the time the completions spread over.
	storeSpan = 3 * 365 * 24 * time.Hour
	// storeFindLimit is find's page, storeExportLimit the export's largest.
	storeFindLimit   = store.DefaultListLimit
	storeExportLimit = export.MaxLimit
)

// storeQueries are the store row's queries, in the order they print.
var storeQueries = []string{"find --course", "find --company", "find --email", "find --status completed --since 720h", "export page", "verification"}

// storeResult is one database's row: how long the load took and each
// query's times.
type storeResult struct {
	Database string
	Rows     int
	Load     time.Duration
	// Times are each query's samples, by storeQueries name.
	Times map[string]dist
	// Skipped says why the database was not measured.
	Skipped string
}

// storeTable is the generated table: row i is a function of i alone, so a
// query can name a course, a learner or a place in the table that exists.
type storeTable struct {
	rows  int
	start time.Time
	keys  *verify.Keys
}

func newStoreTable(rows int) (*storeTable, error) {
	keys, err := verify.NewKeys([]byte("bench store row: a fixed signing secret"))
	if err != nil {
		return nil, err
	}
	return &storeTable{rows: rows, start: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), keys: keys}, nil
}

func (t *storeTable) eventID(i int) string { return fmt.Sprintf("bench-%08d", i) }

// completedAt spreads the rows evenly over storeSpan, in row order.
func (t *storeTable) completedAt(i int) time.Time {
	return t.start.Add(time.Duration(int64(storeSpan) / int64(t.rows) * int64(i))).Truncate(time.Microsecond)
}

// learner is row i's learner: a quarter as many learners as rows, so each
// has about four certificates, scattered over the years.
func (t *storeTable) learner(i int) int {
	return int(uint64(i) * 2654435761 % uint64(max(t.rows/4, 1)))
}

// address is learner j's address; every tenth is stored with capitals, as
// platforms send them.
func (t *storeTable) address(j int) string {
	e := fmt.Sprintf("learner%d@company%d.example", j, j%storeCompanies)
	if j%10 == 0 {
		return "Learner" + e[len("learner"):]
	}
	return e
}

func (t *storeTable) status(i int) store.Status {
	switch i % 100 {
	case 0:
		return store.StatusIgnored
	case 1:
		return store.StatusPartial
	}
	return store.StatusCompleted
}

func (t *storeTable) delivery(i int) string {
	if t.status(i) == store.StatusIgnored {
		return ""
	}
	switch i % 100 {
	case 2, 3:
		return "bounced"
	case 4:
		return "dropped"
	}
	return "delivered"
}

// completion is row i's columns, in completionColumns order.
func (t *storeTable) completion(i int) []any {
	id, at, j := t.eventID(i), t.completedAt(i), t.learner(i)
	email := t.address(j)
	code := ""
	if t.status(i) != store.StatusIgnored {
		code = t.keys.Code(id)
	}
	payload := fmt.Sprintf(`{"id":%q,"type":"courseCompletion","user":%q,"title":"Course %d","timestamp":%q,"padding":"%s"}`,
		id, email, i%storeCourses, at.Format(time.RFC3339Nano), strings.Repeat("x", 400))
	return []any{id, "courseCompletion", string(t.status(i)), email, strings.ToLower(email), "Ana", "Silva",
		fmt.Sprintf("company-%d", j%storeCompanies), fmt.Sprintf("course-%d", i%storeCourses), fmt.Sprintf("Course %d", i%storeCourses),
		at, at.Add(time.Second), []byte(payload), at.Add(2 * time.Second), at.Add(3 * time.Second), code, t.delivery(i)}
}

const completionColumns = "event_id, event_type, status, learner_email, learner_key, first_name, last_name, company_id, course_id, course_title, " +
	"completed_at, received_at, payload, recorded_at, updated_at, verification_code, delivery"

// receipt, email and resend are row i's rows of the other tables a find
// page reads; a failed event has none, and one in a hundred was resent.
func (t *storeTable) receipt(i int) []any {
	at := t.completedAt(i)
	return []any{t.eventID(i), "email", fmt.Sprintf("sg-%d", i), "", "", fmt.Sprintf("%064x", i), at}
}

func (t *storeTable) emailRow(i int) []any {
	at := t.completedAt(i)
	return []any{t.eventID(i), "", strings.ToLower(t.address(t.learner(i))), fmt.Sprintf("sg-%d", i), at, t.delivery(i), at}
}

func (t *storeTable) resend(i int) []any {
	at := t.completedAt(i).Add(time.Hour)
	return []any{fmt.Sprintf("resend-%d", i), t.eventID(i), "email", "bounced", "ops@example.com", at, store.ResendDone, at}
}

// loadTable is one table of the load: its columns, and its row for event
// i where keep says it has one.
type loadTable struct {
	name, columns string
	row           func(i int) []any
	keep          func(i int) bool
}

// tables are what the load writes, completions first.
func (t *storeTable) tables() []loadTable {
	all := func(int) bool { return true }
	sent := func(i int) bool { return t.status(i) != store.StatusIgnored }
	return []loadTable{
		{"completions", completionColumns, t.completion, all},
		{"receipts", receiptColumns, t.receipt, sent},
		{"emails", emailColumns, t.emailRow, sent},
		{"resends", resendColumns, t.resend, func(i int) bool { return i%100 == 50 }},
	}
}

const (
	receiptColumns = "event_id, channel, receipt_id, location, via, sha256, recorded_at"
	emailColumns   = "event_id, resend_id, to_address, message_id, sent_at, state, state_at"
	resendColumns  = "request_id, event_id, what, reason, requested_by, requested_at, status, finished_at"
)

// storeRow loads opts.StoreRows completions into SQLite and into
// PostgreSQL, each through the store's own migrations, and times the
// operators' queries on each.
func (b *bench) storeRow(ctx context.Context) ([]storeResult, error) {
	table, err := newStoreTable(b.opts.StoreRows)
	if err != nil {
		return nil, err
	}
	var out []storeResult
	sqlitePath := filepath.Join(b.work, "store-row.db")
	defer func() { _ = os.Remove(sqlitePath) }()
	r, err := b.storeDatabase(ctx, table, "SQLite", sqlitePath, func(path string) error {
		return loadSQLite(ctx, path, table)
	})
	if err != nil {
		return nil, err
	}
	out = append(out, r)

	url, drop, err := pgtest.Create(ctx, "coursehook_bench_")
	if err != nil {
		return append(out, storeResult{Database: "PostgreSQL", Skipped: err.Error()}), nil
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := drop(ctx); err != nil {
			b.progress("store: %v", err)
		}
	}()
	r, err = b.storeDatabase(ctx, table, "PostgreSQL", url, func(url string) error {
		return loadPostgres(ctx, url, table)
	})
	if err != nil {
		return out, err
	}
	return append(out, r), nil
}

// storeDatabase migrates the database at url, loads the table with load,
// and times the queries on a store opened afresh, as coursehookctl opens
// one.
func (b *bench) storeDatabase(ctx context.Context, table *storeTable, name, url string, load func(string) error) (storeResult, error) {
	res := storeResult{Database: name, Rows: table.rows, Times: map[string]dist{}}
	st, err := store.Open(ctx, url)
	if err != nil {
		return res, fmt.Errorf("store, %s: %w", name, err)
	}
	if err := st.Close(); err != nil {
		return res, err
	}
	b.progress("store: loading %d completions into %s", table.rows, name)
	began := time.Now()
	if err := load(url); err != nil {
		return res, fmt.Errorf("store, %s: load: %w", name, err)
	}
	res.Load = time.Since(began)
	b.progress("store: %s loaded in %s; timing the queries", name, res.Load.Round(time.Second))

	st, err = store.Open(ctx, url)
	if err != nil {
		return res, fmt.Errorf("store, %s: %w", name, err)
	}
	defer func() { _ = st.Close() }()
	for _, q := range storeQueries {
		times, err := timeQuery(ctx, st, table, q, b.opts.StoreSamples)
		if err != nil {
			return res, fmt.Errorf("store, %s, %s: %w", name, q, err)
		}
		res.Times[q] = newDist(times)
	}
	return res, nil
}

// timeQuery runs query n times, each on another course, company, learner
// or place in the table, after one untimed run that warms the cache as an
// operator's first query would not: the figures are of a database in use.
func timeQuery(ctx context.Context, st *store.Store, t *storeTable, query string, n int) ([]time.Duration, error) {
	times := make([]time.Duration, 0, n)
	for k := range n + 1 {
		// A fixed walk over rows, the same in every run.
		i := int(uint64(k+1) * 11400714819323198485 % uint64(t.rows))
		began := time.Now()
		got, err := runQuery(ctx, st, t, query, i)
		took := time.Since(began)
		if err != nil {
			return nil, err
		}
		if got == 0 {
			return nil, fmt.Errorf("row %d: the query found nothing, so it measured nothing", i)
		}
		if k > 0 {
			times = append(times, took)
		}
	}
	return times, nil
}

// runQuery is one query about row i, as coursehookctl find, the export or
// the verification page asks it, and how many rows it found.
func runQuery(ctx context.Context, st *store.Store, t *storeTable, query string, i int) (int, error) {
	switch query {
	case "verification":
		for ; t.status(i) == store.StatusIgnored; i++ {
		}
		if _, err := st.CertificateByCode(ctx, t.keys.Code(t.eventID(i))); err != nil {
			return 0, err
		}
		return 1, nil
	case "export page":
		// A page from somewhere in the table, as a long export reaches it.
		recs, err := st.List(ctx, store.Filter{After: &store.Cursor{CompletedAt: t.completedAt(i), EventID: t.eventID(i)}, Limit: storeExportLimit})
		return len(recs) + 1, err
	}
	f := store.Filter{Limit: storeFindLimit}
	switch query {
	case "find --course":
		f.CourseID = fmt.Sprintf("course-%d", i%storeCourses)
	case "find --company":
		f.CompanyID = fmt.Sprintf("company-%d", t.learner(i)%storeCompanies)
	case "find --email":
		// In other capitals than stored: one rule for who a learner is.
		f.LearnerEmail = strings.ToUpper(t.address(t.learner(i)))
	case "find --status completed --since 720h":
		f.Status, f.Since = store.StatusCompleted, t.completedAt(t.rows-1).Add(-720*time.Hour)
	default:
		return 0, fmt.Errorf("no query %q", query)
	}
	return findPage(ctx, st, f)
}

// findPage reads what coursehookctl find prints: a page of completions,
// then their resends and emails, one query each.
func findPage(ctx context.Context, st *store.Store, f store.Filter) (int, error) {
	recs, err := st.List(ctx, f)
	if err != nil {
		return 0, err
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.EventID
	}
	if _, err := st.Resends(ctx, ids...); err != nil {
		return 0, err
	}
	if _, err := st.Emails(ctx, ids...); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// loadPostgres copies the tables in with COPY, then analyzes them as
// autovacuum would soon after such a load.
func loadPostgres(ctx context.Context, url string, t *storeTable) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, tb := range t.tables() {
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			for ; i < t.rows; i++ {
				if tb.keep(i) {
					i++
					return tb.row(i - 1), nil
				}
			}
			return nil, nil
		})
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{tb.name}, strings.Split(tb.columns, ", "), src); err != nil {
			return fmt.Errorf("copy %s: %w", tb.name, err)
		}
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}

// loadSQLite inserts the tables in transactions of 100,000 rows, 100 rows
// a statement, with a page cache of a gigabyte and no journal: a throwaway
// database, loaded as fast as the indexes' random inserts allow. SQLite's
// planner works from its heuristics here, as it does for a deployment that
// never runs ANALYZE. Times are written in the store's fixed-width text; a
// time written otherwise would compare wrong, and the queries would find
// nothing, which fails the row.
func loadSQLite(ctx context.Context, path string, t *storeTable) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-1000000)&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	const perStatement, perTx = 100, 100_000
	for _, tb := range t.tables() {
		n := strings.Count(tb.columns, ",") + 1
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
		var batch [][]any
		flush := func(tx *sql.Tx) error {
			if len(batch) == 0 {
				return nil
			}
			args := make([]any, 0, len(batch)*n)
			for _, row := range batch {
				for _, v := range row {
					switch v := v.(type) {
					case time.Time:
						args = append(args, v.UTC().Format("2006-01-02T15:04:05.000000Z"))
					case []byte:
						args = append(args, string(v))
					default:
						args = append(args, v)
					}
				}
			}
			q := "INSERT INTO " + tb.name + " (" + tb.columns + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", len(batch)), ", ")
			batch = batch[:0]
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		}
		for from := 0; from < t.rows; from += perTx {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for i := from; i < min(from+perTx, t.rows); i++ {
				if !tb.keep(i) {
					continue
				}
				if batch = append(batch, tb.row(i)); len(batch) == perStatement {
					if err := flush(tx); err != nil {
						_ = tx.Rollback()
						return fmt.Errorf("insert %s: %w", tb.name, err)
					}
				}
			}
			if err := flush(tx); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("insert %s: %w", tb.name, err)
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
	}
	return nil
}
