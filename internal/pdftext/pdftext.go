// Package pdftext reads text, and where it is drawn, back out of a PDF, so
// tests can check what a rendered certificate actually shows. It is for
// tests only and understands just what fpdf's UTF-8 fonts produce
// (Identity-H fonts with a ToUnicode CMap, text shown with Tj and TJ).
//
// It exists because github.com/ledongthuc/pdf's own text extraction cannot
// be used: fpdf's ToUnicode CMap maps all codes with the single range
// <0000> <FFFF> <0000>, and ledongthuc/pdf (following the letter of ISO
// 32000-1) increments only the last byte across a range, so every character
// above U+00FF comes out wrong ("Ł" reads as "A"). ledongthuc/pdf still does
// the parsing — cross-reference table, objects, streams, content operators —
// and this package only applies the CMap with whole-code arithmetic, as
// poppler and Acrobat do.
package pdftext

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"

	"github.com/ledongthuc/pdf"
)

// Document is what was read back out of a PDF.
type Document struct {
	Pages []Page
}

// Page is one page: its size from the MediaBox, and its text in the order
// it is drawn.
type Page struct {
	Width, Height float64 // in points
	Pieces        []Piece
}

// Piece is one text-showing operation: where its baseline starts and its
// font size, in points, and the text it shows.
type Piece struct {
	X, Y float64
	Size float64
	Text string
}

// Text is all the text of every page, pieces separated by a space: wrapped
// lines lose the space they broke at, and the space puts it back.
func (d Document) Text() string {
	var parts []string
	for _, p := range d.Pages {
		for _, pc := range p.Pieces {
			parts = append(parts, pc.Text)
		}
	}
	return strings.Join(parts, " ")
}

// failure carries an error of ours out of a ledongthuc/pdf callback, which
// has no way to return one.
type failure struct{ err error }

func fail(format string, args ...any) {
	panic(failure{fmt.Errorf(format, args...)})
}

// Read parses the PDF in b. It returns an error for anything it cannot read
// or does not understand, including input that makes ledongthuc/pdf panic.
func Read(b []byte) (doc Document, err error) {
	defer func() {
		if r := recover(); r != nil {
			// ledongthuc/pdf reports malformed input by panicking, with
			// an error or a string; fail carries our own errors the same way.
			if f, ok := r.(failure); ok {
				err = f.err
			} else {
				err = fmt.Errorf("malformed PDF: %v", r)
			}
			doc, err = Document{}, fmt.Errorf("pdftext: %w", err)
		}
	}()

	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return Document{}, fmt.Errorf("pdftext: %w", err)
	}
	n := r.NumPage()
	if n <= 0 {
		return Document{}, errors.New("pdftext: PDF has no pages")
	}
	for i := 1; i <= n; i++ {
		page := r.Page(i)
		w, h := mediaBox(page)
		doc.Pages = append(doc.Pages, Page{Width: w, Height: h, Pieces: pageText(page)})
	}
	return doc, nil
}

// maxDepth bounds the walk up the page tree, which a malformed file could
// make cyclic.
const maxDepth = 64

func mediaBox(page pdf.Page) (w, h float64) {
	// The box may be inherited from the page tree.
	v := page.V
	for range maxDepth {
		if v.IsNull() {
			break
		}
		if box := v.Key("MediaBox"); box.Kind() == pdf.Array {
			if box.Len() != 4 {
				fail("MediaBox has %d numbers, not 4", box.Len())
			}
			// Any two opposite corners may be given.
			return math.Abs(box.Index(2).Float64() - box.Index(0).Float64()),
				math.Abs(box.Index(3).Float64() - box.Index(1).Float64())
		}
		v = v.Key("Parent")
	}
	fail("page has no MediaBox")
	return 0, 0
}

