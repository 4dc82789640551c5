// Package export serves the completions to third-party systems (reporting,
// automation, analytics) as JSON or CSV, a page at a time, behind a bearer
// token. It is mounted on the webhook server's private admin listener, never
// on the public port.
package export

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coursehook/coursehook/bearer"
	"github.com/coursehook/coursehook/delivery"
	"github.com/coursehook/coursehook/store"
)

// Path is where the completions are served.
const Path = "/api/completions"

// MaxLimit caps a page.
const MaxLimit = 1000

// Lister is the part of the store the export reads.
type Lister interface {
	List(ctx context.Context, f store.Filter) ([]store.Record, error)
}

// Item is one completion as the export shows it.
type Item struct {
	EventID            string    `json:"eventId"`
	Status             string    `json:"status"`
	CompletedAt        time.Time `json:"completedAt"`
	ReceivedAt         time.Time `json:"receivedAt"`
	CourseID           string    `json:"courseId"`
	CourseTitle        string    `json:"courseTitle"`
	CompanyID          string    `json:"companyId"`
	LearnerEmail       string    `json:"learnerEmail"`
	FirstName          string    `json:"firstName"`
	LastName           string    `json:"lastName"`
	LearnerID          string    `json:"learnerId"`
	ExternalCustomerID string    `json:"externalCustomerId"`
	FailedStep         string    `json:"failedStep"`
	CertificateSHA256  string    `json:"certificateSha256"`
	// Delivery is the state of the latest certificate email (sent,
	// processed, deferred, delivered, dropped, bounced, spam), empty
	// before one was sent; DeliveryAt and DeliveryReason are SendGrid's
	// time and words for it.
	Delivery       string     `json:"delivery"`
	DeliveryAt     *time.Time `json:"deliveryAt"`
	DeliveryReason string     `json:"deliveryReason"`
	// CorrectedEmail is the address an operator resent the certificate
	// to, empty while the learner's own stands.
	CorrectedEmail string `json:"correctedEmail"`
	// ExpiresAt is when the certificate lapses, null when it never does;
	// SupersededBy is the learner's later completion of the course that
	// renewed it, empty while it is the latest.
	ExpiresAt    *time.Time `json:"expiresAt"`
	SupersededBy string     `json:"supersededBy"`
}

// ItemOf is the export's view of a stored completion.
func ItemOf(rec store.Record) Item {
	it := Item{
		EventID: rec.EventID, Status: string(rec.Status), CompletedAt: rec.CompletedAt, ReceivedAt: rec.ReceivedAt,
		CourseID: rec.CourseID, CourseTitle: rec.CourseTitle, CompanyID: rec.CompanyID,
		LearnerEmail: rec.LearnerEmail, FirstName: rec.FirstName, LastName: rec.LastName,
		LearnerID: rec.LearnerID, ExternalCustomerID: rec.ExternalCustomerID,
		FailedStep: rec.FailedStep, CertificateSHA256: rec.CertificateSHA256(),
		Delivery: string(rec.Delivery), DeliveryReason: rec.DeliveryReason, CorrectedEmail: rec.CorrectedEmail,
	}
	if !rec.DeliveryAt.IsZero() {
		at := rec.DeliveryAt
		it.DeliveryAt = &at
	}
	if !rec.ExpiresAt.IsZero() {
		at := rec.ExpiresAt
		it.ExpiresAt = &at
	}
	it.SupersededBy = rec.SupersededBy
	return it
}

// csvHeader is the CSV's first row, in Item's order.
var csvHeader = []string{"eventId", "status", "completedAt", "receivedAt", "courseId", "courseTitle", "companyId",
	"learnerEmail", "firstName", "lastName", "learnerId", "externalCustomerId", "failedStep", "certificateSha256",
	"delivery", "deliveryAt", "deliveryReason", "correctedEmail", "expiresAt", "supersededBy"}

func (i Item) row() []string {
	return []string{i.EventID, i.Status, i.CompletedAt.Format(time.RFC3339Nano), i.ReceivedAt.Format(time.RFC3339Nano),
		i.CourseID, i.CourseTitle, i.CompanyID, i.LearnerEmail, i.FirstName, i.LastName, i.LearnerID,
		i.ExternalCustomerID, i.FailedStep, i.CertificateSHA256,
		i.Delivery, optionalTime(i.DeliveryAt), i.DeliveryReason, i.CorrectedEmail, optionalTime(i.ExpiresAt), i.SupersededBy}
}

