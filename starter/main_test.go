package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	err := run(context.Background(), func(k string) string {
		return map[string]string{"HTTP_ADDR": "nonsense"}[k]
	}, &bytes.Buffer{}, nil)
	require.ErrorContains(t, err, "HTTP_ADDR")
}

func TestServesUntilCancelledThenStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "TEMPORAL_ADDRESS": "127.0.0.1:1"}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &logs, ready) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "alive without Temporal")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after cancellation")
	}
	require.Contains(t, logs.String(), "webhook server stopped")
}
