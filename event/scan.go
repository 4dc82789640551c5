package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxDepth is how deeply objects and arrays may nest. The payload itself is
// two levels deep; the bound keeps a hostile body from making any later
// reader of the stored payload recurse without end.
const MaxDepth = 32

// frame is one open object or array during scan.
type frame struct {
	object  bool
	path    string
	wantKey bool                // the next string in this object is a key
	key     string              // the key whose value comes next
	keys    map[string]struct{} // keys seen so far, folded
	index   int                 // the next element's index in an array
}

// childPath names the value that comes next inside f.
func (f *frame) childPath() string {
	if f.object {
		key := f.key
		if key == "" {
			key = `""`
		}
		if f.path == "" {
			return key
		}
		return f.path + "." + key
	}
	return f.path + "[" + strconv.Itoa(f.index) + "]"
}

// valueDone moves f past one complete value.
func (f *frame) valueDone() {
	if f.object {
		f.wantKey = true
		return
	}
	f.index++
}

// scan checks what encoding/json lets through silently: nesting deeper than
// MaxDepth, and a key that appears twice in one object. Decoding keeps the
// last of two equal keys, so a payload could say one thing to coursehook and
// another to anything else that reads the stored body. Every repeated key is
// refused, even with the same value both times: no serializer writes one,
// and telling a harmless repeat from a harmful one buys nothing. Keys are
// compared as encoding/json matches them to fields, regardless of case, so
// "id" and "ID" count as the same key.
func scan(body []byte) *Problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	// Numbers stay text: a huge exponent is not this pass's business.
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			// Token reports a body cut inside the object as a plain EOF.
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			p := decodeProblem(err)
			return &p
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) == MaxDepth {
					return &Problem{Field: "body", Message: "nests objects and arrays more than " + strconv.Itoa(MaxDepth) + " levels deep"}
				}
				f := &frame{object: t == '{', wantKey: t == '{'}
				if f.object {
					f.keys = map[string]struct{}{}
				}
				if top != nil {
					f.path = shortPath(top.childPath())
				}
				stack = append(stack, f)
			default:
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					// The object is whole; decode reports anything after it.
					return nil
				}
				stack[len(stack)-1].valueDone()
			}
		case string:
			if top != nil && top.object && top.wantKey {
				folded := foldKey(t)
				top.key, top.wantKey = t, false
				if _, seen := top.keys[folded]; seen {
					return &Problem{Field: shortPath(top.childPath()), Message: "appears more than once in one object (keys match regardless of case); send each key once"}
				}
				top.keys[folded] = struct{}{}
				continue
			}
			if top != nil {
				top.valueDone()
			}
		default:
			if top != nil {
				top.valueDone()
			}
		}
	}
}

// shortPath keeps a sender's key names from making the answer or a log line
// as long as the body.
func shortPath(p string) string {
	const limit = 100
	if utf8.RuneCountInString(p) <= limit {
		return p
	}
	return string([]rune(p)[:limit-1]) + "…"
}

// foldKey maps s to one spelling per class of strings that strings.EqualFold
// (and so encoding/json's field matching) treats as equal: each rune becomes
// the smallest rune of its case-folding orbit, so "K", "k" and the Kelvin
// sign all become "K".
func foldKey(s string) string {
	b := make([]rune, 0, len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b = append(b, least)
	}
	return string(b)
}
