package config

import (
	"maps"
	"slices"
	"strings"
)

// ReferencePath is the configuration reference in the repository, which
// Reference renders (make docs).
const ReferencePath = "docs/configuration.md"

// Reference renders the configuration reference: every setting, its
// default, the binaries that read it and what it means.
func Reference() string {
	readers := readersOf()
	var b strings.Builder
	b.WriteString("# Configuration\n\n")
	b.WriteString("<!-- Generated from config.Settings (config/settings.go) by `make docs`; edit that, not this file. -->\n\n")
	b.WriteString(referenceIntro + "\n")
	b.WriteString("| variable | default | read by | meaning |\n|---|---|---|---|\n")
	for _, s := range Settings() {
		label := s.Label
		if label == "" {
			quoted := make([]string, len(s.Names))
			for i, n := range s.Names {
				quoted[i] = "`" + n + "`"
			}
			label = strings.Join(quoted, ", ")
		}
		who := s.Readers
		if r := readersOfNames(readers, s.Names); r != "" {
			who = r
		}
		b.WriteString("| " + label + " | " + s.Default + " | " + who + " | " + s.Meaning + " |\n")
	}
	b.WriteString("\n" + referenceOutro)
	return b.String()
}

// binaryNames are the binaries as the reference names them.
var binaryNames = map[Binary]string{Worker: "worker", Starter: "webhook server", Ctl: "coursehookctl"}

// richEnvironment turns on every feature that makes a binary read more
// settings (the export, verification, delivery events, real Slack and
// SendGrid), so that readersOf sees each variable any of them can read.
var richEnvironment = map[string]string{
	"API_TOKEN": "export-token-0123456789", "PUBLIC_BASE_URL": "https://certificates.example.com",
	"CERTIFICATE_SIGNING_KEY":     "a-certificate-signing-key-of-32-characters",
	"SENDGRID_WEBHOOK_PUBLIC_KEY": "key", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL": "C0123",
	"SENDGRID_API_KEY": "SG.x", "EMAIL_FROM": "certificates@example.org",
	"WEBHOOK_SECRET": "webhook-secret-0123456789",
}

// readersOf loads each binary's settings, with every feature on, and
// records the variables each one reads: the reference's "read by" column
// comes from the code, not from a list kept beside it.
func readersOf() map[string]map[Binary]bool {
	read := map[string]map[Binary]bool{}
	for b := range binaryNames {
		// Twice: with every feature on, and with nothing set, which reads
		// the fallbacks of unset settings (a key's _FILE).
		for _, env := range []map[string]string{richEnvironment, nil} {
			_, _ = Load(func(name string) string {
				if !osVariables[name] {
					if read[name] == nil {
						read[name] = map[Binary]bool{}
					}
					read[name][b] = true
				}
				return env[name]
			}, b)
		}
	}
	return read
}

// osVariables are read to find the Temporal CLI's configuration file, as
// the CLI finds it; they are the system's, not settings.
var osVariables = map[string]bool{"HOME": true, "XDG_CONFIG_HOME": true, "APPDATA": true}

// readersOfNames names the binaries that read any of names, "" when none
// reads them through Load.
func readersOfNames(read map[string]map[Binary]bool, names []string) string {
	bins := map[Binary]bool{}
	for _, n := range names {
		maps.Copy(bins, read[n])
	}
	var out []string
	for _, b := range slices.Sorted(maps.Keys(bins)) {
		out = append(out, binaryNames[b])
	}
	return strings.Join(out, ", ")
}
