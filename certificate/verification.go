package certificate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/skip2/go-qrcode"
)

// Verification is where anyone holding the certificate can check it.
type Verification struct {
	Code string // the certificate's verification code, printed as it is
	URL  string // the page that verifies it, printed and drawn as a QR code
}

// MaxVerificationURL is the longest verification URL, in bytes. Up to it the
// QR code (error correction level M) stays at version 10 or below, whose
// modules are still half a millimetre wide in the box it is drawn in: large
// enough to scan from paper and from a 150 dpi rendering.
const MaxVerificationURL = 200

// qrSide is the width and height of the QR code, in millimetres.
const qrSide = 26.0

// verification is a checked Verification with its QR code built.
type verification struct {
	code, url string
	modules   [][]bool // the QR code's dark modules, [row][column]
}

// checkVerification refuses a verification that could mislead: the URL is
// drawn as a QR code verbatim, so it must be exactly what a reader sees in
// the text beside it (no invisible or control characters, no spaces), and
// an http or https address.
func checkVerification(v Verification) (verification, error) {
	code := clean(v.Code)
	if code == "" {
		return verification{}, fmt.Errorf("%w: verification code is empty", ErrInvalidData)
	}
	switch u, err := url.Parse(v.URL); {
	case v.URL == "":
		return verification{}, fmt.Errorf("%w: verification URL is empty", ErrInvalidData)
	case len(v.URL) > MaxVerificationURL:
		return verification{}, fmt.Errorf("%w: verification URL is %d bytes; want at most %d", ErrInvalidData, len(v.URL), MaxVerificationURL)
	case clean(v.URL) != v.URL || strings.ContainsRune(v.URL, ' '):
		return verification{}, fmt.Errorf("%w: verification URL %q has spaces or characters that cannot be shown", ErrInvalidData, v.URL)
	case err != nil:
		return verification{}, fmt.Errorf("%w: verification URL: %v", ErrInvalidData, err)
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
		return verification{}, fmt.Errorf("%w: verification URL %q is not an http or https address", ErrInvalidData, v.URL)
	}
	qr, err := qrcode.New(v.URL, qrcode.Medium)
	if err != nil {
		return verification{}, fmt.Errorf("%w: verification URL as a QR code: %v", ErrInvalidData, err)
	}
	// The page's own white surrounds the code by far more than the four
	// modules of quiet zone a scanner needs.
	qr.DisableBorder = true
	return verification{code: code, url: v.URL, modules: qr.Bitmap()}, nil
}

// drawQR draws modules as one filled path of rectangles, one for each run of
// dark modules in a row. A single fill leaves no hairline seams between
// neighbouring modules when a reader anti-aliases, as separate fills would,
// and vector squares stay sharp at any zoom.
func drawQR(c canvas, modules [][]bool, x, y, side float64) box {
	m := side / float64(len(modules))
	c.setFillColor(ink)
	for r, row := range modules {
		top, bottom := y+float64(r)*m, y+float64(r+1)*m
		for col := 0; col < len(row); {
			if !row[col] {
				col++
				continue
			}
			start := col
			for col < len(row) && row[col] {
				col++
			}
			left, right := x+float64(start)*m, x+float64(col)*m
			c.pathRect(left, top, right, bottom)
		}
	}
	c.fillPath()
	return box{x, y, side, side, "QR code"}
}
