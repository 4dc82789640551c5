package verify

// crockford is Crockford's base32 alphabet: digits and capitals without I,
// L, O and U, so a code read aloud or copied by hand cannot be misread.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

const (
	codeChars = 20 // 100 bits
	groupLen  = 5
	// CodeLen is the length of a canonical code, dashes included.
	CodeLen = codeChars + codeChars/groupLen - 1
	// maxInput bounds the work Normalize does on a hostile path segment;
	// a code with a separator around every character fits.
	maxInput = 4 * codeChars
)

// Normalize returns the canonical form of a code as a person may type it: any
// case, dashes and spaces anywhere or missing, Crockford's I and L read as 1
// and O as 0. It reports false for anything else: a character outside the
// alphabet (U included) or the wrong number of characters.
//
// Every character is examined whatever comes before it, so how long a
// refusal takes depends on the input's length, which the sender knows, and
// not on where the first bad character is.
func Normalize(code string) (string, bool) {
	if len(code) > maxInput {
		return "", false
	}
	var raw [codeChars]byte
	n, bad := 0, false
	for i := 0; i < len(code); i++ {
		c, skip, ok := canonical(code[i])
		bad = bad || !ok
		if skip || !ok {
			continue
		}
		if n < codeChars {
			raw[n] = c
		}
		n++
	}
	if bad || n != codeChars {
		return "", false
	}
	return group(raw[:]), true
}

// canonical maps one typed byte to its alphabet character, or says it is a
// separator to skip, or not part of a code at all.
func canonical(c byte) (out byte, skip, ok bool) {
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch {
	case c == '-' || c == ' ':
		return 0, true, true
	case c == 'I' || c == 'L':
		return '1', false, true
	case c == 'O':
		return '0', false, true
	case c == 'U':
		return 0, false, false
	case '0' <= c && c <= '9', 'A' <= c && c <= 'Z':
		return c, false, true
	}
	return 0, false, false
}

// group writes raw characters in groups of groupLen joined by dashes.
func group(raw []byte) string {
	out := make([]byte, 0, CodeLen)
	for i, c := range raw {
		if i > 0 && i%groupLen == 0 {
			out = append(out, '-')
		}
		out = append(out, c)
	}
	return string(out)
}
