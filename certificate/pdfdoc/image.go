package pdfdoc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"image/color"
	"image/jpeg"
	"io"
	"strconv"
)

// Image is a PNG or JPEG image made ready to embed: its chunks read, its
// alpha channel split off and compressed. Making it ready is most of what
// drawing an image costs, so a caller that draws the same image in many
// documents parses it once with ParseImage and draws it with DrawImage, as
// it parses a font once with ParseFont. An Image is never modified once
// parsed, so any number of documents may draw it at once.
type Image struct {
	width, height int
	colourSpace   string
	bits          int
	filter        string // FlateDecode or DCTDecode
	// decodeParms undoes PNG's row filters, which a PNG's compressed data
	// keeps, sparing a decode and re-encode.
	decodeParms string
	data        []byte
	mask        *Image // the soft mask (the alpha channel), if any
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
)

// ParseImage makes a PNG or JPEG file ready to draw. A JPEG is embedded as
// it is, without a copy, so data must not change while the Image is in use.
func ParseImage(data []byte) (*Image, error) {
	switch {
	case bytes.HasPrefix(data, pngMagic):
		img, err := newPNG(data)
		if err != nil {
			return nil, fmt.Errorf("embed PNG image: %w", err)
		}
		return img, nil
	case bytes.HasPrefix(data, jpegMagic):
		img, err := newJPEG(data)
		if err != nil {
			return nil, fmt.Errorf("embed JPEG image: %w", err)
		}
		return img, nil
	}
	return nil, errors.New("embed image: not a PNG or JPEG image")
}

// newJPEG embeds a JPEG file as it is: PDF readers decode JPEG themselves.
func newJPEG(data []byte) (*Image, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	img := &Image{width: cfg.Width, height: cfg.Height, bits: 8, filter: "DCTDecode", data: data}
	switch cfg.ColorModel {
	case color.GrayModel:
		img.colourSpace = "/DeviceGray"
	case color.YCbCrModel:
		img.colourSpace = "/DeviceRGB"
	default:
		// Adobe's CMYK JPEGs are stored inverted, which PDF cannot be
		// told without reading the file's markers: convert such images
		// to PNG first.
		return nil, errors.New("CMYK JPEG is not supported")
	}
	return img, nil
}

// PNG colour types.
const (
	pngGray      = 0
	pngRGB       = 2
	pngPaletted  = 3
	pngGrayAlpha = 4
	pngRGBA      = 6
)

// newPNG embeds a non-interlaced PNG. Its compressed pixel data goes into
// the PDF unchanged unless it has an alpha channel, which PDF keeps in a
// separate image, the soft mask.
func newPNG(data []byte) (*Image, error) {
	var (
		header  []byte
		palette []byte
		pixels  []byte
	)
	for p := len(pngMagic); ; {
		if p+8 > len(data) {
			return nil, errors.New("truncated chunk")
		}
		length, kind := int(binary.BigEndian.Uint32(data[p:])), string(data[p+4:p+8])
		if length < 0 || length > len(data)-p-12 {
			return nil, fmt.Errorf("truncated %s chunk", kind)
		}
		body := data[p+8 : p+8+length]
		p += 12 + length
		switch kind {
		case "IHDR":
			header = body
		case "PLTE":
			palette = body
		case "tRNS":
			return nil, errors.New("transparency without an alpha channel (tRNS) is not supported")
		case "IDAT":
			pixels = append(pixels, body...)
		}
		if kind == "IEND" {
			break
		}
	}
	if len(header) != 13 {
		return nil, errors.New("missing or malformed IHDR chunk")
	}
	img := &Image{
		width:  int(binary.BigEndian.Uint32(header)),
		height: int(binary.BigEndian.Uint32(header[4:])),
		bits:   int(header[8]),
		filter: "FlateDecode",
	}
	kind, interlaced := header[9], header[12] != 0
	if img.width <= 0 || img.height <= 0 || img.width > 1<<16 || img.height > 1<<16 {
		return nil, fmt.Errorf("%d×%d pixels is out of range", img.width, img.height)
	}
	if interlaced {
		return nil, errors.New("interlaced PNG is not supported")
	}
	if len(pixels) == 0 {
		return nil, errors.New("no image data")
	}
	var colours int
	switch kind {
	case pngGray, pngGrayAlpha:
		img.colourSpace, colours = "/DeviceGray", 1
	case pngRGB, pngRGBA:
		img.colourSpace, colours = "/DeviceRGB", 3
	case pngPaletted:
		if len(palette) == 0 || len(palette)%3 != 0 || len(palette) > 3*256 {
			return nil, errors.New("missing or malformed palette")
		}
		var cs bytes.Buffer
		fmt.Fprintf(&cs, "[/Indexed /DeviceRGB %d <", len(palette)/3-1)
		for _, c := range palette {
			cs.WriteByte(hexDigits[c>>4])
			cs.WriteByte(hexDigits[c&0xF])
		}
		cs.WriteString(">]")
		img.colourSpace, colours = cs.String(), 1
	default:
		return nil, fmt.Errorf("colour type %d is not a PNG colour type", kind)
	}
	switch {
	case img.bits == 8 || img.bits == 16 && kind != pngPaletted:
	case img.bits < 8 && (kind == pngGray || kind == pngPaletted) && 8%img.bits == 0:
	default:
		return nil, fmt.Errorf("bit depth %d is not supported for colour type %d", img.bits, kind)
	}
	img.decodeParms = predictor(colours, img.bits, img.width)
	if kind != pngGrayAlpha && kind != pngRGBA {
		img.data = pixels
		return img, nil
	}
	if err := img.splitAlpha(pixels, colours); err != nil {
		return nil, err
	}
	return img, nil
}

