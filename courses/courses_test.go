package courses

import (
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// issueExample is the file from the issue, word for word.
const issueExample = `defaults:
  slack: {channel: C0123ABCD, enabled: true}
  email: {enabled: true}
  certificate: {issuer: Acme Academy}
  digest: {threshold: 5, window: 1m}
courses:
  7670fdbe-15ed-504b-a680-d404fa4b0eb4:
    name: New Student Orientation
    slack: {channel: C0456EFGH}
    email: {subject: "Your certificate for {{.CourseTitle}}"}
    certificate:
      heading: Certificate of Excellence
      signatory: {name: Jane Doe, role: Head of Learning}
      logo: assets/acme.png
`

const orientation = "7670fdbe-15ed-504b-a680-d404fa4b0eb4"

// envBase is what the environment variables would give.
var envBase = Route{
	Slack:  SlackRoute{Channel: "C9999ENV0", Enabled: true},
	Email:  EmailRoute{Enabled: true},
	Digest: DigestRoute{Threshold: 5, Window: time.Minute},
}

// writeFile writes content to name under dir, making folders, and returns
// the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// writePNG and writeJPEG write a small real image.
func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	require.NoError(t, png.Encode(f, img))
}

func writeJPEG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, jpeg.Encode(f, image.NewGray(image.Rect(0, 0, 16, 8)), nil))
}

func TestIssueExampleLoads(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "courses.yaml", issueExample)
	writePNG(t, filepath.Join(dir, "assets", "acme.png"), 32, 16)

	table, err := Load(path, envBase)
	require.NoError(t, err)
	require.Equal(t, path, table.Path())
	require.Equal(t, 1, table.Len())
	require.Equal(t, map[string]string{orientation: "New Student Orientation"}, table.Names())

	require.Equal(t, Route{
		CourseName: "New Student Orientation",
		Slack:      SlackRoute{Channel: "C0456EFGH", Enabled: true},
		Email:      EmailRoute{Enabled: true, Subject: "Your certificate for {{.CourseTitle}}"},
		Certificate: CertificateRoute{
			Heading:   "Certificate of Excellence",
			Issuer:    "Acme Academy",
			Signatory: Signatory{Name: "Jane Doe", Role: "Head of Learning"},
			Logo:      filepath.Join(dir, "assets", "acme.png"),
		},
		Digest: DigestRoute{Threshold: 5, Window: time.Minute},
	}, table.Route(orientation))

	require.Equal(t, Route{
		Slack:       SlackRoute{Channel: "C0123ABCD", Enabled: true},
		Email:       EmailRoute{Enabled: true},
		Certificate: CertificateRoute{Issuer: "Acme Academy"},
		Digest:      DigestRoute{Threshold: 5, Window: time.Minute},
	}, table.Route("not-listed"), "an unlisted course gets the defaults")
}

func TestExampleFileLoads(t *testing.T) {
	table, err := Load("example.yaml", envBase)
	require.NoError(t, err)
	require.Equal(t, 4, table.Len())

	r := table.Route(orientation)
	require.Equal(t, "C0456EFGH", r.Slack.Channel)
	require.Equal(t, LinkedInRoute{OrganizationID: "12345678"}, r.LinkedIn, "from the defaults")
	intro, err := Render(r.Email.Intro, Fields{FirstName: "Ada", CourseTitle: "Orientation", Issuer: "Acme Academy"})
	require.NoError(t, err)
	require.Equal(t, "Dear Ada, congratulations on completing Orientation. Your certificate from Acme Academy is attached.", intro)

	fire := table.Route("0b1e6a4c-3f7d-4e2a-9c51-2d8f0a6b7e13")
	require.Equal(t, SlackRoute{Channel: "C0123ABCD", Enabled: false}, fire.Slack)
	require.Equal(t, DigestRoute{Threshold: 5, Window: time.Minute}, fire.Digest)

	coaching := table.Route("3e9f7a21-8c4b-4d6e-a0f2-5b1c9d7e4a68")
	require.Equal(t, DigestRoute{Threshold: 5, Window: time.Minute, Off: true}, coaching.Digest)

	security := table.Route("9d4c2b1a-6e5f-4a3b-8c7d-0e1f2a3b4c5d")
	require.Equal(t, CertificateRoute{Issuer: "Acme Academy", ValidFor: "12mo", Remind: []string{"30d", "7d"}}, security.Certificate)
	require.Equal(t, "https://learn.example.com/courses/security-awareness", security.URL)
	subject, err := Render(security.Email.Reminder.Subject, Fields{CourseTitle: "Security Awareness", ExpiresOn: "6 December 2027"})
	require.NoError(t, err)
	require.Equal(t, "Your Security Awareness certificate expires on 6 December 2027", subject)
}

