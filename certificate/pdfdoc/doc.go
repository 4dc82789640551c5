// Package pdfdoc writes one-page PDF documents: text in embedded TrueType
// fonts, lines, rectangles, filled paths and PNG or JPEG images. It offers
// just what a certificate draws, and is built to make such a page quickly:
// a font is parsed once per process (ParseFont) and each document embeds a
// subset of it holding only the glyphs it shows, and an image drawn in many
// documents is made ready to embed once (ParseImage).
//
// Output is deterministic: the same calls always yield the same bytes.
package pdfdoc

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
)

// Info is the document information dictionary's content. Empty fields are
// left out.
type Info struct {
	Title, Creator string
	// Created is the creation and modification date; the zero time leaves
	// both out, so output never depends on the clock.
	Created time.Time
}

// Document is a one-page PDF being drawn. Lengths are in the unit given to
// New, measured from the page's top-left corner with y growing downward;
// font sizes are in points. A Document is not safe for concurrent use.
type Document struct {
	width, height float64 // in units
	unit          float64 // points per unit
	info          Info

	content []byte
	fonts   []*fontUse
	images  []imageUse
	err     error

	font     *fontUse
	fontSize float64
	textRGB  colour
	fillRGB  colour
	lineRGB  colour
	lineW    float64

	// What the content stream has set so far, so that nothing is set twice.
	setFont     *fontUse
	setFontSize float64
	setFill     colour
	setLine     colour
	setLineW    float64
	pathOpen    bool
}

// colour is an RGB colour, 0xRRGGBB.
type colour uint32

// fontUse is a font as one document uses it.
type fontUse struct {
	font  *Font
	name  string // resource name
	used  []bool // by glyph id
	drawn bool   // whether any text was drawn in it
	// text is the character each used glyph stands for in the ToUnicode
	// map: the first one it was drawn for.
	text []rune
}

// imageUse is an image as one document draws it.
type imageUse struct {
	img  *Image
	name string // resource name
}

// New starts a document with a page width×height points large (841.89×595.28
// is landscape A4), drawn on in units of unit points (72/25.4 for
// millimetres).
func New(width, height, unit float64) *Document {
	return &Document{
		width: width / unit, height: height / unit, unit: unit,
		content: make([]byte, 0, 4096),
		// PDF's initial state: black, lines one point wide.
		lineW: 1 / unit, setLineW: 1 / unit,
	}
}

// SetInfo sets the document information.
func (d *Document) SetInfo(info Info) { d.info = info }

// SetFont selects the font and size, in points, of the text drawn next.
func (d *Document) SetFont(f *Font, size float64) {
	var use *fontUse
	for _, u := range d.fonts {
		if u.font == f {
			use = u
		}
	}
	if use == nil {
		use = &fontUse{
			font: f, name: "F" + strconv.Itoa(len(d.fonts)+1),
			used: make([]bool, f.numGlyphs), text: make([]rune, f.numGlyphs),
		}
		d.fonts = append(d.fonts, use)
	}
	d.font, d.fontSize = use, size
}

// StringWidth is the width of s in the current font and size, in units.
func (d *Document) StringWidth(s string) float64 {
	if d.font == nil {
		return 0
	}
	w := 0
	for _, r := range s {
		w += d.font.font.Advance(r)
	}
	// In the order fpdf works it out, so layouts made with either agree
	// to the last bit.
	return float64(w) * (d.fontSize / d.unit) / 1000
}

// SetTextColor sets the colour of the text drawn next.
func (d *Document) SetTextColor(r, g, b uint8) { d.textRGB = rgb(r, g, b) }

// SetFillColor sets the colour of the shapes filled next.
func (d *Document) SetFillColor(r, g, b uint8) { d.fillRGB = rgb(r, g, b) }

// SetStrokeColor sets the colour of the lines drawn next.
func (d *Document) SetStrokeColor(r, g, b uint8) { d.lineRGB = rgb(r, g, b) }

// SetLineWidth sets the width of the lines drawn next, in units.
func (d *Document) SetLineWidth(w float64) { d.lineW = w }

func rgb(r, g, b uint8) colour { return colour(r)<<16 | colour(g)<<8 | colour(b) }

// Line draws a straight line from (x1, y1) to (x2, y2).
func (d *Document) Line(x1, y1, x2, y2 float64) {
	d.notInPath()
	d.stroking()
	d.point(x1, y1, " m ")
	d.point(x2, y2, " l S\n")
}

// StrokeRect draws the outline of the rectangle w×h whose top-left corner is
// at (x, y).
func (d *Document) StrokeRect(x, y, w, h float64) {
	d.notInPath()
	d.stroking()
	d.rect(x, y, w, h)
	d.content = append(d.content, " S\n"...)
}

