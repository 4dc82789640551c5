package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
)

// The import's input formats.
const (
	formatJSONL = "jsonl"
	formatCSV   = "csv"
)

// formatOf is the format of the file at path, by its extension, unless
// given: standard input ("-") is JSON Lines unless --format says CSV.
func formatOf(path, given string) (string, error) {
	switch given {
	case formatJSONL, formatCSV:
		return given, nil
	case "":
	default:
		return "", fmt.Errorf("%w: --format %q: give jsonl or csv", errUsage, given)
	}
	if path == "-" {
		return formatJSONL, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return formatJSONL, nil
	case ".csv":
		return formatCSV, nil
	}
	return "", fmt.Errorf("%w: cannot tell the format of %q by its extension (.jsonl, .ndjson, .json or .csv): give --format jsonl or --format csv", errUsage, path)
}

// maxLineBytes bounds one event: the largest body the webhook can be
// configured to take (WEBHOOK_MAX_BODY_BYTES at its most), which is also
// what the workflow's input can carry.
const maxLineBytes = config.MaxMaxBodyBytes

// line is one event of the input: its line number in the file (the first
// line of a CSV record that spans several), the body to start it with,
// and what is wrong with it before validation, if anything.
type line struct {
	number   int
	body     []byte
	problems []event.Problem
}

// source yields the input's events one by one; io.EOF ends it.
type source interface {
	next() (line, error)
}

// newSource reads r in format. A CSV's header is read at once, so a bad
// one is refused before anything starts.
func newSource(r io.Reader, format string) (source, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// A byte-order mark, as spreadsheets write, is not part of the data.
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	if format == formatCSV {
		return newCSVSource(br)
	}
	return &jsonlSource{r: br}, nil
}

// jsonlSource reads JSON Lines: one body a line, blank lines skipped.
type jsonlSource struct {
	r    *bufio.Reader
	n    int
	done bool
}

func (s *jsonlSource) next() (line, error) {
	for !s.done {
		raw, tooLong, err := readLine(s.r, maxLineBytes+2)
		switch {
		case errors.Is(err, io.EOF):
			s.done = true
		case err != nil:
			return line{}, fmt.Errorf("read line %d: %w", s.n+1, err)
		}
		if len(raw) == 0 && !tooLong && s.done {
			break
		}
		s.n++
		if tooLong {
			return line{number: s.n, problems: []event.Problem{{Field: "body", Message: fmt.Sprintf("is over %d bytes, the most an event may have", maxLineBytes)}}}, nil
		}
		raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if s.n == 1 && raw[0] == '[' {
			return line{}, fmt.Errorf("%w: the input is a JSON array, not JSON Lines: give one event a line (jq -c '.[]' makes them)", errUsage)
		}
		return line{number: s.n, body: raw}, nil
	}
	return line{}, io.EOF
}

// readLine reads up to and including the next "\n". A line longer than
// most is read to its end but not kept: tooLong says so.
func readLine(r *bufio.Reader, most int) (raw []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if len(raw)+len(chunk) > most {
			tooLong, raw = true, nil
		} else if !tooLong {
			raw = append(raw, chunk...)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return raw, tooLong, err
		}
	}
}

// csvColumns are the columns a CSV may have, named by the JSON path of
// the event field each one fills: validation names a problem's field the
// same way, so a problem names its column.
var csvColumns = []string{
	"id", "event", "timestamp", "user", "companyId", "notifiableId", "title", "source", "type",
	"userDetail.id", "userDetail.firstName", "userDetail.lastName", "userDetail.externalCustomerId",
}

// csvRequired are the columns every CSV must have: a course completion
// cannot do without them.
var csvRequired = []string{"id", "user", "notifiableId", "title"}

// csvSource reads a CSV with a header row, one event a row.
type csvSource struct {
	r *csv.Reader
	// columns are the header's columns, in csvColumns' spelling.
	columns []string
}

func newCSVSource(r io.Reader) (*csvSource, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the CSV is empty: its first line must name the columns (%s)", errUsage, strings.Join(csvColumns, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the CSV's header: %v", errUsage, err)
	}
	s := &csvSource{r: cr}
	seen := map[string]bool{}
	for _, h := range header {
		name := ""
		for _, c := range csvColumns {
			if strings.EqualFold(strings.TrimSpace(h), c) {
				name = c
			}
		}
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: the CSV has a column %q, which is none of %s", errUsage, h, strings.Join(csvColumns, ","))
		case seen[name]:
			return nil, fmt.Errorf("%w: the CSV has the column %s twice", errUsage, name)
		}
		seen[name] = true
		s.columns = append(s.columns, name)
	}
	for _, c := range csvRequired {
		if !seen[c] {
			return nil, fmt.Errorf("%w: the CSV has no %s column; it needs %s", errUsage, c, strings.Join(csvRequired, ", "))
		}
	}
	return s, nil
}

func (s *csvSource) next() (line, error) {
	rec, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return line{}, io.EOF
	}
	var parseErr *csv.ParseError
	if errors.As(err, &parseErr) {
		return line{number: parseErr.StartLine, problems: []event.Problem{{Field: "row", Message: "is not valid CSV: " + parseErr.Err.Error()}}}, nil
	}
	if err != nil {
		return line{}, err
	}
	n, _ := s.r.FieldPos(0)
	if len(rec) != len(s.columns) {
		return line{number: n, problems: []event.Problem{{Field: "row", Message: fmt.Sprintf("has %d fields; the header has %d", len(rec), len(s.columns))}}}, nil
	}
	body, err := csvBody(s.columns, rec)
	if err != nil {
		return line{}, fmt.Errorf("line %d: %w", n, err)
	}
	return line{number: n, body: body}, nil
}

// csvBody is the event a row describes, as the platform would post it: a
// JSON object with the row's non-empty cells, and the event type
// courseCompletion unless an event column says otherwise.
func csvBody(columns, cells []string) ([]byte, error) {
	e := event.Event{Event: event.TypeCourseCompletion}
	d := &event.UserDetail{}
	fields := map[string]*string{
		"id": &e.ID, "event": &e.Event, "timestamp": &e.Timestamp, "user": &e.User, "companyId": &e.CompanyID,
		"notifiableId": &e.NotifiableID, "title": &e.Title, "source": &e.Source, "type": &e.Type,
		"userDetail.id": &d.ID, "userDetail.firstName": &d.FirstName, "userDetail.lastName": &d.LastName,
		"userDetail.externalCustomerId": &d.ExternalCustomerID,
	}
	for i, c := range columns {
		if cells[i] != "" {
			*fields[c] = cells[i]
		}
	}
	if *d != (event.UserDetail{}) {
		e.UserDetail = d
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
