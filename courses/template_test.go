package courses

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var ada = Fields{
	FirstName:   "Ada",
	LastName:    "Lovelace",
	LearnerName: "Ada Lovelace",
	CourseTitle: "Analytical Engines",
	CourseName:  "Engines",
	CompletedOn: "10 December 2025",
	Issuer:      "Acme Academy",
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, tmpl string
		fields     Fields
		want       string
	}{
		{"empty template", "", ada, ""},
		{"plain text", "Well done", ada, "Well done"},
		{"every field", "{{.FirstName}}|{{.LastName}}|{{.LearnerName}}|{{.CourseTitle}}|{{.CourseName}}|{{.CompletedOn}}|{{.Issuer}}", ada,
			"Ada|Lovelace|Ada Lovelace|Analytical Engines|Engines|10 December 2025|Acme Academy"},
		{"if taken", "{{if .FirstName}}Dear {{.FirstName}}{{else}}Hello{{end}}", ada, "Dear Ada"},
		{"else taken", "{{if .FirstName}}Dear {{.FirstName}}{{else}}Hello{{end}}", Fields{}, "Hello"},
		{"else if", "{{if eq .Issuer \"A\"}}a{{else if and .FirstName (ne .LastName \"\")}}b{{end}}", ada, "b"},
		{"len and print", "{{print (len .FirstName) \" letters\"}}", ada, "3 letters"},
		{"comparison", "{{if gt (len .CourseTitle) 10}}long{{end}}", ada, "long"},
		{"missing value is empty", "[{{.FirstName}}]", Fields{}, "[]"},
		// Field values are data, never template source or markup: they come
		// out exactly as they went in, and escaping is the caller's job.
		{"template syntax in a value", "{{.FirstName}}", Fields{FirstName: "{{.Issuer}} {{printf \"%99999d\" 1}}"},
			"{{.Issuer}} {{printf \"%99999d\" 1}}"},
		{"markup in a value", "Dear {{.FirstName}}", Fields{FirstName: `<script>alert("x")</script>&amp;`},
			`Dear <script>alert("x")</script>&amp;`},
		{"header injection in a value", "Your certificate for {{.CourseTitle}}", Fields{CourseTitle: "Go\r\nBcc: all@example.com"},
			"Your certificate for Go\r\nBcc: all@example.com"},
		{"Slack mrkdwn in a value", "{{.CourseTitle}}", Fields{CourseTitle: "<!channel> *bold* <https://x|y>"},
			"<!channel> *bold* <https://x|y>"},
		{"invalid UTF-8 in a value", "{{.FirstName}}", Fields{FirstName: "a\xffb"}, "a\xffb"},
		{"format verbs in a value", "{{.FirstName}}", Fields{FirstName: "%s%n%v"}, "%s%n%v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.tmpl, tt.fields)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRenderCapsOutput(t *testing.T) {
	tests := map[string]string{
		"ASCII":     strings.Repeat("x", 5000),
		"two-byte":  strings.Repeat("é", 5000),
		"four-byte": strings.Repeat("🎓", 5000),
		"mixed":     strings.Repeat("a🎓é", 2000),
	}
	for name, title := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Render("Certificate: {{.CourseTitle}}{{.CourseTitle}}", Fields{CourseTitle: title})
			require.NoError(t, err)
			require.True(t, utf8.ValidString(got), "never cuts a rune in half")
			require.Equal(t, MaxRendered, utf8.RuneCountInString(got))
			require.True(t, strings.HasPrefix("Certificate: "+title, got))
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct{ name, tmpl, want string }{
		{"unknown field", "Dear {{.Name}}", "names unknown field .Name (known: .FirstName, .LastName, .LearnerName, .CourseTitle, .CourseName, .CompletedOn, .Issuer, .ExpiresOn, .CourseURL)"},
		{"field of a field", "{{.FirstName.Len}}", "names unknown field .FirstName.Len"},
		{"unknown field in an untaken branch", "{{if false}}{{.Secret}}{{end}}", "names unknown field .Secret"},
		{"does not parse", "{{.FirstName", "does not parse: unclosed action (template line 1)"},
		{"unknown function", "{{shout .FirstName}}", `does not parse: function "shout" not defined (template line 1)`},
		{"printf", `{{printf "%0999999999d" 1}}`, `uses function "printf", which is not allowed`},
		{"call", "{{call .FirstName}}", `uses function "call", which is not allowed`},
		{"index", "{{index .FirstName 0}}", `uses function "index", which is not allowed`},
		{"range over a number", "{{range 1000000000}}{{end}}", "uses {{range}}, which is not allowed"},
		{"nested range", "{{if true}}{{range 9}}{{range 9}}x{{end}}{{end}}{{end}}", "uses {{range}}, which is not allowed"},
		{"with", "{{with .FirstName}}{{.}}{{end}}", "uses {{with}}, which is not allowed"},
		{"define", `{{define "x"}}{{end}}hi`, `defines template "x"; define and block are not allowed`},
		{"block", `{{block "x" .}}{{end}}`, `defines template "x"; define and block are not allowed`},
		{"variable", "{{$x := .FirstName}}{{$x}}", "uses a variable ($x :=), which is not allowed"},
		{"root variable", "{{$.FirstName}}", "uses a variable ($.FirstName), which is not allowed"},
		{"dot", "{{.}}", "uses {{.}} alone (name a field, such as {{.FirstName}}), which is not allowed"},
		{"nil", "{{nil}}", `uses "nil", which is not allowed`},
		{"too long", strings.Repeat("x", maxTemplateBytes+1), "is longer than 4000 bytes"},
		{"line of a long template", "Dear {{.FirstName}},\n\n{{.Nope}}", "names unknown field .Nope (template line 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.tmpl, ada)
			require.Error(t, err)
			require.Empty(t, got)
			require.Contains(t, err.Error(), tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "render template: template "), err.Error())
		})
	}
}

func TestRenderRuntimeErrorIsAnError(t *testing.T) {
	// Types are only known when the template runs: an error, not a panic.
	_, err := Render("{{if lt .FirstName 3}}x{{end}}", ada)
	require.ErrorContains(t, err, "incompatible types for comparison")
}

// FuzzRender checks, over any template and any field value, that Render
// neither panics nor returns more than MaxRendered runes.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		"", "{{.FirstName}}", "{{if .FirstName}}a{{else}}b{{end}}", "{{", "}}", "{{.}}",
		"{{range 9}}{{end}}", `{{printf "%9999d" 1}}`, "{{len 3}}", "{{print .CourseTitle .CourseTitle .CourseTitle}}",
		"{{template \"x\"}}", "{{/* c */}}", "{{- .FirstName -}}", "{{break}}",
	} {
		f.Add(seed, "Ada\xff{{.Issuer}}")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		long := strings.Repeat(value, 50)
		got, err := Render(tmpl, Fields{FirstName: value, CourseTitle: long, Issuer: long})
		if err != nil {
			require.Empty(t, got)
			return
		}
		require.LessOrEqual(t, utf8.RuneCountInString(got), MaxRendered)
	})
}

func BenchmarkRender(b *testing.B) {
	const subject = "{{if .FirstName}}{{.FirstName}}, your{{else}}Your{{end}} certificate for {{.CourseTitle}}"
	for b.Loop() {
		if _, err := Render(subject, ada); err != nil {
			b.Fatal(err)
		}
	}
}
