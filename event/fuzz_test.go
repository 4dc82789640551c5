package event

import (
	"encoding/json"
	"errors"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// hostileSeeds start the fuzzer near the edges Parse guards.
var hostileSeeds = []string{
	`{"id":`,
	`[{"id":"x"}]`,
	`{"id":"x","event":"other"} {}`,
	"{\n  // the event id\n  \"id\": \"x\"\n}",
	"{\"id\":\"x\xff\"}",
	"\xef\xbb\xbf{\"id\":\"x\"}",
	`{"id":"a","event":"other","id":"b"}`,
	`{"id":"a","event":"other","ID":"a"}`,
	`{"id":"a","extra":[{"k":1},{"k":1,"k":2}]}`,
	`{"id":"x","extra":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	`{"id":42,"event":"courseCompletion"}`,
	`{"id":"x","event":"courseCompletion","user":["a@example.org"],"title":{"t":1}}`,
	`{"id":"x\u0000","event":"other"}`,
	`{"id":"\ud800","event":"other"}`,
	`{"id":"x","event":"courseCompletion","user":"a@example.org","notifiableId":"c","title":"T\r\nU","userDetail":null}`,
	`{"id":"x","event":"courseCompletion","user":"Bob <a@example.org>","notifiableId":"c","title":"T"}`,
	`{"id":"x","event":"courseCompletion","user":"a@example.org","notifiableId":"c","title":"T","timestamp":"2019-10-17T20:50:53.103+25:00"}`,
	`{"id":"x","event":"courseComplete","user":"a@example.org","notifiableId":"c","title":"T","userDetail":{"firstName":"<!channel>","lastName":"<https://evil|click>"}}`,
	`{"id":"x","extra":1e999999}`,
	`{"id":null}`,
	`{}`,
	``,
}

// FuzzParse feeds Parse arbitrary bodies. It must never panic, and whatever
// it accepts must hold every promise the rest of coursehook relies on, checked
// here again independently of Parse's own code.
func FuzzParse(f *testing.F) {
	samples, err := filepath.Glob("../testdata/*.json")
	require.NoError(f, err)
	require.NotEmpty(f, samples)
	for _, name := range samples {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Parse(body)
		if err != nil {
			var v *ValidationError
			require.True(t, errors.As(err, &v), "every refusal is a ValidationError, got %T", err)
			require.NotEmpty(t, v.Problems)
			for _, p := range v.Problems {
				require.NotEmpty(t, p.Field)
				require.NotEmpty(t, p.Message)
			}
			return
		}
		requireAcceptable(t, body, e)

		// What Parse accepted survives a round trip unchanged, so what the
		// workflow receives is what was checked.
		again, err := json.Marshal(e)
		require.NoError(t, err)
		e2, err := Parse(again)
		require.NoError(t, err)
		require.Equal(t, e, e2)
	})
}

func requireAcceptable(t *testing.T, body []byte, e Event) {
	t.Helper()
	require.True(t, utf8.Valid(body))
	require.LessOrEqual(t, maxDepth(body), MaxDepth)
	requireText(t, "id", e.ID, MaxIDLength, true)
	if !e.IsCourseCompletion() {
		return
	}
	requireText(t, "user", e.User, MaxEmailLength, true)
	addr, err := mail.ParseAddress(e.User)
	require.NoError(t, err, "user %q", e.User)
	require.Equal(t, e.User, addr.Address)
	requireText(t, "notifiableId", e.NotifiableID, MaxIDLength, true)
	title := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, e.Title)
	requireText(t, "title", title, MaxTitleLength, true)
	requireText(t, "companyId", e.CompanyID, MaxIDLength, false)
	if e.Timestamp != "" {
		_, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		require.NoError(t, err)
		require.False(t, e.CompletedAt().IsZero())
	}
	if d := e.UserDetail; d != nil {
		requireText(t, "firstName", d.FirstName, MaxNameLength, false)
		requireText(t, "lastName", d.LastName, MaxNameLength, false)
		requireText(t, "userDetail.id", d.ID, MaxIDLength, false)
		requireText(t, "externalCustomerId", d.ExternalCustomerID, MaxIDLength, false)
	}
	name := e.LearnerName()
	require.NotEmpty(t, strings.TrimSpace(name), "a certificate is never addressed to nobody")
	require.False(t, strings.ContainsFunc(name, unicode.IsControl))
}

func requireText(t *testing.T, field, v string, limit int, required bool) {
	t.Helper()
	if v == "" && !required {
		return
	}
	if strings.TrimSpace(v) == "" {
		// Blank optional values are accepted as absent.
		require.False(t, required, "%s is required", field)
		return
	}
	require.LessOrEqual(t, utf8.RuneCountInString(v), limit, field)
	require.False(t, strings.ContainsFunc(v, unicode.IsControl), "%s has a control character: %q", field, v)
}

// maxDepth measures nesting with a byte scan that skips strings, apart from
// the json.Decoder pass Parse uses.
func maxDepth(body []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, b := range body {
		switch {
		case inString && escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case inString && b == '"':
			inString = false
		case inString:
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			deepest = max(deepest, depth)
		case b == '}' || b == ']':
			depth--
		}
	}
	return deepest
}
