package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/coursehook/coursehook/courses"
	"github.com/coursehook/coursehook/delivery"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/export"
	"github.com/coursehook/coursehook/store"
	"github.com/coursehook/coursehook/workflows"
)

// findRow is one event as `find --json` prints it: the export's item, and
// what an operator needs beside it.
type findRow struct {
	export.Item
	WorkflowID  string `json:"workflowId"`
	LearnerHash string `json:"learnerHash"`
	Error       string `json:"error,omitempty"`
	// Receipts are what each channel delivered, by channel name.
	Receipts workflows.Receipts `json:"receipts,omitempty"`
	// SlackTS, EmailMessageID and Announcement repeat the Slack and email
	// receipts under the names find printed before receipts by channel,
	// for scripts written then. Announcement says how Slack announced the
	// event: its own "message", or a line in its course's "digest".
	SlackTS        string `json:"slackTs,omitempty"`
	EmailMessageID string `json:"emailMessageId,omitempty"`
	Announcement   string `json:"announcement,omitempty"`
	// CourseName is the course's name in COURSES_FILE, when it has one.
	CourseName      string `json:"courseName,omitempty"`
	PreviousEventID string `json:"previousEventId,omitempty"`
	// Resends are the operators' resends of the event, oldest first.
	Resends []resendRow `json:"resends"`
	// Emails are the certificate emails sent, the first one first, each
	// with its delivery as SendGrid reported it.
	Emails []emailRow `json:"emails"`
	// Notices are the reminders and the expiry notice of a certificate
	// that expires, as delivered, the first one first.
	Notices []noticeRow `json:"notices,omitempty"`
}

// noticeRow is one delivered notice about a certificate's validity.
type noticeRow struct {
	Notice  string            `json:"notice"`
	Channel string            `json:"channel"`
	Receipt workflows.Receipt `json:"receipt"`
	SentAt  time.Time         `json:"sentAt"`
}

