// Package samples shapes test events from the platform's samples: the
// largest body the webhook accepts, for the tests that check it travels
// through Temporal whole.
package samples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Pad returns body with its top-level "source" field, which no kind of event
// bounds, filled with 'x' so that the whole body is exactly size bytes.
func Pad(body []byte, size int) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("pad sample: %w", err)
	}
	m["source"] = ""
	base, err := encode(m)
	if err != nil {
		return nil, err
	}
	if len(base) > size {
		return nil, fmt.Errorf("pad sample: the body is already %d bytes, over %d", len(base), size)
	}
	m["source"] = strings.Repeat("x", size-len(base))
	out, err := encode(m)
	if err != nil {
		return nil, err
	}
	if len(out) != size {
		return nil, fmt.Errorf("pad sample: got %d bytes, want %d", len(out), size)
	}
	return out, nil
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("pad sample: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
