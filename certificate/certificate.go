// Package certificate renders a one-page PDF certificate of course completion.
//
// Rendering is pure Go with the embedded Go fonts, needs no files on disk
// and is deterministic: the same Data and renderer version always yield the
// same bytes, so a retried activity produces an identical attachment. There
// are two renderer versions, one layout: version 1 draws with fpdf and
// version 2 with package pdfdoc, each behind the small canvas interface the
// layout draws on.
package certificate

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/coursehook/coursehook/certificate/logo"
	"github.com/coursehook/coursehook/event"
)

// ErrInvalidData marks input that can never render, however often it is
// retried; callers can test for it with errors.Is and fail permanently.
var ErrInvalidData = errors.New("invalid certificate data")

// Data is what a certificate shows. The fields after CertificateID are
// optional, set per course; left at their zero values, the certificate is
// exactly the one coursehook has always rendered, byte for byte. Text is
// cleaned as event.Clean cleans it and fitted to the page at any length.
type Data struct {
	LearnerName   string    // full name, any script (Latin, Greek, Cyrillic)
	CourseTitle   string    // title of the completed course
	CompletedAt   time.Time // shown as a UTC date and used as the PDF's dates
	CertificateID string    // the webhook event id

	Heading   string    // replaces "Certificate of Completion" when set
	Issuer    string    // the organisation, shown as "Issued by <Issuer>"
	Signatory Signatory // who signs: a signature line with the name and role
	// Logo is a PNG or JPEG drawn above the heading; CheckLogo says whether
	// Render will take it.
	Logo []byte
	// Verification adds a QR code and the code to check the certificate by.
	Verification *Verification
	// ValidUntil, when set, prints "Valid until <date>" under the
	// completion date; zero (a certificate that never expires) leaves the
	// certificate byte for byte as it was.
	ValidUntil time.Time
}

// Signatory is the person whose name and role stand under the signature
// line. Either may be empty; with both empty there is no signature line.
type Signatory struct {
	Name, Role string
}

// CheckLogo reports why b cannot be a certificate logo, or returns nil: it
// must be a PNG or JPEG of at most logo.MaxBytes bytes and logo.MaxSide
// pixels a side that decodes in full. Configuration that must not link the
// PDF library can call logo.Check, which is the same check.
func CheckLogo(b []byte) error {
	return logo.Check(b)
}

// Page geometry in millimetres for landscape A4.
const (
	pageW = 297.0
	pageH = 210.0
	// textW leaves generous side margins inside the frame so even the
	// widest line reads as centred.
	textW    = 237.0
	textLeft = (pageW - textW) / 2
	// ptPerMM converts font sizes, which are in points, to the
	// millimetres used for layout.
	ptPerMM = 72 / 25.4
	// footerBottom is where the lowest text ends. The footer sits at a
	// fixed place near the bottom edge so certificates look alike.
	footerBottom = pageH - 24
	// headingTop is where the heading starts when there is no logo.
	headingTop = 30.0
)

// The logo's box, centred at the top, and the resolution it is kept at:
// 300 dpi is print quality, and more would only grow the file.
const (
	logoTop  = 19.0
	logoMaxW = 60.0
	logoMaxH = 16.0
	logoDPI  = 300
)

// The bottom corners hold the signature block on the left and the QR code
// on the right; the footer's centre column then narrows to clear them.
const (
	signatureW = 64.0
	sideGap    = 6.0
)

const defaultHeading = "Certificate of Completion"

// rgb is a colour as 0xRRGGBB, so the palette can be constants.
type rgb uint32

const (
	navy rgb = 0x1C345C
	gold rgb = 0xB08D48
	ink  rgb = 0x282828
	grey rgb = 0x646464
)

func (c rgb) parts() (r, g, b int) {
	return int(c >> 16 & 0xFF), int(c >> 8 & 0xFF), int(c & 0xFF)
}

// style describes how one piece of text may be sized and wrapped.
type style struct {
	bold bool
	// maxPt is the preferred size; the text shrinks from it until it fits.
	maxPt float64
	// wrapPt is the size below which the text may wrap rather than shrink
	// further on one line: a slightly smaller single line looks better than
	// two large ones, but a tiny single line is worse than two readable ones.
	wrapPt   float64
	minPt    float64
	maxLines int
	spacing  float64 // line height as a multiple of the font size
	colour   rgb
}

// fixed is the style of text whose size never changes.
func fixed(bold bool, pt, spacing float64, colour rgb) style {
	return style{bold: bold, maxPt: pt, wrapPt: pt, minPt: pt, maxLines: 1, spacing: spacing, colour: colour}
}

