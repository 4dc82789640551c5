package logo

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

// picture is a w×h image with a gradient, so shrinking has something to
// average, and a transparent left column when alpha is set.
func picture(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: uint8(x * 255 / w), G: 90, B: uint8(y * 255 / h), A: 255}
			if alpha && x == 0 {
				c = color.NRGBA{}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

func TestCheckRefuses(t *testing.T) {
	validPNG := encodePNG(t, picture(40, 20, true))
	validJPEG := encodeJPEG(t, picture(40, 20, false))
	var gifData bytes.Buffer
	require.NoError(t, gif.Encode(&gifData, picture(8, 8, false), nil))
	// A header that claims 5000 pixels costs only a few bytes.
	wide := encodePNG(t, image.NewGray(image.Rect(0, 0, MaxSide+1, 1)))
	tall := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, MaxSide+1)))
	huge := append(bytes.Clone(validPNG), make([]byte, MaxBytes)...)

	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"nil", nil, "logo is empty"},
		{"empty", []byte{}, "logo is empty"},
		{"gif", gifData.Bytes(), "logo is a GIF image; want PNG or JPEG"},
		{"garbage", []byte("definitely not an image, just some text"), "logo is not a PNG or JPEG image"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "logo is not a PNG or JPEG image"},
		{"png signature only", validPNG[:8], "logo is not a readable PNG image: unexpected EOF"},
		{"truncated png", validPNG[:len(validPNG)/2], "logo is not a readable PNG image: png: invalid format: not enough pixel data"},
		{"truncated jpeg", validJPEG[:len(validJPEG)/2], "logo is not a readable JPEG image: unexpected EOF"},
		{"png with a corrupt pixel stream", corruptIDAT(t, validPNG), "logo is not a readable PNG image"},
		{"too wide", wide, "logo is 4097×1 pixels; want at most 4096×4096"},
		{"too tall", tall, "logo is 8×4097 pixels; want at most 4096×4096"},
		{"too many bytes", huge, fmt.Sprintf("logo is %d bytes; want at most 2097152 (2 MiB)", len(huge))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.b)
			require.Error(t, err)
			require.ErrorContains(t, err, tt.want)
			_, err = Prepare(tt.b, 100, 100)
			require.ErrorContains(t, err, tt.want, "Prepare must refuse what Check refuses")
		})
	}
}

// corruptIDAT flips bytes inside the compressed pixel data of a PNG, after
// the header that DecodeConfig reads: only a full decode notices.
func corruptIDAT(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	i := bytes.Index(b, []byte("IDAT"))
	require.Positive(t, i)
	for j := i + 6; j < i+20; j++ {
		b[j] ^= 0xFF
	}
	return b
}

func TestCheckAccepts(t *testing.T) {
	tests := map[string][]byte{
		"png with alpha":  encodePNG(t, picture(40, 20, true)),
		"gray png":        encodePNG(t, image.NewGray(image.Rect(0, 0, 10, 10))),
		"16-bit png":      encodePNG(t, image.NewNRGBA64(image.Rect(0, 0, 10, 10))),
		"paletted png":    encodePNG(t, image.NewPaletted(image.Rect(0, 0, 10, 10), color.Palette{color.Black, color.Transparent})),
		"jpeg":            encodeJPEG(t, picture(40, 20, false)),
		"gray jpeg":       encodeJPEG(t, image.NewGray(image.Rect(0, 0, 10, 10))),
		"largest allowed": encodePNG(t, image.NewGray(image.Rect(0, 0, MaxSide, 1))),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, Check(b))
		})
	}
}

func TestPrepare(t *testing.T) {
	jpg := encodeJPEG(t, picture(40, 20, false))
	tests := []struct {
		name       string
		b          []byte
		maxW, maxH int
		wantType   string
		wantW      int
		wantH      int
	}{
		{"small jpeg is embedded as it is", jpg, 100, 100, JPEG, 40, 20},
		{"large jpeg is shrunk into a png", jpg, 20, 100, PNG, 20, 10},
		{"png is re-encoded at its size", encodePNG(t, picture(40, 20, true)), 100, 100, PNG, 40, 20},
		{"wide png is bound by the width", encodePNG(t, picture(400, 100, true)), 100, 50, PNG, 100, 25},
		{"tall png is bound by the height", encodePNG(t, picture(100, 400, true)), 100, 50, PNG, 13, 50},
		{"a sliver keeps one pixel", encodePNG(t, picture(4000, 2, false)), 100, 50, PNG, 100, 1},
		{"16-bit png becomes 8-bit", encodePNG(t, image.NewNRGBA64(image.Rect(0, 0, 10, 10))), 100, 100, PNG, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Prepare(tt.b, tt.maxW, tt.maxH)
			require.NoError(t, err)
			require.Equal(t, tt.wantType, img.Type)
			require.Equal(t, [2]int{tt.wantW, tt.wantH}, [2]int{img.Width, img.Height})
			if img.Type == JPEG {
				require.Equal(t, tt.b, img.Data)
				return
			}
			// fpdf reads only 8-bit, non-interlaced PNG.
			got, err := png.Decode(bytes.NewReader(img.Data))
			require.NoError(t, err)
			require.Equal(t, image.Pt(tt.wantW, tt.wantH), got.Bounds().Size())
			require.Contains(t, []color.Model{color.NRGBAModel, color.RGBAModel}, got.ColorModel())

			again, err := Prepare(tt.b, tt.maxW, tt.maxH)
			require.NoError(t, err)
			require.Equal(t, img, again, "preparing the same logo twice gave different bytes")
		})
	}
}

func TestShrinkAveragesPremultiplied(t *testing.T) {
	// Half opaque red, half fully transparent black: averaged straight, the
	// edge would turn dark red; premultiplied, it stays pure red at half
	// opacity.
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	src.SetNRGBA(0, 0, color.NRGBA{R: 255, A: 255})
	src.SetNRGBA(1, 0, color.NRGBA{})
	got := shrink(src, 1, 1)
	require.Equal(t, color.NRGBA{R: 255, A: 128}, got.NRGBAAt(0, 0))

	// A 1:1 shrink keeps every opaque pixel exactly.
	pic := picture(7, 5, true)
	same := shrink(pic, 7, 5)
	for y := range 5 {
		for x := range 7 {
			require.Equal(t, pic.NRGBAAt(x, y), same.NRGBAAt(x, y), "pixel %d,%d", x, y)
		}
	}
}
