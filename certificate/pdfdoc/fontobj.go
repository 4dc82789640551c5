package pdfdoc

import (
	"hash/fnv"
	"strconv"
	"unicode/utf16"
)

// write writes the font's five objects, numbered from first: a Type0 font
// with Identity-H encoding, so each glyph is named by its two-byte id, over
// a CIDFontType2 font whose CIDs are glyph ids, its descriptor, the
// subset font file and the ToUnicode map.
func (u *fontUse) write(w *writer, first int, e embedding) {
	f := u.font
	glyphs := e.glyphs
	base := subsetTag(glyphs) + "+" + f.name

	w.begin(first + type0Obj)
	w.printf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>",
		base, first+cidFontObj, first+toUnicodeObj)
	w.end()

	w.begin(first + cidFontObj)
	w.printf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /CIDToGIDMap /Identity /W [",
		base, first+descriptorObj)
	// Runs of consecutive glyphs share one entry: first [w1 w2 ...].
	for i := 0; i < len(glyphs); {
		j := i + 1
		for j < len(glyphs) && glyphs[j] == glyphs[j-1]+1 {
			j++
		}
		w.printf(" %d [", glyphs[i])
		for k, g := range glyphs[i:j] {
			if k > 0 {
				w.raw(" ")
			}
			w.buf = strconv.AppendInt(w.buf, int64(f.widths[g]), 10)
		}
		w.raw("]")
		i = j
	}
	w.raw(" ] >>")
	w.end()

	w.begin(first + descriptorObj)
	// Flags 4: symbolic, which a font outside the standard Latin character
	// set must be.
	w.printf("<< /Type /FontDescriptor /FontName /%s /Flags 4 /FontBBox [%d %d %d %d] /ItalicAngle ",
		base, f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3])
	w.number(f.italicAngle)
	w.printf(" /Ascent %d /Descent %d /CapHeight %d /StemV %d /FontFile2 %d 0 R >>",
		f.ascent, f.descent, f.capHeight, f.stemV, first+fontFileObj)
	w.end()

	w.begin(first + fontFileObj)
	w.stream(" /Length1 "+strconv.Itoa(e.fileLength), e.file, true)
	w.end()

	w.begin(first + toUnicodeObj)
	w.stream("", e.toUnicode, true)
	w.end()
}

// embedding is what a font's objects hold beyond its metrics: the glyphs
// used, the compressed subset font file with its uncompressed length, and
// the compressed ToUnicode map.
type embedding struct {
	glyphs     []uint16
	file       []byte
	fileLength int
	toUnicode  []byte
}

func (u *fontUse) embed() embedding {
	var e embedding
	for g, used := range u.used {
		if used {
			e.glyphs = append(e.glyphs, uint16(g))
		}
	}
	e.file, e.fileLength = u.font.subset(u.used)
	e.toUnicode = zlibCompress(nil, u.toUnicode(e.glyphs))
	return e
}

// subsetTag names a subset, as PDF asks, with six capital letters; they
// come from the glyphs in it, so the same text always gets the same name.
func subsetTag(glyphs []uint16) string {
	h := fnv.New32a()
	for _, g := range glyphs {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum32()
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + byte(sum%26)
		sum /= 26
	}
	return string(tag)
}

// toUnicode is the CMap from each glyph drawn back to its character.
func (u *fontUse) toUnicode(glyphs []uint16) []byte {
	b := make([]byte, 0, 400+24*len(glyphs))
	b = append(b, "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"+
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"+
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"+
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"...)
	// A bfchar section may hold at most 100 entries.
	for start := 0; start < len(glyphs); start += 100 {
		chunk := glyphs[start:min(start+100, len(glyphs))]
		b = strconv.AppendInt(b, int64(len(chunk)), 10)
		b = append(b, " beginbfchar\n"...)
		for _, g := range chunk {
			b = append(b, '<')
			b = appendHex4(b, g)
			b = append(b, "> <"...)
			for _, unit := range utf16.Encode([]rune{u.text[g]}) {
				b = appendHex4(b, unit)
			}
			b = append(b, ">\n"...)
		}
		b = append(b, "endbfchar\n"...)
	}
	return append(b, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"...)
}
