package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	require.NoError(t, err)
	return b
}

// edit returns the documented sample with one change applied to its decoded
// form, so each case states only what differs.
func edit(t *testing.T, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(sample(t, "course-completion.json"), &m))
	change(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestParseSamples(t *testing.T) {
	for _, name := range []string{"course-completion.json", "course-completion-minimal.json", "course-completion-unicode.json"} {
		t.Run(name, func(t *testing.T) {
			e, err := Parse(sample(t, name))
			require.NoError(t, err)
			require.True(t, e.IsCourseCompletion())
			require.NotEmpty(t, e.ID)
			require.False(t, e.CompletedAt().IsZero())
		})
	}
	e, err := Parse(sample(t, "course-completion.json"))
	require.NoError(t, err)
	require.Equal(t, "Bob Johnson", e.LearnerName())
	require.Equal(t, "New Student Orientation", e.Title)
	require.Equal(t, time.Date(2019, 10, 17, 20, 50, 53, 103e6, time.UTC), e.CompletedAt())
	require.Equal(t, "111222333444", e.UserDetail.ExternalCustomerID)
	require.Empty(t, e.UserDetail.SFContactID, "null decodes as empty")

	u, err := Parse(sample(t, "course-completion-unicode.json"))
	require.NoError(t, err)
	require.Equal(t, "Zoë Müller-Łukasiewicz", u.LearnerName())
}

func TestParseRefuses(t *testing.T) {
	cases := []struct {
		name   string
		body   []byte
		fields []string
	}{
		{"malformed JSON", []byte(`{"id":`), []string{"body"}},
		{"empty body", []byte("  "), []string{"body"}},
		{"array body", []byte(`[{"id":"x"}]`), []string{"body"}},
		{"trailing data", []byte(`{"id":"x","event":"other"} {}`), []string{"body"}},
		{"invalid UTF-8", []byte("{\"id\":\"x\xff\"}"), []string{"body"}},
		{"comments as in the documentation", []byte("{\n  // the event id\n  \"id\": \"x\"\n}"), []string{"body"}},
		{"number where a string belongs", edit(t, func(m map[string]any) { m["id"] = 42 }), []string{"id"}},
		{"string where an object belongs", edit(t, func(m map[string]any) { m["userDetail"] = "Bob" }), []string{"userDetail"}},
		{"missing id", edit(t, func(m map[string]any) { delete(m, "id") }), []string{"id"}},
		{"blank id", edit(t, func(m map[string]any) { m["id"] = "   " }), []string{"id"}},
		{"id too long", edit(t, func(m map[string]any) { m["id"] = strings.Repeat("a", 129) }), []string{"id"}},
		{"missing email", edit(t, func(m map[string]any) { delete(m, "user") }), []string{"user"}},
		{"invalid email", edit(t, func(m map[string]any) { m["user"] = "bob at example" }), []string{"user"}},
		{"email with a display name", edit(t, func(m map[string]any) { m["user"] = "Bob <bob@example.com>" }), []string{"user"}},
		{"email too long", edit(t, func(m map[string]any) { m["user"] = strings.Repeat("b", 250) + "@example.com" }), []string{"user"}},
		{"missing course id", edit(t, func(m map[string]any) { delete(m, "notifiableId") }), []string{"notifiableId"}},
		{"missing title", edit(t, func(m map[string]any) { m["title"] = "" }), []string{"title"}},
		{"title too long", edit(t, func(m map[string]any) { m["title"] = strings.Repeat("t", 501) }), []string{"title"}},
		{"control character in a name", edit(t, func(m map[string]any) {
			m["userDetail"].(map[string]any)["firstName"] = "Bob\x00"
		}), []string{"userDetail.firstName"}},
		{"line break in a name", edit(t, func(m map[string]any) {
			m["userDetail"].(map[string]any)["lastName"] = "John\nson"
		}), []string{"userDetail.lastName"}},
		{"name too long", edit(t, func(m map[string]any) {
			m["userDetail"].(map[string]any)["firstName"] = strings.Repeat("n", 201)
		}), []string{"userDetail.firstName"}},
		{"bad timestamp", edit(t, func(m map[string]any) { m["timestamp"] = "17/10/2019" }), []string{"timestamp"}},
		{"every problem at once", edit(t, func(m map[string]any) {
			delete(m, "user")
			delete(m, "notifiableId")
			delete(m, "title")
		}), []string{"user", "notifiableId", "title"}},
		{"ignored event without id", []byte(`{"event":"courseStarted"}`), []string{"id"}},
		{"nesting past the limit", []byte(`{"id":"x","extra":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`), []string{"body"}},
		{"deep nesting cut short", []byte(`{"id":"x","extra":` + strings.Repeat(`{"a":`, 100000)), []string{"body"}},
		{"repeated key with another value", []byte(`{"id":"a","event":"other","id":"b"}`), []string{"id"}},
		{"repeated key with the same value", []byte(`{"id":"a","event":"other","id":"a"}`), []string{"id"}},
		{"repeated key in another case", []byte(`{"id":"a","event":"other","ID":"b"}`), []string{"ID"}},
		{"repeated key through Unicode case folding", []byte(`{"id":"a","event":"other","user":"a@example.org","uſer":"b@example.org"}`), []string{"uſer"}},
		{"repeated key in a nested object", bytes.Replace(sample(t, "course-completion.json"),
			[]byte(`"firstName": "Bob",`), []byte(`"firstName": "Bob", "firstName": "Mallory",`), 1), []string{"userDetail.firstName"}},
		{"repeated key inside an array", []byte(`{"id":"a","extra":[{"k":1},{"k":1,"k":2}]}`), []string{"extra[1].k"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.body)
			var v *ValidationError
			require.True(t, errors.As(err, &v), "want a ValidationError, got %v", err)
			var fields []string
			for _, p := range v.Problems {
				fields = append(fields, p.Field)
				require.NotEmpty(t, p.Message)
			}
			require.Equal(t, c.fields, fields)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name string
		body []byte
	}{
		{"other event types need only an id", []byte(`{"id":"e1","event":"courseStarted"}`)},
		{"documentation's event name", edit(t, func(m map[string]any) { m["event"] = TypeCourseComplete })},
		{"line break in a title", edit(t, func(m map[string]any) { m["title"] = "Safety\r\nBasics" })},
		{"mentions in a name", edit(t, func(m map[string]any) {
			m["userDetail"].(map[string]any)["firstName"] = "<!channel>"
		})},
		{"SQL metacharacters", edit(t, func(m map[string]any) { m["title"] = "'; DROP TABLE completions; --" })},
		{"no userDetail", edit(t, func(m map[string]any) { delete(m, "userDetail") })},
		{"no timestamp", edit(t, func(m map[string]any) { delete(m, "timestamp") })},
		{"unknown fields", edit(t, func(m map[string]any) { m["newField"] = map[string]any{"x": 1} })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.body)
			require.NoError(t, err)
		})
	}
}

