package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/webhook"
)

// completionLine is the platform's sample as one JSON line, with id and
// learner email of its own.
func completionLine(t *testing.T, id, email string) string {
	t.Helper()
	raw, err := os.ReadFile("../testdata/course-completion.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m["id"], m["user"] = id, email
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// writeInput writes text to a file called name in a fresh folder.
func writeInput(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// runImport runs coursehookctl import with args; it needs no Temporal
// unless the args start workflows.
func runImport(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"import"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestImportDryRunValidatesJSONLines(t *testing.T) {
	lines := []string{
		completionLine(t, "ev-1", "ana@example.org"), // 1
		"", // 2: skipped
		completionLine(t, "ev-2", "not an address, secret-name") + "\r", // 3: invalid user, CRLF
		`{"id":"ev-3","event":"courseStarted"}`,                         // 4: an ignored type
		`   `,                                                           // 5: skipped
		`{"id":"ev-4","event":"courseCompletion"`,                       // 6: cut short
		`{"id":"ev-5","event":"courseCompletion","title":"T","notifiableId":"c","user":"x@example.org","user":"y@example.org"}`, // 7: repeated key
		completionLine(t, "ev-6", "bo@example.org"),          // 8
		`{"id":"` + strings.Repeat("a", maxLineBytes) + `"}`, // 9: too long
	}
	path := writeInput(t, "events.jsonl", strings.Join(lines, "\n")) // no final newline

	out, errOut, err := runImport(t, "--dry-run", path)
	require.Error(t, err, "invalid lines make the exit status non-zero")
	require.False(t, errors.Is(err, errUsage), "invalid lines are not a usage error: %v", err)
	require.Contains(t, out, "7 lines (dry run, nothing started): 3 valid (1 of them ignored event types), 4 invalid\n")
	require.Contains(t, out, "read lines 1 to 9 of "+path+" (jsonl)\n")
	require.Contains(t, out, "  line 3: user: must be the learner's email address")
	require.Contains(t, out, "  line 6: body: is not valid JSON")
	require.Contains(t, out, "  line 7: user: appears more than once")
	require.Contains(t, out, fmt.Sprintf("  line 9: body: is over %d bytes", maxLineBytes))
	require.NotContains(t, out, "secret-name", "a value never reaches the output")
	require.NotContains(t, out, "ana@example.org")
	require.Empty(t, errOut, "no progress line under 1,000 lines")
}

func TestImportFromLineSkipsTheLinesBefore(t *testing.T) {
	path := writeInput(t, "events.ndjson", strings.Join([]string{
		`{"id":"bad"`,
		completionLine(t, "ev-1", "ana@example.org"),
		"",
		completionLine(t, "ev-2", "bo@example.org"),
	}, "\n")+"\n")

	out, _, err := runImport(t, path, "--dry-run", "--from-line", "2")
	require.NoError(t, err, out)
	require.Contains(t, out, "2 lines (dry run, nothing started): 2 valid (0 of them ignored event types), 0 invalid\n")
	require.Contains(t, out, "read lines 2 to 4 of")

	out, _, err = runImport(t, path, "--dry-run", "--from-line", "10")
	require.NoError(t, err)
	require.Contains(t, out, "no events read from line 10 on")
}

func TestImportReadsCSV(t *testing.T) {
	csv := "\xef\xbb\xbfID,user,NotifiableId,title,userDetail.firstName,userDetail.lastName,timestamp,event\n" + // 1, with a BOM
		`ev-1,ana@example.org,course-1,"Safety, part 1",Ana,Silva,2021-03-04T05:06:07Z,` + "\n" + // 2
		`ev-2,bo@example.org,course-1,"A title` + "\n" + `over two lines",,,,` + "\n" + // 3-4
		`ev-3,carl at example.org,course-1,T,,,,` + "\n" + // 5: invalid user
		`ev-4,dee@example.org,course-1` + "\n" + // 6: too few fields
		`ev-5,,,,,,,courseStarted` + "\n" + // 7: ignored type
		`ev-6,eve@example.org,course-1,T,,,yesterday,` + "\n" // 8: invalid timestamp
	path := writeInput(t, "events.csv", csv)

	out, _, err := runImport(t, "--dry-run", path)
	require.Error(t, err)
	require.Contains(t, out, "6 lines (dry run, nothing started): 3 valid (1 of them ignored event types), 3 invalid\n")
	require.Contains(t, out, "read lines 2 to 8 of "+path+" (csv)\n")
	require.Contains(t, out, "  line 5: user: must be the learner's email address")
	require.Contains(t, out, "  line 6: row: has 3 fields; the header has 8")
	require.Contains(t, out, "  line 8: timestamp: must be an RFC 3339 time")

	// The rows become the platform's events: the same fields, as Parse
	// reads them.
	src, err := newSource(strings.NewReader(csv), formatCSV)
	require.NoError(t, err)
	first, err := src.next()
	require.NoError(t, err)
	require.Equal(t, 2, first.number)
	ev, err := event.Parse(first.body)
	require.NoError(t, err)
	require.Equal(t, event.Event{ID: "ev-1", Event: event.TypeCourseCompletion, User: "ana@example.org", NotifiableID: "course-1",
		Title: "Safety, part 1", Timestamp: "2021-03-04T05:06:07Z", UserDetail: &event.UserDetail{FirstName: "Ana", LastName: "Silva"}}, ev)
	second, err := src.next()
	require.NoError(t, err)
	require.Equal(t, 3, second.number, "a row is numbered by its first line")
	ev, err = event.Parse(second.body)
	require.NoError(t, err)
	require.Equal(t, "A title\nover two lines", ev.Title)
	require.Nil(t, ev.UserDetail, "no userDetail without its cells")
}

func TestImportRefusesBadArguments(t *testing.T) {
	jsonl := writeInput(t, "events.jsonl", completionLine(t, "ev-1", "ana@example.org")+"\n")
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{nil, "needs a FILE"},
		{[]string{jsonl, jsonl}, "one FILE"},
		{[]string{"--format", "xml", jsonl}, `--format "xml"`},
		{[]string{writeInput(t, "events.txt", "")}, "cannot tell the format"},
		{[]string{"--rate", "-1", jsonl}, "--rate"},
		{[]string{"--from-line", "0", jsonl}, "numbered from 1"},
		{[]string{"--frobnicate", jsonl}, "frobnicate"},
		{[]string{filepath.Join(t.TempDir(), "missing.jsonl")}, "no such file"},
		{[]string{writeInput(t, "events.json", `[{"id":"a"}]`)}, "JSON array"},
		{[]string{writeInput(t, "events.csv", "id,user,email,notifiableId,title\n")}, `column "email"`},
		{[]string{writeInput(t, "events.csv", "id,user,title\n")}, "no notifiableId column"},
		{[]string{writeInput(t, "events.csv", "id,user,notifiableId,title,USER\n")}, "user twice"},
		{[]string{writeInput(t, "events.csv", "")}, "the CSV is empty"},
	} {
		_, _, err := runImport(t, append([]string{"--dry-run"}, c.args...)...)
		require.True(t, errors.Is(err, errUsage), "%v: %v", c.args, err)
		require.ErrorContains(t, err, c.mention, "%v", c.args)
	}
}

// startScript stands in for webhook.Server.Import: it answers each event
// id from a script, and counts the attempts.
type startScript struct {
	answers  map[string][]error
	statuses map[string]string
	attempts map[string]int
	opts     []webhook.ImportOptions
}

func (s *startScript) start(_ context.Context, body []byte, _ time.Time, opts webhook.ImportOptions) (string, error) {
	ev, err := event.Parse(body)
	if err != nil {
		return "", err
	}
	s.attempts[ev.ID]++
	s.opts = append(s.opts, opts)
	if errs := s.answers[ev.ID]; len(errs) > 0 {
		s.answers[ev.ID] = errs[1:]
		if errs[0] != nil {
			return "", errs[0]
		}
	}
	if st, ok := s.statuses[ev.ID]; ok {
		return st, nil
	}
	return webhook.StatusAccepted, nil
}

// importWith runs an import of lines with script as Temporal.
func importWith(t *testing.T, script *startScript, a importArgs, lines ...string) (*importSummary, string) {
	t.Helper()
	a.format = formatJSONL
	src, err := newSource(strings.NewReader(strings.Join(lines, "\n")), formatJSONL)
	require.NoError(t, err)
	var errOut bytes.Buffer
	im := &importer{args: a, start: script.start, progress: newProgress(&errOut, 0), backoff: time.Millisecond}
	sum, err := im.run(context.Background(), src)
	require.NoError(t, err)
	return sum, errOut.String()
}

func TestImportRetriesTransientFailuresOnly(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "frontend unavailable")
	script := &startScript{
		answers: map[string][]error{
			"ev-1": {unavailable, unavailable},                                      // then started
			"ev-2": {status.Error(codes.InvalidArgument, "payload too large")},      // refused: not retried
			"ev-3": {unavailable, unavailable, unavailable, unavailable, nil},       // fails after startAttempts
			"ev-4": {status.Error(codes.DeadlineExceeded, "context deadline"), nil}, // then a duplicate
		},
		statuses: map[string]string{"ev-4": webhook.StatusDuplicate, "ev-5": webhook.StatusIgnored},
		attempts: map[string]int{},
	}
	lines := []string{
		completionLine(t, "ev-1", "a@example.org"), completionLine(t, "ev-2", "b@example.org"),
		completionLine(t, "ev-3", "c@example.org"), completionLine(t, "ev-4", "d@example.org"),
		`{"id":"ev-5","event":"courseStarted"}`, `{"id":"ev-6"`,
	}
	sum, _ := importWith(t, script, importArgs{recordOnly: true}, lines...)

	require.Equal(t, map[string]int{"ev-1": 3, "ev-2": 1, "ev-3": startAttempts, "ev-4": 2, "ev-5": 1}, script.attempts)
	require.Equal(t, 2, sum.accepted, "ev-1, and ev-5 as an ignored type")
	require.Equal(t, 1, sum.ignored)
	require.Equal(t, 1, sum.duplicate)
	require.Len(t, sum.invalid, 1)
	require.Equal(t, []int{2, 3}, []int{sum.failed[0].number, sum.failed[1].number})
	require.Contains(t, sum.failed[0].why, "payload too large")
	for _, o := range script.opts {
		require.True(t, o.RecordOnly, "--record-only reaches every start")
	}
	var out bytes.Buffer
	sum.print(&out, importArgs{path: "events.jsonl", fromLine: 1})
	require.Contains(t, out.String(), "6 lines: 2 accepted (1 of them ignored event types), 1 duplicate, 1 invalid, 2 failed\n")
	require.Contains(t, out.String(), "  line 2: ")
	require.ErrorContains(t, sum.err(importArgs{}), "3 of 6 lines were not imported: 1 invalid, 2 failed")

	// Accepted and duplicate lines alone exit 0.
	ok := &startScript{statuses: map[string]string{"ev-2": webhook.StatusDuplicate}, attempts: map[string]int{}}
	sum, _ = importWith(t, ok, importArgs{}, lines[:2]...)
	require.NoError(t, sum.err(importArgs{}))
	require.False(t, ok.opts[0].RecordOnly)
}

func TestImportStopsWhenEveryStartFails(t *testing.T) {
	down := status.Error(codes.Unavailable, "connection refused")
	script := &startScript{answers: map[string][]error{}, attempts: map[string]int{}}
	var lines []string
	for i := range 30 {
		id := fmt.Sprintf("ev-%d", i)
		lines = append(lines, completionLine(t, id, "a@example.org"))
		if i >= 5 {
			script.answers[id] = []error{down, down, down, down}
		}
	}
	sum, _ := importWith(t, script, importArgs{}, lines...)
	require.Equal(t, 5, sum.accepted)
	require.Len(t, sum.failed, maxFailuresInARow)
	require.Equal(t, 5+maxFailuresInARow, sum.read, "nothing is read after it gives up")
	require.Equal(t, 6, sum.resumeFrom, "it resumes at the first failed line of the run")
	var out bytes.Buffer
	sum.print(&out, importArgs{path: "events.jsonl"})
	require.Contains(t, out.String(), "stopped after 10 lines in a row failed")
	require.Contains(t, out.String(), "--from-line 6")
	require.Error(t, sum.err(importArgs{}))
}

func TestImportReportsProgressEveryThousandLines(t *testing.T) {
	var lines []string
	for i := range 2500 {
		lines = append(lines, fmt.Sprintf(`{"id":"ev-%d","event":"courseStarted"}`, i))
	}
	sum, errOut := importWith(t, &startScript{attempts: map[string]int{}}, importArgs{dryRun: true}, lines...)
	require.Equal(t, 2500, sum.accepted)
	require.Equal(t, "coursehookctl import: 1000 lines: 1000 accepted, 0 duplicate, 0 invalid, 0 failed\n"+
		"coursehookctl import: 2000 lines: 2000 accepted, 0 duplicate, 0 invalid, 0 failed\n", errOut)
}

func TestImportReadsStandardInput(t *testing.T) {
	var out bytes.Buffer
	err := importEvents(context.Background(), []string{"--dry-run", "-"}, func(string) string { return "" },
		strings.NewReader(completionLine(t, "ev-1", "a@example.org")+"\n"), &out, &bytes.Buffer{})
	require.NoError(t, err)
	require.Contains(t, out.String(), "1 lines (dry run, nothing started): 1 valid")
	require.Contains(t, out.String(), "of - (jsonl)")
}

func TestOneLineDefusesTerminalControls(t *testing.T) {
	require.Equal(t, "a \uFFFD[31mred\uFFFD b", oneLine("a\n\x1b[31mred\u202e\tb"))
}
