package certificate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/ledongthuc/pdf"
	"github.com/stretchr/testify/require"
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

// goldenSHA256 is the SHA-256 of the sample, by renderer version: for
// version 1 as it was before certificates had optional parts. A
// certificate without them must stay byte for byte what it was: a retry
// attaches the same file, and a certificate's hash, once recorded, must
// keep naming it. The bytes depend on fpdf (version 1) or pdfdoc (version
// 2) and on the standard library's zlib, so a change of either may
// legitimately move them: check the PDF still reads the same, then update.
var goldenSHA256 = map[int]string{
	Renderer1: "bd78d12c7abc6a793d7af8304f22ffc2c96203a62ca34804d3db85003d4585dc",
	Renderer2: "1c01bd4a74230ac50f89790d9ac5e4497faa4fbe6dd88d7ae72f78c85bf3e665",
}

// versions are the renderer versions every behavioural test runs against.
var versions = []int{Renderer1, Renderer2}

// eachVersion runs test once for each renderer version, as a subtest named
// for it.
func eachVersion(t *testing.T, test func(t *testing.T, v int)) {
	t.Helper()
	for _, v := range versions {
		t.Run("v"+itoa(v), func(t *testing.T) { test(t, v) })
	}
}

func TestRenderGolden(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		tests := map[string]Data{
			"sample": sample,
			"optional parts empty": with(func(d *Data) {
				d.Heading, d.Issuer, d.Signatory, d.Logo, d.Verification = "", "", Signatory{}, []byte{}, nil
			}),
			"optional parts blank once cleaned": with(func(d *Data) {
				d.Heading, d.Issuer = " \u200b\t", "\u202e\x00"
				d.Signatory = Signatory{Name: "\u200f ", Role: "\r\n"}
			}),
			"default heading given": with(func(d *Data) { d.Heading = "Certificate of Completion" }),
		}
		for name, d := range tests {
			t.Run(name, func(t *testing.T) {
				b, err := RenderVersion(v, d)
				require.NoError(t, err)
				sum := sha256.Sum256(b)
				require.Equal(t, goldenSHA256[v], hex.EncodeToString(sum[:]))
			})
		}
	})
}

func TestRenderShowsEverything(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
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
				b, err := RenderVersion(v, with(func(d *Data) {
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
	})
}

func TestRenderIsLandscapeA4(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		b, err := RenderVersion(v, sample)
		require.NoError(t, err)

		doc := read(t, b)
		require.Len(t, doc.Pages, 1)
		w, h := doc.Pages[0].Width, doc.Pages[0].Height
		require.Greater(t, w, h, "page is not landscape")
		require.InDelta(t, pageW*ptPerMM, w, 0.01)
		require.InDelta(t, pageH*ptPerMM, h, 0.01)
	})
}

func TestRenderDateIsUTC(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
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
				b, err := RenderVersion(v, with(func(d *Data) { d.CompletedAt = tt.at }))
				require.NoError(t, err)
				require.Contains(t, read(t, b).Text(), tt.want)
			})
		}
	})
}

func TestRenderIsDeterministic(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		first, err := RenderVersion(v, sample)
		require.NoError(t, err)
		second, err := RenderVersion(v, sample)
		require.NoError(t, err)
		require.Equal(t, first, second, "same data rendered different bytes")

		// Without fixed dates fpdf stamps the wall clock, which two renders in
		// the same second would not reveal. Version 2 says the date is UTC.
		date := map[int]string{Renderer1: "D:20191017205053", Renderer2: "D:20191017205053Z"}[v]
		r, err := pdf.NewReader(bytes.NewReader(first), int64(len(first)))
		require.NoError(t, err)
		info := r.Trailer().Key("Info")
		require.Equal(t, date, info.Key("CreationDate").Text())
		require.Equal(t, date, info.Key("ModDate").Text())

		// The same instant in another zone is the same certificate.
		zoned, err := RenderVersion(v, with(func(d *Data) { d.CompletedAt = d.CompletedAt.In(time.FixedZone("X", 7*3600)) }))
		require.NoError(t, err)
		require.Equal(t, first, zoned)

		for name, d := range map[string]Data{
			"name":  with(func(d *Data) { d.LearnerName = "Bob Jonson" }),
			"title": with(func(d *Data) { d.CourseTitle = "New Student Orientation 2" }),
			"date":  with(func(d *Data) { d.CompletedAt = d.CompletedAt.AddDate(0, 0, 1) }),
			"id":    with(func(d *Data) { d.CertificateID = "evt_other" }),
		} {
			other, err := RenderVersion(v, d)
			require.NoError(t, err)
			require.NotEqual(t, first, other, "changing the %s did not change the bytes", name)
		}
	})
}

