package page

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLimiterRefusesOverTheRateAndSaysWhenToReturn(t *testing.T) {
	l := newLimiter(6, 2, 100) // a token every 10 s
	for range 2 {
		ok, _ := l.allow("192.0.2.1", t0)
		require.True(t, ok)
	}
	ok, wait := l.allow("192.0.2.1", t0)
	require.False(t, ok)
	require.InDelta(t, 10*time.Second, wait, float64(time.Millisecond))
	// A refusal costs nothing: the wait does not grow with retries.
	ok, wait = l.allow("192.0.2.1", t0.Add(4*time.Second))
	require.False(t, ok)
	require.InDelta(t, 6*time.Second, wait, float64(time.Millisecond))
	ok, _ = l.allow("192.0.2.1", t0.Add(10*time.Second))
	require.True(t, ok)
	ok, _ = l.allow("192.0.2.2", t0)
	require.True(t, ok, "another client has its own bucket")
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(6, 1, 50)
	for i := range 10_000 {
		ok, _ := l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0)
		require.True(t, ok)
		require.LessOrEqual(t, l.size(), 50)
	}
	require.Equal(t, 50, l.size())
}

func TestLimiterForgetsTheLeastRecentlySeen(t *testing.T) {
	l := newLimiter(6, 1, 3)
	for _, c := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		ok, _ := l.allow(c, t0)
		require.True(t, ok)
	}
	// .1 comes back (refused), so .2 is now the oldest and goes first.
	ok, _ := l.allow("192.0.2.1", t0)
	require.False(t, ok)
	ok, _ = l.allow("192.0.2.4", t0)
	require.True(t, ok)
	ok, _ = l.allow("192.0.2.1", t0)
	require.False(t, ok, "the recently seen client is still limited")
	ok, _ = l.allow("192.0.2.2", t0)
	require.True(t, ok, "the forgotten client starts afresh")
}

func TestClientKey(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
		"":                     "",
	}
	for in, want := range cases {
		require.Equal(t, want, clientKey(in), in)
	}
}
