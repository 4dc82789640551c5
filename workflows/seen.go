package workflows

import "hash/fnv"

// SeenIDs is a compact record of the event ids a digest window gathered: a
// chain of Bloom filters, each twice the capacity of the one before, so it
// grows with the window at about 6 bits an id. It can say "maybe" of an id
// it never saw (about one in twenty), never "no" of one it did; a digest
// asks the database about a "maybe", so a false one costs a lookup and
// never a wrong answer. The hashing is a pure function of the id, as
// workflow code must be.
type SeenIDs struct {
	Filters []SeenFilter `json:"filters,omitempty"`
}

// SeenFilter is one Bloom filter of the chain: Bits, and N ids added.
type SeenFilter struct {
	Bits []byte `json:"bits"`
	N    int    `json:"n"`
}

// Each filter holds its capacity at seenBitsPerID bits an id, seenHashes
// bits set per id: about a 5% false "maybe" when full. The first holds
// seenFirstCapacity ids.
const (
	seenBitsPerID     = 7
	seenHashes        = 4
	seenFirstCapacity = 256
)

// Add records id.
func (s *SeenIDs) Add(id string) {
	n := len(s.Filters)
	if n == 0 || s.Filters[n-1].N >= s.Filters[n-1].capacity() {
		capacity := seenFirstCapacity << n
		s.Filters = append(s.Filters, SeenFilter{Bits: make([]byte, capacity*seenBitsPerID/8)})
		n++
	}
	f := &s.Filters[n-1]
	f.each(id, func(byteAt int, bit byte) { f.Bits[byteAt] |= bit })
	f.N++
}

// Maybe reports whether id may have been added: false means it was not.
func (s *SeenIDs) Maybe(id string) bool {
	if s == nil {
		return false
	}
	for i := range s.Filters {
		all := true
		s.Filters[i].each(id, func(byteAt int, bit byte) { all = all && s.Filters[i].Bits[byteAt]&bit != 0 })
		if all {
			return true
		}
	}
	return false
}

func (f *SeenFilter) capacity() int { return len(f.Bits) * 8 / seenBitsPerID }

// each calls set with the byte and bit of each of id's positions: double
// hashing of one FNV-1a sum (Kirsch and Mitzenmacher).
func (f *SeenFilter) each(id string, set func(byteAt int, bit byte)) {
	h := fnv.New64a()
	h.Write([]byte(id))
	sum := h.Sum64()
	h1, h2 := uint32(sum), uint32(sum>>32)|1
	m := uint32(len(f.Bits) * 8)
	for i := range uint32(seenHashes) {
		pos := (h1 + i*h2) % m
		set(int(pos/8), 1<<(pos%8))
	}
}
