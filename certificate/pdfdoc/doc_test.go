package pdfdoc

import (
	"bytes"
	"fmt"
	goimage "image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

const mm = 72 / 25.4

// draw makes a document with one of everything.
func draw(t *testing.T) *Document {
	t.Helper()
	regular, bold := parse(t, goregular.TTF), parse(t, gobold.TTF)
	d := New(841.89, 595.28, mm)
	d.SetInfo(Info{Title: "Zertifikat über (die) Teilnahme", Creator: "test (x)", Created: time.Date(2019, 10, 17, 20, 50, 53, 0, time.UTC)})
	d.SetStrokeColor(0x1C, 0x34, 0x5C)
	d.SetLineWidth(1.5)
	d.StrokeRect(9, 9, 279, 192)
	d.Line(100, 50, 200, 50)
	d.SetFillColor(0xB0, 0x8D, 0x48)
	d.FillRect(20, 20, 3, 3)
	d.AddBox(30, 30, 35, 35)
	d.AddBox(35, 30, 40, 35)
	d.FillPath()
	d.SetFont(bold, 34)
	d.SetTextColor(0x1C, 0x34, 0x5C)
	d.Text(40, 60, "Certificate of Completion")
	d.SetFont(regular, 15)
	d.SetTextColor(100, 100, 100)
	d.Text(40, 80, "Алексей Смирнов, Αλέξανδρος, Zoë Łukasiewicz")
	d.Text(40, 100, "Eve (x) \\ ) << %%EOF")
	return d
}

func output(t *testing.T, d *Document) []byte {
	t.Helper()
	b, err := d.Bytes()
	require.NoError(t, err)
	return b
}

func TestDocumentReadsBack(t *testing.T) {
	b := output(t, draw(t))
	require.True(t, bytes.HasPrefix(b, []byte("%PDF-1.4\n")))
	require.True(t, bytes.HasSuffix(b, []byte("%%EOF\n")))

	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, 1, r.NumPage())
	info := r.Trailer().Key("Info")
	require.Equal(t, "Zertifikat über (die) Teilnahme", info.Key("Title").Text())
	require.Equal(t, "test (x)", info.Key("Creator").Text())
	require.Equal(t, "D:20191017205053Z", info.Key("CreationDate").Text())
	require.Equal(t, "D:20191017205053Z", info.Key("ModDate").Text())
	box := r.Page(1).V.Key("MediaBox")
	require.Equal(t, 841.89, box.Index(2).Float64())
	require.Equal(t, 595.28, box.Index(3).Float64())

	// ToUnicode maps glyph by glyph, which ledongthuc/pdf reads right.
	text, err := r.Page(1).GetPlainText(nil)
	require.NoError(t, err)
	for _, want := range []string{"Certificate of Completion", "Алексей Смирнов, Αλέξανδρος, Zoë Łukasiewicz", "Eve (x) \\ ) << %%EOF"} {
		require.Contains(t, text, want)
	}
	fonts := r.Page(1).Fonts()
	require.Len(t, fonts, 2)
}

func TestDocumentIsDeterministic(t *testing.T) {
	a, b := output(t, draw(t)), output(t, draw(t))
	require.Equal(t, a, b)
}

func TestPDFDate(t *testing.T) {
	at := time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)
	require.Equal(t, "D:20240305060708Z", pdfDate(at))
	// The local time is written with its offset from UTC.
	require.Equal(t, "D:20240305113708+05'30'", pdfDate(at.In(time.FixedZone("IST", 5*3600+1800))))
	require.Equal(t, "D:20240305020708-04'00'", pdfDate(at.In(time.FixedZone("EDT", -4*3600))))
}

