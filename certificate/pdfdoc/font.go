package pdfdoc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"math"
	"sort"
	"unicode/utf16"
)

// Font is a TrueType font parsed for embedding. Parsing is the expensive
// part, so a program parses each font once and shares the Font between all
// its documents: it is never modified after ParseFont returns and is safe for
// concurrent use.
type Font struct {
	name       string // PostScript name, as a PDF name may spell it
	unitsPerEm int
	numGlyphs  int
	shortLoca  bool

	glyf       []byte
	loca       []uint32   // numGlyphs+1 offsets into glyf
	components [][]uint16 // glyphs a composite glyph is built from
	widths     []int      // advance of each glyph in thousandths of an em

	bmp    []uint16 // glyph of each rune up to U+FFFF; 0 for none
	astral []cmapGroup

	head []byte // copied so that a subset can set its own checksum

	// fixed holds the tables every subset carries unchanged (hhea, hmtx,
	// maxp and the hinting tables), laid out as they follow the table
	// directory in a subset, and compressed once as flushed deflate blocks
	// that every subset's stream reuses.
	fixed       []byte
	fixedZ      []byte
	fixedTables []tableRecord

	bbox        [4]int // in thousandths of an em
	ascent      int
	descent     int
	capHeight   int
	italicAngle float64
	stemV       int
}

type cmapGroup struct {
	first, last rune
	glyph       uint32
}

type tableRecord struct {
	tag      string
	checksum uint32
	offset   uint32 // within the subset file, once known
	length   uint32
}

var errMalformed = errors.New("malformed TrueType font")

// ParseFont parses a TrueType (glyf-outline) font file. The font keeps
// slices of ttf, which must not change afterwards.
func ParseFont(ttf []byte) (*Font, error) {
	f, err := parseFont(ttf)
	if err != nil {
		return nil, fmt.Errorf("parse font: %w", err)
	}
	return f, nil
}

func parseFont(ttf []byte) (*Font, error) {
	r := reader(ttf)
	if len(ttf) < 12 {
		return nil, errMalformed
	}
	switch v := r.u32(0); v {
	case 0x00010000, 0x74727565: // 1.0 and 'true'
	default:
		return nil, fmt.Errorf("%w: not a TrueType font (version %08X)", errMalformed, v)
	}
	n := int(r.u16(4))
	if len(ttf) < 12+16*n {
		return nil, errMalformed
	}
	tables := make(map[string][]byte, n)
	for i := range n {
		rec := 12 + 16*i
		off, length := int(r.u32(rec+8)), int(r.u32(rec+12))
		if off < 0 || length < 0 || off > len(ttf) || length > len(ttf)-off {
			return nil, fmt.Errorf("%w: table %q lies outside the file", errMalformed, ttf[rec:rec+4])
		}
		tables[string(ttf[rec:rec+4])] = ttf[off : off+length : off+length]
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if tables[tag] == nil {
			return nil, fmt.Errorf("%w: no %q table", errMalformed, tag)
		}
	}

	f := &Font{glyf: tables["glyf"]}
	head, hhea, maxp := reader(tables["head"]), reader(tables["hhea"]), reader(tables["maxp"])
	if len(head) < 54 || len(hhea) < 36 || len(maxp) < 6 {
		return nil, fmt.Errorf("%w: head, hhea or maxp is short", errMalformed)
	}
	f.head = append([]byte(nil), head...)
	f.unitsPerEm = int(head.u16(18))
	if f.unitsPerEm < 16 || f.unitsPerEm > 16384 {
		return nil, fmt.Errorf("%w: %d units per em", errMalformed, f.unitsPerEm)
	}
	f.shortLoca = head.i16(50) == 0
	f.numGlyphs = int(maxp.u16(4))
	if f.numGlyphs == 0 {
		return nil, fmt.Errorf("%w: no glyphs", errMalformed)
	}
	for i := range 4 {
		f.bbox[i] = f.thousandths(int(head.i16(36 + 2*i)))
	}
	f.ascent = f.thousandths(int(hhea.i16(4)))
	f.descent = f.thousandths(int(hhea.i16(6)))
	f.capHeight = f.ascent

	if err := f.parseLoca(reader(tables["loca"])); err != nil {
		return nil, err
	}
	if err := f.parseHmtx(reader(tables["hmtx"]), int(hhea.u16(34))); err != nil {
		return nil, err
	}
	if err := f.parseComponents(); err != nil {
		return nil, err
	}
	if err := f.parseCmap(reader(tables["cmap"])); err != nil {
		return nil, err
	}

	weight := 400
	if os2 := reader(tables["OS/2"]); len(os2) >= 6 {
		weight = int(os2.u16(4))
		if os2.u16(0) >= 2 && len(os2) >= 90 {
			f.capHeight = f.thousandths(int(os2.i16(88)))
		}
	}
	// StemV is required but only matters to a reader substituting a font
	// for one that is not embedded; estimate it from the weight class.
	f.stemV = 50 + weight*weight/6000
	if post := reader(tables["post"]); len(post) >= 8 {
		f.italicAngle = float64(int32(post.u32(4))) / 65536
	}
	f.name = postScriptName(reader(tables["name"]))

	f.buildFixed(tables)
	return f, nil
}

