package pdfdoc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

var goFonts = map[string][]byte{"regular": goregular.TTF, "bold": gobold.TTF}

func parse(t testing.TB, ttf []byte) *Font {
	t.Helper()
	f, err := ParseFont(ttf)
	require.NoError(t, err)
	return f
}

// TestParseFontAgreesWithSfnt checks the cmap and the widths against
// golang.org/x/image/font/sfnt for every character of the BMP.
func TestParseFontAgreesWithSfnt(t *testing.T) {
	for name, ttf := range goFonts {
		t.Run(name, func(t *testing.T) {
			f := parse(t, ttf)
			ref, err := sfnt.Parse(ttf)
			require.NoError(t, err)
			var buf sfnt.Buffer
			upem := ref.UnitsPerEm()
			require.Equal(t, int(upem), f.unitsPerEm)
			require.Equal(t, ref.NumGlyphs(), f.numGlyphs)
			for r := rune(0); r <= 0xFFFF; r++ {
				want, err := ref.GlyphIndex(&buf, r)
				require.NoError(t, err)
				got, ok := f.Glyph(r)
				require.Equal(t, uint16(want), got, "%U", r)
				require.Equal(t, want != 0, ok, "%U", r)
				adv, err := ref.GlyphAdvance(&buf, want, fixed.I(int(upem)), font.HintingNone)
				require.NoError(t, err)
				require.Equal(t, int(math.Round(float64(adv)/64*1000/float64(upem))), f.Advance(r), "%U", r)
			}
			name, err := ref.Name(&buf, sfnt.NameIDPostScript)
			require.NoError(t, err)
			require.Equal(t, name, f.Name())
		})
	}
}

func TestParseFontRefusesWhatIsNotTrueType(t *testing.T) {
	tests := map[string][]byte{
		"empty":         nil,
		"short":         []byte("\x00\x01\x00\x00\x00"),
		"OpenType CFF":  append([]byte("OTTO"), goregular.TTF[4:]...),
		"collection":    append([]byte("ttcf"), goregular.TTF[4:]...),
		"no tables":     {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"directory cut": goregular.TTF[:100],
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := ParseFont(b)
			require.ErrorIs(t, err, errMalformed)
			require.Nil(t, f)
		})
	}
}

// TestParseFontSurvivesDamage feeds damaged fonts to ParseFont: it may
// refuse them or not, but must not panic, and what it accepts must subset.
func TestParseFontSurvivesDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		b := bytes.Clone(goregular.TTF)
		if i%3 == 0 {
			b = b[:rng.IntN(len(b))]
		}
		// Damage the directory and the small tables most: the glyph data
		// is read only as bytes.
		for range 1 + rng.IntN(8) {
			at := rng.IntN(min(len(b), 2000) + 1)
			if at < len(b) {
				b[at] = byte(rng.Uint32())
			}
		}
		f, err := ParseFont(b)
		if err != nil {
			continue
		}
		used := make([]bool, f.numGlyphs)
		used[rng.IntN(f.numGlyphs)] = true
		f.subset(used)
	}
}

// sfntFile is a font file's tables, read back for checking.
type sfntFile struct {
	raw    []byte
	tables map[string][]byte
	tags   []string
}

func readSfnt(t *testing.T, b []byte) sfntFile {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 12)
	n := int(binary.BigEndian.Uint16(b[4:]))
	file := sfntFile{raw: b, tables: map[string][]byte{}}
	for i := range n {
		rec := b[12+16*i:]
		tag := string(rec[:4])
		sum, off, length := binary.BigEndian.Uint32(rec[4:]), binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		require.Zero(t, off%4, "table %q is not 4-aligned", tag)
		require.LessOrEqual(t, int(off+length), len(b), "table %q", tag)
		data := b[off : off+length]
		if tag == "head" {
			data = bytes.Clone(data)
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		require.Equal(t, checksum(data), sum, "checksum of %q", tag)
		file.tables[tag] = b[off : off+length]
		file.tags = append(file.tags, tag)
	}
	return file
}

func inflate(t *testing.T, z []byte) []byte {
	t.Helper()
	r, err := zlib.NewReader(bytes.NewReader(z))
	require.NoError(t, err)
	b, err := io.ReadAll(r)
	require.NoError(t, err, "the zlib stream, checksum included, must be whole")
	return b
}

func glyphData(f sfntFile, g int) []byte {
	loca, glyf := f.tables["loca"], f.tables["glyf"]
	start := 2 * int(binary.BigEndian.Uint16(loca[2*g:]))
	end := 2 * int(binary.BigEndian.Uint16(loca[2*g+2:]))
	return glyf[start:end]
}

