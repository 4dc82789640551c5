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

	"github.com/coursehook/coursehook/event"
)

// ErrInvalidData marks input that can never render, however often it is
// retried; callers can test for it with errors.Is and fail permanently.
var ErrInvalidData = errors.New("invalid certificate data")

// Data is what a certificate shows.
type Data struct {
	LearnerName   string    // full name, any script (Latin, Greek, Cyrillic)
	CourseTitle   string    // title of the completed course
	CompletedAt   time.Time // shown as a UTC date and used as the PDF's dates
	CertificateID string    // the webhook event id
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
)

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

// block is text already fitted to the text width: draw it line by line.
type block struct {
	lines []string
	pt    float64
	style style
}

func (b block) height() float64 {
	return float64(len(b.lines)) * b.lineHeight()
}

func (b block) lineHeight() float64 {
	return b.pt / ptPerMM * b.style.spacing
}

// Render returns the PDF bytes of d's certificate. The same Data always
// yields identical bytes.
func Render(d Data) ([]byte, error) {
	name := clean(d.LearnerName)
	title := clean(d.CourseTitle)
	id := clean(d.CertificateID)
	switch {
	case name == "":
		return nil, fmt.Errorf("%w: learner name is empty", ErrInvalidData)
	case title == "":
		return nil, fmt.Errorf("%w: course title is empty", ErrInvalidData)
	case id == "":
		return nil, fmt.Errorf("%w: certificate id is empty", ErrInvalidData)
	case d.CompletedAt.IsZero():
		// fpdf stamps the wall clock for a zero date, which would break
		// determinism, and a certificate without a date means nothing.
		return nil, fmt.Errorf("%w: completion time is zero", ErrInvalidData)
	}
	// One instant renders identically whatever zone the caller used.
	completed := d.CompletedAt.UTC()

	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "L", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetCreationDate(completed)
	pdf.SetModificationDate(completed)
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Certificate of Completion", true)
	pdf.SetCreator("coursehook", true)
	// Layout guarantees everything fits, so a page break could only ever
	// produce a stray second page.
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes(family, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(family, "B", gobold.TTF)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("render certificate %s: load fonts: %w", id, err)
	}
	pdf.AddPage()

	drawFrame(pdf)

	heading := fit(pdf, "Certificate of Completion", fixed(true, 34, 1.2, navy))
	drawBlock(pdf, heading, 30)
	ruleY := 30 + heading.height() + 4
	pdf.SetDrawColor(gold.parts())
	pdf.SetLineWidth(0.6)
	pdf.Line(pageW/2-35, ruleY, pageW/2+35, ruleY)

	// The footer sits at a fixed place near the bottom edge so certificates
	// look alike; the middle block is centred in the space left between.
	date := fit(pdf, "Completed on "+completed.Format("2 January 2006"), fixed(false, 13, 1.25, ink))
	idBlock := fit(pdf, "Certificate ID: "+id,
		style{maxPt: 9, wrapPt: 9, minPt: 6, maxLines: 2, spacing: 1.3, colour: grey})
	const footerBottom = pageH - 24
	idY := footerBottom - idBlock.height()
	dateY := idY - 2 - date.height()

	label := fixed(false, 15, 1.25, grey)
	middle := []block{
		fit(pdf, "This certifies that", label),
		// Up to 200 characters fit on three lines at the smallest size.
		fit(pdf, name, style{bold: true, maxPt: 34, wrapPt: 24, minPt: 12, maxLines: 3, spacing: 1.25, colour: navy}),
		fit(pdf, "has completed", label),
		// Up to 500 characters fit on five lines at the smallest size.
		fit(pdf, title, style{bold: true, maxPt: 22, wrapPt: 16, minPt: 10, maxLines: 5, spacing: 1.3, colour: ink}),
	}
	const gap = 4.0
	total := gap * float64(len(middle)-1)
	for _, b := range middle {
		total += b.height()
	}
	top, bottom := ruleY+6, dateY-8
	y := top + (bottom-top-total)/2
	for _, b := range middle {
		drawBlock(pdf, b, y)
		y += b.height() + gap
	}

	drawBlock(pdf, date, dateY)
	drawBlock(pdf, idBlock, idY)

	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("render certificate %s: %w", id, err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render certificate %s: write pdf: %w", id, err)
	}
	return buf.Bytes(), nil
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

// fit chooses the largest size at which text fits the text width: first on
// one line down to wrapPt, then wrapped onto at most maxLines down to minPt.
// Text that is still too long is cut with an ellipsis, so nothing can ever
// run off the page.
func fit(pdf *fpdf.Fpdf, text string, s style) block {
	const step = 0.5
	for pt := s.maxPt; pt >= s.wrapPt; pt -= step {
		setFont(pdf, s, pt)
		if lines := pdf.SplitText(text, textW); len(lines) == 1 {
			return block{lines: lines, pt: pt, style: s}
		}
	}
	for pt := s.wrapPt; pt >= s.minPt; pt -= step {
		setFont(pdf, s, pt)
		if lines := pdf.SplitText(text, textW); len(lines) <= s.maxLines {
			return block{lines: lines, pt: pt, style: s}
		}
	}
	setFont(pdf, s, s.minPt)
	lines := pdf.SplitText(text, textW)
	if len(lines) <= s.maxLines {
		return block{lines: lines, pt: s.minPt, style: s}
	}
	lines = lines[:s.maxLines]
	last := []rune(strings.TrimSpace(lines[len(lines)-1]))
	// SplitText keeps lines within textW less the cell margins; keep the
	// same limit once the ellipsis is added.
	limit := textW - 2*pdf.GetCellMargin()
	for len(last) > 0 && pdf.GetStringWidth(string(last)+"…") > limit {
		last = last[:len(last)-1]
	}
	lines[len(lines)-1] = strings.TrimSpace(string(last)) + "…"
	return block{lines: lines, pt: s.minPt, style: s}
}

func drawBlock(pdf *fpdf.Fpdf, b block, y float64) {
	setFont(pdf, b.style, b.pt)
	pdf.SetTextColor(b.style.colour.parts())
	lh := b.lineHeight()
	for i, line := range b.lines {
		pdf.SetXY(textLeft, y+float64(i)*lh)
		pdf.CellFormat(textW, lh, line, "", 0, "C", false, 0, "")
	}
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