// FillRect fills the rectangle w×h whose top-left corner is at (x, y).
func (d *Document) FillRect(x, y, w, h float64) {
	d.notInPath()
	d.filling(d.fillRGB)
	d.rect(x, y, w, h)
	d.content = append(d.content, " f\n"...)
}

// AddBox adds the rectangle between the corners (x1, y1) and (x2, y2) to the
// path that FillPath fills. Boxes that share an edge are given it by the
// same numbers, so they meet exactly.
func (d *Document) AddBox(x1, y1, x2, y2 float64) {
	if !d.pathOpen {
		d.filling(d.fillRGB)
		d.pathOpen = true
	}
	d.point(x1, y1, " m ")
	d.point(x2, y1, " l ")
	d.point(x2, y2, " l ")
	d.point(x1, y2, " l h\n")
}

// FillPath fills the boxes added since the last FillPath as one shape,
// which leaves no seams between touching boxes when a reader anti-aliases,
// as separate fills would.
func (d *Document) FillPath() {
	if d.pathOpen {
		d.content = append(d.content, "f\n"...)
		d.pathOpen = false
	}
}

// Text draws s in the current font, size and text colour with its baseline
// starting at (x, y). Characters the font has no glyph for are drawn as its
// .notdef glyph; text extraction still finds them.
func (d *Document) Text(x, y float64, s string) {
	d.notInPath()
	if s == "" {
		return
	}
	if d.font == nil {
		d.fail(errors.New("text drawn before a font was set"))
		return
	}
	f := d.font
	f.drawn = true
	hex := make([]byte, 0, 4*len(s)+2)
	hex = append(hex, '<')
	ambiguous := false
	for _, r := range s {
		g, ok := f.font.Glyph(r)
		switch {
		case !ok:
			// .notdef stands for no one character.
			f.text[0] = 0xFFFD
			ambiguous = ambiguous || r != 0xFFFD
		case f.text[g] == 0:
			f.text[g] = r
		case f.text[g] != r:
			ambiguous = true
		}
		f.used[g] = true
		hex = appendHex4(hex, g)
	}
	hex = append(hex, '>')

	d.filling(d.textRGB)
	if ambiguous {
		// The ToUnicode map gives each glyph one character; where a glyph
		// stands for another here, say what the text is.
		d.content = append(d.content, "/Span <</ActualText "...)
		d.content = appendTextString(d.content, s)
		d.content = append(d.content, ">> BDC "...)
	}
	d.content = append(d.content, "BT "...)
	if d.setFont != f || d.setFontSize != d.fontSize {
		d.content = append(d.content, '/')
		d.content = append(d.content, f.name...)
		d.content = append(d.content, ' ')
		d.content = appendNumber(d.content, d.fontSize)
		d.content = append(d.content, " Tf "...)
		d.setFont, d.setFontSize = f, d.fontSize
	}
	d.point(x, y, " Td ")
	d.content = append(d.content, hex...)
	d.content = append(d.content, " Tj ET"...)
	if ambiguous {
		d.content = append(d.content, " EMC"...)
	}
	d.content = append(d.content, '\n')
}

// Image draws a PNG or JPEG image into the w×h box whose top-left corner is
// at (x, y). An image that cannot be embedded makes Bytes fail. It parses
// data every time; an image drawn in many documents is better parsed once
// with ParseImage and drawn with DrawImage, which writes the same bytes.
func (d *Document) Image(data []byte, x, y, w, h float64) {
	d.notInPath()
	img, err := ParseImage(data)
	if err != nil {
		d.fail(err)
		return
	}
	d.DrawImage(img, x, y, w, h)
}

// DrawImage draws img into the w×h box whose top-left corner is at (x, y).
func (d *Document) DrawImage(img *Image, x, y, w, h float64) {
	d.notInPath()
	name := "Im" + strconv.Itoa(len(d.images)+1)
	d.images = append(d.images, imageUse{img: img, name: name})
	d.content = append(d.content, "q "...)
	d.content = appendFixed(d.content, w*d.unit, 5)
	d.content = append(d.content, " 0 0 "...)
	d.content = appendFixed(d.content, h*d.unit, 5)
	d.content = append(d.content, ' ')
	d.content = appendFixed(d.content, x*d.unit, 5)
	d.content = append(d.content, ' ')
	d.content = appendFixed(d.content, (d.height-(y+h))*d.unit, 5)
	d.content = append(d.content, " cm /"...)
	d.content = append(d.content, name...)
	d.content = append(d.content, " Do Q\n"...)
}