// block is text already fitted to its column: draw it line by line, each
// line centred.
type block struct {
	lines []string
	pt    float64
	style style
	x, w  float64 // the column's left edge and width
}

func (b block) height() float64 {
	return float64(len(b.lines)) * b.lineHeight()
}

func (b block) lineHeight() float64 {
	return b.pt / ptPerMM * b.style.spacing
}

// Renderer versions. A certificate's bytes depend on the renderer that drew
// it, and a certificate already sent must re-render byte for byte (its
// verification page offers the very file that was emailed, and its SHA-256
// names it), so a renderer, once used, never changes: a better one is a
// new version, and each certificate is rendered by the version it was first
// rendered with.
const (
	// Renderer1 draws with fpdf. Every certificate rendered before version
	// 2 existed was drawn by it, so it stays as it was for them.
	Renderer1 = 1
	// Renderer2 draws the same layout with package pdfdoc, which parses the
	// fonts once per process instead of once per document and embeds only
	// the glyphs a certificate shows: several times faster, and smaller.
	Renderer2 = 2
	// CurrentRenderer is the version new certificates are rendered with.
	CurrentRenderer = Renderer2
)

// ErrUnknownRenderer marks a renderer version this build does not have,
// such as one recorded by a newer build; retrying cannot help.
var ErrUnknownRenderer = errors.New("unknown certificate renderer version")

// Render returns the PDF bytes of d's certificate drawn by CurrentRenderer.
// The same Data always yields identical bytes. It is safe for concurrent
// use. A certificate that must match one rendered earlier is rendered with
// RenderVersion and the version recorded then.
func Render(d Data) ([]byte, error) {
	return RenderVersion(CurrentRenderer, d)
}

// RenderVersion returns the PDF bytes of d's certificate drawn by renderer
// version v (Renderer1, Renderer2), or an error wrapping ErrUnknownRenderer
// for any other v. The same v and Data always yield identical bytes. It is
// safe for concurrent use.
func RenderVersion(v int, d Data) ([]byte, error) {
	b, _, err := renderVersion(v, d)
	return b, err
}

// box is a rectangle on the page, in millimetres from the top-left corner.
type box struct {
	x, y, w, h float64
	what       string
}

// renderVersion is RenderVersion, also returning the box of everything it
// drew that must not overlap anything else, so tests can check the layout
// at any length.
func renderVersion(v int, d Data) ([]byte, []box, error) {
	if v != Renderer1 && v != Renderer2 {
		return nil, nil, fmt.Errorf("%w: %d", ErrUnknownRenderer, v)
	}
	name := clean(d.LearnerName)
	title := clean(d.CourseTitle)
	id := clean(d.CertificateID)
	switch {
	case name == "":
		return nil, nil, fmt.Errorf("%w: learner name is empty", ErrInvalidData)
	case title == "":
		return nil, nil, fmt.Errorf("%w: course title is empty", ErrInvalidData)
	case id == "":
		return nil, nil, fmt.Errorf("%w: certificate id is empty", ErrInvalidData)
	case d.CompletedAt.IsZero():
		// fpdf stamps the wall clock for a zero date, which would break
		// determinism, and a certificate without a date means nothing.
		return nil, nil, fmt.Errorf("%w: completion time is zero", ErrInvalidData)
	}
	// One instant renders identically whatever zone the caller used.
	completed := d.CompletedAt.UTC()

	heading := clean(d.Heading)
	if heading == "" {
		heading = defaultHeading
	}
	issuer := clean(d.Issuer)
	signatory := Signatory{Name: clean(d.Signatory.Name), Role: clean(d.Signatory.Role)}
	var mark *preparedLogo
	if len(d.Logo) > 0 {
		var err error
		mark, err = logos.get(d.Logo, pixels(logoMaxW), pixels(logoMaxH))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
		}
	}
	var verify *verification
	if d.Verification != nil {
		v, err := checkVerification(*d.Verification)
		if err != nil {
			return nil, nil, err
		}
		verify = &v
	}

	var (
		c   canvas
		err error
	)
	if v == Renderer1 {
		c, err = newFPDFCanvas(heading, completed)
	} else {
		c, err = newDocCanvas(heading, completed)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("render certificate %s: %w", id, err)
	}

	// Every call below that sets a font writes to a version 1 page, so a
	// certificate without the optional parts must make exactly the calls it
	// always made, in the same order: the golden test holds it to its old
	// bytes.
	drawFrame(c)
	top, drawn := drawTop(c, heading, issuer, mark)

	// The footer sits at a fixed place near the bottom edge so certificates
	// look alike; the middle block is centred in the space left between.
	// It keeps clear of the corner blocks too, since its lines may span the
	// full width.
	hasSignature := signatory != Signatory{}
	var valid string
	if !d.ValidUntil.IsZero() {
		valid = "Valid until " + d.ValidUntil.UTC().Format("2 January 2006")
	}
	foot := fitFooter(c, "Completed on "+completed.Format("2 January 2006"), valid, id, verify, hasSignature)
	bottom := foot.dateY - 8
	var sig signatureBlock
	if hasSignature {
		sig = fitSignature(c, signatory)
		bottom = min(bottom, sig.top-6)
	}
	qrY := footerBottom - qrSide
	if verify != nil {
		bottom = min(bottom, qrY-6)
	}
	drawn = append(drawn, drawMiddle(c, name, title, top, bottom)...)

	drawn = append(drawn, foot.draw(c)...)
	if hasSignature {
		drawn = append(drawn, drawSignature(c, sig)...)
	}
	if verify != nil {
		drawn = append(drawn, drawQR(c, verify.modules, textLeft+textW-qrSide, qrY, qrSide))
	}

	b, err := c.finish()
	if err != nil {
		return nil, nil, fmt.Errorf("render certificate %s: %w", id, err)
	}
	return b, drawn, nil
}