func TestSubsetHoldsJustTheGlyphsUsed(t *testing.T) {
	for name, ttf := range goFonts {
		t.Run(name, func(t *testing.T) {
			f := parse(t, ttf)
			used := make([]bool, f.numGlyphs)
			for _, r := range "Hello, Wörld — Ωμέγα Щедрость" {
				g, ok := f.Glyph(r)
				require.True(t, ok)
				used[g] = true
			}
			z, length := f.subset(used)
			b := inflate(t, z)
			require.Len(t, b, length)
			require.Less(t, len(z), 12<<10, "the subset is small")

			sub := readSfnt(t, b)
			require.True(t, sort.StringsAreSorted(sub.tags), "table directory %v is not sorted", sub.tags)
			require.Equal(t, []string{"cvt ", "fpgm", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "prep"}, sub.tags)
			require.Equal(t, uint32(0xB1B0AFBA), checksum(b), "the whole file's checksum")

			orig := readSfnt(t, ttf)
			for _, tag := range []string{"cvt ", "fpgm", "hhea", "hmtx", "maxp", "prep"} {
				require.Equal(t, orig.tables[tag], sub.tables[tag], tag)
			}
			require.Equal(t, orig.tables["head"][:8], sub.tables["head"][:8])
			require.Equal(t, orig.tables["head"][12:], sub.tables["head"][12:])
			for g := range f.numGlyphs {
				want := glyphData(orig, g)
				if !used[g] && g != 0 {
					want = nil
				}
				got := glyphData(sub, g)
				require.Equal(t, len(want)+len(want)%2, len(got), "glyph %d", g)
				require.True(t, bytes.Equal(want, got[:len(want)]), "glyph %d", g)
			}
		})
	}
}

func TestSubsetIsTheSameEveryTime(t *testing.T) {
	f := parse(t, goregular.TTF)
	used := make([]bool, f.numGlyphs)
	used[10], used[200] = true, true
	a, _ := f.subset(used)
	b, _ := f.subset(used)
	require.Equal(t, a, b)
}

// The synthetic font's glyphs: B is a composite of a simple glyph and of
// another composite, which is built from a third simple glyph.
const (
	glyphNotdef = iota
	glyphA
	glyphB
	glyphPart
	glyphInner
	glyphInnerPart
	glyphC
	syntheticGlyphs
)

