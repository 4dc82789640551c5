package certificate

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"

	"codeberg.org/go-pdf/fpdf"
	"github.com/ledongthuc/pdf"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

var sample = Data{
	LearnerName:   "Bob Johnson",
	CourseTitle:   "New Student Orientation",
	CompletedAt:   time.Date(2019, 10, 17, 20, 50, 53, 0, time.UTC),
	CertificateID: "evt_1FUfx9Jq7sMRu3Bo",
}

func with(mod func(*Data)) Data {
	d := sample
	mod(&d)
	return d
}

func TestRenderShowsEverything(t *testing.T) {
	tests := []struct {
		name, learner, course string
	}{
		{"sample", "Bob Johnson", "New Student Orientation"},
		{"latin diacritics", "Zoë Müller-Łukasiewicz", "Über-Grundlagen: Sicherheit & Datenschutz — Modul 2"},
		{"greek", "Αλέξανδρος Παπαδόπουλος", "Εισαγωγή στην Ασφάλεια Πληροφοριών"},
		{"cyrillic", "Алексей Смирнов", "Основы информационной безопасности"},
		{"pdf syntax drawn as text", "Eve (x) \\ ) <<", "%%EOF endobj <</Type /Page>> (unbalanced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Render(with(func(d *Data) {
				d.LearnerName = tt.learner
				d.CourseTitle = tt.course
			}))
			require.NoError(t, err)
			require.True(t, bytes.HasPrefix(b, []byte("%PDF-")), "missing PDF header")

			doc := read(t, b)
			require.Equal(t, 1, doc.pages)
			text := doc.text()
			for _, want := range []string{
				"Certificate of Completion",
				"This certifies that",
				tt.learner,
				"has completed",
				tt.course,
				"Completed on 17 October 2019",
				"Certificate ID: evt_1FUfx9Jq7sMRu3Bo",
			} {
				require.Contains(t, text, want)
			}
		})
	}
}

func TestRenderIsLandscapeA4(t *testing.T) {
	b, err := Render(sample)
	require.NoError(t, err)

	box := read(t, b).mediaBox
	w, h := box[2]-box[0], box[3]-box[1]
	require.Greater(t, w, h, "page is not landscape")
	require.InDelta(t, pageW*ptPerMM, w, 0.01)
	require.InDelta(t, pageH*ptPerMM, h, 0.01)
}

func TestRenderDateIsUTC(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"webhook sample", time.Date(2019, 10, 17, 20, 50, 53, 0, time.UTC), "Completed on 17 October 2019"},
		{"no leading zero", time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC), "Completed on 5 March 2024"},
		{"local evening is next UTC day", time.Date(2024, 3, 5, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)), "Completed on 6 March 2024"},
		{"local morning is previous UTC day", time.Date(2024, 3, 6, 1, 0, 0, 0, time.FixedZone("EET", 3*3600)), "Completed on 5 March 2024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Render(with(func(d *Data) { d.CompletedAt = tt.at }))
			require.NoError(t, err)
			require.Contains(t, read(t, b).text(), tt.want)
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	first, err := Render(sample)
	require.NoError(t, err)
	second, err := Render(sample)
	require.NoError(t, err)
	require.Equal(t, first, second, "same data rendered different bytes")

	// Without fixed dates fpdf stamps the wall clock, which two renders in
	// the same second would not reveal.
	r, err := pdf.NewReader(bytes.NewReader(first), int64(len(first)))
	require.NoError(t, err)
	info := r.Trailer().Key("Info")
	require.Equal(t, "D:20191017205053", info.Key("CreationDate").Text())
	require.Equal(t, "D:20191017205053", info.Key("ModDate").Text())

	// The same instant in another zone is the same certificate.
	zoned, err := Render(with(func(d *Data) { d.CompletedAt = d.CompletedAt.In(time.FixedZone("X", 7*3600)) }))
	require.NoError(t, err)
	require.Equal(t, first, zoned)

	for name, d := range map[string]Data{
		"name":  with(func(d *Data) { d.LearnerName = "Bob Jonson" }),
		"title": with(func(d *Data) { d.CourseTitle = "New Student Orientation 2" }),
		"date":  with(func(d *Data) { d.CompletedAt = d.CompletedAt.AddDate(0, 0, 1) }),
		"id":    with(func(d *Data) { d.CertificateID = "evt_other" }),
	} {
		other, err := Render(d)
		require.NoError(t, err)
		require.NotEqual(t, first, other, "changing the %s did not change the bytes", name)
	}
}

// TestRenderConcurrently catches shared state between renders: under -race
// any write to the shared font bytes fails, and every result must match.
func TestRenderConcurrently(t *testing.T) {
	want, err := Render(sample)
	require.NoError(t, err)

	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = Render(sample) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, want, got[i])
	}
}