// drawTop draws the logo, the heading with its rule and the issuer, and
// returns where the space below them starts.
func drawTop(c canvas, heading, issuer string, mark *preparedLogo) (float64, []box) {
	var drawn []box
	headingY := headingTop
	if mark != nil {
		logoBox := drawLogo(c, mark)
		drawn = append(drawn, logoBox)
		headingY = logoBox.y + logoBox.h + 5
	}
	headingStyle := fixed(true, 34, 1.2, navy)
	if heading != defaultHeading {
		// A course's own heading may be long: shrink it, then give it a
		// second line, rather than let it run off the page.
		headingStyle = style{bold: true, maxPt: 34, wrapPt: 22, minPt: 16, maxLines: 2, spacing: 1.2, colour: navy}
	}
	headingBlock := fit(c, heading, headingStyle)
	drawn = append(drawn, drawBlock(c, headingBlock, headingY, "heading"))
	ruleY := headingY + headingBlock.height() + 4
	c.setDrawColor(gold)
	c.setLineWidth(0.6)
	c.line(pageW/2-35, ruleY, pageW/2+35, ruleY)
	if issuer == "" {
		return ruleY + 6, drawn
	}
	b := fit(c, "Issued by "+issuer,
		style{maxPt: 13, wrapPt: 11, minPt: 8, maxLines: 2, spacing: 1.25, colour: grey})
	drawn = append(drawn, drawBlock(c, b, ruleY+3, "issuer"))
	return ruleY + 3 + b.height() + 5, drawn
}

// footer is the centre column at the bottom: the date, the verification
// code and address when there are any, and the certificate id.
type footer struct {
	date, valid, code, where, id block
	dateY, validY, codeY, idY    float64
}

// fitFooter fits the footer's text into the centre column, which narrows to
// clear the signature block and the QR code in the corners.
func fitFooter(c canvas, date, valid, id string, verify *verification, hasSignature bool) footer {
	var side float64
	if hasSignature {
		side = signatureW
	}
	if verify != nil {
		side = max(side, qrSide)
	}
	x, w := textLeft, textW
	if side > 0 {
		x, w = textLeft+side+sideGap, textW-2*(side+sideGap)
	}
	var f footer
	f.date = fitIn(c, date, fixed(false, 13, 1.25, ink), x, w)
	f.id = fitIn(c, "Certificate ID: "+id,
		style{maxPt: 9, wrapPt: 9, minPt: 6, maxLines: 2, spacing: 1.3, colour: grey}, x, w)
	f.idY = footerBottom - f.id.height()
	f.codeY = f.idY
	if verify != nil {
		f.code = fitIn(c, "Verification code: "+verify.code,
			style{bold: true, maxPt: 10, wrapPt: 10, minPt: 7, maxLines: 1, spacing: 1.3, colour: ink}, x, w)
		// An address shrinks on one line before it breaks, anywhere, since
		// it has no spaces to break at.
		f.where = fitIn(c, "Verify at "+verify.url,
			style{maxPt: 9, wrapPt: 7, minPt: 6.5, maxLines: 2, spacing: 1.3, colour: grey}, x, w)
		f.codeY = f.idY - 1 - f.where.height() - f.code.height()
	}
	f.validY = f.codeY - 2
	if valid != "" {
		// Only a certificate that expires fits (and so draws) this line:
		// one that does not makes the calls it always made.
		f.valid = fitIn(c, valid, style{bold: true, maxPt: 12, wrapPt: 12, minPt: 8, maxLines: 1, spacing: 1.25, colour: ink}, x, w)
		f.validY -= f.valid.height()
	}
	f.dateY = f.validY - f.date.height()
	return f
}