func TestDocumentLeavesOutUnusedFonts(t *testing.T) {
	regular, bold := parse(t, goregular.TTF), parse(t, gobold.TTF)
	d := New(595.28, 841.89, 1)
	d.SetFont(bold, 10)
	d.SetFont(regular, 10)
	d.Text(10, 10, "only regular")
	b := output(t, d)
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, []string{"F2"}, r.Page(1).Fonts())
	require.NotContains(t, string(b), "Go-Bold")
}

func TestDocumentFailsOnMisuse(t *testing.T) {
	tests := map[string]struct {
		draw func(d *Document)
		want string
	}{
		"text without a font":   {func(d *Document) { d.Text(1, 1, "x") }, "before a font"},
		"image that is not one": {func(d *Document) { d.Image([]byte("GIF89a"), 1, 1, 1, 1) }, "not a PNG or JPEG"},
		"path never filled":     {func(d *Document) { d.AddBox(1, 1, 2, 2) }, "not filled"},
		"drawing inside a path": {func(d *Document) { d.AddBox(1, 1, 2, 2); d.Line(0, 0, 1, 1); d.FillPath() }, "before FillPath"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := New(100, 100, 1)
			tt.draw(d)
			b, err := d.Bytes()
			require.ErrorContains(t, err, tt.want)
			require.Nil(t, b)
		})
	}
}

func TestAppendFixedRoundsAsPrintf(t *testing.T) {
	for _, v := range []float64{0, 1, -1, 0.5, 0.004, -0.004, 0.005, 0.015, 1.125, 2.675, 123.456, 841.89, 595.28, -544.25, 1e6 / 3} {
		for _, decimals := range []int{2, 3, 5} {
			want := fmt.Sprintf("%.*f", decimals, v)
			if strings.Contains(want, ".") {
				want = strings.TrimRight(strings.TrimRight(want, "0"), ".")
			}
			if want == "-0" {
				want = "0"
			}
			require.Equal(t, want, string(appendFixed(nil, v, decimals)), "%v to %d", v, decimals)
		}
	}
}

// TestTextTheFontCannotDrawIsStillExtracted: a character without a glyph is
// drawn as .notdef, and its text is kept as ActualText, which poppler
// extracts.
func TestTextTheFontCannotDrawIsStillExtracted(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	regular := parse(t, goregular.TTF)
	d := New(595.28, 841.89, 1)
	d.SetFont(regular, 12)
	d.Text(50, 50, "Wang 王伟 (Ω)")
	d.Text(50, 80, "plain")
	b := output(t, d)
	out, err := exec.Command("pdftotext", writeTemp(t, b), "-").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Wang 王伟 (Ω)")
	require.Contains(t, string(out), "plain")
	require.Equal(t, 1, strings.Count(inflateAll(t, b), "/ActualText"), "only the line that needs it says what it is")
}