func TestMergeIsKeyByKey(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "default.png"), 8, 8)
	path := writeFile(t, dir, "courses.yaml", `
courses:
  only-channel:
    slack: {channel: C0456EFGH}
  only-enabled:
    slack: {enabled: true}
  signatory-name:
    certificate: {signatory: {name: Bob Roe}}
  no-logo:
    certificate: {logo: ""}
  empty-sections:
    slack:
    email: {}
  nothing:
defaults:
  slack: {enabled: false}
  email: {subject: "Hi {{.FirstName}}"}
  certificate:
    signatory: {name: Jane Doe, role: Head of Learning}
    logo: default.png
  digest: {window: 5m}
`)
	table, err := Load(path, envBase)
	require.NoError(t, err)
	require.Equal(t, 6, table.Len())
	require.Empty(t, table.Names(), "no course has a name")

	defaults := Route{
		Slack: SlackRoute{Channel: "C9999ENV0", Enabled: false},
		Email: EmailRoute{Enabled: true, Subject: "Hi {{.FirstName}}"},
		Certificate: CertificateRoute{
			Signatory: Signatory{Name: "Jane Doe", Role: "Head of Learning"},
			Logo:      filepath.Join(dir, "default.png"),
		},
		Digest: DigestRoute{Threshold: 5, Window: 5 * time.Minute},
	}
	with := func(change func(*Route)) Route {
		r := defaults
		change(&r)
		return r
	}
	tests := map[string]Route{
		"unlisted":       defaults,
		"nothing":        defaults,
		"empty-sections": defaults,
		"only-channel":   with(func(r *Route) { r.Slack.Channel = "C0456EFGH" }),
		"only-enabled":   with(func(r *Route) { r.Slack.Enabled = true }),
		"signatory-name": with(func(r *Route) { r.Certificate.Signatory.Name = "Bob Roe" }),
		"no-logo":        with(func(r *Route) { r.Certificate.Logo = "" }),
	}
	for id, want := range tests {
		t.Run(id, func(t *testing.T) {
			require.Equal(t, want, table.Route(id))
		})
	}
}

func TestNoFileIsTheBase(t *testing.T) {
	table, err := Load("", envBase)
	require.NoError(t, err)
	require.Equal(t, envBase, table.Route(orientation))
	require.Equal(t, "", table.Path())
	require.Zero(t, table.Len())
	require.Empty(t, table.Names())
}

func TestEmptyFileIsTheBase(t *testing.T) {
	for name, content := range map[string]string{
		"empty":         "",
		"comments only": "# nothing yet\n",
		"null":          "~\n",
		"empty keys":    "defaults:\ncourses:\n",
	} {
		t.Run(name, func(t *testing.T) {
			table, err := Load(writeFile(t, t.TempDir(), "courses.yaml", content), envBase)
			require.NoError(t, err)
			require.Equal(t, envBase, table.Route(orientation))
		})
	}
}

// TestDigestOff checks that a course can turn its digest off while the
// defaults keep it, and that the defaults can turn it off for all.
func TestDigestOff(t *testing.T) {
	table, err := Load(writeFile(t, t.TempDir(), "courses.yaml",
		"courses:\n  c1:\n    digest: {enabled: false}\n  c2:\n    digest: {threshold: 2}\n"), envBase)
	require.NoError(t, err)
	require.True(t, table.Route("c1").Digest.Off)
	require.False(t, table.Route("c2").Digest.Off)
	require.False(t, table.Route("other").Digest.Off)

	table, err = Load(writeFile(t, t.TempDir(), "courses.yaml",
		"defaults:\n  digest: {enabled: false}\ncourses:\n  c1:\n    digest: {enabled: true}\n"), envBase)
	require.NoError(t, err)
	require.False(t, table.Route("c1").Digest.Off)
	require.True(t, table.Route("other").Digest.Off)

	_, err = Load(writeFile(t, t.TempDir(), "courses.yaml", "courses:\n  c1:\n    digest: {enabled: maybe}\n"), envBase)
	require.ErrorContains(t, err, `3:23: digest.enabled is "maybe"; want true or false`)
}

