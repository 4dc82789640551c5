package delivery

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRankOrder(t *testing.T) {
	for i, s := range States() {
		require.Equal(t, i, Rank(s), s)
		require.True(t, s.Valid(), s)
	}
	require.Equal(t, -1, Rank(""))
	require.Equal(t, -1, Rank("Delivered"))
	require.False(t, State("bounce").Valid())
}

func TestFailed(t *testing.T) {
	failed := map[State]bool{Dropped: true, Bounced: true, Spam: true}
	for _, s := range States() {
		require.Equal(t, failed[s], s.Failed(), s)
	}
	require.False(t, State("").Failed())
}

func TestAdvanceNeverMovesBack(t *testing.T) {
	for _, a := range States() {
		for _, b := range States() {
			got := Advance(a, b)
			require.GreaterOrEqual(t, Rank(got), Rank(a), "%s then %s", a, b)
			require.GreaterOrEqual(t, Rank(got), Rank(b), "%s then %s", a, b)
			require.Contains(t, []State{a, b}, got)
			require.Equal(t, Advance(Advance(Sent, a), b), Advance(Advance(Sent, b), a), "%s and %s", a, b)
		}
	}
}

func TestAdvanceOrderIndependent(t *testing.T) {
	// A bounce reported before the delivery it followed still wins.
	arrivals := [][]State{
		{Processed, Delivered, Bounced},
		{Bounced, Processed, Delivered},
		{Delivered, Bounced, Deferred, Processed},
	}
	for _, seq := range arrivals {
		cur := Sent
		for _, s := range seq {
			cur = Advance(cur, s)
		}
		require.Equal(t, Bounced, cur, seq)
	}
}

func TestAdvanceInvalid(t *testing.T) {
	tests := []struct {
		name      string
		cur, next State
		want      State
	}{
		{"invalid next keeps cur", Delivered, "opened", Delivered},
		{"empty next keeps cur", Deferred, "", Deferred},
		{"empty cur takes next", "", Processed, Processed},
		{"invalid cur takes next", "weird", Deferred, Deferred},
		{"both invalid keeps cur", "weird", "odd", "weird"},
		{"empty cur, empty next", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Advance(tt.cur, tt.next))
		})
	}
}

func TestParseStates(t *testing.T) {
	tests := []struct {
		in      string
		want    []State
		wantErr string
	}{
		{in: "bounced,dropped", want: []State{Bounced, Dropped}},
		{in: " Spam , bounced ,", want: []State{Spam, Bounced}},
		{in: "bounced,bounced", want: []State{Bounced}},
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "bounced,bounce", wantErr: `unknown delivery state "bounce" (want sent, processed, deferred, delivered, dropped, bounced, spam)`},
		{in: "opened", wantErr: `"opened"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseStates(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestStatesIsACopy(t *testing.T) {
	s := States()
	s[0] = Spam
	require.Equal(t, Sent, States()[0])
}