func TestRenderWithEverythingIsDeterministic(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		full := everything(t)
		first, err := RenderVersion(v, full)
		require.NoError(t, err)
		for _, logo := range [][]byte{logoPNG(t, 150, 50), logoJPEG(t, 150, 50)} {
			d := full
			d.Logo = logo
			a, err := RenderVersion(v, d)
			require.NoError(t, err)
			b, err := RenderVersion(v, d)
			require.NoError(t, err)
			require.Equal(t, a, b, "same data rendered different bytes")
		}

		for name, mod := range map[string]func(*Data){
			"heading":           func(d *Data) { d.Heading = "Certificate of Merit" },
			"issuer":            func(d *Data) { d.Issuer = "Acme Academy Ltd" },
			"signatory name":    func(d *Data) { d.Signatory.Name = "Dr. Jane Smyth" },
			"signatory role":    func(d *Data) { d.Signatory.Role = "Dean" },
			"logo":              func(d *Data) { d.Logo = logoPNG(t, 150, 51) },
			"verification code": func(d *Data) { d.Verification = &Verification{Code: "7Q2K9-XRT4N", URL: d.Verification.URL} },
			"verification URL": func(d *Data) {
				d.Verification = &Verification{Code: d.Verification.Code, URL: d.Verification.URL + "5"}
			},
		} {
			d := full
			mod(&d)
			other, err := RenderVersion(v, d)
			require.NoError(t, err)
			require.NotEqual(t, first, other, "changing the %s did not change the bytes", name)
		}
	})
}

// TestRenderConcurrently catches shared state between renders: under -race
// any write to the shared font or logo bytes, or to version 2's parsed
// fonts, fails, and every result must match. Half the renders share one
// Data with a logo and a QR code, and both versions run at once.
func TestRenderConcurrently(t *testing.T) {
	full := everything(t)
	type input struct {
		v int
		d Data
	}
	var inputs []input
	for _, v := range versions {
		inputs = append(inputs, input{v, sample}, input{v, full})
	}
	want := make([][]byte, len(inputs))
	for i, in := range inputs {
		var err error
		want[i], err = RenderVersion(in.v, in.d)
		require.NoError(t, err)
	}

	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		in := inputs[i%len(inputs)]
		wg.Go(func() { got[i], errs[i] = RenderVersion(in.v, in.d) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, want[i%len(inputs)], got[i])
	}
}

func TestRenderIsTheCurrentVersion(t *testing.T) {
	for _, d := range []Data{sample, everything(t)} {
		want, err := RenderVersion(CurrentRenderer, d)
		require.NoError(t, err)
		got, err := Render(d)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

func TestRenderVersionRefusesUnknownVersions(t *testing.T) {
	for _, v := range []int{0, -1, 3, 100} {
		b, err := RenderVersion(v, sample)
		require.ErrorIs(t, err, ErrUnknownRenderer)
		require.NotErrorIs(t, err, ErrInvalidData)
		require.ErrorContains(t, err, itoa(v))
		require.Nil(t, b)
		_, drawn, err := renderVersion(v, sample)
		require.ErrorIs(t, err, ErrUnknownRenderer)
		require.Nil(t, drawn)
	}
}

func TestRenderRejectsInvalidData(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
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
				b, err := RenderVersion(v, tt.data)
				require.ErrorIs(t, err, ErrInvalidData)
				require.Nil(t, b)
			})
		}
	})
}