func TestRouteJSON(t *testing.T) {
	b, err := json.Marshal(Route{
		CourseName:  "Orientation",
		Slack:       SlackRoute{Channel: "C0123ABCD", Enabled: true},
		Certificate: CertificateRoute{Issuer: "Acme"},
		Digest:      DigestRoute{Threshold: 5, Window: time.Minute},
	})
	require.NoError(t, err)
	require.JSONEq(t, `{
		"courseName": "Orientation",
		"slack": {"channel": "C0123ABCD", "enabled": true},
		"email": {"enabled": false},
		"certificate": {"issuer": "Acme"},
		"digest": {"threshold": 5, "window": 60000000000}
	}`, string(b))
}

// TestLoadRefuses checks that every problem names the file, line and column
// (the line alone for YAML syntax errors) and says what is wrong.
func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "logo.png"), 8, 8)
	writePNG(t, filepath.Join(dir, "huge.png"), 5000, 1)
	writeFile(t, dir, "logo.gif", "GIF89a not really")
	writeFile(t, dir, "fake.png", "\x89PNG\r\n\x1a\nbroken")

	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "default:\n  slack: {enabled: true}\n",
			`1:1: unknown key "default" in the file (known: defaults, courses)`},
		{"unknown section", "defaults:\n  slak: {enabled: true}\n",
			`2:3: unknown key "slak" in defaults (known: slack, email, certificate, digest, linkedin)`},
		{"unknown key in a section", "courses:\n  c1:\n    slack: {chanel: C0123ABCD}\n",
			`3:13: unknown key "chanel" in slack (known: channel, enabled)`},
		{"unknown key in signatory", "courses:\n  c1:\n    certificate:\n      signatory: {name: A, title: B}\n",
			`4:28: unknown key "title" in certificate.signatory (known: name, role)`},
		{"name in defaults", "defaults:\n  name: Everything\n",
			`2:3: unknown key "name" in defaults (known: slack, email, certificate, digest, linkedin)`},
		{"bad channel", "courses:\n  c1:\n    name: C1\n    slack: {channel: c-bad}\n",
			`4:22: slack.channel "c-bad" is not a Slack channel id (like C0123ABCD)`},
		{"channel name", "defaults:\n  slack:\n    channel: '#general'\n",
			`3:14: defaults.slack.channel "#general" is not a Slack channel id (like C0123ABCD)`},
		{"short channel", "defaults:\n  slack: {channel: C0123ABC}\n",
			`2:20: defaults.slack.channel "C0123ABC" is not a Slack channel id (like C0123ABCD)`},
		{"empty channel", "defaults:\n  slack:\n    channel:\n",
			`3:13: defaults.slack.channel is empty; want a Slack channel id (like C0123ABCD)`},
		{"template does not parse", "courses:\n  c1:\n    email: {subject: 'Hi {{.FirstName}'}\n",
			`3:22: email.subject does not parse: bad character U+007D '}' (template line 1)`},
		{"template names an unknown field", "defaults:\n  email:\n    intro: 'Dear {{.Name}}'\n",
			`3:12: defaults.email.intro names unknown field .Name (known: .FirstName, .LastName, .LearnerName, .CourseTitle, .CourseName, .CompletedOn, .Issuer, .ExpiresOn, .CourseURL)`},
		{"unknown field on a later template line", "defaults:\n  email:\n    intro: |\n      Dear {{.FirstName}},\n      {{if .Nope}}x{{end}}\n",
			`3:12: defaults.email.intro names unknown field .Nope (template line 2) (known: .FirstName, .LastName, .LearnerName, .CourseTitle, .CourseName, .CompletedOn, .Issuer, .ExpiresOn, .CourseURL)`},
		{"template uses range", "defaults:\n  email: {intro: '{{range 1000000000}}{{end}}'}\n",
			`2:18: defaults.email.intro uses {{range}}, which is not allowed`},
		{"template uses printf", "defaults:\n  email: {subject: '{{printf \"%09999999d\" 1}}'}\n",
			`2:20: defaults.email.subject uses function "printf", which is not allowed`},
		{"template fails on sample fields", "defaults:\n  email: {subject: '{{if eq .FirstName 1}}x{{end}}'}\n",
			`2:20: defaults.email.subject fails on sample fields: template: defaults.email.subject:1:5: executing "defaults.email.subject" at <eq .FirstName 1>: error calling eq: incompatible types for comparison: string and int`},
		{"missing logo", "courses:\n  c1:\n    certificate: {logo: missing.png}\n",
			`3:25: certificate.logo "missing.png" cannot be read (` + filepath.Join(dir, "missing.png") + `): no such file or directory`},
		{"logo is a GIF", "defaults:\n  certificate: {logo: logo.gif}\n",
			`2:23: defaults.certificate.logo "logo.gif" is a GIF image; want PNG or JPEG (` + filepath.Join(dir, "logo.gif") + `)`},
		{"logo is a broken PNG", "defaults:\n  certificate: {logo: fake.png}\n",
			`2:23: defaults.certificate.logo "fake.png" is not a readable PNG image: unexpected EOF (` + filepath.Join(dir, "fake.png") + `)`},
		{"logo is too wide", "defaults:\n  certificate: {logo: huge.png}\n",
			`2:23: defaults.certificate.logo "huge.png" is 5000×1 pixels; want at most 4096×4096 (` + filepath.Join(dir, "huge.png") + `)`},
		{"logo is a folder", "defaults:\n  certificate: {logo: .}\n",
			`2:23: defaults.certificate.logo "." is not a regular file (` + dir + `)`},
		{"negative threshold", "defaults:\n  digest: {threshold: -1}\n",
			`2:23: defaults.digest.threshold is -1; want 0 or more`},
		{"threshold is text", "courses:\n  c1:\n    digest: {threshold: five}\n",
			`3:25: digest.threshold is "five"; want a whole number`},
		{"threshold is a fraction", "defaults:\n  digest: {threshold: 2.5}\n",
			`2:23: defaults.digest.threshold is "2.5"; want a whole number`},
		{"zero window", "defaults:\n  digest: {window: 0s}\n",
			`2:20: defaults.digest.window is 0s; want more than 0`},
		{"negative window", "defaults:\n  digest: {window: -1m}\n",
			`2:20: defaults.digest.window is -1m; want more than 0`},
		{"silly window", "defaults:\n  digest: {window: 25h}\n",
			`2:20: defaults.digest.window is 25h; want at most 24h`},
		{"window without a unit", "defaults:\n  digest: {window: 60}\n",
			`2:20: defaults.digest.window is "60"; want a duration with a unit, such as 1m or 90s`},
		{"duplicate course", "courses:\n  c1:\n    name: One\n  c2: {}\n  c1:\n    name: Again\n",
			`5:3: courses key "c1" is repeated (first at line 2)`},
		{"duplicate key in a section", "defaults:\n  slack:\n    enabled: true\n    enabled: false\n",
			`4:5: defaults.slack key "enabled" is repeated (first at line 3)`},
		{"enabled is yes", "defaults:\n  slack: {enabled: yes}\n",
			`2:20: defaults.slack.enabled is "yes"; want true or false`},
		{"enabled is quoted", "defaults:\n  email: {enabled: \"true\"}\n",
			`2:20: defaults.email.enabled is "true"; want true or false`},
		{"section is text", "defaults:\n  slack: C0123ABCD\n",
			`2:10: defaults.slack is "C0123ABCD"; want a mapping of channel, enabled`},
		{"course is a list", "courses:\n  c1: [slack]\n",
			`2:7: course "c1" is a list; want a mapping of name, url, slack, email, certificate, digest, linkedin`},
		{"courses is a list", "courses:\n  - c1\n",
			`2:3: courses is a list; want a mapping of course id to settings`},
		{"file is a list", "- defaults\n",
			`1:1: the file is a list; want a mapping with defaults: and courses:`},
		{"name is a mapping", "courses:\n  c1:\n    name: {first: A}\n",
			`3:11: name is a mapping; want text`},
		{"heading has a line break", "defaults:\n  certificate: {heading: \"Line\\nBreak\"}\n",
			`2:26: defaults.certificate.heading "Line\nBreak" has a control character (a line break or tab); keep it on one line`},
		{"heading too long", "defaults:\n  certificate: {heading: " + strings.Repeat("x", 201) + "}\n",
			`2:26: defaults.certificate.heading is longer than 200 characters`},
		{"course id with spaces", "courses:\n  ' c1': {}\n",
			`2:3: course id " c1" is empty or has spaces around it`},
		{"merge key", "defaults: &d\n  slack: {enabled: true}\ncourses:\n  c1:\n    <<: *d\n",
			`5:5: merge keys (<<) are not supported in course "c1"; put shared settings under defaults:`},
		{"second document", "defaults: {}\n---\ncourses: {}\n",
			`2:1: a second YAML document (---); put everything in one`},
		{"yaml syntax", "defaults:\n  slack: {channel: C0123ABCD\ncourses:\n",
			`2: did not find expected ',' or '}'`},
		{"unclosed block mapping", "defaults:\n  slack: {}\n bad: 1\n",
			`3: did not find expected key`},
		{"unclosed flow mapping at the end", "{defaults: {}\n",
			`2: did not find expected ',' or '}'`},
		{"tab indentation", "defaults:\n\tslack: {}\n",
			`2: found character that cannot start any token`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "courses.yaml", tt.yaml)
			table, err := Load(path, envBase)
			require.Error(t, err)
			require.Nil(t, table)
			require.Equal(t, path+":"+tt.want, err.Error())
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Positive(t, e.Line, "every problem names its line")
		})
	}
}

