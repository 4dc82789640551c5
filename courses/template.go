package courses

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// MaxRendered is the most runes Render returns; longer output is cut there.
// The subject and intro are short texts, and the cap keeps a template over a
// very long title from producing a message providers refuse.
const MaxRendered = 1000

// maxTemplateBytes bounds a template's source; a real subject or intro is a
// line or a paragraph.
const maxTemplateBytes = 4000

// Fields are the values a subject or intro template may name, as
// {{.FirstName}} and so on. The set is fixed so that a template is checked
// once, when the file is loaded, rather than failing on one learner's email.
type Fields struct {
	FirstName   string
	LastName    string
	LearnerName string // "First Last", or the email address when both are empty
	CourseTitle string // the event's title
	CourseName  string // the operators' name from the courses file
	CompletedOn string // the completion date as the email shows it
	Issuer      string
	// ExpiresOn is the certificate's expiry date as the email shows it,
	// empty when it never expires; CourseURL is the course's url from the
	// courses file, empty when it gives none. Reminders name both.
	ExpiresOn string
	CourseURL string
}

// sampleFields fills every field, so that the check at load runs each
// branch an {{if .X}} guards.
var sampleFields = Fields{
	FirstName:   "Ada",
	LastName:    "Lovelace",
	LearnerName: "Ada Lovelace",
	CourseTitle: "Sample Course",
	CourseName:  "Sample",
	CompletedOn: "1 January 2026",
	Issuer:      "Sample Academy",
	ExpiresOn:   "1 January 2027",
	CourseURL:   "https://learn.example.com/courses/sample",
}

// fieldNames lists Fields' names for the check and its messages, from the
// type itself so the two cannot drift apart.
var fieldNames = func() []string {
	var names []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Fields]()) {
		names = append(names, f.Name)
	}
	return names
}()

// allowedFuncs are the template functions a subject or intro may call:
// enough for {{if}} conditions and joining text, none that can produce more
// output than its arguments (printf can pad to any width) or reach outside
// the fields (call, index, slice).
var allowedFuncs = map[string]bool{
	"and": true, "or": true, "not": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"len": true, "print": true,
}

// Render executes the template source tmpl over f and returns the text,
// at most MaxRendered runes of it. An empty tmpl renders as "", which the
// caller takes to mean its built-in wording. The output is plain text with
// the field values exactly as given: escaping for an email header, HTML or
// Slack is the job of whoever puts it there. Render never panics.
func Render(tmpl string, f Fields) (out string, err error) {
	if tmpl == "" {
		return "", nil
	}
	defer func() {
		// text/template recovers its own panics; this is for one it misses,
		// since a broken subject must fail one email, not the worker.
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("render template: %v", r)
		}
	}()
	t, err := parseTemplate("template", tmpl)
	if err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	return execute(t, f)
}

// checkTemplate is the check at load: the source parses, uses only what
// parseTemplate allows, and runs over sample fields.
func checkTemplate(name, src string) error {
	t, err := parseTemplate(name, src)
	if err != nil {
		return err
	}
	if _, err := execute(t, sampleFields); err != nil {
		return fmt.Errorf("%s fails on sample fields: %w", name, err)
	}
	return nil
}

// parseTemplate parses src and walks its tree, allowing text, {{if}} and
// {{else}}, the fields of Fields, literals and allowedFuncs. range is left
// out because "{{range 1000000000}}" loops without writing anything, and
// with, variables, define and template because no subject needs them and
// each would make the field check harder to trust.
func parseTemplate(name, src string) (*template.Template, error) {
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("%s is longer than %d bytes", name, maxTemplateBytes)
	}
	t, err := template.New(name).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse: %s", name, parseProblem(name, err))
	}
	for _, other := range t.Templates() {
		if other.Name() != name {
			return nil, fmt.Errorf("%s defines template %q; define and block are not allowed", name, other.Name())
		}
	}
	if t.Tree == nil || t.Root == nil {
		return t, nil
	}
	c := checker{name: name, tree: t.Tree, multiline: strings.Contains(src, "\n")}
	if err := c.node(t.Root); err != nil {
		return nil, err
	}
	return t, nil
}

