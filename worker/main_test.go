package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	err := run(context.Background(), func(k string) string {
		return map[string]string{"NOTICE_DEADLINE": "soon"}[k]
	}, &bytes.Buffer{})
	require.ErrorContains(t, err, "NOTICE_DEADLINE")
}