func TestIsCourseCompletion(t *testing.T) {
	for event, want := range map[string]bool{
		"courseCompletion": true, "courseComplete": true, "courseStarted": false, "": false, "CourseCompletion": false,
	} {
		require.Equal(t, want, Event{Event: event}.IsCourseCompletion(), event)
	}
}

func TestLearnerNameFallsBackToEmail(t *testing.T) {
	require.Equal(t, "a@example.org", Event{User: "a@example.org"}.LearnerName())
	require.Equal(t, "Ana", Event{User: "a@example.org", UserDetail: &UserDetail{FirstName: " Ana "}}.LearnerName())
}

func TestNestingUpToTheLimitIsFine(t *testing.T) {
	// The event object itself is the first level.
	inner := strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1)
	_, err := Parse([]byte(`{"id":"x","event":"other","extra":` + inner + `}`))
	require.NoError(t, err)
}

func TestBracketsInsideStringsAreNotNesting(t *testing.T) {
	title := strings.Repeat("[{", 100)
	_, err := Parse(edit(t, func(m map[string]any) { m["title"] = title }))
	require.NoError(t, err)
}

func TestLearnerHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a := Event{User: "Bob.Johnson@Example.com"}.LearnerHash(key)
	require.Len(t, a, 32)
	require.Equal(t, a, Event{User: "bob.johnson@example.com"}.LearnerHash(key), "the same learner whatever the case")
	require.Equal(t, a, LearnerHash(key, " bob.johnson@example.com "), "an operator's copy and paste")
	require.NotEqual(t, a, Event{User: "ana.silva@example.org"}.LearnerHash(key))
	require.NotEqual(t, a, Event{User: "bob.johnson@example.com"}.LearnerHash([]byte("another key, another hash......")), "keyed")
	unkeyed := sha256.Sum256([]byte("bob.johnson@example.com"))
	require.NotContains(t, hex.EncodeToString(unkeyed[:]), a, "not the plain SHA-256 a list of addresses would reveal")
	require.Empty(t, Event{}.LearnerHash(key))
}