type checker struct {
	name      string
	tree      *parse.Tree
	multiline bool
}

// refuse says that the template uses a construct it may not.
func (c checker) refuse(n parse.Node, what string) error {
	return fmt.Errorf("%s uses %s, which is not allowed%s", c.name, what, c.line(n))
}

// line places n in a template of several lines, " (template line 3)".
func (c checker) line(n parse.Node) string {
	if !c.multiline {
		return ""
	}
	loc, _ := c.tree.ErrorContext(n)
	// loc is "name:line:column"; the name may itself hold colons.
	parts := strings.Split(loc, ":")
	if len(parts) < 3 {
		return ""
	}
	return " (template line " + parts[len(parts)-2] + ")"
}

func (c checker) node(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		for _, child := range n.Nodes {
			if err := c.node(child); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode:
		return nil
	case *parse.ActionNode:
		return c.pipe(n.Pipe)
	case *parse.IfNode:
		if err := c.pipe(n.Pipe); err != nil {
			return err
		}
		if err := c.node(n.List); err != nil {
			return err
		}
		if n.ElseList != nil {
			return c.node(n.ElseList)
		}
		return nil
	case *parse.RangeNode:
		return c.refuse(n, "{{range}}")
	case *parse.WithNode:
		return c.refuse(n, "{{with}}")
	case *parse.TemplateNode:
		return c.refuse(n, "{{template}}")
	default:
		return c.refuse(n, fmt.Sprintf("%q", n.String()))
	}
}

func (c checker) pipe(p *parse.PipeNode) error {
	if len(p.Decl) > 0 {
		return c.refuse(p, "a variable ($x :=)")
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			if err := c.arg(arg); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c checker) arg(n parse.Node) error {
	switch n := n.(type) {
	case *parse.FieldNode:
		if len(n.Ident) != 1 || !isField(n.Ident[0]) {
			return fmt.Errorf("%s names unknown field %s%s (known: .%s)", c.name, n.String(), c.line(n), strings.Join(fieldNames, ", ."))
		}
		return nil
	case *parse.IdentifierNode:
		if !allowedFuncs[n.Ident] {
			return c.refuse(n, fmt.Sprintf("function %q", n.Ident))
		}
		return nil
	case *parse.StringNode, *parse.NumberNode, *parse.BoolNode:
		return nil
	case *parse.PipeNode:
		return c.pipe(n)
	case *parse.VariableNode:
		return c.refuse(n, "a variable ("+n.String()+")")
	case *parse.DotNode:
		return c.refuse(n, "{{.}} alone (name a field, such as {{.FirstName}})")
	default:
		return c.refuse(n, fmt.Sprintf("%q", n.String()))
	}
}

func isField(name string) bool { return slices.Contains(fieldNames, name) }

// parseProblem shortens text/template's "template: name:3: unexpected ..."
// to "unexpected ... (template line 3)": the caller names the template.
func parseProblem(name string, err error) string {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "template: "+name+":")
	if !ok {
		return msg
	}
	line, problem, ok := strings.Cut(rest, ": ")
	if !ok {
		return msg
	}
	return problem + " (template line " + line + ")"
}

// errFull stops a template once it has written enough.
var errFull = errors.New("template output is full")

// capped collects at most max bytes and then refuses the rest, which makes
// text/template stop executing.
type capped struct {
	b   strings.Builder
	max int
}

func (w *capped) Write(p []byte) (int, error) {
	room := w.max - w.b.Len()
	if len(p) > room {
		w.b.Write(p[:max(room, 0)])
		return max(room, 0), errFull
	}
	return w.b.Write(p)
}

// execute runs t over f and cuts the output at MaxRendered runes. Bytes are
// capped first at 4 per rune, the most one rune takes, so a full buffer
// always holds at least MaxRendered runes.
func execute(t *template.Template, f Fields) (string, error) {
	w := &capped{max: MaxRendered * 4}
	if err := t.Execute(w, f); err != nil && !errors.Is(err, errFull) {
		return "", err
	}
	s := w.b.String()
	n := 0
	for i := range s {
		if n == MaxRendered {
			return s[:i], nil
		}
		n++
	}
	return s, nil
}
