package courses

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPeriodDates(t *testing.T) {
	completed := time.Date(2026, 1, 31, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		period       string
		after, minus time.Time
	}{
		{"12mo", time.Date(2027, 1, 31, 9, 30, 0, 0, time.UTC), time.Date(2025, 1, 31, 9, 30, 0, 0, time.UTC)},
		{"1mo", time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC), time.Date(2025, 12, 31, 9, 30, 0, 0, time.UTC)},
		{"2y", time.Date(2028, 1, 31, 9, 30, 0, 0, time.UTC), time.Date(2024, 1, 31, 9, 30, 0, 0, time.UTC)},
		{"30d", time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), time.Date(2026, 1, 1, 9, 30, 0, 0, time.UTC)},
		{"1w", time.Date(2026, 2, 7, 9, 30, 0, 0, time.UTC), time.Date(2026, 1, 24, 9, 30, 0, 0, time.UTC)},
		{"10m", completed.Add(10 * time.Minute), completed.Add(-10 * time.Minute)},
		{"40s", completed.Add(40 * time.Second), completed.Add(-40 * time.Second)},
	} {
		p, err := ParsePeriod(tc.period)
		require.NoError(t, err, tc.period)
		require.Equal(t, tc.period, p.String())
		require.Equal(t, tc.after, p.After(completed), tc.period)
		require.Equal(t, tc.minus, p.Before(completed), tc.period)
	}
}

func TestParsePeriodRefuses(t *testing.T) {
	for _, s := range []string{"", "12", "mo", "1.5d", "-3d", "0d", "1 d", "1D", "12months", "11y", "+3d", "03d"} {
		_, err := ParsePeriod(s)
		require.Error(t, err, "%q", s)
	}
}

func TestValidityMergesAndIsChecked(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "courses.yaml", `
defaults:
  certificate:
    validFor: 12mo
    remind: [7d, 30d]
  email:
    reminder: {subject: "Renew {{.CourseTitle}} by {{.ExpiresOn}}"}
courses:
  c1:
    url: https://learn.example.com/c1
    certificate: {validFor: 3m, remind: [1m]}
  c2:
    certificate: {validFor: never}
  c3:
    name: Inherits
`)
	table, err := Load(path, Route{})
	require.NoError(t, err)
	c1, c2, c3 := table.Route("c1"), table.Route("c2"), table.Route("c3")
	require.Equal(t, CertificateRoute{ValidFor: "3m", Remind: []string{"1m"}}, c1.Certificate)
	require.Equal(t, "https://learn.example.com/c1", c1.URL)
	require.Empty(t, c2.Certificate.ValidFor, "never takes the defaults' validity away")
	require.Empty(t, c2.Certificate.Remind, "and their reminders with it")
	require.Equal(t, []string{"30d", "7d"}, c3.Certificate.Remind, "kept longest first")
	require.Equal(t, "Renew {{.CourseTitle}} by {{.ExpiresOn}}", c3.Email.Reminder.Subject)

	completed := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at, ok := c1.Certificate.Expires(completed)
	require.True(t, ok)
	require.Equal(t, completed.Add(3*time.Minute), at)
	_, ok = c2.Certificate.Expires(completed)
	require.False(t, ok)
}

func TestValidityProblemsHaveTheirLine(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad period", "courses:\n  c1:\n    certificate: {validFor: 12 months}\n",
			`3:29: certificate.validFor: "12 months" is not a period`},
		{"remind without validity", "courses:\n  c1:\n    certificate: {remind: [7d]}\n",
			`3:18: certificate.remind needs certificate.validFor`},
		{"remind as long as the validity", "courses:\n  c1:\n    certificate: {validFor: 30d, remind: [1mo]}\n",
			`certificate.remind 1mo is not shorter than certificate.validFor 30d`},
		{"inherited reminder too long for the course", "defaults:\n  certificate: {validFor: 1y, remind: [30d]}\ncourses:\n  c1:\n    certificate: {validFor: 10m}\n",
			`5:18: certificate.remind 30d is not shorter than certificate.validFor 10m`},
		{"same reminder twice", "courses:\n  c1:\n    certificate: {validFor: 1y, remind: [7d, 1w]}\n",
			`certificate.remind has 7d and 1w, the same reminder twice`},
		{"remind not a list", "courses:\n  c1:\n    certificate: {validFor: 1y, remind: 7d}\n",
			`3:41: certificate.remind is "7d"; want a list of periods`},
		{"url not a link", "courses:\n  c1:\n    url: learn.example.com/c1\n",
			`3:10: url "learn.example.com/c1" is not a link to the course`},
		{"reminder template", "defaults:\n  email:\n    reminder: {intro: 'Dear {{.Name}}'}\n",
			`defaults.email.reminder.intro`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "courses.yaml", tc.yaml)
			_, err := Load(path, Route{})
			require.ErrorContains(t, err, filepath.Base(path))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
