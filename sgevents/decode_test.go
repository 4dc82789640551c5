package sgevents

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/coursehook/coursehook/delivery"
)

// sampleBatch has one event of each type in the shapes SendGrid's Event
// Webhook reference documents, with coursehook's custom args where its own
// emails would carry them.
const sampleBatch = `[
  {"email":"ada@example.com","timestamp":1773500000,"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","event":"processed","category":["certificate"],"sg_event_id":"cHJvY2Vzc2VkLTEtMQ","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","event_id":"evt_1","resend_id":""},
  {"email":"ada@example.com","timestamp":1773500010,"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","event":"deferred","category":["certificate"],"sg_event_id":"ZGVmZXJyZWQtMS0x","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","response":"400 try again later","attempt":"5","ip":"168.1.1.1","tls":1,"event_id":"evt_1"},
  {"email":"ada@example.com","timestamp":1773500020,"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","event":"delivered","category":["certificate"],"sg_event_id":"ZGVsaXZlcmVkLTEtMQ","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","response":"250 OK","ip":"168.1.1.1","tls":1,"event_id":"evt_1"},
  {"email":"ada@example.com","timestamp":1773500100,"event":"open","sg_machine_open":false,"category":["certificate"],"sg_event_id":"b3Blbi0xLTE","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","useragent":"Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)","ip":"255.255.255.255","event_id":"evt_1"},
  {"email":"ada@example.com","timestamp":1773500200,"event":"click","category":["certificate"],"sg_event_id":"Y2xpY2stMS0x","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","useragent":"Mozilla/5.0","ip":"255.255.255.255","url":"https://certs.example.com/c/ABC","url_offset":{"index":0,"type":"html"},"event_id":"evt_1"},
  {"email":"grace@example.com","timestamp":1773500300,"smtp-id":"<56WoYBdESN6RyEn_7bJRKA@ismtpd-555>","event":"bounce","category":["certificate"],"sg_event_id":"Ym91bmNlLTItMQ","sg_message_id":"56WoYBdESN6RyEn_7bJRKA.recvd-5b6594c664-csn64-1-65A9F4D1-A.0","reason":"550 5.1.1 The email account that you tried to reach does not exist.","status":"5.1.1","type":"bounce","bounce_classification":"Invalid Address","tls":1,"event_id":"evt_2","resend_id":"rs_9"},
  {"email":"linus@example.com","timestamp":1773500400,"event":"bounce","sg_event_id":"YXN5bmMtYm91bmNl","reason":"554 5.7.1 blocked by policy","status":"5.7.1","type":"blocked","event_id":"evt_3"},
  {"email":"barbara@example.com","timestamp":1773500500,"smtp-id":"<q30rlKhQQ4CCuDhRMZR2_Q@ismtpd-555>","event":"dropped","category":["certificate"],"sg_event_id":"ZHJvcHBlZC00LTE","sg_message_id":"q30rlKhQQ4CCuDhRMZR2_Q.recvd-f4c78f47d-crzxh-1-65A9F4D5-11.0","reason":"Bounced Address","status":"5.0.0","event_id":"evt_4"},
  {"email":"ada@example.com","timestamp":1773500600,"event":"spamreport","sg_event_id":"c3BhbS0xLTE","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","event_id":"evt_1"},
  {"email":"ada@example.com","timestamp":1773500700,"event":"unsubscribe","sg_event_id":"dW5zdWItMS0x","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","event_id":"evt_1"},
  {"email":"ada@example.com","timestamp":1773500800,"event":"group_unsubscribe","asm_group_id":10,"sg_event_id":"Z3Vuc3ViLTEtMQ","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","useragent":"Mozilla/5.0","ip":"255.255.255.255","url":"https://example.com/unsub","event_id":"evt_1"},
  {"email":"ada@example.com","timestamp":1773500900,"event":"group_resubscribe","asm_group_id":10,"sg_event_id":"Z3Jlc3ViLTEtMQ","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","event_id":"evt_1"},
  {"email":"someone@example.com","timestamp":1773501000,"event":"processed","sg_event_id":"bm90LW91cnM","sg_message_id":"XBg2anf2TqCy6WXKQFhieQ.filter0905p1mdw1-4434-59E0C6FF-3.0"},
  {"email":"ada@example.com","timestamp":1773500020,"event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTEtMQ","response":"250 OK again","event_id":"evt_1"},
  {"type":"compliance_suspend","event":"account_status_change","sg_event_id":"YWNjb3VudA","timestamp":1773501100},
  {"email":"x@example.com","event":"delivered","sg_event_id":42},
  {"email":"x@example.com","event":"delivered"},
  {"email":"x@example.com","sg_event_id":"bm8tZXZlbnQ"},
  {"email":"x@example.com","event":7,"sg_event_id":"bnVtYmVyLWV2ZW50"},
  {"email":"x@example.com","event":"delivered","sg_event_id":"   "},
  {"email":"x@example.com","event":"delivered","sg_event_id":"bad\nid"},
  {"email":"x@example.com","event":"delivered","sg_event_id":"ok-id","event_id":"evt\u0000x"},
  "delivered",
  null,
  17,
  ["nested"]
]`

