package pdfdoc

import (
	"compress/flate"
	"encoding/binary"
	"hash/adler32"
	"sync"
)

// zlibHeader starts a zlib stream: deflate with a 32 KiB window, no
// dictionary. (Its level field is advisory; readers ignore it.)
var zlibHeader = []byte{0x78, 0x01}

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

type deflater struct {
	w   *flate.Writer
	out appender
}

// deflaters keeps compressors between documents: a new one allocates
// hundreds of kilobytes, more than compressing a certificate's streams
// costs. They compress at the fastest level, which makes a certificate
// about 5% larger than the default level and its streams twice as fast.
// The standard library's output for a given level is deterministic, so
// documents are too.
var deflaters = sync.Pool{New: func() any {
	d := &deflater{}
	// NewWriter fails only for an invalid level.
	d.w, _ = flate.NewWriter(&d.out, flate.BestSpeed)
	return d
}}

// deflate appends data to dst as deflate blocks, ending with the final
// block.
func deflate(dst, data []byte) []byte {
	d := deflaters.Get().(*deflater)
	d.out.b = dst
	d.w.Reset(&d.out)
	// Writes to an appender cannot fail, so neither can the compressor.
	_, _ = d.w.Write(data)
	_ = d.w.Close()
	dst = d.out.b
	d.out.b = nil
	deflaters.Put(d)
	return dst
}

// deflateOnce compresses data as well as deflate can, for data compressed
// once and used many times. It ends with a flush, on a byte boundary, not
// with the final block, so that more blocks can follow.
func deflateOnce(data []byte) []byte {
	var out appender
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	_, _ = w.Write(data)
	_ = w.Flush()
	return out.b
}

// stored appends data to dst as uncompressed deflate blocks, none final.
// dst must end on a byte boundary, and so does the result. For a few
// hundred bytes of little redundancy this is smaller and much faster than
// compressing them.
func stored(dst, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), 0xFFFF)
		// BFINAL 0, BTYPE 00, and the five bits up to the byte boundary.
		dst = append(dst, 0)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n))
		dst = binary.LittleEndian.AppendUint16(dst, ^uint16(n))
		dst = append(dst, data[:n]...)
		data = data[n:]
	}
	return dst
}

// zlibCompress appends data to dst as a complete zlib stream.
func zlibCompress(dst, data []byte) []byte {
	dst = append(dst, zlibHeader...)
	dst = deflate(dst, data)
	return binary.BigEndian.AppendUint32(dst, adler32.Checksum(data))
}