// inflateAll is the document with its zlib streams inflated, for looking
// at content streams.
func inflateAll(t *testing.T, b []byte) string {
	t.Helper()
	var out strings.Builder
	for {
		i := bytes.Index(b, []byte("stream\n"))
		if i < 0 {
			out.Write(b)
			return out.String()
		}
		j := bytes.Index(b[i:], []byte("\nendstream"))
		require.GreaterOrEqual(t, j, 0, "a stream without its endstream")
		out.Write(b[:i])
		if bytes.Contains(b[max(0, i-200):i], []byte("/FlateDecode")) && !bytes.Contains(b[max(0, i-200):i], []byte("/Image")) {
			out.Write(inflate(t, b[i+7:i+j]))
		}
		// Past the keyword, which itself ends in "stream".
		b = b[i+j+len("\nendstream"):]
	}
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// pattern is a value for each pixel that changes in ways that make the PNG
// encoder choose different row filters.
func pattern(x, y, salt int) uint8 {
	switch y % 4 {
	case 0:
		return uint8(x*3 + salt)
	case 1:
		return uint8((x*x + y*7 + salt) % 251)
	case 2:
		return uint8(y*5 + salt)
	}
	return uint8((x ^ y) * (salt + 1))
}

func encodePNG(t *testing.T, img goimage.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// TestImagesDecodeExactly embeds PNGs of each kind the standard encoder
// writes and extracts them again with pdfimages: every pixel, and every
// alpha value, must come back unchanged.
func TestImagesDecodeExactly(t *testing.T) {
	if _, err := exec.LookPath("pdfimages"); err != nil {
		t.Skip("pdfimages (poppler-utils) is not installed")
	}
	const w, h = 37, 23
	rect := goimage.Rect(0, 0, w, h)
	gray, gray16 := goimage.NewGray(rect), goimage.NewGray16(rect)
	rgb, rgba, rgba16 := goimage.NewNRGBA(rect), goimage.NewNRGBA(rect), goimage.NewNRGBA64(rect)
	palette := color.Palette{}
	for i := range 40 {
		palette = append(palette, color.NRGBA{R: uint8(i * 6), G: uint8(255 - i*5), B: uint8(i * i), A: 255})
	}
	paletted := goimage.NewPaletted(rect, palette)
	for y := range h {
		for x := range w {
			gray.SetGray(x, y, color.Gray{Y: pattern(x, y, 1)})
			gray16.SetGray16(x, y, color.Gray16{Y: uint16(pattern(x, y, 2))<<8 | uint16(pattern(y, x, 3))})
			rgb.SetNRGBA(x, y, color.NRGBA{R: pattern(x, y, 4), G: pattern(x, y, 5), B: pattern(x, y, 6), A: 255})
			rgba.SetNRGBA(x, y, color.NRGBA{R: pattern(x, y, 7), G: pattern(x, y, 8), B: pattern(x, y, 9), A: pattern(x, y, 10)})
			rgba16.SetNRGBA64(x, y, color.NRGBA64{R: uint16(pattern(x, y, 11)) << 8, G: uint16(pattern(x, y, 12)) << 8, B: 0x8080, A: uint16(pattern(x, y, 13))<<8 | 0xFF})
			paletted.SetColorIndex(x, y, pattern(x, y, 14)%40)
		}
	}
	tests := map[string]struct {
		img       goimage.Image
		wantColor string // as pdfimages -list says
		wantBits  string
		alpha     bool
	}{
		"gray":        {gray, "gray", "8", false},
		"16-bit gray": {gray16, "gray", "16", false},
		"rgb":         {rgb, "rgb", "8", false},
		"rgba":        {rgba, "rgb", "8", true},
		"16-bit rgba": {rgba16, "rgb", "16", true},
		"paletted":    {paletted, "index", "8", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := New(200, 200, 1)
			d.Image(encodePNG(t, tt.img), 10, 10, 100, 60)
			path := writeTemp(t, output(t, d))

			out, err := exec.Command("pdfimages", "-list", path).CombinedOutput()
			require.NoError(t, err, "%s", out)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			wantLines := 3
			if tt.alpha {
				wantLines = 4
			}
			require.Len(t, lines, wantLines, "%s", out)
			fields := strings.Fields(lines[2])
			require.Equal(t, []string{"image", itoa(w), itoa(h), tt.wantColor}, fields[2:6], "%s", out)
			require.Equal(t, tt.wantBits, fields[7], "%s", out)

			prefix := filepath.Join(t.TempDir(), "x")
			out, err = exec.Command("pdfimages", "-png", path, prefix).CombinedOutput()
			require.NoError(t, err, "%s", out)
			got := decodePNG(t, prefix+"-000.png")
			var mask goimage.Image
			if tt.alpha {
				mask = decodePNG(t, prefix+"-001.png")
			}
			for y := range h {
				for x := range w {
					// pdfimages writes 8 bits a component whatever the
					// depth (-list above checked it is 16 inside), so the
					// top 8 bits are what can be compared.
					want := straight(tt.img, x, y)
					c := straight(got, x, y)
					require.Equal(t, [3]uint16{want.R >> 8, want.G >> 8, want.B >> 8}, [3]uint16{c.R >> 8, c.G >> 8, c.B >> 8}, "colour at %d,%d", x, y)
					if tt.alpha {
						a := color.Gray16Model.Convert(mask.At(x, y)).(color.Gray16)
						require.Equal(t, want.A>>8, a.Y>>8, "alpha at %d,%d", x, y)
					}
				}
			}
		})
	}
}

// straight is the pixel at x, y without alpha premultiplied, taken as
// stored where the image keeps it that way: converting through the
// premultiplied colour model would round a translucent pixel's colour.
func straight(img goimage.Image, x, y int) color.NRGBA64 {
	switch img := img.(type) {
	case *goimage.NRGBA:
		c := img.NRGBAAt(x, y)
		return color.NRGBA64{R: uint16(c.R) * 0x101, G: uint16(c.G) * 0x101, B: uint16(c.B) * 0x101, A: uint16(c.A) * 0x101}
	case *goimage.NRGBA64:
		return img.NRGBA64At(x, y)
	}
	return color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
}

func decodePNG(t *testing.T, path string) goimage.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	return img
}