// thousandths converts font units to the thousandths of an em PDF font
// metrics are given in, rounding as fpdf does so that version 1 and
// version 2 certificates lay text out alike.
func (f *Font) thousandths(units int) int {
	return int(math.Round(float64(units) * 1000 / float64(f.unitsPerEm)))
}

func (f *Font) parseLoca(loca reader) error {
	f.loca = make([]uint32, f.numGlyphs+1)
	for i := range f.loca {
		if f.shortLoca {
			if 2*i+2 > len(loca) {
				return fmt.Errorf("%w: loca is short", errMalformed)
			}
			f.loca[i] = 2 * uint32(loca.u16(2*i))
		} else {
			if 4*i+4 > len(loca) {
				return fmt.Errorf("%w: loca is short", errMalformed)
			}
			f.loca[i] = loca.u32(4 * i)
		}
		if f.loca[i] > uint32(len(f.glyf)) || i > 0 && f.loca[i] < f.loca[i-1] {
			return fmt.Errorf("%w: loca entry %d is out of order or range", errMalformed, i)
		}
	}
	return nil
}

func (f *Font) parseHmtx(hmtx reader, numHMetrics int) error {
	if numHMetrics < 1 || numHMetrics > f.numGlyphs || len(hmtx) < 4*numHMetrics {
		return fmt.Errorf("%w: hmtx does not match hhea", errMalformed)
	}
	f.widths = make([]int, f.numGlyphs)
	var advance int
	for g := range f.widths {
		if g < numHMetrics {
			advance = int(hmtx.u16(4 * g))
		}
		f.widths[g] = f.thousandths(advance)
	}
	return nil
}

// Flags in a composite glyph's component records.
const (
	argsAreWords   = 0x0001
	haveScale      = 0x0008
	moreComponents = 0x0020
	haveXYScale    = 0x0040
	haveTwoByTwo   = 0x0080
)

// parseComponents records which glyphs each composite glyph draws, so a
// subset can carry them too.
func (f *Font) parseComponents() error {
	f.components = make([][]uint16, f.numGlyphs)
	for g := range f.numGlyphs {
		data := reader(f.glyf[f.loca[g]:f.loca[g+1]])
		if len(data) < 10 || data.i16(0) >= 0 {
			continue
		}
		for p := 10; ; {
			if p+4 > len(data) {
				return fmt.Errorf("%w: composite glyph %d is truncated", errMalformed, g)
			}
			flags, component := data.u16(p), data.u16(p+2)
			if int(component) >= f.numGlyphs {
				return fmt.Errorf("%w: composite glyph %d uses glyph %d of %d", errMalformed, g, component, f.numGlyphs)
			}
			f.components[g] = append(f.components[g], component)
			p += 4
			if flags&argsAreWords != 0 {
				p += 4
			} else {
				p += 2
			}
			switch {
			case flags&haveScale != 0:
				p += 2
			case flags&haveXYScale != 0:
				p += 4
			case flags&haveTwoByTwo != 0:
				p += 8
			}
			if flags&moreComponents == 0 {
				break
			}
		}
	}
	return nil
}