func TestNameBlankOnceCleanedFallsBackToEmail(t *testing.T) {
	for _, n := range [][2]string{
		{" ", "\u200b"},
		{"\u00a0", "\u202e\u2060"},
		{"\ufeff", ""},
	} {
		e := Event{User: "a@example.org", UserDetail: &UserDetail{FirstName: n[0], LastName: n[1]}}
		require.Equal(t, "a@example.org", e.LearnerName(), "%q %q", n[0], n[1])
	}
	e := Event{User: "a@example.org", UserDetail: &UserDetail{FirstName: "Zo\u200bë\u00a0", LastName: "\u202eMüller"}}
	require.Equal(t, "Zoë Müller", e.LearnerName(), "invisible characters go, whitespace folds")
}

func TestInvisibleRequiredFieldsAreMissing(t *testing.T) {
	body := `{"id":"e1","event":"courseCompletion","user":"a@example.org","notifiableId":"\u200b","title":" \u2060 "}`
	_, err := Parse([]byte(body))
	var v *ValidationError
	require.ErrorAs(t, err, &v)
	fields := []string{}
	for _, p := range v.Problems {
		fields = append(fields, p.Field)
	}
	require.ElementsMatch(t, []string{"notifiableId", "title"}, fields)
	require.Contains(t, v.Error(), "invisible")
}

func TestCompletionTimeFallsBackToReceipt(t *testing.T) {
	received := time.Date(2026, 11, 29, 7, 0, 0, 0, time.FixedZone("x", 3600))
	require.Equal(t, received.UTC(), Event{}.CompletionTime(received))
	require.Equal(t, received.UTC(), Event{Timestamp: "0001-01-01T00:00:00Z"}.CompletionTime(received), "the zero instant is no date")
	require.Equal(t, time.Date(2019, 10, 17, 20, 50, 53, 103e6, time.UTC),
		Event{Timestamp: "2019-10-17T22:50:53.103+02:00"}.CompletionTime(received))
}

func TestBriefKeepsOnlyWhatCoursehookReads(t *testing.T) {
	e, err := Parse(sample(t, "course-completion.json"))
	require.NoError(t, err)
	e.Source = strings.Repeat("s", 100000)
	e.Timestamp = "2019-10-17T20:50:53.103000000Z"
	b := e.Brief()
	require.Empty(t, b.Source)
	require.Empty(t, b.Type)
	require.Empty(t, b.UserDetail.Ref1)
	require.Empty(t, b.UserDetail.Client)
	require.Equal(t, "2019-10-17T20:50:53.103Z", b.Timestamp, "the canonical form")
	require.Equal(t, e.LearnerName(), b.LearnerName())
	require.Equal(t, e.ID, b.ID)
	require.Equal(t, e.Title, b.Title)
	require.Equal(t, e.NotifiableID, b.NotifiableID)
	require.Equal(t, e.UserDetail.ExternalCustomerID, b.UserDetail.ExternalCustomerID)

	other := Event{ID: "e2", Event: strings.Repeat("x", 5000), Title: strings.Repeat("t", 5000)}.Brief()
	require.Equal(t, Event{ID: "e2", Event: strings.Repeat("x", MaxIDLength)}, other, "an ignored event keeps its id and a bounded type")
}