func TestLoadListsEveryProblem(t *testing.T) {
	path := writeFile(t, t.TempDir(), "courses.yaml", `
defaults:
  slack: {channel: bad}
courses:
  c1:
    digest: {threshold: -3, window: 0s}
`)
	_, err := Load(path, envBase)
	require.Error(t, err)
	require.Equal(t, strings.Join([]string{
		path + `:3:20: defaults.slack.channel "bad" is not a Slack channel id (like C0123ABCD)`,
		path + `:6:25: digest.threshold is -3; want 0 or more`,
		path + `:6:37: digest.window is 0s; want more than 0`,
	}, "\n"), err.Error())
}

func TestLoadStopsAfterMaxProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("courses:\n")
	for i := range 50 {
		b.WriteString("  c" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": {slack: {channel: x}}\n")
	}
	_, err := Load(writeFile(t, t.TempDir(), "courses.yaml", b.String()), envBase)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, maxProblems+1)
	require.Contains(t, lines[maxProblems], "more than 20 problems; fix these first")
}

func TestLoadUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	_, err := Load(missing, envBase)
	require.EqualError(t, err, missing+": cannot open: no such file or directory")

	_, err = Load(dir, envBase)
	require.EqualError(t, err, dir+": is not a regular file")

	big := writeFile(t, dir, "big.yaml", "# "+strings.Repeat("x", maxFileBytes)+"\n")
	_, err = Load(big, envBase)
	require.EqualError(t, err, big+": is larger than 4 MiB")
}