func TestJPEGIsEmbeddedAsItIs(t *testing.T) {
	if _, err := exec.LookPath("pdfimages"); err != nil {
		t.Skip("pdfimages (poppler-utils) is not installed")
	}
	rect := goimage.Rect(0, 0, 40, 30)
	gray, colour := goimage.NewGray(rect), goimage.NewNRGBA(rect)
	for y := range 30 {
		for x := range 40 {
			gray.SetGray(x, y, color.Gray{Y: pattern(x, y, 1)})
			colour.SetNRGBA(x, y, color.NRGBA{R: pattern(x, y, 2), G: 90, B: pattern(y, x, 3), A: 255})
		}
	}
	for name, img := range map[string]goimage.Image{"gray": gray, "colour": colour} {
		t.Run(name, func(t *testing.T) {
			var j bytes.Buffer
			require.NoError(t, jpeg.Encode(&j, img, nil))
			d := New(200, 200, 1)
			d.Image(j.Bytes(), 10, 10, 40, 30)
			prefix := filepath.Join(t.TempDir(), "x")
			out, err := exec.Command("pdfimages", "-j", writeTemp(t, output(t, d)), prefix).CombinedOutput()
			require.NoError(t, err, "%s", out)
			got, err := os.ReadFile(prefix + "-000.jpg")
			require.NoError(t, err)
			require.Equal(t, j.Bytes(), got)
		})
	}
}

func TestImagesItCannotEmbed(t *testing.T) {
	rect := goimage.Rect(0, 0, 4, 4)
	transparentPalette := goimage.NewPaletted(rect, color.Palette{color.Transparent, color.Black})
	interlaced := encodePNG(t, goimage.NewGray(rect))
	interlaced[8+8+12] = 1 // IHDR's interlace method
	cmyk := goimage.NewCMYK(rect)
	var cmykJPEG bytes.Buffer
	require.NoError(t, jpeg.Encode(&cmykJPEG, cmyk, nil))
	tests := map[string]struct {
		data []byte
		want string
	}{
		"palette with transparency": {encodePNG(t, transparentPalette), "tRNS"},
		"interlaced":                {interlaced, "interlaced"},
		"truncated":                 {encodePNG(t, goimage.NewGray(rect))[:30], "truncated"},
		"gif":                       {[]byte("GIF89a"), "not a PNG or JPEG"},
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(cmykJPEG.Bytes())); err == nil && cfg.ColorModel == color.CMYKModel {
		tests["cmyk jpeg"] = struct {
			data []byte
			want string
		}{cmykJPEG.Bytes(), "CMYK"}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			d := New(100, 100, 1)
			d.Image(tt.data, 0, 0, 10, 10)
			_, err := d.Bytes()
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