func (f footer) draw(c canvas) []box {
	drawn := []box{drawBlock(c, f.date, f.dateY, "date")}
	if len(f.valid.lines) > 0 {
		drawn = append(drawn, drawBlock(c, f.valid, f.validY, "validity"))
	}
	if len(f.code.lines) > 0 {
		drawn = append(drawn,
			drawBlock(c, f.code, f.codeY, "verification code"),
			drawBlock(c, f.where, f.codeY+f.code.height(), "verification address"))
	}
	return append(drawn, drawBlock(c, f.id, f.idY, "certificate id"))
}

// drawMiddle fits the learner's name and the course title with their labels
// and draws them centred between top and bottom.
func drawMiddle(c canvas, name, title string, top, bottom float64) []box {
	label := fixed(false, 15, 1.25, grey)
	nameStyle := style{bold: true, maxPt: 34, wrapPt: 24, minPt: 12, maxLines: 3, spacing: 1.25, colour: navy}
	titleStyle := style{bold: true, maxPt: 22, wrapPt: 16, minPt: 10, maxLines: 5, spacing: 1.3, colour: ink}
	middle := []block{
		fit(c, "This certifies that", label),
		// Up to 200 characters fit on three lines at the smallest size.
		fit(c, name, nameStyle),
		fit(c, "has completed", label),
		// Up to 500 characters fit on five lines at the smallest size.
		fit(c, title, titleStyle),
	}
	const gap = 4.0
	total := func() float64 {
		t := gap * float64(len(middle)-1)
		for _, b := range middle {
			t += b.height()
		}
		return t
	}
	// With every optional part present there is less room than a long name
	// and title take at their preferred sizes: cap their sizes, a step at a
	// time, down to the smallest, at which the longest of everything still
	// fits (TestRenderEverythingAtItsLongestStaysOnPage).
	caps := [...]struct{ name, title float64 }{{28, 19}, {24, 16}, {20, 14}, {16, 12}, {12, 10}}
	for _, limit := range caps {
		if total() <= bottom-top {
			break
		}
		middle[1] = fit(c, name, capped(nameStyle, limit.name))
		middle[3] = fit(c, title, capped(titleStyle, limit.title))
	}
	names := [...]string{"certifies that", "learner name", "has completed", "course title"}
	drawn := make([]box, 0, len(middle))
	y := top + (bottom-top-total())/2
	for i, b := range middle {
		drawn = append(drawn, drawBlock(c, b, y, names[i]))
		y += b.height() + gap
	}
	return drawn
}

// capped is s with no size above pt.
func capped(s style, pt float64) style {
	s.maxPt = max(s.minPt, min(s.maxPt, pt))
	s.wrapPt = min(s.wrapPt, s.maxPt)
	return s
}

// pixels is a length in millimetres as pixels at the logo's resolution.
func pixels(mm float64) int {
	return int(mm / 25.4 * logoDPI)
}

// drawLogo draws l centred in the logo box, as large as the box allows
// with its aspect kept.
func drawLogo(c canvas, l *preparedLogo) box {
	img := l.image
	w, h := logoMaxW, logoMaxW*float64(img.Height)/float64(img.Width)
	if h > logoMaxH {
		w, h = logoMaxH*float64(img.Width)/float64(img.Height), logoMaxH
	}
	x := (pageW - w) / 2
	c.image(l, x, logoTop, w, h)
	return box{x, logoTop, w, h, "logo"}
}

// signatureBlock is the signatory's name and role fitted under a signature
// line in the bottom-left corner.
type signatureBlock struct {
	name, role   block
	lineY, top   float64
	nameY, roleY float64
}

func fitSignature(c canvas, s Signatory) signatureBlock {
	var b signatureBlock
	b.roleY = footerBottom
	if s.Role != "" {
		b.role = fitIn(c, s.Role,
			style{maxPt: 10, wrapPt: 9, minPt: 7, maxLines: 2, spacing: 1.25, colour: grey}, textLeft, signatureW)
		b.roleY -= b.role.height()
	}
	b.nameY = b.roleY
	if s.Name != "" {
		b.name = fitIn(c, s.Name,
			style{bold: true, maxPt: 12, wrapPt: 10, minPt: 8, maxLines: 2, spacing: 1.25, colour: ink}, textLeft, signatureW)
		b.nameY -= b.name.height()
	}
	b.lineY = b.nameY - 1.5
	// Room above the line for a signature, were one ever drawn there.
	b.top = b.lineY - 8
	return b
}