func TestRenderStripsControlCharacters(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		b, err := RenderVersion(v, with(func(d *Data) {
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
	})
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
	eachVersion(t, func(t *testing.T, v int) {
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
				b, err := RenderVersion(v, with(func(d *Data) {
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
	})
}

// newCanvas is a blank canvas of renderer version v.
func newCanvas(t *testing.T, v int) canvas {
	t.Helper()
	var (
		c   canvas
		err error
	)
	switch v {
	case Renderer1:
		c, err = newFPDFCanvas("test", sample.CompletedAt)
	case Renderer2:
		c, err = newDocCanvas("test", sample.CompletedAt)
	default:
		t.Fatalf("no canvas for version %d", v)
	}
	require.NoError(t, err)
	return c
}

func TestFitCutsWhatCannotFit(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		c := newCanvas(t, v)
		s := style{bold: true, maxPt: 22, wrapPt: 16, minPt: 10, maxLines: 5, spacing: 1.3}
		b := fit(c, strings.Repeat("Long title words ", 300), s)
		require.Len(t, b.lines, s.maxLines)
		require.Equal(t, s.minPt, b.pt)
		require.True(t, strings.HasSuffix(b.lines[len(b.lines)-1], "…"), "cut text has no ellipsis")
		for _, line := range b.lines {
			require.LessOrEqual(t, c.stringWidth(line), textW, "line %q is too wide", line)
		}

		short := fit(c, "Short", s)
		require.Equal(t, []string{"Short"}, short.lines)
		require.Equal(t, s.maxPt, short.pt)
	})
}

// TestSplitTextAsVersion1 holds version 2's line breaking to version 1's
// wherever the font has every character, so a version 2 certificate wraps
// as its version 1 did.
func TestSplitTextAsVersion1(t *testing.T) {
	v1, v2 := newCanvas(t, Renderer1), newCanvas(t, Renderer2)
	texts := []string{
		"Short",
		strings.Repeat("Long title words ", 30),
		strings.Repeat("W", 300),
		strings.Repeat("Щедрость ", 40),
		"Αλέξανδρος Παπαδόπουλος " + strings.Repeat("x", 200) + " Zoë Müller-Łukasiewicz",
		"ends on a space ",
		"two  spaces",
	}
	for _, bold := range []bool{false, true} {
		for _, pt := range []float64{6, 9.5, 13, 22, 34} {
			for _, w := range []float64{1, 3, 52, 145, textW} {
				v1.setFont(bold, pt)
				v2.setFont(bold, pt)
				for _, text := range texts {
					require.Equal(t, v1.splitText(text, w), v2.splitText(text, w), "%q at %vpt in %vmm", text, pt, w)
					require.InDelta(t, v1.stringWidth(text), v2.stringWidth(text), 1e-9, "%q at %vpt", text, pt)
				}
			}
		}
	}
	require.Equal(t, v1.cellMargin(), v2.cellMargin())
}

// BenchmarkRender renders the sample, a certificate without optional parts,
// with the current renderer and reports its size.
func BenchmarkRender(b *testing.B) {
	benchmarkRender(b, CurrentRenderer, sample)
}

// BenchmarkRenderV1 is BenchmarkRender with renderer version 1.
func BenchmarkRenderV1(b *testing.B) {
	benchmarkRender(b, Renderer1, sample)
}

// BenchmarkRenderEverything adds every optional part, a 600×200 PNG logo
// and a QR code among them.
func BenchmarkRenderEverything(b *testing.B) {
	benchmarkRender(b, CurrentRenderer, everythingWithLogo(b))
}

// BenchmarkRenderEverythingV1 is BenchmarkRenderEverything with renderer
// version 1.
func BenchmarkRenderEverythingV1(b *testing.B) {
	benchmarkRender(b, Renderer1, everythingWithLogo(b))
}

func everythingWithLogo(b *testing.B) Data {
	d := everything(b)
	d.Logo = logoPNG(b, 600, 200)
	return d
}

func benchmarkRender(b *testing.B, v int, d Data) {
	var size int
	for b.Loop() {
		pdf, err := RenderVersion(v, d)
		if err != nil {
			b.Fatal(err)
		}
		size = len(pdf)
	}
	b.ReportMetric(float64(size), "pdf-bytes")
}

// read reads b back with pdftext, which decodes fpdf's UTF-8 fonts correctly
// where ledongthuc/pdf's own text extraction does not.
func read(t *testing.T, b []byte) pdftext.Document {
	t.Helper()
	doc, err := pdftext.Read(b)
	require.NoError(t, err)
	return doc
}

// logoImage is a plausible logo: a solid mark on a transparent ground.
func logoImage(w, h int, mark color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := h / 8; y < h-h/8; y++ {
		for x := w / 8; x < w-w/8; x++ {
			img.SetNRGBA(x, y, mark)
		}
	}
	return img
}

var logoRed = color.NRGBA{R: 200, G: 30, B: 30, A: 255}

func logoPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, logoImage(w, h, logoRed)))
	return b.Bytes()
}

func logoJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := logoImage(w, h, logoRed)
	// JPEG has no transparency: fill the ground white.
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] == 0 {
			img.Pix[i-3], img.Pix[i-2], img.Pix[i-1], img.Pix[i] = 255, 255, 255, 255
		}
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

// everything is sample with every optional part. The logo is small, to
// keep tests quick under the race detector; it is drawn as large as a
// bigger one of the same shape.
func everything(t testing.TB) Data {
	t.Helper()
	return with(func(d *Data) {
		d.Heading = "Certificate of Achievement"
		d.Issuer = "Acme Academy"
		d.Signatory = Signatory{Name: "Dr. Jane Smith", Role: "Head of Learning"}
		d.Logo = logoPNG(t, 150, 50)
		d.Verification = &Verification{Code: "7Q2K9-XRT4M", URL: "https://verify.acme.example/c/7Q2K9-XRT4M"}
	})
}

// requireLaidOut renders d and checks its layout: everything drawn stays
// inside the inner frame, clear of the corner squares, and nothing overlaps
// anything else. Text boxes are whole columns, wider than the lines in them,
// so the check is stricter than the eye.
func requireLaidOut(t *testing.T, v int, d Data) pdftext.Document {
	t.Helper()
	b, drawn, err := renderVersion(v, d)
	require.NoError(t, err)
	const inset = 15.0
	for _, x := range drawn {
		require.GreaterOrEqual(t, x.x, inset, "%s starts left of the frame", x.what)
		require.GreaterOrEqual(t, x.y, inset, "%s starts above the frame", x.what)
		require.LessOrEqual(t, x.x+x.w, pageW-inset, "%s ends right of the frame", x.what)
		require.LessOrEqual(t, x.y+x.h, pageH-inset, "%s ends below the frame", x.what)
	}
	for i, a := range drawn {
		for _, c := range drawn[i+1:] {
			overlap := a.x < c.x+c.w && c.x < a.x+a.w && a.y < c.y+c.h && c.y < a.y+a.h
			require.False(t, overlap, "%s %+v overlaps %s %+v", a.what, a, c.what, c)
		}
	}

	doc := read(t, b)
	require.Len(t, doc.Pages, 1)
	for _, p := range doc.Pages[0].Pieces {
		require.GreaterOrEqual(t, p.X, textLeft*ptPerMM-0.01, "line %q starts left of the text column", p.Text)
		require.Greater(t, p.Y, inset*ptPerMM, "line %q is below the frame", p.Text)
		require.Less(t, p.Y, (pageH-inset)*ptPerMM, "line %q is above the frame", p.Text)
		for _, r := range p.Text {
			require.False(t, unicode.IsControl(r) || unicode.Is(unicode.Cf, r), "%U reached the PDF", r)
		}
	}
	return doc
}

func TestRenderShowsCourseWording(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		verify := &Verification{Code: "7Q2K9-XRT4M", URL: "https://verify.acme.example/c/7Q2K9-XRT4M"}
		tests := []struct {
			name   string
			mod    func(*Data)
			want   []string
			absent []string
		}{
			{"heading", func(d *Data) { d.Heading = "Certificate of Achievement" },
				[]string{"Certificate of Achievement"}, []string{"Certificate of Completion"}},
			{"issuer", func(d *Data) { d.Issuer = "Acme Academy" },
				[]string{"Issued by Acme Academy"}, nil},
			{"signatory", func(d *Data) { d.Signatory = Signatory{Name: "Dr. Jane Smith", Role: "Head of Learning"} },
				[]string{"Dr. Jane Smith", "Head of Learning"}, nil},
			{"signatory without a role", func(d *Data) { d.Signatory.Name = "Jane Smith" },
				[]string{"Jane Smith"}, nil},
			{"role without a name", func(d *Data) { d.Signatory.Role = "The Board" },
				[]string{"The Board"}, nil},
			{"verification", func(d *Data) { d.Verification = verify },
				[]string{"Verification code: 7Q2K9-XRT4M", "Verify at https://verify.acme.example/c/7Q2K9-XRT4M"}, nil},
			{"logo", func(d *Data) { d.Logo = logoPNG(t, 300, 100) },
				[]string{"Certificate of Completion"}, nil},
			{"everything", func(d *Data) { *d = everything(t) },
				[]string{"Certificate of Achievement", "Issued by Acme Academy", "Dr. Jane Smith", "Head of Learning",
					"Verification code: 7Q2K9-XRT4M", "Verify at https://verify.acme.example/c/7Q2K9-XRT4M"},
				[]string{"Certificate of Completion"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				text := requireLaidOut(t, v, with(tt.mod)).Text()
				for _, want := range append(tt.want,
					"This certifies that", "Bob Johnson", "has completed", "New Student Orientation",
					"Completed on 17 October 2019", "Certificate ID: evt_1FUfx9Jq7sMRu3Bo") {
					require.Contains(t, text, want)
				}
				for _, absent := range tt.absent {
					require.NotContains(t, text, absent)
				}
			})
		}
	})
}

