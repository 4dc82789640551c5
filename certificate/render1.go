package certificate

import (
	"bytes"
	"fmt"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

const family = "go"

// fpdfCanvas is renderer version 1: fpdf, which parses both fonts again
// for every document. Nothing here may change what it writes.
type fpdfCanvas struct {
	pdf *fpdf.Fpdf
}

func newFPDFCanvas(title string, created time.Time) (*fpdfCanvas, error) {
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "L", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(title, true)
	pdf.SetCreator("coursehook", true)
	// Layout guarantees everything fits, so a page break could only ever
	// produce a stray second page.
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes(family, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(family, "B", gobold.TTF)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("load fonts: %w", err)
	}
	pdf.AddPage()
	return &fpdfCanvas{pdf: pdf}, nil
}

func (c *fpdfCanvas) setFont(bold bool, pt float64) {
	style := ""
	if bold {
		style = "B"
	}
	c.pdf.SetFont(family, style, pt)
}

func (c *fpdfCanvas) splitText(text string, w float64) []string { return c.pdf.SplitText(text, w) }
func (c *fpdfCanvas) stringWidth(s string) float64              { return c.pdf.GetStringWidth(s) }
func (c *fpdfCanvas) cellMargin() float64                       { return c.pdf.GetCellMargin() }
func (c *fpdfCanvas) setDrawColor(col rgb)                      { c.pdf.SetDrawColor(col.parts()) }
func (c *fpdfCanvas) setFillColor(col rgb)                      { c.pdf.SetFillColor(col.parts()) }
func (c *fpdfCanvas) setTextColor(col rgb)                      { c.pdf.SetTextColor(col.parts()) }
func (c *fpdfCanvas) setLineWidth(w float64)                    { c.pdf.SetLineWidth(w) }
func (c *fpdfCanvas) line(x1, y1, x2, y2 float64)               { c.pdf.Line(x1, y1, x2, y2) }
func (c *fpdfCanvas) strokeRect(x, y, w, h float64)             { c.pdf.Rect(x, y, w, h, "D") }
func (c *fpdfCanvas) fillRect(x, y, w, h float64)               { c.pdf.Rect(x, y, w, h, "F") }
func (c *fpdfCanvas) fillPath()                                 { c.pdf.DrawPath("F") }

func (c *fpdfCanvas) pathRect(left, top, right, bottom float64) {
	c.pdf.MoveTo(left, top)
	c.pdf.LineTo(right, top)
	c.pdf.LineTo(right, bottom)
	c.pdf.LineTo(left, bottom)
	c.pdf.ClosePath()
}

func (c *fpdfCanvas) centredText(x, y, w, h float64, text string) {
	c.pdf.SetXY(x, y)
	c.pdf.CellFormat(w, h, text, "", 0, "C", false, 0, "")
}

func (c *fpdfCanvas) image(l *preparedLogo, x, y, w, h float64) {
	opts := fpdf.ImageOptions{ImageType: l.image.Type}
	// fpdf only reads the shared bytes.
	c.pdf.RegisterImageOptionsReader("logo", opts, bytes.NewReader(l.image.Data))
	c.pdf.ImageOptions("logo", x, y, w, h, false, opts, 0, "")
}

func (c *fpdfCanvas) finish() ([]byte, error) {
	if err := c.pdf.Error(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := c.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("write pdf: %w", err)
	}
	return buf.Bytes(), nil
}