// parseCmap reads the best Unicode subtable: a full-range format 12 table
// when there is one, else a BMP format 4 one.
func (f *Font) parseCmap(cmap reader) error {
	if len(cmap) < 4 {
		return fmt.Errorf("%w: cmap is short", errMalformed)
	}
	var format4, format12 reader
	for i := range int(cmap.u16(2)) {
		rec := 4 + 8*i
		if rec+8 > len(cmap) {
			return fmt.Errorf("%w: cmap is short", errMalformed)
		}
		platform, encoding, off := cmap.u16(rec), cmap.u16(rec+2), int(cmap.u32(rec+4))
		unicode := platform == 0 || platform == 3 && (encoding == 1 || encoding == 10)
		if !unicode || off+4 > len(cmap) {
			continue
		}
		sub := cmap[off:]
		switch sub.u16(0) {
		case 4:
			if format4 == nil {
				format4 = sub
			}
		case 12:
			if format12 == nil {
				format12 = sub
			}
		}
	}
	f.bmp = make([]uint16, 0x10000)
	switch {
	case format12 != nil:
		return f.parseFormat12(format12)
	case format4 != nil:
		return f.parseFormat4(format4)
	}
	return fmt.Errorf("%w: no Unicode cmap of format 4 or 12", errMalformed)
}

// mappingBudget bounds the characters a cmap may map in the BMP: each at
// most once, with room to spare, so a malformed font whose ranges overlap
// over and over is refused rather than parsed for minutes.
const mappingBudget = 2 * 0x10000

func (f *Font) parseFormat4(sub reader) error {
	if len(sub) < 14 {
		return fmt.Errorf("%w: cmap format 4 is short", errMalformed)
	}
	segs := int(sub.u16(6)) / 2
	ends, starts, deltas, offsets := 14, 16+2*segs, 16+4*segs, 16+6*segs
	if offsets+2*segs > len(sub) {
		return fmt.Errorf("%w: cmap format 4 is short", errMalformed)
	}
	budget := mappingBudget
	for s := range segs {
		first, last := int(sub.u16(starts+2*s)), int(sub.u16(ends+2*s))
		delta, rangeOffset := int(sub.u16(deltas+2*s)), int(sub.u16(offsets+2*s))
		if budget -= max(0, last-first+1); budget < 0 {
			return fmt.Errorf("%w: cmap format 4 segments overlap", errMalformed)
		}
		for c := first; c <= last && c < 0xFFFF; c++ {
			g := 0
			if rangeOffset == 0 {
				g = (c + delta) & 0xFFFF
			} else {
				at := offsets + 2*s + rangeOffset + 2*(c-first)
				if at+2 > len(sub) {
					return fmt.Errorf("%w: cmap format 4 points outside itself", errMalformed)
				}
				if g = int(sub.u16(at)); g != 0 {
					g = (g + delta) & 0xFFFF
				}
			}
			if g < f.numGlyphs {
				f.bmp[c] = uint16(g)
			}
		}
	}
	return nil
}

func (f *Font) parseFormat12(sub reader) error {
	if len(sub) < 16 {
		return fmt.Errorf("%w: cmap format 12 is short", errMalformed)
	}
	n := int(sub.u32(12))
	if n < 0 || n > (len(sub)-16)/12 {
		return fmt.Errorf("%w: cmap format 12 is short", errMalformed)
	}
	budget := mappingBudget
	for i := range n {
		at := 16 + 12*i
		g := cmapGroup{first: rune(sub.u32(at)), last: rune(sub.u32(at + 4)), glyph: sub.u32(at + 8)}
		if g.first < 0 || g.last < g.first || g.last > 0x10FFFF {
			return fmt.Errorf("%w: cmap format 12 group %d", errMalformed, i)
		}
		if budget -= int(min(g.last, 0xFFFF) - min(g.first, 0x10000) + 1); budget < 0 {
			return fmt.Errorf("%w: cmap format 12 groups overlap", errMalformed)
		}
		for c := g.first; c <= g.last && c <= 0xFFFF; c++ {
			if id := g.glyph + uint32(c-g.first); id < uint32(f.numGlyphs) {
				f.bmp[c] = uint16(id)
			}
		}
		if g.last > 0xFFFF {
			f.astral = append(f.astral, g)
		}
	}
	sort.Slice(f.astral, func(i, j int) bool { return f.astral[i].first < f.astral[j].first })
	return nil
}