func TestRenderTitlesThePDFWithTheHeading(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		b, err := RenderVersion(v, with(func(d *Data) { d.Heading = "Zertifikat über die Teilnahme" }))
		require.NoError(t, err)
		r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
		require.NoError(t, err)
		require.Equal(t, "Zertifikat über die Teilnahme", r.Trailer().Key("Info").Key("Title").Text())
	})
}

func TestRenderHostileWording(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		long := strings.Repeat("Organisation ", 40)[:500]
		hostile := []struct {
			name, in string
			want     string // what the certificate shows; empty when it may be cut
		}{
			{"control characters", "Acme\x00\x07 Aca\x1bdemy\u0085Ltd\x7f", "Acme Academy Ltd"},
			{"bidi override", "\u202eAcme Academy\u202c", "Acme Academy"},
			{"rtl and ltr marks", "\u200fAcme\u200e Academy\u2067", "Acme Academy"},
			{"zero-width characters", "Ac\u200bme\ufeff Academy", "Acme Academy"},
			{"beyond the BMP", "Acme 🎓 Academy 𝔄", "Acme \uFFFD Academy \uFFFD"},
			{"500 characters", long, ""},
			{"500 characters without a space", strings.Repeat("W", 500), ""},
			{"500 characters of Cyrillic", strings.Repeat("Щедрость ", 56)[:500], ""},
		}
		fields := []struct {
			name   string
			set    func(*Data, string)
			prefix string
		}{
			{"heading", func(d *Data, s string) { d.Heading = s }, ""},
			{"issuer", func(d *Data, s string) { d.Issuer = s }, "Issued by "},
			{"signatory name", func(d *Data, s string) { d.Signatory.Name = s }, ""},
			{"signatory role", func(d *Data, s string) { d.Signatory.Role = s }, ""},
			{"verification code", func(d *Data, s string) { d.Verification.Code = s }, "Verification code: "},
		}
		for _, f := range fields {
			for _, h := range hostile {
				t.Run(f.name+"/"+h.name, func(t *testing.T) {
					d := everything(t)
					f.set(&d, h.in)
					text := requireLaidOut(t, v, d).Text()
					if h.want != "" {
						require.Contains(t, text, f.prefix+h.want)
					}
				})
			}
		}
	})
}

func TestRenderEverythingAtItsLongestStaysOnPage(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		// words repeats word up to exactly n characters.
		words := func(n int, word string) string {
			return strings.TrimSpace(string([]rune(strings.Repeat(word+" ", n))[:n]))
		}
		url := "https://verify.example.com/certificates/"
		url += strings.Repeat("x", MaxVerificationURL-len(url))
		tests := []struct {
			name string
			word string
			logo []byte
		}{
			{"latin, wide logo", "Maximilian", logoPNG(t, 1000, 100)},
			{"latin, tall logo", "Datenschutz", logoPNG(t, 100, 1000)},
			{"cyrillic, square logo", "Александровна", logoJPEG(t, 200, 200)},
			{"wide letters", "WWWWWW", logoPNG(t, 600, 200)},
			{"no spaces at all", strings.Repeat("m", 600), logoPNG(t, 600, 200)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				requireLaidOut(t, v, Data{
					LearnerName:   words(200, tt.word),
					CourseTitle:   words(500, tt.word),
					CompletedAt:   time.Date(2029, 9, 30, 12, 0, 0, 0, time.UTC), // the longest month name
					CertificateID: strings.Repeat("W", 128),
					Heading:       words(500, tt.word),
					Issuer:        words(500, tt.word),
					Signatory:     Signatory{Name: words(500, tt.word), Role: words(500, tt.word)},
					Logo:          tt.logo,
					Verification:  &Verification{Code: words(500, tt.word), URL: url},
					ValidUntil:    time.Date(2031, 9, 30, 12, 0, 0, 0, time.UTC),
				})
			})
		}
	})
}

