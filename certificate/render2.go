package certificate

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/coursehook/coursehook/certificate/pdfdoc"
)

// goFonts are the Go fonts parsed for version 2, once per process and only
// when first needed: parsing them again for every document is most of
// what version 1 spends. The fonts are never modified, so every render
// shares them.
var goFonts = sync.OnceValues(func() (goFontPair, error) {
	regular, err := pdfdoc.ParseFont(goregular.TTF)
	if err != nil {
		return goFontPair{}, fmt.Errorf("regular: %w", err)
	}
	bold, err := pdfdoc.ParseFont(gobold.TTF)
	if err != nil {
		return goFontPair{}, fmt.Errorf("bold: %w", err)
	}
	return goFontPair{regular: regular, bold: bold}, nil
})

type goFontPair struct {
	regular, bold *pdfdoc.Font
}

// cellMarginMM is fpdf's cell margin, a tenth of 28.35 points, which
// version 2 keeps so that both versions break lines alike. It is worked
// out in float64 steps, as fpdf does, not as an exact constant, to agree
// to the last bit.
func cellMarginMM() float64 {
	k := float64(ptPerMM)
	return 28.35 / k / 10
}

// docCanvas is renderer version 2: package pdfdoc.
type docCanvas struct {
	doc   *pdfdoc.Document
	fonts goFontPair
	font  *pdfdoc.Font
	pt    float64
}

func newDocCanvas(title string, created time.Time) (*docCanvas, error) {
	fonts, err := goFonts()
	if err != nil {
		return nil, fmt.Errorf("load fonts: %w", err)
	}
	// A4 in points as fpdf has it, so both versions put everything at the
	// same points.
	doc := pdfdoc.New(841.89, 595.28, ptPerMM)
	doc.SetInfo(pdfdoc.Info{Title: title, Creator: "coursehook", Created: created})
	return &docCanvas{doc: doc, fonts: fonts}, nil
}

func (c *docCanvas) setFont(bold bool, pt float64) {
	c.font = c.fonts.regular
	if bold {
		c.font = c.fonts.bold
	}
	c.pt = pt
	c.doc.SetFont(c.font, pt)
}

// splitText breaks lines where fpdf's SplitText does, so both versions wrap
// text alike: at the last space that keeps a line within the limit, else
// before the character that crosses it. Widths are whole thousandths of an
// em, as fpdf's are; unlike fpdf it counts a zero-width glyph as nothing
// (fpdf counts 65535) and a character the font lacks as the box drawn for
// it (fpdf counts nothing).
func (c *docCanvas) splitText(text string, w float64) []string {
	limit := int(math.Ceil((w - 2*cellMarginMM()) * 1000 / (c.pt / ptPerMM)))
	runes := []rune(strings.TrimRight(text, "\n"))
	var lines []string
	start, space, width := 0, -1, 0
	for i := 0; i < len(runes); {
		r := runes[i]
		width += c.font.Advance(r)
		if unicode.IsSpace(r) {
			space = i
		}
		if r != '\n' && width <= limit {
			i++
			continue
		}
		end := space
		if space < 0 {
			// A character wider than the whole line stands alone.
			if i == start {
				i++
			}
			end = i
		} else {
			i = space + 1
		}
		lines = append(lines, string(runes[start:end]))
		start, space, width = i, -1, 0
	}
	if start < len(runes) {
		lines = append(lines, string(runes[start:]))
	}
	return lines
}

func (c *docCanvas) stringWidth(s string) float64 { return c.doc.StringWidth(s) }
func (c *docCanvas) cellMargin() float64          { return cellMarginMM() }
func (c *docCanvas) setDrawColor(col rgb)         { c.doc.SetStrokeColor(col.bytes()) }
func (c *docCanvas) setFillColor(col rgb)         { c.doc.SetFillColor(col.bytes()) }
func (c *docCanvas) setTextColor(col rgb)         { c.doc.SetTextColor(col.bytes()) }
func (c *docCanvas) setLineWidth(w float64)       { c.doc.SetLineWidth(w) }
func (c *docCanvas) line(x1, y1, x2, y2 float64)  { c.doc.Line(x1, y1, x2, y2) }
func (c *docCanvas) strokeRect(x, y, w, h float64) {
	c.doc.StrokeRect(x, y, w, h)
}
func (c *docCanvas) fillRect(x, y, w, h float64) { c.doc.FillRect(x, y, w, h) }
func (c *docCanvas) fillPath()                   { c.doc.FillPath() }

func (c *docCanvas) pathRect(left, top, right, bottom float64) {
	c.doc.AddBox(left, top, right, bottom)
}

// centredText places the baseline as fpdf's CellFormat does, to the last
// bit: 0.3 of the font size below the cell's middle.
func (c *docCanvas) centredText(x, y, w, h float64, text string) {
	dx := (w - c.stringWidth(text)) / 2
	size := c.pt / ptPerMM
	c.doc.Text(x+dx, y+0.5*h+0.3*size, text)
}

func (c *docCanvas) image(l *preparedLogo, x, y, w, h float64) {
	img, err := l.embedded()
	if err != nil {
		// Parsing the file again fails the document with the same error,
		// as drawing it did before logos were kept parsed.
		c.doc.Image(l.image.Data, x, y, w, h)
		return
	}
	c.doc.DrawImage(img, x, y, w, h)
}

func (c *docCanvas) finish() ([]byte, error) { return c.doc.Bytes() }

func (c rgb) bytes() (r, g, b uint8) {
	return uint8(c >> 16), uint8(c >> 8), uint8(c)
}