func TestDecodeSampleBatch(t *testing.T) {
	b, err := Decode([]byte(sampleBatch))
	require.NoError(t, err)
	require.Equal(t, 12, b.Unknown)
	require.Equal(t, 1, b.Duplicates)

	type want struct {
		id, typ        string
		state          delivery.State
		engagement     string
		eventID        string
		resendID       string
		reason         string
		classification string
		messageKey     string
	}
	const ada = "LRzXl_NHStOGhQ4kofSm_A"
	wants := []want{
		{"cHJvY2Vzc2VkLTEtMQ", TypeProcessed, delivery.Processed, "", "evt_1", "", "", "", ada},
		{"ZGVmZXJyZWQtMS0x", TypeDeferred, delivery.Deferred, "", "evt_1", "", "400 try again later", "attempt 5", ada},
		{"ZGVsaXZlcmVkLTEtMQ", TypeDelivered, delivery.Delivered, "", "evt_1", "", "250 OK", "", ada},
		{"b3Blbi0xLTE", TypeOpen, "", "open", "evt_1", "", "", "", ada},
		{"Y2xpY2stMS0x", TypeClick, "", "click", "evt_1", "", "", "", ada},
		{"Ym91bmNlLTItMQ", TypeBounce, delivery.Bounced, "", "evt_2", "rs_9", "550 5.1.1 The email account that you tried to reach does not exist.", "Invalid Address", "56WoYBdESN6RyEn_7bJRKA"},
		{"YXN5bmMtYm91bmNl", TypeBounce, delivery.Bounced, "", "evt_3", "", "554 5.7.1 blocked by policy", "blocked", ""},
		{"ZHJvcHBlZC00LTE", TypeDropped, delivery.Dropped, "", "evt_4", "", "Bounced Address", "", "q30rlKhQQ4CCuDhRMZR2_Q"},
		{"c3BhbS0xLTE", TypeSpamReport, delivery.Spam, "", "evt_1", "", "", "", ada},
		{"dW5zdWItMS0x", TypeUnsubscribe, "", "", "evt_1", "", "", "", ada},
		{"Z3Vuc3ViLTEtMQ", TypeGroupUnsubscribe, "", "", "evt_1", "", "", "", ada},
		{"Z3Jlc3ViLTEtMQ", TypeGroupResubscribe, "", "", "evt_1", "", "", "", ada},
		{"bm90LW91cnM", TypeProcessed, delivery.Processed, "", "", "", "", "", "XBg2anf2TqCy6WXKQFhieQ"},
	}
	require.Len(t, b.Events, len(wants))
	for i, w := range wants {
		ev := b.Events[i]
		t.Run(w.id, func(t *testing.T) {
			require.Equal(t, w.id, ev.ID)
			require.Equal(t, w.typ, ev.Type)
			require.Equal(t, w.state, ev.State)
			require.Equal(t, w.engagement, ev.Engagement)
			require.Equal(t, w.eventID, ev.EventID)
			require.Equal(t, w.eventID != "", ev.Matched())
			require.Equal(t, w.resendID, ev.ResendID)
			require.Equal(t, w.reason, ev.Reason)
			require.Equal(t, w.classification, ev.Classification)
			require.Equal(t, w.messageKey, MessageKey(ev.MessageID))
			require.False(t, ev.At.IsZero())
			require.True(t, json.Valid(ev.Raw))
			require.Contains(t, string(ev.Raw), `"sg_event_id":"`+w.id+`"`)
		})
	}

	delivered := b.Events[2]
	require.Equal(t, "ada@example.com", delivered.Email)
	require.Equal(t, time.Unix(1773500020, 0).UTC(), delivered.At)
	require.Equal(t, "250 OK", delivered.Reason, "the first of the duplicates is kept")
	require.Equal(t, "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0", delivered.MessageID)
}