// validGoldenSHA256 is the SHA-256 of the sample with "Valid until", by
// renderer version: a certificate that expires is as fixed as one that does
// not.
var validGoldenSHA256 = map[int]string{
	Renderer1: "54c542f86b5e522c0f0eb11a329940440b686a401d10ffc88c0f804584082a83",
	Renderer2: "cb6f6b8f9541609324f1679714ac67d62303bf9cb0d5159d61862c7047eb3b15",
}

func TestRenderSaysUntilWhen(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		d := with(func(d *Data) { d.ValidUntil = time.Date(2020, 10, 17, 23, 30, 0, 0, time.FixedZone("EDT", -4*60*60)) })
		b, err := RenderVersion(v, d)
		require.NoError(t, err)
		text := read(t, b).Text()
		require.Contains(t, text, "Completed on 17 October 2019")
		require.Contains(t, text, "Valid until 18 October 2020", "the UTC date, as the completion's")
		sum := sha256.Sum256(b)
		require.Equal(t, validGoldenSHA256[v], hex.EncodeToString(sum[:]))
		requireLaidOut(t, v, with(func(d *Data) {
			d.ValidUntil = time.Date(2031, 9, 30, 0, 0, 0, 0, time.UTC)
			d.Signatory = Signatory{Name: "Jane Doe", Role: "Head of Learning"}
			d.Verification = &Verification{Code: "7KQ2M-X4D9R-0ZPV3-TNW8H", URL: "https://verify.example.com/certificates/7KQ2M-X4D9R-0ZPV3-TNW8H"}
		}))
	})
}

func TestRenderDrawsLogo(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		tests := []struct {
			name string
			logo []byte
			// the image embedded, as pdfimages lists it
			wantW, wantH int
		}{
			{"png", logoPNG(t, 300, 100), 300, 100},
			{"jpeg", logoJPEG(t, 300, 100), 300, 100},
			{"wide png is shrunk to the box at 300 dpi", logoPNG(t, 1500, 150), pixels(logoMaxW), 71},
			{"tall jpeg is shrunk to the box at 300 dpi", logoJPEG(t, 300, 1200), 47, pixels(logoMaxH)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d := with(func(d *Data) { d.Logo = tt.logo })
				b, err := RenderVersion(v, d)
				require.NoError(t, err)
				again, err := RenderVersion(v, d)
				require.NoError(t, err)
				require.Equal(t, b, again, "the same logo rendered different bytes")
				require.Contains(t, requireLaidOut(t, v, d).Text(), "Certificate of Completion")

				if _, err := exec.LookPath("pdfimages"); err != nil {
					t.Skip("pdfimages (poppler-utils) is not installed: cannot look at the embedded image")
				}
				path := writeTemp(t, b)
				out, err := exec.Command("pdfimages", "-list", path).CombinedOutput()
				require.NoError(t, err, "%s", out)
				// A header, a rule, then one line per image (plus one for a
				// soft mask): page num type width height ...
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				require.GreaterOrEqual(t, len(lines), 3, "%s", out)
				fields := strings.Fields(lines[2])
				require.Equal(t, []string{"image"}, fields[2:3])
				require.Equal(t, []string{itoa(tt.wantW), itoa(tt.wantH)}, fields[3:5], "%s", out)

				// And it is where it should be: the box's centre is red.
				_, drawn, err := renderVersion(v, d)
				require.NoError(t, err)
				logoBox := drawn[0]
				require.Equal(t, "logo", logoBox.what)
				px := raster(t, path, 50)
				c := px.At(mmToPx(logoBox.x+logoBox.w/2, 50), mmToPx(logoBox.y+logoBox.h/2, 50))
				r, g, bl, _ := c.RGBA()
				require.InDelta(t, 200, r>>8, 30, "logo centre is %v", c)
				require.InDelta(t, 30, g>>8, 30, "logo centre is %v", c)
				require.InDelta(t, 30, bl>>8, 30, "logo centre is %v", c)
			})
		}
	})
}

