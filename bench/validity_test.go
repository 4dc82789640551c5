package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidityRowExtrapolatesToAMillion(t *testing.T) {
	r := &report{Validity: &validityResult{N: 10_000, Starts: 20 * time.Second, Settled: 25 * time.Second, Running: 10_000,
		Events: 5, Bytes: 1_250, Timers: 1, ServerCPU: 30 * time.Second, RSSBefore: 200e6, RSSAfter: 260e6}}
	x := r.validityRow()
	require.Contains(t, x.measured, "started in 20s (500/s), all asleep after 25s; server counts 10,000 running")
	require.Contains(t, x.measured, "5 history events, 1.2 KB of history, 1 pending timer, 3.00 ms of server processor time")
	require.Contains(t, x.ratio, "1,000,000 open workflows and as many timers, 1.2 GB of history held")
	require.Contains(t, x.ratio, "0.39 new runs/s")
	require.Contains(t, x.ratio, "starting them all: 50m0s of server processor time")
	require.NotContains(t, x.ratio, "memory", "the server's caches are bounded: memory is not scaled")
	require.True(t, strings.HasPrefix(x.what, "10,000 certificates'"))

	r.Validity.Running, r.Validity.RSSAfter = -1, 0
	x = r.validityRow()
	require.Contains(t, x.measured, "(visibility did not say)")
	require.NotContains(t, x.measured, "server memory")
	require.Equal(t, notMeasured, (&report{}).validityRow().measured)
}

func TestValidityRowIsOptIn(t *testing.T) {
	o, err := parseFlags([]string{"--only", "validity"}, &strings.Builder{})
	require.NoError(t, err)
	require.Equal(t, 10_000, o.Validity)
	o, err = parseFlags(nil, &strings.Builder{})
	require.NoError(t, err)
	require.Zero(t, o.Validity, "a plain make bench does not run it")
	_, err = parseFlags([]string{"--validity", "-1"}, &strings.Builder{})
	require.ErrorContains(t, err, "--validity")
}
