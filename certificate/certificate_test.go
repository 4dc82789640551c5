package certificate

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"github.com/coursehook/coursehook/internal/pdftext"
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
			require.Len(t, doc.Pages, 1)
			text := doc.Text()
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

	doc := read(t, b)
	require.Len(t, doc.Pages, 1)
	w, h := doc.Pages[0].Width, doc.Pages[0].Height
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
			require.Contains(t, read(t, b).Text(), tt.want)
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

	text := read(t, b).Text()
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
			require.Len(t, doc.Pages, 1)
			if tt.whole {
				require.Contains(t, doc.Text(), tt.learner)
				require.Contains(t, doc.Text(), tt.course)
			}
			pieces := doc.Pages[0].Pieces
			for i, p := range pieces {
				// Lines are centred, so a line starting inside the text
				// column also ends inside it.
				require.GreaterOrEqual(t, p.X, textLeft*ptPerMM-0.01, "line %q starts left of the text column", p.Text)
				require.Greater(t, p.Y, 13*ptPerMM, "line %q is below the frame", p.Text)
				require.Less(t, p.Y, (pageH-13)*ptPerMM, "line %q is above the frame", p.Text)
				// Lines are drawn top to bottom; a baseline closer than the
				// lower line's font size to the one above means overlap.
				if i > 0 {
					require.GreaterOrEqual(t, pieces[i-1].Y-p.Y, p.Size, "line %q overlaps the one above", p.Text)
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

// read reads b back with pdftext, which decodes fpdf's UTF-8 fonts correctly
// where ledongthuc/pdf's own text extraction does not.
func read(t *testing.T, b []byte) pdftext.Document {
	t.Helper()
	doc, err := pdftext.Read(b)
	require.NoError(t, err)
	return doc
}