// emailRow is one certificate email and its delivery.
type emailRow struct {
	ResendID       string     `json:"resendId,omitempty"`
	To             string     `json:"to"`
	MessageID      string     `json:"messageId,omitempty"`
	SentAt         *time.Time `json:"sentAt,omitempty"`
	State          string     `json:"state"`
	StateAt        *time.Time `json:"stateAt,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	Classification string     `json:"classification,omitempty"`
	Opens          int        `json:"opens,omitempty"`
	Clicks         int        `json:"clicks,omitempty"`
	// SlackReply is the reply posted about a failed delivery.
	SlackReply string `json:"slackReply,omitempty"`
}

// resendRow is one audited resend.
type resendRow struct {
	RequestID   string    `json:"requestId"`
	What        string    `json:"what"`
	Reason      string    `json:"reason,omitempty"`
	RequestedBy string    `json:"requestedBy"`
	RequestedAt time.Time `json:"requestedAt"`
	Status      string    `json:"status"`
	Result      string    `json:"result,omitempty"`
	// OldAddress and NewAddress are set for a resend to a corrected
	// address.
	OldAddress string `json:"oldAddress,omitempty"`
	NewAddress string `json:"newAddress,omitempty"`
}

// find lists events from the database, newest filter first, and prints the
// Temporal filter that finds the same workflows in the UI.
func find(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("find", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f store.Filter
	var status, since, deliveryStates, expiresBefore string
	var asJSON, expired bool
	fs.StringVar(&f.CourseID, "course", "", "course id (notifiableId), or its name in COURSES_FILE")
	fs.StringVar(&f.CompanyID, "company", "", "company id")
	fs.StringVar(&f.LearnerEmail, "email", "", "learner email")
	fs.StringVar(&status, "status", "", "recorded, completed, partial or ignored")
	fs.StringVar(&deliveryStates, "delivery", "", "the latest certificate email's delivery: sent, processed, deferred, delivered, dropped, bounced or spam, several with commas")
	fs.StringVar(&since, "since", "", "received since: a duration back from now (24h, 7d, 2w) or an RFC 3339 time")
	fs.StringVar(&expiresBefore, "expires-before", "", "certificates expiring from now until this far ahead (30d, 2w, 12h) or this RFC 3339 time, soonest first; the renewed and the revoked left out")
	fs.BoolVar(&expired, "expired", false, "certificates whose expiry date has passed, by date; the renewed and the revoked left out")
	fs.IntVar(&f.Limit, "limit", store.DefaultListLimit, "how many events at most")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: find: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: find takes flags only, got %q", errUsage, fs.Arg(0))
	}
	if status != "" {
		f.Status = store.Status(status)
		if !f.Status.Valid() {
			return fmt.Errorf("%w: --status %q is not one of %s", errUsage, status, statusList())
		}
	}
	var err error
	if f.Delivery, err = delivery.ParseStates(deliveryStates); err != nil {
		return fmt.Errorf("%w: --delivery: %v", errUsage, err)
	}
	if f.ReceivedSince, err = parseSince(since, now); err != nil {
		return err
	}
	if f.Limit <= 0 {
		return fmt.Errorf("%w: --limit must be positive", errUsage)
	}
	if f.Expiring, err = expiryRange(expiresBefore, expired, now); err != nil {
		return err
	}

	cfg, st, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer st.Close()
	names, err := courseNames(cfg.CoursesFile)
	if err != nil {
		return err
	}
	f.CourseID = courseID(f.CourseID, names)
	recs, err := st.List(ctx, f)
	if err != nil {
		return err
	}
	rows := make([]findRow, len(recs))
	at := make(map[string]*findRow, len(recs))
	ids := make([]string, len(recs))
	for i, r := range recs {
		rows[i] = findRow{
			Item: export.ItemOf(r), WorkflowID: workflows.WorkflowID(r.EventID),
			LearnerHash: event.LearnerHash(cfg.LearnerHashKey, r.LearnerEmail),
			Error:       r.Error, Receipts: r.Receipts, SlackTS: r.Receipts[workflows.StepNameSlack].ID,
			EmailMessageID: r.Receipts[workflows.StepNameEmail].ID, Announcement: r.Receipts[workflows.StepNameSlack].Via,
			CourseName: names[r.CourseID], PreviousEventID: r.PreviousEventID,
			Resends: []resendRow{}, Emails: []emailRow{},
		}
		at[r.EventID] = &rows[i]
		ids[i] = r.EventID
	}
	// The page's resends and emails in one query each, not one per row.
	resends, err := st.Resends(ctx, ids...)
	if err != nil {
		return err
	}
	for _, rs := range resends {
		row := at[rs.EventID]
		row.Resends = append(row.Resends, resendRow{RequestID: rs.RequestID, What: rs.What, Reason: rs.Reason,
			RequestedBy: rs.RequestedBy, RequestedAt: rs.RequestedAt, Status: rs.Status, Result: rs.Result,
			OldAddress: rs.OldAddress, NewAddress: rs.NewAddress})
	}
	emails, err := st.Emails(ctx, ids...)
	if err != nil {
		return err
	}
	for _, e := range emails {
		row := at[e.EventID]
		row.Emails = append(row.Emails, emailRow{ResendID: e.ResendID, To: e.To, MessageID: e.MessageID,
			SentAt: timeOrNil(e.SentAt), State: string(e.State), StateAt: timeOrNil(e.StateAt), Reason: e.Reason,
			Classification: e.Classification, Opens: e.Opens, Clicks: e.Clicks, SlackReply: e.AlertTS})
	}
	notices, err := st.Notices(ctx, ids...)
	if err != nil {
		return err
	}
	for _, n := range notices {
		row := at[n.EventID]
		row.Notices = append(row.Notices, noticeRow{Notice: n.Notice, Channel: n.Channel, Receipt: n.Receipt, SentAt: n.SentAt})
	}
	filter := temporalFilter(f, cfg.LearnerHashKey)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Events         []findRow `json:"events"`
			TemporalFilter string    `json:"temporalFilter"`
		}{rows, filter})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT ID\tSTATUS\tCOMPLETED (UTC)\tCOURSE\tCOMPANY\tLEARNER\tDELIVERED\tEMAIL\tFAILED\tRESENDS\tEXPIRES (UTC)")
	for _, r := range rows {
		course := oneLine(r.CourseID)
		if r.CourseName != "" {
			course = oneLine(r.CourseName) + " (" + course + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(r.EventID), r.Status, r.CompletedAt.Format("2006-01-02 15:04:05"),
			course, oneLine(r.CompanyID), learner(r.Item), delivered(r.Receipts), emailState(r.Item), r.FailedStep, resendSummary(r.Resends),
			expiry(r, now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d events", len(rows))
	if len(rows) == f.Limit {
		fmt.Fprintf(stdout, " (the --limit; there may be more)")
	}
	fmt.Fprintf(stdout, "\nTemporal filter: %s\n", filter)
	return nil
}

// expiryRange reads --expires-before and --expired: a listing by expiry
// date, or nil for the usual one by completion.
func expiryRange(before string, expired bool, now time.Time) (*store.ExpiryRange, error) {
	switch {
	case expired && before != "":
		return nil, fmt.Errorf("%w: --expired and --expires-before are two listings; give one", errUsage)
	case expired:
		return &store.ExpiryRange{Before: now.UTC()}, nil
	case before == "":
		return nil, nil
	}
	if t, ok := span(before, now, 1); ok {
		return &store.ExpiryRange{From: now.UTC(), Before: t}, nil
	}
	if t, err := time.Parse(time.RFC3339, before); err == nil && t.After(now) {
		return &store.ExpiryRange{From: now.UTC(), Before: t.UTC()}, nil
	}
	return nil, fmt.Errorf("%w: --expires-before must be a period ahead such as 30d, 2w or 12h, or a later RFC 3339 time, got %q", errUsage, before)
}

// expiry is the table's view of a certificate's validity: its date,
// whether it lapsed or was renewed, and which of its notices went out, so
// an operator asked "did they get the reminder?" reads it off the row; "-"
// for one that never expires.
func expiry(r findRow, now time.Time) string {
	if r.ExpiresAt == nil {
		return "-"
	}
	s := r.ExpiresAt.UTC().Format("2006-01-02 15:04")
	switch {
	case r.SupersededBy != "":
		s += " (renewed by " + oneLine(r.SupersededBy) + ")"
	case !now.Before(*r.ExpiresAt):
		s += " (expired)"
	}
	if len(r.Notices) > 0 {
		names := make([]string, len(r.Notices))
		for i, n := range r.Notices {
			names[i] = oneLine(n.Notice)
		}
		s += "; sent " + strings.Join(names, ", ")
	}
	return s
}

// courseNames are the course names COURSES_FILE gives, by course id; none
// without the file.
func courseNames(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	// The worker's channels bring keys of their own, which find need not
	// know to read the names.
	t, err := courses.Load(path, courses.Route{}, courses.AnySection)
	if err != nil {
		return nil, fmt.Errorf("COURSES_FILE: %w", err)
	}
	return t.Names(), nil
}

// courseID takes --course as an id, or as a course's name in COURSES_FILE
// (any case) when one has it.
func courseID(v string, names map[string]string) string {
	for id, name := range names {
		if strings.EqualFold(name, v) {
			return id
		}
	}
	return v
}

func statusList() string {
	statuses := store.Statuses()
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// parseSince reads --since: a length of time back from now, or a time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, ok := span(v, now, -1); ok {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: --since must be a duration such as 24h or 7d, or an RFC 3339 time, got %q", errUsage, v)
}

// span is the time a length of time v away from now, ahead for sign 1 and
// back for -1, in UTC. v is a period as the courses file writes validity
// (30d, 2w, 3mo), so an operator asks about reminders in the units that
// configure them, or a Go duration (1h30m), which the flags took first.
func span(v string, now time.Time, sign int) (time.Time, bool) {
	if p, err := courses.ParsePeriod(v); err == nil {
		if sign < 0 {
			return p.Before(now), true
		}
		return p.After(now), true
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(time.Duration(sign) * d).UTC(), true
	}
	return time.Time{}, false
}

// temporalFilter is the visibility query for the same events, to paste into
// the UI's filter box or `temporal workflow list --query`. The database's
// "recorded" is the workflow still at work: recording or notifying.
func temporalFilter(f store.Filter, learnerKey []byte) string {
	if f.Expiring != nil {
		// The certificates' schedules; they carry no search attributes of
		// their own, so the course and the learner are find's to narrow.
		return `WorkflowType = "` + workflows.ValidityWorkflowType + `" AND ExecutionStatus = "Running"`
	}
	terms := []string{`WorkflowType = "CourseCompletion"`}
	if f.CourseID != "" {
		terms = append(terms, workflows.CourseIDKey.GetName()+" = "+strconv.Quote(f.CourseID))
	}
	if f.CompanyID != "" {
		terms = append(terms, workflows.CompanyIDKey.GetName()+" = "+strconv.Quote(f.CompanyID))
	}
	if f.LearnerEmail != "" {
		terms = append(terms, workflows.LearnerHashKey.GetName()+" = "+strconv.Quote(event.LearnerHash(learnerKey, f.LearnerEmail)))
	}
	switch f.Status {
	case "":
	case store.StatusRecorded:
		terms = append(terms, fmt.Sprintf("%s IN (%q, %q)", workflows.CompletionStatusKey.GetName(), workflows.CompletionRecording, workflows.CompletionNotifying))
	default:
		terms = append(terms, workflows.CompletionStatusKey.GetName()+" = "+strconv.Quote(string(f.Status)))
	}
	if !f.ReceivedSince.IsZero() {
		terms = append(terms, "StartTime >= "+strconv.Quote(f.ReceivedSince.Format(time.RFC3339)))
	}
	return strings.Join(terms, " AND ")
}

// learner is the learner's address, and the corrected one an operator
// resent to.
func learner(it export.Item) string {
	if it.CorrectedEmail == "" || event.EmailKey(it.CorrectedEmail) == event.EmailKey(it.LearnerEmail) {
		return oneLine(it.LearnerEmail)
	}
	return oneLine(it.LearnerEmail) + " -> " + oneLine(it.CorrectedEmail)
}

// emailState is the latest certificate email's delivery, with SendGrid's
// reason for a failed one.
func emailState(it export.Item) string {
	if it.Delivery == "" {
		return "-"
	}
	if delivery.State(it.Delivery).Failed() && it.DeliveryReason != "" {
		return it.Delivery + " (" + truncateRunes(oneLine(it.DeliveryReason), 60) + ")"
	}
	return it.Delivery
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// oneLine keeps a stored id from breaking the table, and an untrusted
// value from steering the terminal: whitespace is folded, and anything
// else that draws nothing (escape sequences' ESC, bidi controls) becomes
// U+FFFD.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsGraphic(r) {
			return r
		}
		return unicode.ReplacementChar
	}, s)), " ")
}

// resendSummary is the table's view of an event's resends: the last one.
func resendSummary(rs []resendRow) string {
	if len(rs) == 0 {
		return ""
	}
	last := rs[len(rs)-1]
	return fmt.Sprintf("%d (last: %s %s by %s, %s)", len(rs), last.What, last.RequestedAt.Format("2006-01-02"), oneLine(last.RequestedBy), last.Status)
}

// delivered names the channels with a receipt, in name order: "email,
// slack", and "slack (digest)" for a completion announced in its course's
// cohort digest.
func delivered(r workflows.Receipts) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r)) {
		if r[name].Via == workflows.AnnouncedDigest {
			name += " (digest)"
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}