// postScriptName is the font's PostScript name (name id 6), kept to the
// characters a PDF name and a font name may both hold.
func postScriptName(name reader) string {
	var best string
	if len(name) >= 6 {
		count, strings := int(name.u16(2)), int(name.u16(4))
		for i := range count {
			rec := 6 + 12*i
			if rec+12 > len(name) {
				break
			}
			platform, encoding, id := name.u16(rec), name.u16(rec+2), name.u16(rec+6)
			length, off := int(name.u16(rec+8)), strings+int(name.u16(rec+10))
			if id != 6 || off+length > len(name) {
				continue
			}
			raw := name[off : off+length]
			switch {
			case platform == 3 && (encoding == 0 || encoding == 1), platform == 0:
				units := make([]uint16, len(raw)/2)
				for j := range units {
					units[j] = raw.u16(2 * j)
				}
				best = string(utf16.Decode(units))
			case platform == 1 && encoding == 0 && best == "":
				best = string(raw)
			}
		}
	}
	clean := make([]byte, 0, len(best))
	for _, c := range []byte(best) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' {
			clean = append(clean, c)
		}
	}
	if len(clean) == 0 {
		return "Font"
	}
	return string(clean)
}

// Name is the font's PostScript name.
func (f *Font) Name() string { return f.name }

// Glyph returns the glyph that draws r, and false when the font has none
// (the glyph is then .notdef, glyph 0).
func (f *Font) Glyph(r rune) (uint16, bool) {
	if r >= 0 && r <= 0xFFFF {
		g := f.bmp[r]
		return g, g != 0
	}
	i := sort.Search(len(f.astral), func(i int) bool { return f.astral[i].last >= r })
	if i < len(f.astral) && f.astral[i].first <= r {
		if g := f.astral[i].glyph + uint32(r-f.astral[i].first); g < uint32(f.numGlyphs) {
			return uint16(g), true
		}
	}
	return 0, false
}

// Advance is r's advance width in thousandths of an em: the width of
// .notdef when the font has no glyph for r.
func (f *Font) Advance(r rune) int {
	g, _ := f.Glyph(r)
	return f.widths[g]
}

// The tables a subset carries. Those marked fixed are copied unchanged and
// compressed once per font; head, loca and glyf are made per subset.
var subsetTables = []struct {
	tag      string
	fixed    bool
	optional bool
}{
	{"cvt ", true, true},
	{"fpgm", true, true},
	{"glyf", false, false},
	{"head", false, false},
	{"hhea", true, false},
	{"hmtx", true, false},
	{"loca", false, false},
	{"maxp", true, false},
	{"prep", true, true},
}

func (f *Font) buildFixed(tables map[string][]byte) {
	for _, t := range subsetTables {
		data, ok := tables[t.tag]
		if !t.fixed || !ok {
			continue
		}
		f.fixedTables = append(f.fixedTables, tableRecord{
			tag: t.tag, checksum: checksum(data), offset: uint32(len(f.fixed)), length: uint32(len(data)),
		})
		f.fixed = append(f.fixed, data...)
		f.fixed = pad4(f.fixed)
	}
	f.fixedZ = deflateOnce(f.fixed)
}