func drawSignature(c canvas, b signatureBlock) []box {
	c.setDrawColor(ink)
	c.setLineWidth(0.3)
	c.line(textLeft+4, b.lineY, textLeft+signatureW-4, b.lineY)
	drawn := []box{{textLeft, b.top, signatureW, b.nameY - b.top, "signature line"}}
	if len(b.name.lines) > 0 {
		drawn = append(drawn, drawBlock(c, b.name, b.nameY, "signatory name"))
	}
	if len(b.role.lines) > 0 {
		drawn = append(drawn, drawBlock(c, b.role, b.roleY, "signatory role"))
	}
	return drawn
}

// drawFrame draws a heavy outer border with a fine inner one, the classic
// certificate look without needing any images.
func drawFrame(c canvas) {
	c.setDrawColor(navy)
	c.setLineWidth(1.5)
	c.strokeRect(9, 9, pageW-18, pageH-18)
	c.setDrawColor(gold)
	c.setLineWidth(0.4)
	c.strokeRect(13, 13, pageW-26, pageH-26)
	// Small corner squares tie the two borders together.
	c.setFillColor(gold)
	for _, at := range [][2]float64{{13, 13}, {pageW - 13, 13}, {13, pageH - 13}, {pageW - 13, pageH - 13}} {
		c.fillRect(at[0]-1.5, at[1]-1.5, 3, 3)
	}
}

func setFont(c canvas, s style, pt float64) {
	c.setFont(s.bold, pt)
}

// fit fits text to the full text width; see fitIn.
func fit(c canvas, text string, s style) block {
	return fitIn(c, text, s, textLeft, textW)
}

// fitIn chooses the largest size at which text fits the column of width w
// at x: first on one line down to wrapPt, then wrapped onto at most maxLines
// down to minPt. Text that is still too long is cut with an ellipsis, so
// nothing can ever run off the page.
func fitIn(c canvas, text string, s style, x, w float64) block {
	const step = 0.5
	for pt := s.maxPt; pt >= s.wrapPt; pt -= step {
		setFont(c, s, pt)
		if lines := c.splitText(text, w); len(lines) == 1 {
			return block{lines: lines, pt: pt, style: s, x: x, w: w}
		}
	}
	for pt := s.wrapPt; pt >= s.minPt; pt -= step {
		setFont(c, s, pt)
		if lines := c.splitText(text, w); len(lines) <= s.maxLines {
			return block{lines: lines, pt: pt, style: s, x: x, w: w}
		}
	}
	setFont(c, s, s.minPt)
	lines := c.splitText(text, w)
	if len(lines) <= s.maxLines {
		return block{lines: lines, pt: s.minPt, style: s, x: x, w: w}
	}
	lines = lines[:s.maxLines]
	last := []rune(strings.TrimSpace(lines[len(lines)-1]))
	// splitText keeps lines within w less the cell margins; keep the same
	// limit once the ellipsis is added.
	limit := w - 2*c.cellMargin()
	for len(last) > 0 && c.stringWidth(string(last)+"…") > limit {
		last = last[:len(last)-1]
	}
	lines[len(lines)-1] = strings.TrimSpace(string(last)) + "…"
	return block{lines: lines, pt: s.minPt, style: s, x: x, w: w}
}

// drawBlock draws b with its top at y and returns the box of its column
// that it covers.
func drawBlock(c canvas, b block, y float64, what string) box {
	covered := box{b.x, y, b.w, b.height(), what}
	if len(b.lines) == 0 {
		return covered
	}
	setFont(c, b.style, b.pt)
	c.setTextColor(b.style.colour)
	lh := b.lineHeight()
	for i, line := range b.lines {
		c.centredText(b.x, y+float64(i)*lh, b.w, lh, line)
	}
	return covered
}

// clean turns user text into something safe to draw verbatim: event.Clean
// folds whitespace and drops invisible characters, exactly as validation saw
// the value, and characters beyond the Basic Multilingual Plane become U+FFFD
// because fpdf (version 1) encodes text as UCS-2 and would corrupt them (or
// index past its width table). Version 2 could draw them, but the Go fonts
// have none, and both versions show the same text.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0xFFFF {
			return unicode.ReplacementChar
		}
		return r
	}, event.Clean(s))
}