func TestDecodeRawIsExact(t *testing.T) {
	elem := `{ "event" : "delivered",  "sg_event_id":"a\u00e9b", "extra": {"deep": [1, 2, {"x": null}]} }`
	b, err := Decode([]byte("\n [ " + elem + " ]\r\n"))
	require.NoError(t, err)
	require.Len(t, b.Events, 1)
	require.Equal(t, elem, string(b.Events[0].Raw))
	require.Equal(t, "aéb", b.Events[0].ID)
}

func TestDecodeFields(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2000 bytes
	tests := []struct {
		name  string
		elem  string
		check func(t *testing.T, ev Event)
	}{
		{
			name: "float timestamp",
			elem: `{"event":"processed","sg_event_id":"a","timestamp":1773500000.25}`,
			check: func(t *testing.T, ev Event) {
				require.Equal(t, time.Unix(1773500000, 250_000_000).UTC(), ev.At)
			},
		},
		{
			name: "no timestamp",
			elem: `{"event":"processed","sg_event_id":"a"}`,
			check: func(t *testing.T, ev Event) {
				require.True(t, ev.At.IsZero())
			},
		},
		{
			name: "timestamp of the wrong type or out of range",
			elem: `{"event":"processed","sg_event_id":"a","timestamp":true}`,
			check: func(t *testing.T, ev Event) {
				require.True(t, ev.At.IsZero())
			},
		},
		{
			name: "timestamp too far ahead",
			elem: `{"event":"processed","sg_event_id":"a","timestamp":1e300}`,
			check: func(t *testing.T, ev Event) {
				require.True(t, ev.At.IsZero())
			},
		},
		{
			name: "custom args of other types are absent",
			elem: `{"event":"processed","sg_event_id":"a","event_id":12,"resend_id":{"x":1}}`,
			check: func(t *testing.T, ev Event) {
				require.Empty(t, ev.EventID)
				require.Empty(t, ev.ResendID)
				require.False(t, ev.Matched())
			},
		},
		{
			name: "escaped custom args",
			elem: `{"event":"processed","sg_event_id":"a","event_id":"evt_\u0031","resend_id":" rs_2 "}`,
			check: func(t *testing.T, ev Event) {
				require.Equal(t, "evt_1", ev.EventID)
				require.Equal(t, "rs_2", ev.ResendID)
			},
		},
		{
			name: "long strings capped",
			elem: `{"event":"bounce","sg_event_id":"` + strings.Repeat("i", 500) + `","sg_message_id":"` + long + `","event_id":"` + long + `","email":"` + long + `","reason":"` + long + `","bounce_classification":"` + long + `"}`,
			check: func(t *testing.T, ev Event) {
				require.Len(t, ev.ID, 200)
				require.Len(t, ev.MessageID, 200)
				require.Len(t, ev.EventID, 200)
				require.Len(t, ev.Email, 320)
				require.Equal(t, 500, utf8.RuneCountInString(ev.Reason))
				require.Equal(t, 100, utf8.RuneCountInString(ev.Classification))
				for _, s := range []string{ev.ID, ev.MessageID, ev.EventID, ev.Email, ev.Reason, ev.Classification} {
					require.True(t, utf8.ValidString(s))
				}
			},
		},
		{
			name: "reason on one line without control characters",
			elem: `{"event":"bounce","sg_event_id":"a","reason":"  550 5.1.1 <ada@example.com>:\r\n\tuser unknown\u0007 \u202eevil\u0000 ","type":"bounce"}`,
			check: func(t *testing.T, ev Event) {
				require.Equal(t, "550 5.1.1 <ada@example.com>: user unknown evil", ev.Reason)
				require.Equal(t, "bounce", ev.Classification)
			},
		},
		{
			name: "response when there is no reason",
			elem: `{"event":"deferred","sg_event_id":"a","reason":"","response":"421 4.7.0 try later","attempt":3}`,
			check: func(t *testing.T, ev Event) {
				require.Equal(t, "421 4.7.0 try later", ev.Reason)
				require.Equal(t, "attempt 3", ev.Classification)
			},
		},
		{
			name: "attempt that is not a count",
			elem: `{"event":"deferred","sg_event_id":"a","attempt":"five; drop table"}`,
			check: func(t *testing.T, ev Event) {
				require.Empty(t, ev.Classification)
			},
		},
		{
			name: "email control characters removed",
			elem: `{"event":"delivered","sg_event_id":"a","email":"ada@exa\nmple.com\u0000"}`,
			check: func(t *testing.T, ev Event) {
				require.Equal(t, "ada@example.com", ev.Email)
			},
		},
		{
			name: "invalid UTF-8 replaced",
			elem: "{\"event\":\"delivered\",\"sg_event_id\":\"a\xffb\",\"email\":\"x\xfe@example.com\"}",
			check: func(t *testing.T, ev Event) {
				require.Equal(t, "a\uFFFDb", ev.ID)
				require.Equal(t, "x\uFFFD@example.com", ev.Email)
			},
		},
		{
			name: "null and repeated keys",
			elem: `{"event":"delivered","sg_event_id":"a","event_id":"evt_1","event_id":null,"email":null}`,
			check: func(t *testing.T, ev Event) {
				require.Empty(t, ev.EventID)
				require.Empty(t, ev.Email)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Decode([]byte("[" + tt.elem + "]"))
			require.NoError(t, err)
			require.Zero(t, b.Unknown)
			require.Len(t, b.Events, 1)
			tt.check(t, b.Events[0])
		})
	}
}

