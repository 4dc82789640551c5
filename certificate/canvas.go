package certificate

// canvas is what the layout draws on, in millimetres from the page's
// top-left corner. Each renderer version implements it, so both draw one
// layout: a version 2 certificate looks as its version 1 did, line breaks
// included. Version 1 maps each method to the fpdf calls the layout made
// before there were versions, in the same order, which keeps its bytes.
type canvas interface {
	// setFont selects the Go font, bold or regular, at pt points.
	setFont(bold bool, pt float64)
	// splitText breaks text into lines that fit a cell w wide, less its
	// margins, in the current font: at spaces where it can, anywhere
	// where it must.
	splitText(text string, w float64) []string
	// stringWidth is the width of s in the current font.
	stringWidth(s string) float64
	// cellMargin is the space a cell keeps inside each side.
	cellMargin() float64

	setDrawColor(c rgb)
	setFillColor(c rgb)
	setTextColor(c rgb)
	setLineWidth(w float64)
	line(x1, y1, x2, y2 float64)
	strokeRect(x, y, w, h float64)
	fillRect(x, y, w, h float64)
	// pathRect adds the rectangle between the corners (left, top) and
	// (right, bottom) to the path fillPath fills in one go.
	pathRect(left, top, right, bottom float64)
	fillPath()
	// centredText draws text centred in the w×h cell at (x, y).
	centredText(x, y, w, h float64, text string)
	// image draws the logo into the w×h box at (x, y).
	image(l *preparedLogo, x, y, w, h float64)

	// finish returns the PDF, or the first error met while drawing.
	finish() ([]byte, error)
}
