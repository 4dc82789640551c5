package courses

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"github.com/coursehook/coursehook/config"
	"github.com/coursehook/coursehook/event"
	"github.com/coursehook/coursehook/linkedin"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Bounds on what an operator may write. They are far above any sensible
// file and only stop a mistake (a pasted log, a window of "24000h") from
// reaching the notices.
const (
	maxFileBytes     = 4 << 20
	maxTextRunes     = 200
	maxCourseIDRunes = event.MaxIDLength // the event's own limit on notifiableId
	maxWindow        = config.MaxDigestWindow
	// maxProblems caps the list Load returns; past it, the rest of the
	// file is not read, which also bounds the work an aliased mapping can
	// cause.
	maxProblems = 20
)

// slackChannelID is the shape of a Slack conversation id: C for a public
// channel, G for a private one, D for a direct message. A channel name such
// as "#general" is refused because the file is checked once, here, while a
// renamed channel would only fail later, one notice at a time.
var slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{8,20}$`)

// Error is one problem in a courses file. Line and Column are 1-based, and 0
// when the problem has no place (an unreadable file).
type Error struct {
	Path    string
	Line    int
	Column  int
	Problem string
}

// Error returns the problem as "path:line:column: problem", the form editors
// and terminals turn into a link.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.Path, e.Problem)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Problem)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Problem)
	}
}

// readFile reads the whole file, refusing anything but a regular file of at
// most maxFileBytes, so a path pointing at a device or a huge log fails
// quickly.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Path: path, Problem: "cannot open: " + pathErrorText(err)}
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, &Error{Path: path, Problem: "cannot read: " + pathErrorText(err)}
	}
	if !info.Mode().IsRegular() {
		return nil, &Error{Path: path, Problem: "is not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, &Error{Path: path, Problem: "cannot read: " + pathErrorText(err)}
	}
	if len(data) > maxFileBytes {
		return nil, &Error{Path: path, Problem: fmt.Sprintf("is larger than %d MiB", maxFileBytes>>20)}
	}
	return data, nil
}

// pathErrorText drops the path from an *fs.PathError, which the caller's
// message already names.
func pathErrorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parser walks the YAML node tree rather than decoding into structs, so that
// every problem gets its own line and column, a key-by-key merge knows which
// keys were written, and unknown keys are refused at every level.
type parser struct {
	path     string
	dir      string
	problems []error
	// logos remembers each logo's check, since many courses usually share
	// one file.
	logos map[string]string
	// sections are the channels' own keys, by key; anySection accepts
	// every other mapping as one, unchecked.
	sections   map[string]Section
	anySection bool
}

func newParser(path string, sections []Section) *parser {
	p := &parser{path: path, dir: filepath.Dir(path), logos: map[string]string{}, sections: map[string]Section{}}
	for _, s := range sections {
		if s.Key == AnySection.Key {
			p.anySection = true
			continue
		}
		p.sections[s.Key] = s
	}
	return p
}

// fail records a problem at node n.
func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	if p.full() {
		return
	}
	p.problems = append(p.problems, &Error{Path: p.path, Line: n.Line, Column: n.Column, Problem: fmt.Sprintf(format, args...)})
	if p.full() {
		p.problems = append(p.problems, &Error{Path: p.path, Problem: fmt.Sprintf("more than %d problems; fix these first", maxProblems)})
	}
}

func (p *parser) full() bool { return len(p.problems) >= maxProblems }

// yamlLine pulls the line out of the YAML library's syntax errors, which
// come as "yaml: line 7: did not find expected key".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// file parses data into t: the defaults first, whatever their place in the
// file, then each course over them.
func (p *parser) file(data []byte, t *Table) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file, or only comments: everything is the base
		}
		p.syntax(err)
		return
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			p.syntax(err)
			return
		}
		p.fail(&next, "a second YAML document (---); put everything in one")
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		p.fail(root, "the file is %s; want a mapping with defaults: and courses:", describe(root))
		return
	}
	var defaults, list *yaml.Node
	p.mapping(root, "", []string{"defaults", "courses"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "defaults":
			defaults = v
		case "courses":
			list = v
		}
	})
	if defaults != nil {
		p.route(defaults, "defaults", "", &t.defaults)
	}
	if list != nil {
		p.courses(list, t)
	}
}

// syntax records an error of the YAML library: a file that is not YAML.
func (p *parser) syntax(err error) {
	e := &Error{Path: p.path, Problem: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Problem = m[2]
	}
	if parserProblems[e.Problem] {
		// yaml.v3 adds one to the 0-based line of its scanner's errors but
		// not of its parser's, and leaves out a line 0 altogether.
		e.Line++
	}
	p.problems = append(p.problems, e)
}

// parserProblems are the messages of yaml.v3's parser, as opposed to its
// scanner; their line numbers are one short. The line is where the
// mapping or list that holds the problem starts when that is past line 1,
// and where the parser stopped otherwise.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or '}'":       true,
	"did not find expected ',' or ']'":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// courses reads the courses: mapping, course id to settings.
func (p *parser) courses(n *yaml.Node, t *Table) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "courses is %s; want a mapping of course id to settings", describe(n))
		return
	}
	p.mapping(n, "courses", nil, func(id string, k, v *yaml.Node) {
		switch {
		case id == "" || strings.TrimSpace(id) != id:
			p.fail(k, "course id %q is empty or has spaces around it", id)
			return
		case utf8.RuneCountInString(id) > maxCourseIDRunes:
			p.fail(k, "course id %q is longer than %d characters", id, maxCourseIDRunes)
			return
		case hasControl(id):
			p.fail(k, "course id %q has a control character", id)
			return
		}
		r := t.defaults
		p.route(v, "", fmt.Sprintf("course %q", id), &r)
		t.courses[id] = r
	})
}

// route applies the mapping n over r, key by key. where prefixes the key
// names in messages ("defaults"); course, for a course, is how messages name
// it, and allows the key name.
func (p *parser) route(n *yaml.Node, where, course string, r *Route) {
	n = deref(n)
	if isNull(n) {
		return // "id:" with nothing under it: the defaults
	}
	keys := []string{"slack", "email", "certificate", "digest", "linkedin"}
	keys = append(keys, slices.Sorted(maps.Keys(p.sections))...)
	label := where
	if course != "" {
		keys = append([]string{"name", "url"}, keys...)
		label = course
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s is %s; want a mapping of %s", label, describe(n), strings.Join(keys, ", "))
		return
	}
	prefix := where
	if prefix != "" {
		prefix += "."
	}
	known := keys
	if p.anySection {
		known = nil
	}
	p.mapping(n, label, known, func(key string, _, v *yaml.Node) {
		name := prefix + key
		if sec, ok := p.sections[key]; ok {
			p.channelSection(v, name, sec, r)
			return
		}
		switch key {
		case "name":
			p.text(v, name, &r.CourseName)
		case "url":
			p.link(v, name, &r.URL)
		case "slack":
			p.section(v, name, []string{"channel", "enabled"}, func(key string, v *yaml.Node) {
				switch key {
				case "channel":
					p.channel(v, name+".channel", &r.Slack.Channel)
				case "enabled":
					p.boolean(v, name+".enabled", &r.Slack.Enabled)
				}
			})
		case "email":
			p.section(v, name, []string{"enabled", "subject", "intro", "reminder"}, func(key string, v *yaml.Node) {
				switch key {
				case "enabled":
					p.boolean(v, name+".enabled", &r.Email.Enabled)
				case "subject":
					p.template(v, name+".subject", &r.Email.Subject)
				case "intro":
					p.template(v, name+".intro", &r.Email.Intro)
				case "reminder":
					p.section(v, name+".reminder", []string{"subject", "intro"}, func(key string, v *yaml.Node) {
						switch key {
						case "subject":
							p.template(v, name+".reminder.subject", &r.Email.Reminder.Subject)
						case "intro":
							p.template(v, name+".reminder.intro", &r.Email.Reminder.Intro)
						}
					})
				}
			})
		case "certificate":
			p.section(v, name, []string{"heading", "issuer", "signatory", "logo", "validFor", "remind"}, func(key string, v *yaml.Node) {
				switch key {
				case "heading":
					p.text(v, name+".heading", &r.Certificate.Heading)
				case "issuer":
					p.text(v, name+".issuer", &r.Certificate.Issuer)
				case "signatory":
					p.section(v, name+".signatory", []string{"name", "role"}, func(key string, v *yaml.Node) {
						switch key {
						case "name":
							p.text(v, name+".signatory.name", &r.Certificate.Signatory.Name)
						case "role":
							p.text(v, name+".signatory.role", &r.Certificate.Signatory.Role)
						}
					})
				case "logo":
					p.logo(v, name+".logo", &r.Certificate.Logo)
				case "validFor":
					p.validFor(v, name+".validFor", &r.Certificate)
				case "remind":
					p.remind(v, name+".remind", &r.Certificate.Remind)
				}
			})
			p.checkReminders(v, name, r.Certificate)
		case "digest":
			p.section(v, name, []string{"enabled", "threshold", "window"}, func(key string, v *yaml.Node) {
				switch key {
				case "enabled":
					on := !r.Digest.Off
					p.boolean(v, name+".enabled", &on)
					r.Digest.Off = !on
				case "threshold":
					p.threshold(v, name+".threshold", &r.Digest.Threshold)
				case "window":
					p.window(v, name+".window", &r.Digest.Window)
				}
			})
		case "linkedin":
			p.section(v, name, []string{"organizationId"}, func(key string, v *yaml.Node) {
				if key == "organizationId" {
					p.organizationID(v, name+".organizationId", &r.LinkedIn.OrganizationID)
				}
			})
		default:
			// Only with AnySection: a channel this reader does not know.
			if n := deref(v); !isNull(n) && n.Kind != yaml.MappingNode {
				p.fail(n, "%s is %s; want a mapping", name, describe(n))
			}
		}
	})
}

// channelSection reads a channel's own section over what r holds from the
// defaults, field by field, then checks the section as merged.
func (p *parser) channelSection(n *yaml.Node, name string, sec Section, r *Route) {
	fields := maps.Clone(r.Channels[sec.Key])
	if fields == nil {
		fields = map[string]string{}
	}
	p.section(n, name, sec.Fields, func(key string, v *yaml.Node) {
		field := name + "." + key
		v, ok := p.scalar(v, field, "a single value")
		if !ok {
			return
		}
		switch s := v.Value; {
		case utf8.RuneCountInString(s) > maxSectionValue:
			p.fail(v, "%s is longer than %d characters", field, maxSectionValue)
		case hasControl(s):
			p.fail(v, "%s has a control character (a line break or tab); keep it on one line", field)
		default:
			if sec.Check != nil {
				if err := sec.Check(key, s); err != nil {
					p.fail(v, "%s: %v", field, err)
					return
				}
			}
			fields[key] = s
		}
	})
	if sec.Complete != nil {
		if err := sec.Complete(fields); err != nil {
			p.fail(deref(n), "%s: %v", name, err)
			return
		}
	}
	if r.Channels == nil {
		r.Channels = map[string]map[string]string{}
	} else {
		// The defaults' map is shared by every course: copy before writing.
		r.Channels = maps.Clone(r.Channels)
	}
	r.Channels[sec.Key] = fields
}

// section checks that n is a mapping of known keys and hands each value to
// fn. A section written with nothing under it ("slack:") changes nothing.
func (p *parser) section(n *yaml.Node, name string, known []string, fn func(key string, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s is %s; want a mapping of %s", name, describe(n), strings.Join(known, ", "))
		return
	}
	p.mapping(n, name, known, func(key string, _, v *yaml.Node) { fn(key, v) })
}

// mapping calls fn for each key of the mapping n in file order, refusing
// keys that are not scalars, repeated, merge keys, or (when known is not
// nil) not in known.
func (p *parser) mapping(n *yaml.Node, where string, known []string, fn func(key string, k, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content) && !p.full(); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			p.fail(k, "a key in %s is %s; want a name", orFile(where), describe(k))
			continue
		}
		key := k.Value
		if k.ShortTag() == "!!merge" {
			p.fail(k, "merge keys (<<) are not supported in %s; put shared settings under defaults:", orFile(where))
			continue
		}
		if line, dup := seen[key]; dup {
			p.fail(k, "%s is repeated (first at line %d)", keyName(where, key), line)
			continue
		}
		seen[key] = k.Line
		if known != nil && !slices.Contains(known, key) {
			p.fail(k, "unknown key %q in %s (known: %s)", key, orFile(where), strings.Join(known, ", "))
			continue
		}
		fn(key, k, v)
	}
}

func orFile(where string) string {
	if where == "" {
		return "the file"
	}
	return where
}

func keyName(where, key string) string {
	if where == "" {
		return fmt.Sprintf("key %q", key)
	}
	return fmt.Sprintf("%s key %q", where, key)
}

// scalar returns n as a scalar, or records that it is not one.
func (p *parser) scalar(n *yaml.Node, name, want string) (*yaml.Node, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.fail(n, "%s is %s; want %s", name, describe(n), want)
		return nil, false
	}
	return n, true
}

// text reads a plain-text setting: a name, heading, issuer or signatory.
// Numbers are taken as written ("heading: 2024" is the text 2024).
func (p *parser) text(n *yaml.Node, name string, dst *string) {
	n, ok := p.scalar(n, name, "text")
	if !ok {
		return
	}
	switch s := n.Value; {
	case utf8.RuneCountInString(s) > maxTextRunes:
		p.fail(n, "%s is longer than %d characters", name, maxTextRunes)
	case hasControl(s):
		p.fail(n, "%s %q has a control character (a line break or tab); keep it on one line", name, s)
	default:
		*dst = s
	}
}

func (p *parser) boolean(n *yaml.Node, name string, dst *bool) {
	n, ok := p.scalar(n, name, "true or false")
	if !ok {
		return
	}
	// Only YAML 1.2's true and false: "yes", "on" or a quoted "true" are
	// more likely a slip than a choice.
	if n.ShortTag() != "!!bool" {
		p.fail(n, "%s is %q; want true or false", name, n.Value)
		return
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		p.fail(n, "%s is %q; want true or false", name, n.Value)
		return
	}
	*dst = b
}

func (p *parser) channel(n *yaml.Node, name string, dst *string) {
	n, ok := p.scalar(n, name, "a Slack channel id (like C0123ABCD)")
	if !ok {
		return
	}
	if !slackChannelID.MatchString(n.Value) {
		p.fail(n, "%s %q is not a Slack channel id (like C0123ABCD)", name, n.Value)
		return
	}
	*dst = n.Value
}

// organizationID reads a LinkedIn organization id. YAML reads 1337 as a
// number and "1337" as text; both are the digits as written. An empty id
// ("") removes the one the defaults give, so the course names its issuer
// instead.
func (p *parser) organizationID(n *yaml.Node, name string, dst *string) {
	n, ok := p.scalar(n, name, "a LinkedIn organization id (digits, like 1337)")
	if !ok {
		return
	}
	if n.Value != "" && !linkedin.ValidOrganizationID(n.Value) {
		p.fail(n, "%s %q is not a LinkedIn organization id; want the digits of the page's id (like 1337)", name, n.Value)
		return
	}
	*dst = n.Value
}

func (p *parser) template(n *yaml.Node, name string, dst *string) {
	n, ok := p.scalar(n, name, "a template")
	if !ok {
		return
	}
	if err := checkTemplate(name, n.Value); err != nil {
		p.fail(n, "%v", err)
		return
	}
	*dst = n.Value
}

func (p *parser) threshold(n *yaml.Node, name string, dst *int) {
	n, ok := p.scalar(n, name, "a whole number")
	if !ok {
		return
	}
	var v int
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.fail(n, "%s is %q; want a whole number", name, n.Value)
		return
	}
	if v < 0 {
		p.fail(n, "%s is %d; want 0 or more", name, v)
		return
	}
	*dst = v
}

func (p *parser) window(n *yaml.Node, name string, dst *time.Duration) {
	n, ok := p.scalar(n, name, "a duration such as 1m or 90s")
	if !ok {
		return
	}
	d, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		p.fail(n, "%s is %q; want a duration with a unit, such as 1m or 90s", name, n.Value)
	case d <= 0:
		p.fail(n, "%s is %s; want more than 0", name, n.Value)
	case d > maxWindow:
		p.fail(n, "%s is %s; want at most %s", name, n.Value, "24h")
	default:
		*dst = d
	}
}

// validFor reads a certificate's validity: a Period, or "never" to take
// away the one the defaults give (and their reminders with it).
func (p *parser) validFor(n *yaml.Node, name string, c *CertificateRoute) {
	n, ok := p.scalar(n, name, "a period such as 12mo, 365d or 2y")
	if !ok {
		return
	}
	if n.Value == "never" {
		c.ValidFor, c.Remind = "", nil
		return
	}
	if _, err := ParsePeriod(n.Value); err != nil {
		p.fail(n, "%s: %v", name, err)
		return
	}
	c.ValidFor = n.Value
}

// maxReminders bounds a course's reminders: a few are a courtesy, many are
// spam.
const maxReminders = 5

// remind reads the reminder offsets: a list of Periods, each given once,
// kept longest first. An empty list ([]) takes away the defaults' ones.
func (p *parser) remind(n *yaml.Node, name string, dst *[]string) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s is %s; want a list of periods such as [30d, 7d]", name, describe(n))
		return
	}
	if len(n.Content) > maxReminders {
		p.fail(n, "%s has %d reminders; want at most %d", name, len(n.Content), maxReminders)
		return
	}
	var out []string
	seen := map[time.Duration]string{}
	ok := true
	for _, item := range n.Content {
		item, isScalar := p.scalar(item, name, "a period such as 30d")
		if !isScalar {
			ok = false
			continue
		}
		d, err := ParsePeriod(item.Value)
		if err != nil {
			p.fail(item, "%s: %v", name, err)
			ok = false
			continue
		}
		if other, dup := seen[d.Approx()]; dup {
			p.fail(item, "%s has %s and %s, the same reminder twice", name, other, item.Value)
			ok = false
			continue
		}
		seen[d.Approx()] = item.Value
		out = append(out, item.Value)
	}
	if !ok {
		return
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return cmp.Compare(MustPeriod(b).Approx(), MustPeriod(a).Approx())
	})
	*dst = out
}

// checkReminders refuses reminders that cannot be sent, once the
// certificate section is merged: reminders without a validity, or one as
// long as the validity itself (it would fall on or before the completion).
func (p *parser) checkReminders(n *yaml.Node, name string, c CertificateRoute) {
	if len(c.Remind) == 0 {
		return
	}
	if c.ValidFor == "" {
		p.fail(deref(n), "%s.remind needs %s.validFor: a certificate that never expires has nothing to remind of", name, name)
		return
	}
	valid := MustPeriod(c.ValidFor)
	for _, r := range c.Remind {
		if MustPeriod(r).Approx() >= valid.Approx() {
			p.fail(deref(n), "%s.remind %s is not shorter than %s.validFor %s: it would fall before the course was completed", name, r, name, c.ValidFor)
		}
	}
}

// link reads a course's page address: an absolute http or https URL.
func (p *parser) link(n *yaml.Node, name string, dst *string) {
	n, ok := p.scalar(n, name, "an https URL")
	if !ok {
		return
	}
	u, err := url.Parse(n.Value)
	switch {
	case n.Value == "":
		*dst = ""
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil:
		p.fail(n, "%s %q is not a link to the course: want an absolute https URL without a user name", name, n.Value)
	case utf8.RuneCountInString(n.Value) > maxSectionValue || hasControl(n.Value):
		p.fail(n, "%s is longer than %d characters or has a control character", name, maxSectionValue)
	default:
		*dst = n.Value
	}
}

// logo resolves the path against the file's folder and checks the image
// now, so a missing logo is the operator's error at reload, not a failed
// certificate later. An empty logo removes the one the defaults give.
func (p *parser) logo(n *yaml.Node, name string, dst *string) {
	n, ok := p.scalar(n, name, "the path of a PNG or JPEG file")
	if !ok {
		return
	}
	if n.Value == "" {
		*dst = ""
		return
	}
	path := n.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		p.fail(n, "%s %q: %v", name, n.Value, err)
		return
	}
	problem, done := p.logos[abs]
	if !done {
		if err := checkLogo(abs); err != nil {
			problem = err.Error()
		}
		p.logos[abs] = problem
	}
	if problem != "" {
		p.fail(n, "%s %q %s", name, n.Value, problem)
		return
	}
	*dst = abs
}

// deref follows an alias (*name) to the node its anchor marks.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what an operator wrote where something else was expected.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "empty"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