// syntheticFont builds a small TrueType font: A, B and C mapped by a
// format 4 cmap through its glyph id array, and with format12, also by a
// format 12 cmap that maps U+1F600 to C as well.
func syntheticFont(format12 bool) []byte {
	be16 := func(b []byte, v ...int) []byte {
		for _, x := range v {
			b = binary.BigEndian.AppendUint16(b, uint16(x))
		}
		return b
	}
	simple := func() []byte {
		// One contour of one point; padded to an even length, as short
		// loca offsets need.
		g := be16(nil, 1, 0, 0, 100, 100, 0, 0)
		g = append(g, 1)
		g = be16(g, 50, 50)
		return append(g, 0)
	}
	composite := func(parts ...int) []byte {
		g := be16(nil, -1&0xFFFF, 0, 0, 100, 100)
		for i, p := range parts {
			flags := argsAreWords
			if i < len(parts)-1 {
				flags |= moreComponents
			}
			if i == 0 {
				flags |= haveTwoByTwo
			}
			g = be16(g, flags, p, 10, 20)
			if i == 0 {
				g = be16(g, 1<<14, 0, 0, 1<<14)
			}
		}
		return g
	}
	glyphs := [][]byte{simple(), simple(), composite(glyphPart, glyphInner), simple(), composite(glyphInnerPart), simple(), simple()}
	var glyf, loca []byte
	for _, g := range glyphs {
		loca = be16(loca, len(glyf)/2)
		glyf = append(glyf, g...)
	}
	loca = be16(loca, len(glyf)/2)

	head := make([]byte, 54)
	binary.BigEndian.PutUint32(head, 0x00010000)
	binary.BigEndian.PutUint32(head[12:], 0x5F0F3CF5)
	be16(head[:18], 1000)
	be16(head[:36], 0, -200&0xFFFF, 1000, 800)
	hhea := be16(make([]byte, 0, 36), 1, 0, 800, -200&0xFFFF)
	hhea = append(hhea, make([]byte, 34-len(hhea))...)
	hhea = be16(hhea, syntheticGlyphs)
	maxp := be16([]byte{0, 0, 0x50, 0}, syntheticGlyphs)
	var hmtx []byte
	for g := range syntheticGlyphs {
		hmtx = be16(hmtx, 500+10*g, 0)
	}

	f4 := be16(nil, 4, 0, 0, 4, 4, 1, 0) // format, length (set below), language, segCountX2, ...
	f4 = be16(f4, 'C', 0xFFFF, 0, 'A', 0xFFFF, 0, 1, 4, 0)
	f4 = be16(f4, glyphA, glyphB, glyphC)
	binary.BigEndian.PutUint16(f4[2:], uint16(len(f4)))
	var f12 []byte
	records := 1
	if format12 {
		records = 2
		f12 = be16(nil, 12, 0)
		f12 = binary.BigEndian.AppendUint32(f12, 16+2*12)
		f12 = binary.BigEndian.AppendUint32(f12, 0)
		f12 = binary.BigEndian.AppendUint32(f12, 2)
		for _, g := range [][3]uint32{{'A', 'B', glyphA}, {0x1F600, 0x1F600, glyphC}} {
			for _, v := range g {
				f12 = binary.BigEndian.AppendUint32(f12, v)
			}
		}
	}
	cmap := be16(nil, 0, records)
	cmap = be16(cmap, 3, 1)
	cmap = binary.BigEndian.AppendUint32(cmap, uint32(4+8*records))
	if format12 {
		cmap = be16(cmap, 3, 10)
		cmap = binary.BigEndian.AppendUint32(cmap, uint32(4+8*records+len(f4)))
	}
	cmap = append(append(cmap, f4...), f12...)

	tables := []struct {
		tag  string
		data []byte
	}{{"cmap", cmap}, {"glyf", glyf}, {"head", head}, {"hhea", hhea}, {"hmtx", hmtx}, {"loca", loca}, {"maxp", maxp}}
	out := binary.BigEndian.AppendUint32(nil, 0x00010000)
	out = be16(out, len(tables), 0, 0, 0)
	offset := len(out) + 16*len(tables)
	var body []byte
	for _, tb := range tables {
		out = append(out, tb.tag...)
		out = binary.BigEndian.AppendUint32(out, checksum(tb.data))
		out = binary.BigEndian.AppendUint32(out, uint32(offset+len(body)))
		out = binary.BigEndian.AppendUint32(out, uint32(len(tb.data)))
		body = pad4(append(body, tb.data...))
	}
	return append(out, body...)
}

func TestSubsetKeepsCompositeGlyphsParts(t *testing.T) {
	f := parse(t, syntheticFont(false))
	require.Equal(t, [][]uint16{glyphB: {glyphPart, glyphInner}, glyphInner: {glyphInnerPart}, glyphC: nil}, f.components)
	g, ok := f.Glyph('B')
	require.True(t, ok)
	require.Equal(t, uint16(glyphB), g)

	used := make([]bool, f.numGlyphs)
	used[glyphB] = true
	z, length := f.subset(used)
	b := inflate(t, z)
	require.Len(t, b, length)
	sub := readSfnt(t, b)
	// No hinting tables in this font, so none in the subset.
	require.Equal(t, []string{"glyf", "head", "hhea", "hmtx", "loca", "maxp"}, sub.tags)
	orig := readSfnt(t, syntheticFont(false))
	for g := range syntheticGlyphs {
		switch g {
		case glyphNotdef, glyphB, glyphPart, glyphInner, glyphInnerPart:
			require.Equal(t, glyphData(orig, g), glyphData(sub, g), "glyph %d", g)
		default:
			require.Empty(t, glyphData(sub, g), "glyph %d", g)
		}
	}
}

func TestParseFontReadsEitherCmapFormat(t *testing.T) {
	for _, format12 := range []bool{false, true} {
		f := parse(t, syntheticFont(format12))
		// Format 4 maps A to C through its glyph id array; format 12,
		// preferred when present, maps A, B and U+1F600.
		for r, want := range map[rune]int{'A': glyphA, 'B': glyphB, 'C': glyphC, 'D': 0, 0x1F600: glyphC} {
			if !format12 && r == 0x1F600 || format12 && r == 'C' {
				want = 0
			}
			g, ok := f.Glyph(r)
			require.Equal(t, uint16(want), g, "%U with format 12: %v", r, format12)
			require.Equal(t, want != 0, ok)
			require.Equal(t, f.widths[want], f.Advance(r))
		}
	}
}