// subset is a font file holding only the glyphs marked in used (and the
// glyphs composites among them are built from), each under its original
// glyph id, so text can name glyphs by id (Identity CIDToGIDMap). Every
// other glyph is left empty. It returns the file compressed as a zlib
// stream, and the file's length.
func (f *Font) subset(used []bool) ([]byte, int) {
	keep := make([]bool, f.numGlyphs)
	keep[0] = true
	var stack []uint16
	for g, u := range used {
		if u && !keep[g] {
			keep[g] = true
			stack = append(stack, uint16(g))
		}
	}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range f.components[g] {
			if !keep[c] {
				keep[c] = true
				stack = append(stack, c)
			}
		}
	}

	// The variable tables, laid out one after another: head, then loca,
	// then glyf, whose size is known before it is written.
	glyfLen := 0
	for g, k := range keep {
		if k {
			glyfLen += even(int(f.loca[g+1] - f.loca[g]))
		}
	}
	locaLen := 4 * (f.numGlyphs + 1)
	if f.shortLoca {
		locaLen = 2 * (f.numGlyphs + 1)
	}
	headLen := len(f.head)
	variable := make([]byte, 0, 4+headLen+4+locaLen+4+glyfLen)
	variable = pad4(append(variable, f.head...))
	// checkSumAdjustment is worked out over the whole file below.
	binary.BigEndian.PutUint32(variable[8:], 0)
	locaAt := len(variable)
	offset := 0
	for g := 0; g <= f.numGlyphs; g++ {
		if f.shortLoca {
			variable = binary.BigEndian.AppendUint16(variable, uint16(offset/2))
		} else {
			variable = binary.BigEndian.AppendUint32(variable, uint32(offset))
		}
		if g < f.numGlyphs && keep[g] {
			offset += even(int(f.loca[g+1] - f.loca[g]))
		}
	}
	variable = pad4(variable)
	glyfAt := len(variable)
	for g, k := range keep {
		if k {
			variable = append(variable, f.glyf[f.loca[g]:f.loca[g+1]]...)
			// Short offsets count words, so every glyph starts even.
			if len(variable)%2 == 1 {
				variable = append(variable, 0)
			}
		}
	}
	variable = pad4(variable)

	records := make([]tableRecord, 0, len(subsetTables))
	numTables := len(f.fixedTables) + 3
	dirLen := 12 + 16*numTables
	varStart := dirLen + len(f.fixed)
	for _, t := range []struct {
		tag        string
		at, length int
	}{
		{"head", 0, headLen},
		{"loca", locaAt, locaLen},
		{"glyf", glyfAt, glyfLen},
	} {
		records = append(records, tableRecord{
			tag: t.tag, checksum: checksum(variable[t.at : t.at+t.length]),
			offset: uint32(varStart + t.at), length: uint32(t.length),
		})
	}
	for _, t := range f.fixedTables {
		t.offset += uint32(dirLen)
		records = append(records, t)
	}
	sort.Slice(records, func(i, j int) bool { return records[i].tag < records[j].tag })

	dir := make([]byte, 0, dirLen)
	dir = binary.BigEndian.AppendUint32(dir, 0x00010000)
	dir = binary.BigEndian.AppendUint16(dir, uint16(numTables))
	entrySelector := 0
	for 1<<(entrySelector+1) <= numTables {
		entrySelector++
	}
	searchRange := 16 << entrySelector
	dir = binary.BigEndian.AppendUint16(dir, uint16(searchRange))
	dir = binary.BigEndian.AppendUint16(dir, uint16(entrySelector))
	dir = binary.BigEndian.AppendUint16(dir, uint16(16*numTables-searchRange))
	sum := uint32(0)
	for _, t := range records {
		dir = append(dir, t.tag...)
		dir = binary.BigEndian.AppendUint32(dir, t.checksum)
		dir = binary.BigEndian.AppendUint32(dir, t.offset)
		dir = binary.BigEndian.AppendUint32(dir, t.length)
		sum += t.checksum
	}
	sum += checksum(dir)
	binary.BigEndian.PutUint32(variable[8:], 0xB1B0AFBA-sum)

	// The zlib stream is the directory, stored as it is, the fixed tables'
	// blocks compressed once, and the variable tables compressed here:
	// deflate blocks from separate compressors may follow one another as
	// long as each part but the last ends on a byte boundary, which stored
	// blocks and a flush do.
	a := adler32.New()
	a.Write(dir)
	a.Write(f.fixed)
	a.Write(variable)
	out := make([]byte, 0, len(f.fixedZ)+len(variable)/2+256)
	out = append(out, zlibHeader...)
	out = stored(out, dir)
	out = append(out, f.fixedZ...)
	out = deflate(out, variable)
	out = binary.BigEndian.AppendUint32(out, a.Sum32())
	return out, dirLen + len(f.fixed) + len(variable)
}

// checksum is a TrueType table checksum: the sum of its big-endian words,
// the last padded with zeros.
func checksum(b []byte) uint32 {
	var sum uint32
	for len(b) >= 4 {
		sum += binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	var last [4]byte
	copy(last[:], b)
	return sum + binary.BigEndian.Uint32(last[:])
}

// even rounds n up to an even number.
func even(n int) int { return n + n%2 }

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// reader reads big-endian numbers; callers check lengths first.
type reader []byte

func (r reader) u16(at int) uint16 { return binary.BigEndian.Uint16(r[at:]) }
func (r reader) i16(at int) int16  { return int16(binary.BigEndian.Uint16(r[at:])) }
func (r reader) u32(at int) uint32 { return binary.BigEndian.Uint32(r[at:]) }