// optionalTime is a CSV cell: the time, or empty.
func optionalTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// Handler serves Path for holders of token. The store is only reached once
// the token checks out. log hears of the failures a client cannot see;
// nil discards them.
func Handler(l Lister, token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	want := bearer.New(token)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		if !want.Matches(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="coursehook"`)
			_ = writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid API_TOKEN is required as Authorization: Bearer <token>"})
			return
		}
		serve(w, r, l, log)
	})
	return mux
}

// problem is one bad query parameter.
type problem struct {
	Parameter string `json:"parameter"`
	Message   string `json:"message"`
}

func parse(q url.Values, now func() time.Time) (store.Filter, []problem) {
	var f store.Filter
	var ps []problem
	bad := func(p, format string, args ...any) { ps = append(ps, problem{p, fmt.Sprintf(format, args...)}) }
	for name := range q {
		switch name {
		case "course", "company", "status", "delivery", "since", "until", "expiresAfter", "expiresBefore", "expired", "limit", "cursor":
		default:
			bad(name, "is not a parameter; use course, company, status, delivery, since, until, expiresAfter, expiresBefore, expired, limit or cursor")
		}
	}
	f.CourseID, f.CompanyID = q.Get("course"), q.Get("company")
	if v := q.Get("status"); v != "" {
		if s := store.Status(v); s.Valid() {
			f.Status = s
		} else {
			bad("status", "must be recorded, completed, partial or ignored")
		}
	}
	if v := q.Get("delivery"); v != "" {
		states, err := delivery.ParseStates(v)
		if err != nil {
			bad("delivery", "%v", err)
		}
		f.Delivery = states
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(p.name, "must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
			}
			*p.dst = t
		}
	}
	var expires store.ExpiryRange
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"expiresAfter", &expires.From}, {"expiresBefore", &expires.Before}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(p.name, "must be an RFC 3339 time such as 2027-01-01T00:00:00Z")
			}
			*p.dst = t
		}
	}
	switch v := q.Get("expired"); v {
	case "":
	case "true":
		if !expires.Before.IsZero() || !expires.From.IsZero() {
			bad("expired", "takes no expiresAfter or expiresBefore beside it")
		}
		expires.Before = now()
	default:
		bad("expired", "must be true")
	}
	switch {
	case !expires.Before.IsZero():
		// Listed by expiry date: who is due to renew, the renewed and
		// the revoked left out.
		f.Expiring = &expires
	case !expires.From.IsZero():
		bad("expiresAfter", "needs expiresBefore: the certificates expiring in a range, such as the next 30 days")
	}
	f.Limit = store.DefaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			bad("limit", "must be a whole number from 1 to %d", MaxLimit)
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			bad("cursor", "is not a cursor this API gave out")
		}
		f.After = &c
		if f.Expiring != nil && c.ExpiresAt.IsZero() {
			// A cursor of a listing by completion has no place in one by
			// expiry; taken as the start, it would hand out pages again.
			bad("cursor", "belongs to a listing by completion date, not by expiry date")
		}
	}
	return f, ps
}

func serve(w http.ResponseWriter, r *http.Request, l Lister, log *slog.Logger) {
	f, problems := parse(r.URL.Query(), time.Now)
	if len(problems) > 0 {
		_ = writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid parameters", "problems": problems})
		return
	}
	recs, err := l.List(r.Context(), f)
	if errors.Is(err, store.ErrInvalid) {
		// The store refused the filter itself: the request's fault, said
		// as such, not an outage to retry.
		_ = writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid parameters",
			"problems": []problem{{Message: err.Error()}}})
		return
	}
	if err != nil {
		log.Error("export: list completions", "error", err)
		w.Header().Set("Retry-After", "5")
		_ = writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the database did not answer; try again"})
		return
	}
	items := make([]Item, len(recs))
	for i, rec := range recs {
		items[i] = ItemOf(rec)
	}
	// A full page may have a next one; a short page is the last.
	var next string
	if len(recs) == f.Limit {
		next = encodeCursor(store.CursorOf(recs[len(recs)-1]))
	}
	w.Header().Set("Cache-Control", "no-store")
	if wantsCSV(r.Header.Get("Accept")) {
		if next != "" {
			q := r.URL.Query()
			q.Set("cursor", next)
			w.Header().Set("Link", "<"+Path+"?"+q.Encode()+`>; rel="next"`)
			w.Header().Set("X-Next-Cursor", next)
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.UseCRLF = true // RFC 4180
		_ = cw.Write(csvHeader)
		for _, it := range items {
			_ = cw.Write(neutralise(it.row()))
		}
		cw.Flush()
		abortOnError(log, cw.Error())
		return
	}
	body := map[string]any{"items": items, "nextCursor": nil}
	if next != "" {
		body["nextCursor"] = next
	}
	abortOnError(log, writeJSON(w, http.StatusOK, body))
}

// abortOnError ends a response whose body could not be written whole by
// aborting the connection, so the client sees a broken transfer instead
// of a page that looks complete and is not.
func abortOnError(log *slog.Logger, err error) {
	if err == nil {
		return
	}
	log.Warn("export: the page was not written whole; the connection is dropped", "error", err)
	panic(http.ErrAbortHandler)
}

// neutralise keeps a spreadsheet from running a cell as a formula: a value
// that starts with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe, as OWASP advises for CSV injection. Times and ids never start
// with one, so only learner-supplied text changes.
func neutralise(row []string) []string {
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			row[i] = "'" + v
		}
	}
	return row
}

func wantsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true
		}
	}
	return false
}

// The cursor is opaque to clients: base64url of the last record's place.
type cursorJSON struct {
	T time.Time `json:"t"`
	// E is the expiry date, for a listing by expiry; the cursors given out
	// before it existed lack it.
	E  time.Time `json:"e,omitzero"`
	ID string    `json:"id"`
}

func encodeCursor(c store.Cursor) string {
	b, _ := json.Marshal(cursorJSON{T: c.CompletedAt, E: c.ExpiresAt, ID: c.EventID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (store.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.Cursor{}, err
	}
	var c cursorJSON
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" || c.T.IsZero() {
		return store.Cursor{}, fmt.Errorf("bad cursor")
	}
	return store.Cursor{CompletedAt: c.T, ExpiresAt: c.E, EventID: c.ID}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