// notInPath fails the document if a path is being built: nothing but
// AddBox and FillPath may come between the first AddBox and FillPath.
func (d *Document) notInPath() {
	if d.pathOpen {
		d.fail(errors.New("drawing before FillPath ended the path"))
	}
}

func (d *Document) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// stroking sets the stroke colour and line width, where they changed.
func (d *Document) stroking() {
	if d.lineRGB != d.setLine {
		d.content = appendColour(d.content, d.lineRGB, "RG", "G")
		d.setLine = d.lineRGB
	}
	if d.lineW != d.setLineW {
		d.content = appendNumber(d.content, d.lineW*d.unit)
		d.content = append(d.content, " w\n"...)
		d.setLineW = d.lineW
	}
}

// filling sets the fill colour, which text uses too, where it changed.
func (d *Document) filling(c colour) {
	if c != d.setFill {
		d.content = appendColour(d.content, c, "rg", "g")
		d.setFill = c
	}
}

// point appends (x, y) in PDF's coordinates, and then op. It works the
// numbers out as fpdf does, to the last bit, so the same drawing in units
// lands on the same points.
func (d *Document) point(x, y float64, op string) {
	d.content = appendNumber(d.content, x*d.unit)
	d.content = append(d.content, ' ')
	d.content = appendNumber(d.content, (d.height-y)*d.unit)
	d.content = append(d.content, op...)
}

// rect appends a rectangle given by its top-left corner and a negative
// height, as fpdf gives it.
func (d *Document) rect(x, y, w, h float64) {
	d.point(x, y, " ")
	d.content = appendNumber(d.content, w*d.unit)
	d.content = append(d.content, ' ')
	d.content = appendNumber(d.content, -h*d.unit)
	d.content = append(d.content, " re"...)
}

func appendColour(b []byte, c colour, rgbOp, grayOp string) []byte {
	r, g, bl := c>>16&0xFF, c>>8&0xFF, c&0xFF
	if r == g && g == bl {
		b = appendFixed(b, float64(r)/255, 3)
		b = append(b, ' ')
		b = append(b, grayOp...)
		return append(b, '\n')
	}
	for _, v := range []colour{r, g, bl} {
		b = appendFixed(b, float64(v)/255, 3)
		b = append(b, ' ')
	}
	b = append(b, rgbOp...)
	return append(b, '\n')
}

// appendNumber appends v with at most two decimals, a hundredth of a point
// being far below what any reader or printer resolves.
func appendNumber(b []byte, v float64) []byte { return appendFixed(b, v, 2) }

// appendFixed appends v rounded to decimals digits after the point, as
// fmt's %.Nf rounds, with trailing zeros dropped.
func appendFixed(b []byte, v float64, decimals int) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', decimals, 64)
	end := len(b)
	for b[end-1] == '0' {
		end--
	}
	if b[end-1] == '.' {
		end--
	}
	b = b[:end]
	if string(b[start:]) == "-0" {
		b = append(b[:start], '0')
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

func appendHex4(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&0xF], hexDigits[v>>4&0xF], hexDigits[v&0xF])
}

// appendTextString appends s as a PDF text string: literal when it is
// printable ASCII, else UTF-16BE with a byte order mark, in hex.
func appendTextString(b []byte, s string) []byte {
	ascii := true
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7E {
			ascii = false
			break
		}
	}
	if ascii {
		b = append(b, '(')
		for i := range len(s) {
			if c := s[i]; c == '(' || c == ')' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s[i])
		}
		return append(b, ')')
	}
	b = append(b, "<FEFF"...)
	for _, u := range utf16.Encode([]rune(s)) {
		b = appendHex4(b, u)
	}
	return append(b, '>')
}

// Bytes finishes the document and returns the PDF, or the first error met
// while drawing it.
func (d *Document) Bytes() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.pathOpen {
		return nil, errors.New("a path was begun with AddBox and not filled")
	}
	return d.write(), nil
}

// Object numbers of the objects every document has.
const (
	catalogObj = 1 + iota
	pagesObj
	pageObj
	contentObj
	infoObj
	firstFreeObj
)

// Each embedded font is five objects, in this order from its first.
const (
	type0Obj = iota
	cidFontObj
	descriptorObj
	fontFileObj
	toUnicodeObj
	objsPerFont
)