func pageText(page pdf.Page) []Piece {
	cmaps := map[string]cmap{}
	var (
		font     cmap
		x, y     float64
		fontSize float64
		pieces   []Piece
	)
	show := func(raw string) {
		if font == nil {
			fail("text shown before a font was selected")
		}
		pieces = append(pieces, Piece{X: x, Y: y, Size: fontSize, Text: font.decode(raw)})
	}
	nargs := func(op string, args []pdf.Value, n int) {
		if len(args) != n {
			fail("operator %s has %d operands, not %d", op, len(args), n)
		}
	}
	pdf.Interpret(page.V.Key("Contents"), func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "BT":
			x, y = 0, 0
		case "Td":
			nargs(op, args, 2)
			x += args[0].Float64()
			y += args[1].Float64()
		case "Tf":
			nargs(op, args, 2)
			name := args[0].Name()
			if _, ok := cmaps[name]; !ok {
				cmaps[name] = readCMap(page.Resources().Key("Font").Key(name))
			}
			font = cmaps[name]
			fontSize = args[1].Float64()
		case "Tj":
			nargs(op, args, 1)
			show(args[0].RawString())
		case "TJ":
			nargs(op, args, 1)
			var raw strings.Builder
			for i := range args[0].Len() {
				if v := args[0].Index(i); v.Kind() == pdf.String {
					raw.WriteString(v.RawString())
				}
			}
			show(raw.String())
		case "'", `"`:
			fail("text operator %s is not handled", op)
		}
	})
	return pieces
}

// cmap is a ToUnicode map for two-byte codes, the only kind Identity-H uses.
type cmap []cmapRange

type cmapRange struct {
	lo, hi uint32
	dst    []byte // UTF-16BE of lo's text
}

// readCMap reads font's ToUnicode CMap, which is a small PostScript program.
func readCMap(font pdf.Value) cmap {
	stream := font.Key("ToUnicode")
	if stream.Kind() != pdf.Stream {
		fail("font has no ToUnicode CMap")
	}
	var m cmap
	pdf.Interpret(stream, func(stk *pdf.Stack, op string) {
		var args []pdf.Value
		for stk.Len() > 0 {
			args = append([]pdf.Value{stk.Pop()}, args...)
		}
		code := func(v pdf.Value) uint32 {
			s := v.RawString()
			if len(s) != 2 {
				fail("CMap code %q is not two bytes", s)
			}
			return uint32(s[0])<<8 | uint32(s[1])
		}
		switch op {
		case "findresource":
			// "begin" needs a dictionary, and the reader offers no way to
			// make one; the font's own dictionary has no key that could
			// shadow a CMap operator, so it stands in for CIDInit.
			stk.Push(font)
		case "defineresource":
			// The defined resource is popped straight away.
			stk.Push(font)
		case "endcodespacerange":
			if len(args) != 2 {
				fail("codespacerange has %d operands, not 2", len(args))
			}
			code(args[0])
			code(args[1])
		case "endbfchar":
			if len(args)%2 != 0 {
				fail("bfchar has %d operands, not pairs", len(args))
			}
			for i := 0; i < len(args); i += 2 {
				c := code(args[i])
				m = append(m, cmapRange{c, c, []byte(args[i+1].RawString())})
			}
		case "endbfrange":
			if len(args)%3 != 0 {
				fail("bfrange has %d operands, not triples", len(args))
			}
			for i := 0; i < len(args); i += 3 {
				if args[i+2].Kind() != pdf.String {
					fail("bfrange array destinations are not handled")
				}
				m = append(m, cmapRange{code(args[i]), code(args[i+1]), []byte(args[i+2].RawString())})
			}
		}
	})
	if len(m) == 0 {
		fail("ToUnicode CMap maps nothing")
	}
	return m
}

func (m cmap) decode(raw string) string {
	if len(raw)%2 != 0 {
		fail("odd-length two-byte text %q", raw)
	}
	var units []uint16
	for i := 0; i < len(raw); i += 2 {
		c := uint32(raw[i])<<8 | uint32(raw[i+1])
		mapped := false
		for _, r := range m {
			if c < r.lo || c > r.hi {
				continue
			}
			if len(r.dst) == 0 || len(r.dst)%2 != 0 {
				fail("CMap destination for %04X is %d bytes, not whole UTF-16 units", c, len(r.dst))
			}
			dst := make([]uint16, len(r.dst)/2)
			for j := range dst {
				dst[j] = uint16(r.dst[2*j])<<8 | uint16(r.dst[2*j+1])
			}
			// Whole-code arithmetic: the offset into the range is added to
			// the destination's last UTF-16 unit, carries and all.
			dst[len(dst)-1] += uint16(c - r.lo)
			units = append(units, dst...)
			mapped = true
			break
		}
		if !mapped {
			fail("code %04X has no mapping", c)
		}
	}
	return string(utf16.Decode(units))
}