func TestDecodeNotArray(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty", "", "empty body"},
		{"blank", " \r\n", "empty body"},
		{"object", `{"event":"delivered","email":"ada@example.com"}`, "an object"},
		{"string", `"ada@example.com"`, "a string"},
		{"null", `null`, "null"},
		{"garbage", `ada@example.com`, "not JSON"},
		{"cut short", `[{"event":"delivered","email":"ada@example.com"`, "invalid JSON at byte"},
		{"trailing garbage", `[] ada@example.com`, "invalid JSON at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Decode([]byte(tt.body))
			require.ErrorIs(t, err, ErrNotArray)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "ada@")
			require.Empty(t, b.Events)
		})
	}
}

func TestDecodeEmptyArray(t *testing.T) {
	b, err := Decode([]byte(" [ ] "))
	require.NoError(t, err)
	require.Empty(t, b.Events)
	require.Zero(t, b.Unknown)
	require.Zero(t, b.Duplicates)
}

func TestMessageKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0", "LRzXl_NHStOGhQ4kofSm_A"},
		{"XBg2anf2TqCy6WXKQFhieQ.filter0905p1mdw1-4434-59E0C6FF-3.0", "XBg2anf2TqCy6WXKQFhieQ"},
		{"56WoYBdESN6RyEn_7bJRKA.recvd-5b6594c664-csn64-1-65A9F4D1-A.0", "56WoYBdESN6RyEn_7bJRKA"},
		{"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "14c5d75ce93.dfd.64b469"},
		{"14c5d75ce93.dfd.64b469.recvd-x.0", "14c5d75ce93.dfd.64b469"},
		{"Ua9z9lSTSaqYBWJe_Xfc-Q.geopod-ismtpd-3-0.0", "Ua9z9lSTSaqYBWJe_Xfc-Q"},
		{"Ua9z9lSTSaqYBWJe_Xfc-Q", "Ua9z9lSTSaqYBWJe_Xfc-Q"},
		{"  Ua9z9lSTSaqYBWJe_Xfc-Q.recvd-1.0 ", "Ua9z9lSTSaqYBWJe_Xfc-Q"},
		{"", ""},
		{".filter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, MessageKey(tt.in))
		})
	}
}

// BenchmarkDecode decodes a post of 5,000 events.
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 5000 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"email":"ada@example.com","timestamp":1773500020,"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","event":"delivered","category":["certificate"],"sg_event_id":"ZGVsaXZlcmVkLTEtMQ`)
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString(`","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","response":"250 OK","ip":"168.1.1.1","tls":1,"event_id":"evt_1"}`)
	}
	sb.WriteString("]")
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