func (d *Document) write() []byte {
	// The streams first, so the file's buffer can be made large enough.
	content := zlibCompress(nil, d.content)
	size := 4<<10 + len(content)
	// A font selected but never drawn with is left out.
	var fonts []*fontUse
	for _, f := range d.fonts {
		if f.drawn {
			fonts = append(fonts, f)
		}
	}
	embeddings := make([]embedding, len(fonts))
	for i, f := range fonts {
		embeddings[i] = f.embed()
		size += len(embeddings[i].file) + len(embeddings[i].toUnicode) + 8*len(embeddings[i].glyphs)
	}
	for _, u := range d.images {
		size += len(u.img.data) + 512
		if u.img.mask != nil {
			size += len(u.img.mask.data)
		}
	}
	w := writer{buf: make([]byte, 0, size)}
	w.buf = append(w.buf, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n"...)

	fontObj := func(i, which int) int { return firstFreeObj + objsPerFont*i + which }
	// Each image's first object number, in order after the fonts.
	imageObjs := make([]int, len(d.images))
	next := firstFreeObj + objsPerFont*len(fonts)
	for i, u := range d.images {
		imageObjs[i] = next
		next += u.img.objects()
	}

	w.begin(catalogObj)
	w.printf("<< /Type /Catalog /Pages %d 0 R >>", pagesObj)
	w.end()
	w.begin(pagesObj)
	w.printf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", pageObj)
	w.end()

	w.begin(pageObj)
	w.printf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 ", pagesObj)
	w.number(d.width * d.unit)
	w.raw(" ")
	w.number(d.height * d.unit)
	w.raw("] /Resources <<")
	if len(fonts) > 0 {
		w.raw(" /Font <<")
		for i, f := range fonts {
			w.printf(" /%s %d 0 R", f.name, fontObj(i, type0Obj))
		}
		w.raw(" >>")
	}
	if len(d.images) > 0 {
		w.raw(" /XObject <<")
		for i, u := range d.images {
			w.printf(" /%s %d 0 R", u.name, imageObjs[i])
		}
		w.raw(" >>")
	}
	w.printf(" >> /Contents %d 0 R >>", contentObj)
	w.end()

	w.begin(contentObj)
	w.stream("", content, true)
	w.end()

	w.begin(infoObj)
	w.raw("<<")
	if d.info.Title != "" {
		w.raw(" /Title ")
		w.buf = appendTextString(w.buf, d.info.Title)
	}
	if d.info.Creator != "" {
		w.raw(" /Creator ")
		w.buf = appendTextString(w.buf, d.info.Creator)
	}
	if !d.info.Created.IsZero() {
		date := pdfDate(d.info.Created)
		w.printf(" /CreationDate (%s) /ModDate (%s)", date, date)
	}
	w.raw(" >>")
	w.end()

	for i, f := range fonts {
		f.write(&w, fontObj(i, 0), embeddings[i])
	}
	for i, u := range d.images {
		u.img.write(&w, imageObjs[i])
	}

	xref := len(w.buf)
	w.printf("xref\n0 %d\n0000000000 65535 f \n", len(w.offsets)+1)
	for _, off := range w.offsets {
		w.printf("%010d 00000 n \n", off)
	}
	w.printf("trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n",
		len(w.offsets)+1, catalogObj, infoObj, xref)
	return w.buf
}

// pdfDate is t as a PDF date string.
func pdfDate(t time.Time) string {
	s := t.Format("D:20060102150405")
	_, offset := t.Zone()
	if offset == 0 {
		return s + "Z"
	}
	sign := '+'
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return fmt.Sprintf("%s%c%02d'%02d'", s, sign, offset/3600, offset/60%60)
}

// writer builds the file, recording where each object starts. Objects
// must be begun in order of their numbers, from 1.
type writer struct {
	buf     []byte
	offsets []int
}

func (w *writer) begin(obj int) {
	if obj != len(w.offsets)+1 {
		panic(fmt.Sprintf("pdfdoc: object %d written as number %d", len(w.offsets)+1, obj))
	}
	w.offsets = append(w.offsets, len(w.buf))
	w.buf = strconv.AppendInt(w.buf, int64(obj), 10)
	w.buf = append(w.buf, " 0 obj\n"...)
}

func (w *writer) end() { w.buf = append(w.buf, "\nendobj\n"...) }

func (w *writer) raw(s string) { w.buf = append(w.buf, s...) }

func (w *writer) number(v float64) { w.buf = appendNumber(w.buf, v) }

func (w *writer) printf(format string, args ...any) { w.buf = fmt.Appendf(w.buf, format, args...) }

// stream writes a stream object's dictionary, with extra entries, and
// data; flate says data is zlib-compressed.
func (w *writer) stream(extra string, data []byte, flate bool) {
	w.printf("<< /Length %d", len(data))
	if flate {
		w.raw(" /Filter /FlateDecode")
	}
	w.raw(extra)
	w.raw(" >>\nstream\n")
	w.buf = append(w.buf, data...)
	w.raw("\nendstream")
}