func TestLogo(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "art", "logo.png"), 64, 32)
	writeJPEG(t, filepath.Join(dir, "art", "logo.jpg"))
	// A PNG named .jpg: the format comes from the bytes, not the name.
	writePNG(t, filepath.Join(dir, "art", "png-named.jpg"), 4, 4)

	tests := map[string]struct{ logo, want string }{
		"PNG":                {"art/logo.png", "art/logo.png"},
		"JPEG":               {"art/logo.jpg", "art/logo.jpg"},
		"PNG named .jpg":     {"art/png-named.jpg", "art/png-named.jpg"},
		"relative with dots": {"./art/../art/logo.png", "art/logo.png"},
		"absolute":           {filepath.Join(dir, "art", "logo.png"), "art/logo.png"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, dir, "courses.yaml", "defaults:\n  certificate: {logo: '"+tt.logo+"'}\n")
			table, err := Load(path, envBase)
			require.NoError(t, err)
			require.Equal(t, filepath.Join(dir, tt.want), table.Route("any").Certificate.Logo)
		})
	}
}

func TestLogoRelativeToTheFile(t *testing.T) {
	// The same relative logo is found beside the file, wherever the process
	// runs from.
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "conf", "assets", "acme.png"), 8, 8)
	path := writeFile(t, dir, "conf/courses.yaml", "defaults:\n  certificate: {logo: assets/acme.png}\n")
	table, err := Load(path, envBase)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "conf", "assets", "acme.png"), table.Route("x").Certificate.Logo)
}

