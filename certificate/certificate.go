// Package certificate renders a one-page PDF certificate of course completion.
//
// Rendering is pure Go (fpdf with the embedded Go fonts), needs no files on
// disk and is deterministic: the same Data always yields the same bytes, so a
// retried activity produces an identical attachment.
package certificate

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

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
	// ptPerMM converts font sizes, which fpdf takes in points, to the
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

const family = "go"

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

// Render returns the PDF bytes of d's certificate. The same Data always
// yields identical bytes. It is safe for concurrent use.
func Render(d Data) ([]byte, error) {
	b, _, err := render(d)
	return b, err
}

// box is a rectangle on the page, in millimetres from the top-left corner.
type box struct {
	x, y, w, h float64
	what       string
}

// render is Render, also returning the box of everything it drew that must
// not overlap anything else, so tests can check the layout at any length.
func render(d Data) ([]byte, []box, error) {
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
	var mark *logo.Image
	if len(d.Logo) > 0 {
		img, err := logo.Prepare(d.Logo, pixels(logoMaxW), pixels(logoMaxH))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
		}
		mark = &img
	}
	var verify *verification
	if d.Verification != nil {
		v, err := checkVerification(*d.Verification)
		if err != nil {
			return nil, nil, err
		}
		verify = &v
	}

	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "L", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetCreationDate(completed)
	pdf.SetModificationDate(completed)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(heading, true)
	pdf.SetCreator("coursehook", true)
	// Layout guarantees everything fits, so a page break could only ever
	// produce a stray second page.
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes(family, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(family, "B", gobold.TTF)
	if err := pdf.Error(); err != nil {
		return nil, nil, fmt.Errorf("render certificate %s: load fonts: %w", id, err)
	}
	pdf.AddPage()

	// Every call below that sets a font writes to the page, so a
	// certificate without the optional parts must make exactly the calls it
	// always made, in the same order: the golden test holds it to its old
	// bytes.
	drawFrame(pdf)
	top, drawn := drawTop(pdf, heading, issuer, mark)

	// The footer sits at a fixed place near the bottom edge so certificates
	// look alike; the middle block is centred in the space left between.
	// It keeps clear of the corner blocks too, since its lines may span the
	// full width.
	hasSignature := signatory != Signatory{}
	var valid string
	if !d.ValidUntil.IsZero() {
		valid = "Valid until " + d.ValidUntil.UTC().Format("2 January 2006")
	}
	foot := fitFooter(pdf, "Completed on "+completed.Format("2 January 2006"), valid, id, verify, hasSignature)
	bottom := foot.dateY - 8
	var sig signatureBlock
	if hasSignature {
		sig = fitSignature(pdf, signatory)
		bottom = min(bottom, sig.top-6)
	}
	qrY := footerBottom - qrSide
	if verify != nil {
		bottom = min(bottom, qrY-6)
	}
	drawn = append(drawn, drawMiddle(pdf, name, title, top, bottom)...)

	drawn = append(drawn, foot.draw(pdf)...)
	if hasSignature {
		drawn = append(drawn, drawSignature(pdf, sig)...)
	}
	if verify != nil {
		drawn = append(drawn, drawQR(pdf, verify.modules, textLeft+textW-qrSide, qrY, qrSide))
	}

	if err := pdf.Error(); err != nil {
		return nil, nil, fmt.Errorf("render certificate %s: %w", id, err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, nil, fmt.Errorf("render certificate %s: write pdf: %w", id, err)
	}
	return buf.Bytes(), drawn, nil
}

// drawTop draws the logo, the heading with its rule and the issuer, and
// returns where the space below them starts.
func drawTop(pdf *fpdf.Fpdf, heading, issuer string, mark *logo.Image) (float64, []box) {
	var drawn []box
	headingY := headingTop
	if mark != nil {
		logoBox := drawLogo(pdf, *mark)
		drawn = append(drawn, logoBox)
		headingY = logoBox.y + logoBox.h + 5
	}
	headingStyle := fixed(true, 34, 1.2, navy)
	if heading != defaultHeading {
		// A course's own heading may be long: shrink it, then give it a
		// second line, rather than let it run off the page.
		headingStyle = style{bold: true, maxPt: 34, wrapPt: 22, minPt: 16, maxLines: 2, spacing: 1.2, colour: navy}
	}
	headingBlock := fit(pdf, heading, headingStyle)
	drawn = append(drawn, drawBlock(pdf, headingBlock, headingY, "heading"))
	ruleY := headingY + headingBlock.height() + 4
	pdf.SetDrawColor(gold.parts())
	pdf.SetLineWidth(0.6)
	pdf.Line(pageW/2-35, ruleY, pageW/2+35, ruleY)
	if issuer == "" {
		return ruleY + 6, drawn
	}
	b := fit(pdf, "Issued by "+issuer,
		style{maxPt: 13, wrapPt: 11, minPt: 8, maxLines: 2, spacing: 1.25, colour: grey})
	drawn = append(drawn, drawBlock(pdf, b, ruleY+3, "issuer"))
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
func fitFooter(pdf *fpdf.Fpdf, date, valid, id string, verify *verification, hasSignature bool) footer {
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
	f.date = fitIn(pdf, date, fixed(false, 13, 1.25, ink), x, w)
	f.id = fitIn(pdf, "Certificate ID: "+id,
		style{maxPt: 9, wrapPt: 9, minPt: 6, maxLines: 2, spacing: 1.3, colour: grey}, x, w)
	f.idY = footerBottom - f.id.height()
	f.codeY = f.idY
	if verify != nil {
		f.code = fitIn(pdf, "Verification code: "+verify.code,
			style{bold: true, maxPt: 10, wrapPt: 10, minPt: 7, maxLines: 1, spacing: 1.3, colour: ink}, x, w)
		// An address shrinks on one line before it breaks, anywhere, since
		// it has no spaces to break at.
		f.where = fitIn(pdf, "Verify at "+verify.url,
			style{maxPt: 9, wrapPt: 7, minPt: 6.5, maxLines: 2, spacing: 1.3, colour: grey}, x, w)
		f.codeY = f.idY - 1 - f.where.height() - f.code.height()
	}
	f.validY = f.codeY - 2
	if valid != "" {
		// Only a certificate that expires fits (and so draws) this line:
		// one that does not makes the calls it always made.
		f.valid = fitIn(pdf, valid, style{bold: true, maxPt: 12, wrapPt: 12, minPt: 8, maxLines: 1, spacing: 1.25, colour: ink}, x, w)
		f.validY -= f.valid.height()
	}
	f.dateY = f.validY - f.date.height()
	return f
}

func (f footer) draw(pdf *fpdf.Fpdf) []box {
	drawn := []box{drawBlock(pdf, f.date, f.dateY, "date")}
	if len(f.valid.lines) > 0 {
		drawn = append(drawn, drawBlock(pdf, f.valid, f.validY, "validity"))
	}
	if len(f.code.lines) > 0 {
		drawn = append(drawn,
			drawBlock(pdf, f.code, f.codeY, "verification code"),
			drawBlock(pdf, f.where, f.codeY+f.code.height(), "verification address"))
	}
	return append(drawn, drawBlock(pdf, f.id, f.idY, "certificate id"))
}

// drawMiddle fits the learner's name and the course title with their labels
// and draws them centred between top and bottom.
func drawMiddle(pdf *fpdf.Fpdf, name, title string, top, bottom float64) []box {
	label := fixed(false, 15, 1.25, grey)
	nameStyle := style{bold: true, maxPt: 34, wrapPt: 24, minPt: 12, maxLines: 3, spacing: 1.25, colour: navy}
	titleStyle := style{bold: true, maxPt: 22, wrapPt: 16, minPt: 10, maxLines: 5, spacing: 1.3, colour: ink}
	middle := []block{
		fit(pdf, "This certifies that", label),
		// Up to 200 characters fit on three lines at the smallest size.
		fit(pdf, name, nameStyle),
		fit(pdf, "has completed", label),
		// Up to 500 characters fit on five lines at the smallest size.
		fit(pdf, title, titleStyle),
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
	for _, c := range caps {
		if total() <= bottom-top {
			break
		}
		middle[1] = fit(pdf, name, capped(nameStyle, c.name))
		middle[3] = fit(pdf, title, capped(titleStyle, c.title))
	}
	names := [...]string{"certifies that", "learner name", "has completed", "course title"}
	drawn := make([]box, 0, len(middle))
	y := top + (bottom-top-total())/2
	for i, b := range middle {
		drawn = append(drawn, drawBlock(pdf, b, y, names[i]))
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

// drawLogo draws img centred in the logo box, as large as the box allows
// with its aspect kept.
func drawLogo(pdf *fpdf.Fpdf, img logo.Image) box {
	w, h := logoMaxW, logoMaxW*float64(img.Height)/float64(img.Width)
	if h > logoMaxH {
		w, h = logoMaxH*float64(img.Width)/float64(img.Height), logoMaxH
	}
	opts := fpdf.ImageOptions{ImageType: img.Type}
	pdf.RegisterImageOptionsReader("logo", opts, bytes.NewReader(img.Data))
	x := (pageW - w) / 2
	pdf.ImageOptions("logo", x, logoTop, w, h, false, opts, 0, "")
	return box{x, logoTop, w, h, "logo"}
}

// signatureBlock is the signatory's name and role fitted under a signature
// line in the bottom-left corner.
type signatureBlock struct {
	name, role   block
	lineY, top   float64
	nameY, roleY float64
}

func fitSignature(pdf *fpdf.Fpdf, s Signatory) signatureBlock {
	var b signatureBlock
	b.roleY = footerBottom
	if s.Role != "" {
		b.role = fitIn(pdf, s.Role,
			style{maxPt: 10, wrapPt: 9, minPt: 7, maxLines: 2, spacing: 1.25, colour: grey}, textLeft, signatureW)
		b.roleY -= b.role.height()
	}
	b.nameY = b.roleY
	if s.Name != "" {
		b.name = fitIn(pdf, s.Name,
			style{bold: true, maxPt: 12, wrapPt: 10, minPt: 8, maxLines: 2, spacing: 1.25, colour: ink}, textLeft, signatureW)
		b.nameY -= b.name.height()
	}
	b.lineY = b.nameY - 1.5
	// Room above the line for a signature, were one ever drawn there.
	b.top = b.lineY - 8
	return b
}

func drawSignature(pdf *fpdf.Fpdf, b signatureBlock) []box {
	pdf.SetDrawColor(ink.parts())
	pdf.SetLineWidth(0.3)
	pdf.Line(textLeft+4, b.lineY, textLeft+signatureW-4, b.lineY)
	drawn := []box{{textLeft, b.top, signatureW, b.nameY - b.top, "signature line"}}
	if len(b.name.lines) > 0 {
		drawn = append(drawn, drawBlock(pdf, b.name, b.nameY, "signatory name"))
	}
	if len(b.role.lines) > 0 {
		drawn = append(drawn, drawBlock(pdf, b.role, b.roleY, "signatory role"))
	}
	return drawn
}

// drawFrame draws a heavy outer border with a fine inner one, the classic
// certificate look without needing any images.
func drawFrame(pdf *fpdf.Fpdf) {
	pdf.SetDrawColor(navy.parts())
	pdf.SetLineWidth(1.5)
	pdf.Rect(9, 9, pageW-18, pageH-18, "D")
	pdf.SetDrawColor(gold.parts())
	pdf.SetLineWidth(0.4)
	pdf.Rect(13, 13, pageW-26, pageH-26, "D")
	// Small corner squares tie the two borders together.
	pdf.SetFillColor(gold.parts())
	for _, c := range [][2]float64{{13, 13}, {pageW - 13, 13}, {13, pageH - 13}, {pageW - 13, pageH - 13}} {
		pdf.Rect(c[0]-1.5, c[1]-1.5, 3, 3, "F")
	}
}

func setFont(pdf *fpdf.Fpdf, s style, pt float64) {
	fontStyle := ""
	if s.bold {
		fontStyle = "B"
	}
	pdf.SetFont(family, fontStyle, pt)
}

// fit fits text to the full text width; see fitIn.
func fit(pdf *fpdf.Fpdf, text string, s style) block {
	return fitIn(pdf, text, s, textLeft, textW)
}

// fitIn chooses the largest size at which text fits the column of width w
// at x: first on one line down to wrapPt, then wrapped onto at most maxLines
// down to minPt. Text that is still too long is cut with an ellipsis, so
// nothing can ever run off the page.
func fitIn(pdf *fpdf.Fpdf, text string, s style, x, w float64) block {
	const step = 0.5
	for pt := s.maxPt; pt >= s.wrapPt; pt -= step {
		setFont(pdf, s, pt)
		if lines := pdf.SplitText(text, w); len(lines) == 1 {
			return block{lines: lines, pt: pt, style: s, x: x, w: w}
		}
	}
	for pt := s.wrapPt; pt >= s.minPt; pt -= step {
		setFont(pdf, s, pt)
		if lines := pdf.SplitText(text, w); len(lines) <= s.maxLines {
			return block{lines: lines, pt: pt, style: s, x: x, w: w}
		}
	}
	setFont(pdf, s, s.minPt)
	lines := pdf.SplitText(text, w)
	if len(lines) <= s.maxLines {
		return block{lines: lines, pt: s.minPt, style: s, x: x, w: w}
	}
	lines = lines[:s.maxLines]
	last := []rune(strings.TrimSpace(lines[len(lines)-1]))
	// SplitText keeps lines within w less the cell margins; keep the same
	// limit once the ellipsis is added.
	limit := w - 2*pdf.GetCellMargin()
	for len(last) > 0 && pdf.GetStringWidth(string(last)+"…") > limit {
		last = last[:len(last)-1]
	}
	lines[len(lines)-1] = strings.TrimSpace(string(last)) + "…"
	return block{lines: lines, pt: s.minPt, style: s, x: x, w: w}
}

// drawBlock draws b with its top at y and returns the box of its column
// that it covers.
func drawBlock(pdf *fpdf.Fpdf, b block, y float64, what string) box {
	covered := box{b.x, y, b.w, b.height(), what}
	if len(b.lines) == 0 {
		return covered
	}
	setFont(pdf, b.style, b.pt)
	pdf.SetTextColor(b.style.colour.parts())
	lh := b.lineHeight()
	for i, line := range b.lines {
		pdf.SetXY(b.x, y+float64(i)*lh)
		pdf.CellFormat(b.w, lh, line, "", 0, "C", false, 0, "")
	}
	return covered
}

// clean turns user text into something safe to draw verbatim: event.Clean
// folds whitespace and drops invisible characters, exactly as validation saw
// the value, and characters beyond the Basic Multilingual Plane become U+FFFD
// because fpdf encodes text as UCS-2 and would corrupt them (or index past its
// width table).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0xFFFF {
			return unicode.ReplacementChar
		}
		return r
	}, event.Clean(s))
}
