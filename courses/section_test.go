package courses

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hook is a channel's section as a test channel brings it: a url that must
// start with https, and a secret it cannot do without.
var hook = Section{
	Key:    "hook",
	Fields: []string{"url", "secret", "enabled"},
	Check: func(field, value string) error {
		if field == "url" && !strings.HasPrefix(value, "https://") {
			return errors.New("want an https URL")
		}
		return nil
	},
	Complete: func(f map[string]string) error {
		if f["url"] != "" && f["secret"] == "" {
			return errors.New("a url needs its secret")
		}
		return nil
	},
}

func TestSectionMergesOverTheDefaults(t *testing.T) {
	path := writeFile(t, t.TempDir(), "courses.yaml", `
defaults:
  hook: {url: "https://crm.example.com/in", secret: "env:HOOK"}
courses:
  c1:
    hook: {url: "https://other.example.com/in"}
  c2:
    name: Second
  c3:
    hook: {enabled: "false"}
`)
	table, err := Load(path, envBase, hook)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"url": "https://other.example.com/in", "secret": "env:HOOK"}, table.Route("c1").Channels["hook"])
	require.Equal(t, map[string]string{"url": "https://crm.example.com/in", "secret": "env:HOOK"}, table.Route("c2").Channels["hook"])
	require.Equal(t, "false", table.Route("c3").Channels["hook"]["enabled"])
	require.Equal(t, "https://crm.example.com/in", table.Route("c3").Channels["hook"]["url"], "key by key")
	require.Equal(t, table.Route("unlisted").Channels, table.Route("c2").Channels)
	require.Equal(t, "https://crm.example.com/in", table.Route("c1-not").Channels["hook"]["url"], "c1's change did not leak into the defaults")
}

func TestSectionProblemsHaveTheirLine(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"check", "courses:\n  c1:\n    hook: {url: \"http://x\", secret: s}\n", `3:17: hook.url: want an https URL`},
		{"complete", "courses:\n  c1:\n    hook: {url: \"https://x\"}\n", `3:11: hook: a url needs its secret`},
		{"unknown field", "courses:\n  c1:\n    hook: {uri: \"https://x\"}\n", `unknown key "uri" in hook (known: url, secret, enabled)`},
		{"not a value", "courses:\n  c1:\n    hook: {url: [a, b]}\n", `hook.url is a list; want a single value`},
		{"a line break", "courses:\n  c1:\n    hook: {secret: \"a\\nb\"}\n", `hook.secret has a control character`},
		{"unknown channel", "courses:\n  c1:\n    fax: {to: 1}\n", `unknown key "fax" in course "c1" (known: name, url, slack, email, certificate, digest, linkedin, hook)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "courses.yaml", tc.yaml)
			_, err := Load(path, envBase, hook)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestAnySectionReadsNamesOnly: coursehookctl reads the names of a file
// whose channels it does not link.
func TestAnySectionReadsNamesOnly(t *testing.T) {
	path := writeFile(t, t.TempDir(), "courses.yaml", "courses:\n  c1:\n    name: First\n    hook: {url: \"https://x\"}\n")
	_, err := Load(path, envBase)
	require.ErrorContains(t, err, `unknown key "hook"`)
	table, err := Load(path, Route{}, AnySection)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"c1": "First"}, table.Names())
	_, err = Load(writeFile(t, t.TempDir(), "bad.yaml", "courses:\n  c1:\n    hook: 3\n"), Route{}, AnySection)
	require.ErrorContains(t, err, "want a mapping")
}
