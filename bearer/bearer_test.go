package bearer

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatches(t *testing.T) {
	tok := New("export-token-0123456789")
	for header, want := range map[string]bool{
		"Bearer export-token-0123456789":   true,
		"bearer export-token-0123456789":   true,
		"Bearer  export-token-0123456789 ": true,
		"Bearer export-token-012345678":    false,
		"Basic export-token-0123456789":    false,
		"export-token-0123456789":          false,
		"":                                 false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		require.Equal(t, want, tok.Matches(r), "%q", header)
	}
}