// TestLinkedIn checks linkedin: in defaults and per course, merged key by
// key like the rest, and a bad organization id refused at its line.
func TestLinkedIn(t *testing.T) {
	dir := t.TempDir()
	table, err := Load(writeFile(t, dir, "courses.yaml", `
defaults:
  certificate: {issuer: Acme Academy}
  linkedin: {organizationId: 1337}
courses:
  own-page:
    linkedin: {organizationId: "2414183"}
  issuer-by-name:
    linkedin: {organizationId: ""}
  only-issuer:
    certificate: {issuer: Beta Institute}
  empty-section:
    linkedin: {}
`), envBase)
	require.NoError(t, err)
	for id, want := range map[string]LinkedInRoute{
		"unlisted":       {OrganizationID: "1337"},
		"own-page":       {OrganizationID: "2414183"},
		"issuer-by-name": {},
		"only-issuer":    {OrganizationID: "1337"},
		"empty-section":  {OrganizationID: "1337"},
	} {
		t.Run(id, func(t *testing.T) {
			require.Equal(t, want, table.Route(id).LinkedIn)
		})
	}
	require.Equal(t, "Beta Institute", table.Route("only-issuer").Certificate.Issuer)

	// Without defaults, a course alone may name a page.
	table, err = Load(writeFile(t, dir, "courses.yaml", "courses:\n  c1:\n    linkedin:\n      organizationId: 42\n"), envBase)
	require.NoError(t, err)
	require.Equal(t, "42", table.Route("c1").LinkedIn.OrganizationID)
	require.Empty(t, table.Route("other").LinkedIn.OrganizationID)

	tests := []struct{ name, yaml, want string }{
		{"vanity name", "defaults:\n  linkedin: {organizationId: acme-academy}\n",
			`2:30: defaults.linkedin.organizationId "acme-academy" is not a LinkedIn organization id; want the digits of the page's id (like 1337)`},
		{"page URL", "courses:\n  c1:\n    linkedin:\n      organizationId: https://www.linkedin.com/company/1337\n",
			`4:23: linkedin.organizationId "https://www.linkedin.com/company/1337" is not a LinkedIn organization id; want the digits of the page's id (like 1337)`},
		{"negative", "defaults:\n  linkedin: {organizationId: -1337}\n",
			`2:30: defaults.linkedin.organizationId "-1337" is not a LinkedIn organization id; want the digits of the page's id (like 1337)`},
		{"hexadecimal", "defaults:\n  linkedin: {organizationId: 0x539}\n",
			`2:30: defaults.linkedin.organizationId "0x539" is not a LinkedIn organization id; want the digits of the page's id (like 1337)`},
		{"spaces", "defaults:\n  linkedin: {organizationId: ' 1337'}\n",
			`2:30: defaults.linkedin.organizationId " 1337" is not a LinkedIn organization id; want the digits of the page's id (like 1337)`},
		{"empty", "defaults:\n  linkedin:\n    organizationId:\n",
			`3:20: defaults.linkedin.organizationId is empty; want a LinkedIn organization id (digits, like 1337)`},
		{"a list", "defaults:\n  linkedin: {organizationId: [1337]}\n",
			`2:30: defaults.linkedin.organizationId is a list; want a LinkedIn organization id (digits, like 1337)`},
		{"unknown key", "courses:\n  c1:\n    linkedin: {organizationName: Acme}\n",
			`3:16: unknown key "organizationName" in linkedin (known: organizationId)`},
		{"section is text", "defaults:\n  linkedin: 1337\n",
			`2:13: defaults.linkedin is "1337"; want a mapping of organizationId`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "courses.yaml", tt.yaml)
			_, err := Load(path, envBase)
			require.Error(t, err)
			require.Equal(t, path+":"+tt.want, err.Error())
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Positive(t, e.Line)
		})
	}
}

// TestRouteJSONLinkedIn: a route without LinkedIn settings is stored as it
// was before they existed; one with them names the organization id.
func TestRouteJSONLinkedIn(t *testing.T) {
	r := Route{CourseName: "Orientation", Email: EmailRoute{Enabled: true}}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.Equal(t, `{"courseName":"Orientation","slack":{"enabled":false},"email":{"enabled":true},"certificate":{},"digest":{"threshold":0,"window":0}}`, string(b))

	r.LinkedIn.OrganizationID = "1337"
	b, err = json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(b), `"linkedin":{"organizationId":"1337"}`)
	var back Route
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, r, back)
}