// TestRenderTakesEveryKindOfLogo covers the image types the decoders
// return, each of which reaches fpdf in a form it can read.
func TestRenderTakesEveryKindOfLogo(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		rect := image.Rect(0, 0, 90, 30)
		gray := image.NewGray(rect)
		gray16 := image.NewGray16(rect)
		opaque := image.NewRGBA(rect)
		paletted := image.NewPaletted(rect, color.Palette{color.Transparent, logoRed, color.NRGBA{R: 255, A: 128}})
		deep := image.NewNRGBA64(rect)
		for i := range rect.Dx() * rect.Dy() {
			x, y := i%rect.Dx(), i/rect.Dx()
			gray.SetGray(x, y, color.Gray{Y: uint8(x * 2)})
			gray16.SetGray16(x, y, color.Gray16{Y: uint16(x * 500)})
			opaque.SetRGBA(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: 90, A: 255})
			paletted.SetColorIndex(x, y, uint8(x%3))
			deep.SetNRGBA64(x, y, color.NRGBA64{R: 0xFFFF, A: uint16(x * 700)})
		}
		encode := func(img image.Image) []byte {
			var b bytes.Buffer
			require.NoError(t, png.Encode(&b, img))
			return b.Bytes()
		}
		var grayJPEG bytes.Buffer
		require.NoError(t, jpeg.Encode(&grayJPEG, gray, nil))
		tests := map[string][]byte{
			"gray png":          encode(gray),
			"16-bit gray png":   encode(gray16),
			"opaque rgb png":    encode(opaque),
			"paletted png":      encode(paletted),
			"16-bit png":        encode(deep),
			"gray jpeg":         grayJPEG.Bytes(),
			"colour jpeg":       logoJPEG(t, 90, 30),
			"png with alpha":    logoPNG(t, 90, 30),
			"one pixel":         encode(image.NewGray(image.Rect(0, 0, 1, 1))),
			"largest side, png": encode(image.NewGray(image.Rect(0, 0, 4096, 2))),
		}
		for name, b := range tests {
			t.Run(name, func(t *testing.T) {
				d := with(func(d *Data) { d.Logo = b })
				requireLaidOut(t, v, d)
				first, err := RenderVersion(v, d)
				require.NoError(t, err)
				again, err := RenderVersion(v, d)
				require.NoError(t, err)
				require.Equal(t, first, again)
			})
		}
	})
}

func TestRenderRefusesBadLogo(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		good := logoPNG(t, 40, 20)
		tests := map[string][]byte{
			"gif":       []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
			"garbage":   []byte("not an image at all"),
			"truncated": good[:len(good)-20],
		}
		for name, b := range tests {
			t.Run(name, func(t *testing.T) {
				require.Error(t, CheckLogo(b))
				pdf, err := RenderVersion(v, with(func(d *Data) { d.Logo = b }))
				require.ErrorIs(t, err, ErrInvalidData)
				require.ErrorContains(t, err, "logo")
				require.Nil(t, pdf)
			})
		}
		require.NoError(t, CheckLogo(good))
		require.EqualError(t, CheckLogo(nil), "logo is empty")
	})
}

func TestRenderSize(t *testing.T) {
	eachVersion(t, func(t *testing.T, v int) {
		const limit = 60 << 10
		b, err := RenderVersion(v, sample)
		require.NoError(t, err)
		require.Less(t, len(b), limit)
		b, err = RenderVersion(v, with(func(d *Data) {
			*d = everything(t)
			d.Logo = logoPNG(t, 600, 200)
		}))
		require.NoError(t, err)
		require.Less(t, len(b), limit, "with every optional part and a 600×200 logo")
	})
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "certificate.pdf")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// raster renders the PDF at path's page at dpi with pdftoppm.
func raster(t *testing.T, path string, dpi int) image.Image {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm (poppler-utils) is not installed: cannot rasterise the certificate")
	}
	prefix := filepath.Join(t.TempDir(), "page")
	out, err := exec.Command("pdftoppm", "-png", "-r", itoa(dpi), "-singlefile", path, prefix).CombinedOutput()
	require.NoError(t, err, "%s", out)
	f, err := os.ReadFile(prefix + ".png")
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(f))
	require.NoError(t, err)
	return img
}

func mmToPx(mm float64, dpi int) int {
	return int(mm / 25.4 * float64(dpi))
}

func itoa(n int) string { return strconv.Itoa(n) }
