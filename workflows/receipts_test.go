package workflows

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLegacyReceiptsDecode: the results and inputs recorded before the
// channels change carry their receipts as flat fields; they decode into
// Receipts, so a replay, or an activity scheduled by an older worker, sees
// the same receipts.
func TestLegacyReceiptsDecode(t *testing.T) {
	legacy := `{"created":false,"slackChannel":"C1","slackTs":"1.2","emailMessageId":"m1","certificateSha256":"abc","announcement":"digest"}`
	want := Receipts{StepNameSlack: {ID: "1.2", Where: "C1", Via: "digest"}, StepNameEmail: {ID: "m1", SHA256: "abc"}}

	var rec RecordResult
	require.NoError(t, json.Unmarshal([]byte(legacy), &rec))
	require.Equal(t, want, rec.Receipts)
	var out OutcomeInput
	require.NoError(t, json.Unmarshal([]byte(`{"eventId":"e","status":"completed","slackTs":"1.2","slackChannel":"C1","announcement":"digest","emailMessageId":"m1","certificateSha256":"abc"}`), &out))
	require.Equal(t, want, out.Receipts)
	require.Equal(t, "e", out.EventID)
	var loaded LoadedEvent
	require.NoError(t, json.Unmarshal([]byte(legacy), &loaded))
	require.Equal(t, want, loaded.Receipts)
	var res CourseCompletionResult
	require.NoError(t, json.Unmarshal([]byte(`{"status":"completed","slackTs":"1.2","slackChannel":"C1","announcement":"digest","emailMessageId":"m1","certificateSha256":"abc"}`), &res))
	require.Equal(t, want, res.Receipts)

	// A receipt from the new shape wins over the legacy field.
	var newer RecordResult
	require.NoError(t, json.Unmarshal([]byte(`{"receipts":{"slack":{"id":"9.9"}},"slackTs":"1.2"}`), &newer))
	require.Equal(t, Receipts{StepNameSlack: {ID: "9.9"}}, newer.Receipts)

	// The old activities' results decode as receipts too.
	var r Receipt
	require.NoError(t, json.Unmarshal([]byte(`{"channel":"C1","ts":"1.2"}`), &r))
	require.Equal(t, Receipt{ID: "1.2", Where: "C1"}, r)
	require.NoError(t, json.Unmarshal([]byte(`{"messageId":"m1","certificateSha256":"abc"}`), &r))
	require.Equal(t, Receipt{ID: "m1", SHA256: "abc"}, r)

	// And the new shape round-trips.
	b, err := json.Marshal(RecordResult{Receipts: want})
	require.NoError(t, err)
	var back RecordResult
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, want, back.Receipts)
	require.NotContains(t, string(b), "slackTs")
}