func TestRenderRejectsInvalidData(t *testing.T) {
	tests := []struct {
		name string
		data Data
	}{
		{"empty name", with(func(d *Data) { d.LearnerName = "" })},
		{"blank name", with(func(d *Data) { d.LearnerName = " \t\r\n " })},
		{"control-only name", with(func(d *Data) { d.LearnerName = "\x00\x1b\u0085\u202e" })},
		{"empty title", with(func(d *Data) { d.CourseTitle = "" })},
		{"empty id", with(func(d *Data) { d.CertificateID = "" })},
		{"zero time", with(func(d *Data) { d.CompletedAt = time.Time{} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Render(tt.data)
			require.ErrorIs(t, err, ErrInvalidData)
			require.Nil(t, b)
		})
	}
}

func TestRenderStripsControlCharacters(t *testing.T) {
	b, err := Render(with(func(d *Data) {
		d.LearnerName = "Bob\x07\x00 John\u200bson\x1b"
		d.CourseTitle = "First line\r\nsecond\tline\u0085third\u2028line \U0001F393"
		d.CertificateID = "evt\x7f_1\u009b"
	}))
	require.NoError(t, err)

	text := read(t, b).text()
	require.Contains(t, text, "Bob Johnson")
	require.Contains(t, text, "First line second line third line \uFFFD")
	require.Contains(t, text, "Certificate ID: evt_1")
	for _, r := range text {
		require.False(t, unicode.IsControl(r) || unicode.Is(unicode.Cf, r), "%U reached the PDF", r)
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Bob Johnson", "Bob Johnson"},
		{"trims and collapses", "  Bob \t\n  Johnson  ", "Bob Johnson"},
		{"crlf becomes space", "a\r\nb", "a b"},
		{"c0 and del dropped", "a\x00\x01\x1f\x7fb", "ab"},
		{"c1 dropped", "a\u0080\u009fb", "ab"},
		{"next line is a space", "a\u0085b", "a b"},
		{"bidi override dropped", "a\u202eb\u2066c", "abc"},
		{"private use dropped", "a\ue000b", "ab"},
		{"astral replaced", "a🎓b", "a\uFFFDb"},
		{"invalid utf-8 replaced", "a\xffb", "a\uFFFDb"},
		{"scripts kept", "Zoë Αλέξανδρος Смирнов", "Zoë Αλέξανδρος Смирнов"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, clean(tt.in))
		})
	}
}

func TestRenderLongTextStaysOnPage(t *testing.T) {
	// words repeats word up to exactly n characters.
	words := func(n int, word string) string {
		s := []rune(strings.Repeat(word+" ", n))[:n]
		require.NotEqual(t, ' ', s[n-1], "pick a length that does not end on a space")
		return string(s)
	}
	tests := []struct {
		name, learner, course string
		// whole says the text is short enough that it must appear uncut.
		whole bool
	}{
		{"200-char name, 500-char title", words(200, "Maximilian"), words(500, "Datenschutzgrundlagen"), true},
		{"200-char cyrillic name", words(200, "Александровна"), words(500, "Безопасность"), true},
		{"wide letters", strings.Repeat("W", 200), strings.Repeat("WM ", 200), false},
		{"no spaces at all", strings.Repeat("x", 5000), strings.Repeat("y", 5000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Render(with(func(d *Data) {
				d.LearnerName = tt.learner
				d.CourseTitle = tt.course
			}))
			require.NoError(t, err)

			doc := read(t, b)
			require.Equal(t, 1, doc.pages)
			if tt.whole {
				require.Contains(t, doc.text(), tt.learner)
				require.Contains(t, doc.text(), tt.course)
			}
			for i, p := range doc.pieces {
				// Lines are centred, so a line starting inside the text
				// column also ends inside it.
				require.GreaterOrEqual(t, p.x, textLeft*ptPerMM-0.01, "line %q starts left of the text column", p.text)
				require.Greater(t, p.y, 13*ptPerMM, "line %q is below the frame", p.text)
				require.Less(t, p.y, (pageH-13)*ptPerMM, "line %q is above the frame", p.text)
				// Lines are drawn top to bottom; a baseline closer than the
				// lower line's font size to the one above means overlap.
				if i > 0 {
					require.GreaterOrEqual(t, doc.pieces[i-1].y-p.y, p.size, "line %q overlaps the one above", p.text)
				}
			}
		})
	}
}

