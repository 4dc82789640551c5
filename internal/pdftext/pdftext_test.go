package pdftext_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/coursehook/coursehook/certificate"
	"github.com/coursehook/coursehook/internal/pdftext"
	"github.com/stretchr/testify/require"
)

func render(t testing.TB, learner, course string) []byte {
	t.Helper()
	b, err := certificate.Render(certificate.Data{
		LearnerName:   learner,
		CourseTitle:   course,
		CompletedAt:   time.Date(2019, 10, 17, 20, 50, 53, 0, time.UTC),
		CertificateID: "evt_1FUfx9Jq7sMRu3Bo",
	})
	require.NoError(t, err)
	return b
}

func TestReadRoundTrip(t *testing.T) {
	// Cyrillic is past U+00FF, where ledongthuc/pdf's own decoding goes
	// wrong; Ł is the example in the package doc.
	const learner, course = "Алексей Смирнов-Łukasiewicz", "Основы информационной безопасности"
	doc, err := pdftext.Read(render(t, learner, course))
	require.NoError(t, err)

	require.Len(t, doc.Pages, 1)
	page := doc.Pages[0]
	// Landscape A4.
	require.InDelta(t, 297*72/25.4, page.Width, 0.01)
	require.InDelta(t, 210*72/25.4, page.Height, 0.01)

	text := doc.Text()
	for _, want := range []string{"Certificate of Completion", learner, course, "Completed on 17 October 2019"} {
		require.Contains(t, text, want)
	}

	var found bool
	for _, p := range page.Pieces {
		require.Positive(t, p.Size, "piece %q has no font size", p.Text)
		require.True(t, p.X > 0 && p.X < page.Width && p.Y > 0 && p.Y < page.Height, "piece %q at (%v, %v) is off the page", p.Text, p.X, p.Y)
		if p.Text == learner {
			found = true
		}
	}
	require.True(t, found, "the name is not one piece of its own")
}

func TestDocumentText(t *testing.T) {
	doc := pdftext.Document{Pages: []pdftext.Page{
		{Pieces: []pdftext.Piece{{Text: "a long"}, {Text: "title"}}},
		{},
		{Pieces: []pdftext.Piece{{Text: "page three"}}},
	}}
	require.Equal(t, "a long title page three", doc.Text())
	require.Empty(t, pdftext.Document{}.Text())
}

func TestReadRejectsGarbage(t *testing.T) {
	valid := render(t, "Bob Johnson", "New Student Orientation")
	tests := map[string][]byte{
		"nil":                 nil,
		"garbage":             []byte("this is not a PDF at all, just some bytes \x00\xff\x10"),
		"header":              []byte("%PDF-1.4\n"),
		"half":                valid[:len(valid)/2],
		"no trailer":          valid[:len(valid)-40],
		"xref points at junk": bytes.Replace(valid, []byte("\nstartxref\n"), []byte("\nstartxref\n1"), 1),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			doc, err := pdftext.Read(b)
			require.Error(t, err)
			require.Empty(t, doc.Pages)
		})
	}
}

// TestReadNeverPanics cuts and corrupts a real certificate at many points:
// whatever ledongthuc/pdf makes of it, Read returns rather than panics.
func TestReadNeverPanics(t *testing.T) {
	valid := render(t, "Bob Johnson", "New Student Orientation")
	check := func(b []byte) {
		require.NotPanics(t, func() {
			if doc, err := pdftext.Read(b); err != nil {
				require.Empty(t, doc.Pages)
			}
		})
	}
	step := max(1, len(valid)/300)
	for n := 0; n < len(valid); n += step {
		check(valid[:n])
		corrupt := bytes.Clone(valid)
		corrupt[n] ^= 0x5A
		check(corrupt)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(render(f, "Bob Johnson", "New Student Orientation"))
	f.Add([]byte("%PDF-1.4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if doc, err := pdftext.Read(b); err != nil && len(doc.Pages) != 0 {
			t.Fatalf("error %v with %d pages", err, len(doc.Pages))
		}
	})
}
