package pdfdoc

import (
	"bytes"
	goimage "image"
	"image/color"
	"image/jpeg"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/font/gofont/goregular"
)

// TestParsedImageIsShared draws one parsed image in documents that number
// its objects differently (one has a font before it, one has not, one draws
// it twice) from many goroutines at once. Each must be byte for byte the
// document that parses the file itself, and under -race any write to the
// shared Image fails.
func TestParsedImageIsShared(t *testing.T) {
	regular := parse(t, goregular.TTF)
	rect := goimage.Rect(0, 0, 30, 20)
	withAlpha := goimage.NewNRGBA(rect)
	opaque := goimage.NewNRGBA(rect)
	for y := range 20 {
		for x := range 30 {
			withAlpha.SetNRGBA(x, y, color.NRGBA{R: pattern(x, y, 1), G: pattern(x, y, 2), B: 90, A: pattern(x, y, 3)})
			opaque.SetNRGBA(x, y, color.NRGBA{R: pattern(x, y, 4), G: 40, B: pattern(x, y, 5), A: 255})
		}
	}
	var j bytes.Buffer
	require.NoError(t, jpeg.Encode(&j, opaque, nil))
	files := map[string][]byte{"png with alpha": encodePNG(t, withAlpha), "jpeg": j.Bytes()}

	// layouts draw an image, given by draw, into a document.
	layouts := []func(d *Document, draw func(d *Document, x float64)){
		func(d *Document, draw func(*Document, float64)) { draw(d, 10) },
		func(d *Document, draw func(*Document, float64)) {
			d.SetFont(regular, 12)
			d.Text(10, 10, "Before the image")
			draw(d, 20)
		},
		func(d *Document, draw func(*Document, float64)) {
			draw(d, 10)
			d.SetFont(regular, 12)
			d.Text(10, 10, "Between")
			draw(d, 50)
		},
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			img, err := ParseImage(data)
			require.NoError(t, err)
			want := make([][]byte, len(layouts))
			for i, layout := range layouts {
				d := New(200, 100, 1)
				layout(d, func(d *Document, x float64) { d.Image(data, x, 10, 30, 20) })
				want[i] = output(t, d)
			}

			const n = 24
			got := make([][]byte, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					d := New(200, 100, 1)
					layouts[i%len(layouts)](d, func(d *Document, x float64) { d.DrawImage(img, x, 10, 30, 20) })
					got[i], errs[i] = d.Bytes()
				})
			}
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i])
				require.Equal(t, want[i%len(layouts)], got[i], "document %d", i)
			}
		})
	}
}

func TestParseImageRefuses(t *testing.T) {
	_, err := ParseImage([]byte("GIF89a"))
	require.ErrorContains(t, err, "not a PNG or JPEG")
}