func TestFitCutsWhatCannotFit(t *testing.T) {
	pdf := fpdf.New("L", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(family, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(family, "B", gobold.TTF)
	require.NoError(t, pdf.Error())

	s := style{bold: true, maxPt: 22, wrapPt: 16, minPt: 10, maxLines: 5, spacing: 1.3}
	b := fit(pdf, strings.Repeat("Long title words ", 300), s)
	require.Len(t, b.lines, s.maxLines)
	require.Equal(t, s.minPt, b.pt)
	require.True(t, strings.HasSuffix(b.lines[len(b.lines)-1], "…"), "cut text has no ellipsis")
	for _, line := range b.lines {
		require.LessOrEqual(t, pdf.GetStringWidth(line), textW, "line %q is too wide", line)
	}

	short := fit(pdf, "Short", s)
	require.Equal(t, []string{"Short"}, short.lines)
	require.Equal(t, s.maxPt, short.pt)
}

func BenchmarkRender(b *testing.B) {
	for b.Loop() {
		if _, err := Render(sample); err != nil {
			b.Fatal(err)
		}
	}
}

// document is what the tests read back out of a rendered PDF.
type document struct {
	pages    int
	mediaBox [4]float64
	pieces   []piece
}

// piece is one text-showing operation: where its baseline starts and its
// font size, in points.
type piece struct {
	x, y, size float64
	text       string
}

func (d document) text() string {
	parts := make([]string, len(d.pieces))
	for i, p := range d.pieces {
		parts[i] = p.text
	}
	// Wrapped lines lose the space they broke at; a space puts it back.
	return strings.Join(parts, " ")
}

// read parses b with ledongthuc/pdf. Its own text extraction cannot be used:
// fpdf's ToUnicode CMap maps all codes with the single range
// <0000> <FFFF> <0000>, and ledongthuc/pdf (following the letter of ISO
// 32000-1) increments only the last byte across a range, so every character
// above U+00FF comes out wrong ("Ł" reads as "A"). The reader still does the
// parsing — cross-reference table, objects, streams, content operators — and
// read only applies the CMap with whole-code arithmetic, as poppler and
// Acrobat do.
func read(t *testing.T, b []byte) document {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)

	doc := document{pages: r.NumPage()}
	require.Positive(t, doc.pages)
	for n := 1; n <= doc.pages; n++ {
		page := r.Page(n)
		if n == 1 {
			doc.mediaBox = mediaBox(t, page)
		}
		doc.pieces = append(doc.pieces, pageText(t, page)...)
	}
	return doc
}

func mediaBox(t *testing.T, page pdf.Page) [4]float64 {
	t.Helper()
	// The box may be inherited from the page tree.
	for v := page.V; !v.IsNull(); v = v.Key("Parent") {
		if box := v.Key("MediaBox"); box.Kind() == pdf.Array {
			require.Equal(t, 4, box.Len())
			return [4]float64{box.Index(0).Float64(), box.Index(1).Float64(), box.Index(2).Float64(), box.Index(3).Float64()}
		}
	}
	t.Fatal("page has no MediaBox")
	return [4]float64{}
}

func pageText(t *testing.T, page pdf.Page) []piece {
	t.Helper()
	cmaps := map[string]cmap{}
	var (
		font     cmap
		x, y     float64
		fontSize float64
		pieces   []piece
	)
	show := func(raw string) {
		require.NotNil(t, font, "text shown before a font was selected")
		pieces = append(pieces, piece{x: x, y: y, size: fontSize, text: font.decode(t, raw)})
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
			require.Len(t, args, 2)
			x += args[0].Float64()
			y += args[1].Float64()
		case "Tf":
			require.Len(t, args, 2)
			name := args[0].Name()
			if _, ok := cmaps[name]; !ok {
				cmaps[name] = readCMap(t, page.Resources().Key("Font").Key(name))
			}
			font = cmaps[name]
			fontSize = args[1].Float64()
		case "Tj":
			require.Len(t, args, 1)
			show(args[0].RawString())
		case "TJ":
			require.Len(t, args, 1)
			var raw strings.Builder
			for i := range args[0].Len() {
				if v := args[0].Index(i); v.Kind() == pdf.String {
					raw.WriteString(v.RawString())
				}
			}
			show(raw.String())
		case "'", `"`:
			t.Fatalf("text operator %s is not handled", op)
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
func readCMap(t *testing.T, font pdf.Value) cmap {
	t.Helper()
	stream := font.Key("ToUnicode")
	require.Equal(t, pdf.Stream, stream.Kind(), "font has no ToUnicode CMap")
	var m cmap
	pdf.Interpret(stream, func(stk *pdf.Stack, op string) {
		var args []pdf.Value
		for stk.Len() > 0 {
			args = append([]pdf.Value{stk.Pop()}, args...)
		}
		code := func(v pdf.Value) uint32 {
			s := v.RawString()
			require.Len(t, s, 2, "code is not two bytes")
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
			require.Len(t, args, 2)
			code(args[0])
			code(args[1])
		case "endbfchar":
			require.Zero(t, len(args)%2)
			for i := 0; i < len(args); i += 2 {
				c := code(args[i])
				m = append(m, cmapRange{c, c, []byte(args[i+1].RawString())})
			}
		case "endbfrange":
			require.Zero(t, len(args)%3)
			for i := 0; i < len(args); i += 3 {
				require.Equal(t, pdf.String, args[i+2].Kind(), "array destinations are not handled")
				m = append(m, cmapRange{code(args[i]), code(args[i+1]), []byte(args[i+2].RawString())})
			}
		}
	})
	require.NotEmpty(t, m, "ToUnicode CMap maps nothing")
	return m
}

func (m cmap) decode(t *testing.T, raw string) string {
	t.Helper()
	require.Zero(t, len(raw)%2, "odd-length two-byte text")
	var units []uint16
	for i := 0; i < len(raw); i += 2 {
		c := uint32(raw[i])<<8 | uint32(raw[i+1])
		mapped := false
		for _, r := range m {
			if c < r.lo || c > r.hi {
				continue
			}
			require.Zero(t, len(r.dst)%2)
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
		require.True(t, mapped, "code %04X has no mapping", c)
	}
	return string(utf16.Decode(units))
}
