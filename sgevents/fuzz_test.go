package sgevents

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func FuzzDecode(f *testing.F) {
	f.Add([]byte(sampleBatch))
	f.Add([]byte(signedBody))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Add([]byte(`{"event":"delivered"}`))
	f.Add([]byte("[{\"event\":\"bounce\",\"sg_event_id\":\"a\xff\",\"reason\":\"\\u202e\\n\",\"timestamp\":1e308}]"))
	f.Add([]byte(`[{"event":"deferred","sg_event_id":"x","attempt":-1,"timestamp":"12"},{"event":"deferred","sg_event_id":"x"}]`))
	f.Add([]byte("\x00garbage[[[{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrNotArray) {
				t.Fatalf("error does not wrap ErrNotArray: %v", err)
			}
			if len(b.Events) != 0 || b.Unknown != 0 || b.Duplicates != 0 {
				t.Fatalf("error with a non-empty batch: %+v", b)
			}
			return
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			t.Fatalf("decoded a body that is not an array: %v", err)
		}
		if got := len(b.Events) + b.Unknown + b.Duplicates; got != len(elems) {
			t.Fatalf("%d events + %d unknown + %d duplicates = %d, want %d elements", len(b.Events), b.Unknown, b.Duplicates, got, len(elems))
		}
		seen := make(map[string]bool)
		for _, ev := range b.Events {
			if ev.ID == "" {
				t.Fatal("event without an ID")
			}
			if seen[ev.ID] {
				t.Fatalf("ID %q kept twice", ev.ID)
			}
			seen[ev.ID] = true
			if !json.Valid(ev.Raw) {
				t.Fatalf("Raw is not JSON: %q", ev.Raw)
			}
			for _, s := range []string{ev.ID, ev.MessageID, ev.EventID, ev.ResendID, ev.Email, ev.Reason, ev.Classification} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 kept: %q", s)
				}
			}
			if len(ev.ID) > maxIDBytes || len(ev.Email) > maxEmailBytes || utf8.RuneCountInString(ev.Reason) > maxReasonRunes {
				t.Fatalf("string over its cap in %+v", ev)
			}
			if ev.State != "" && ev.Engagement != "" {
				t.Fatalf("both a state and an engagement: %+v", ev)
			}
		}
	})
}
