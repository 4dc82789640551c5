// Package logo checks and prepares the image a certificate shows above its
// heading. It needs only the standard image packages, so configuration code
// can refuse a bad logo at load time without linking the PDF library.
package logo

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
)

// Limits on a logo file. It is drawn a few centimetres wide, so anything
// larger only costs decoding time on every certificate; the side bound also
// keeps a small file that decodes to an enormous bitmap out.
const (
	MaxBytes = 2 << 20
	MaxSide  = 4096
)

// Embeddable image types, named as fpdf names them.
const (
	PNG  = "PNG"
	JPEG = "JPG"
)

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	gifMagic  = []byte("GIF8")
)

// Image is a logo ready to embed in a PDF.
type Image struct {
	Data          []byte // the file to embed, of type Type
	Type          string // PNG or JPEG
	Width, Height int    // in pixels
}

// Check reports why b cannot be a certificate logo, or returns nil: b must be
// a PNG or JPEG of at most MaxBytes bytes and MaxSide pixels a side, and must
// decode in full, so a truncated file is refused here rather than when a
// certificate is rendered.
func Check(b []byte) error {
	_, _, err := decode(b)
	return err
}

// Prepare checks b as Check does and returns the image to embed, at most
// maxW×maxH pixels with its aspect kept. A JPEG that is small enough and in a
// colour space every PDF reader draws is embedded as it is; anything else is
// decoded, shrunk if need be and re-encoded as PNG, which also gives fpdf
// only the plain 8-bit, non-interlaced PNG it can read. The result depends
// on the arguments alone, so certificates stay byte-for-byte reproducible.
func Prepare(b []byte, maxW, maxH int) (Image, error) {
	img, format, err := decode(b)
	if err != nil {
		return Image{}, err
	}
	size := img.Bounds().Size()
	w, h := fitInside(size.X, size.Y, maxW, maxH)
	if format == JPEG && w == size.X && h == size.Y {
		switch img.(type) {
		case *image.YCbCr, *image.Gray:
			return Image{Data: b, Type: JPEG, Width: w, Height: h}, nil
		}
	}
	// The 8-bit types the PNG decoder returns need no conversion at their
	// own size; everything else goes through shrink, which makes 8-bit NRGBA.
	out := img
	switch img.(type) {
	case *image.NRGBA, *image.RGBA, *image.Gray:
		if w != size.X || h != size.Y {
			out = shrink(img, w, h)
		}
	default:
		out = shrink(img, w, h)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return Image{}, fmt.Errorf("re-encode logo: %w", err)
	}
	return Image{Data: buf.Bytes(), Type: PNG, Width: w, Height: h}, nil
}

// decode checks b and decodes it. The format comes from the magic bytes,
// not from the decoders registered with package image, so a GIF decoder
// linked in elsewhere cannot make a GIF acceptable.
func decode(b []byte) (image.Image, string, error) {
	var (
		format, kind string // kind is the format's name in messages
		decodeConfig func(*bytes.Reader) (image.Config, error)
		decodeImage  func(*bytes.Reader) (image.Image, error)
	)
	switch {
	case len(b) == 0:
		return nil, "", errors.New("logo is empty")
	case len(b) > MaxBytes:
		return nil, "", fmt.Errorf("logo is %d bytes; want at most %d (%d MiB)", len(b), MaxBytes, MaxBytes>>20)
	case bytes.HasPrefix(b, pngMagic):
		format, kind = PNG, "PNG"
		decodeConfig = func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) }
		decodeImage = func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) }
	case bytes.HasPrefix(b, jpegMagic):
		format, kind = JPEG, "JPEG"
		decodeConfig = func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) }
		decodeImage = func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) }
	case bytes.HasPrefix(b, gifMagic):
		return nil, "", errors.New("logo is a GIF image; want PNG or JPEG")
	default:
		return nil, "", errors.New("logo is not a PNG or JPEG image")
	}
	// The header alone bounds the bitmap before anything is allocated for it.
	cfg, err := decodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("logo is not a readable %s image: %w", kind, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return nil, "", fmt.Errorf("logo is %d×%d pixels; want at most %d×%d", cfg.Width, cfg.Height, MaxSide, MaxSide)
	}
	img, err := decodeImage(bytes.NewReader(b))
	if err != nil {
		return nil, "", fmt.Errorf("logo is not a readable %s image: %w", kind, err)
	}
	return img, format, nil
}

// fitInside returns the largest size with w:h's aspect, rounded, that fits
// maxW×maxH without growing the image, and never less than one pixel a side.
func fitInside(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	// Compare maxW/w with maxH/h in integers to pick the binding side.
	if maxW*h <= maxH*w {
		return maxW, max(1, (h*maxW+w/2)/w)
	}
	return max(1, (w*maxH+h/2)/h), maxH
}

// shrink returns img as 8-bit NRGBA at w×h, each pixel the average of the
// source pixels under it. The average is taken over premultiplied colour,
// so transparent pixels do not darken the edges of what is drawn, and in
// integers, so every machine gets the same bytes.
func shrink(img image.Image, w, h int) *image.NRGBA {
	b := img.Bounds()
	// draw.Draw has fast paths into RGBA from the types the decoders return.
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	sw, sh := b.Dx(), b.Dy()

	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for dy := range h {
		y0, y1 := dy*sh/h, (dy+1)*sh/h
		y1 = max(y1, y0+1)
		for dx := range w {
			x0, x1 := dx*sw/w, (dx+1)*sw/w
			x1 = max(x1, x0+1)
			var r, g, bl, a, n int
			for y := y0; y < y1; y++ {
				row := src.Pix[y*src.Stride+x0*4 : y*src.Stride+x1*4]
				for i := 0; i < len(row); i += 4 {
					r += int(row[i])
					g += int(row[i+1])
					bl += int(row[i+2])
					a += int(row[i+3])
					n++
				}
			}
			dst.SetNRGBA(dx, dy, unpremultiply(r, g, bl, a, n))
		}
	}
	return dst
}

// unpremultiply turns sums of n premultiplied pixels into their mean as
// straight (non-premultiplied) colour, rounding to nearest.
func unpremultiply(r, g, b, a, n int) color.NRGBA {
	if a == 0 {
		return color.NRGBA{}
	}
	straight := func(c int) uint8 {
		return uint8(min(255, (c*255+a/2)/a))
	}
	return color.NRGBA{R: straight(r), G: straight(g), B: straight(b), A: uint8((a + n/2) / n)}
}
