package verify

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReason(t *testing.T) {
	cases := []struct {
		in   string
		want Reason
	}{
		{"issued_in_error", ReasonIssuedInError},
		{"Issued-In-Error", ReasonIssuedInError},
		{" issued in error ", ReasonIssuedInError},
		{"superseded", ReasonSuperseded},
		{"LEARNER_REQUEST", ReasonLearnerRequest},
		{"misconduct", ReasonMisconduct},
		{"other", ReasonOther},
	}
	for _, c := range cases {
		got, err := ParseReason(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}

func TestParseReasonRefusesAndListsTheCategories(t *testing.T) {
	for _, in := range []string{"", "fraud", "issued in  error", "<script>"} {
		_, err := ParseReason(in)
		require.Error(t, err, in)
		require.ErrorContains(t, err, "issued_in_error, superseded, learner_request, misconduct, other")
	}
}

func TestEveryReasonHasItsOwnLabel(t *testing.T) {
	labels := map[string]bool{}
	for _, r := range Reasons() {
		got, err := ParseReason(string(r))
		require.NoError(t, err)
		require.Equal(t, r, got)
		require.NotEmpty(t, r.Label())
		require.False(t, labels[r.Label()], "label of %s repeated", r)
		labels[r.Label()] = true
	}
	require.Len(t, labels, len(reasonLabels))
	require.Equal(t, ReasonOther.Label(), Reason("hand-edited").Label())
}