func predictor(colours, bits, columns int) string {
	return " /DecodeParms << /Predictor 15 /Colors " + strconv.Itoa(colours) +
		" /BitsPerComponent " + strconv.Itoa(bits) + " /Columns " + strconv.Itoa(columns) + " >>"
}

// splitAlpha separates the alpha channel from the colour channels. PNG
// filters a byte using only the same byte of the pixel to its left and of
// the pixels above, so each channel's filtered bytes, with each row's
// filter type, are a validly filtered image of their own: the rows need
// not be unfiltered to be split.
func (img *Image) splitAlpha(compressed []byte, colours int) error {
	sample := img.bits / 8
	pixel := (colours + 1) * sample
	row := 1 + img.width*pixel
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return fmt.Errorf("image data: %w", err)
	}
	raw := make([]byte, row*img.height)
	if _, err := io.ReadFull(zr, raw); err != nil {
		return fmt.Errorf("image data: %w", err)
	}
	colourRow, alphaRow := 1+img.width*colours*sample, 1+img.width*sample
	colour := make([]byte, 0, colourRow*img.height)
	alpha := make([]byte, 0, alphaRow*img.height)
	for y := range img.height {
		line := raw[y*row : (y+1)*row]
		colour = append(colour, line[0])
		alpha = append(alpha, line[0])
		for x := 1; x < len(line); x += pixel {
			colour = append(colour, line[x:x+pixel-sample]...)
			alpha = append(alpha, line[x+pixel-sample:x+pixel]...)
		}
	}
	img.data = zlibCompress(nil, colour)
	img.mask = &Image{
		width: img.width, height: img.height, bits: img.bits, colourSpace: "/DeviceGray",
		filter: "FlateDecode", decodeParms: predictor(1, img.bits, img.width),
		data: zlibCompress(nil, alpha),
	}
	return nil
}

// objects is how many PDF objects the image takes: itself and its soft
// mask, if any.
func (img *Image) objects() int {
	if img.mask == nil {
		return 1
	}
	return 2
}

// write writes the image as object obj, and its soft mask as obj+1. The
// numbers are the document's, not the image's, which other documents may
// be writing at the same time.
func (img *Image) write(w *writer, obj int) {
	w.begin(obj)
	extra := fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent %d",
		img.width, img.height, img.colourSpace, img.bits)
	if img.mask != nil {
		extra += fmt.Sprintf(" /SMask %d 0 R", obj+1)
	}
	w.stream(" /Filter /"+img.filter+img.decodeParms+extra, img.data, false)
	w.end()
	if img.mask != nil {
		img.mask.write(w, obj+1)
	}
}
