package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testKeys(t testing.TB, secret string, previous ...string) *Keys {
	t.Helper()
	prev := make([][]byte, len(previous))
	for i, p := range previous {
		prev[i] = []byte(p)
	}
	k, err := NewKeys([]byte(secret), prev...)
	require.NoError(t, err)
	return k
}

const (
	secretA = "0123456789abcdef0123456789abcdef-a"
	secretB = "0123456789abcdef0123456789abcdef-b"
)

var canonicalCode = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$`)

func TestCodeShape(t *testing.T) {
	k := testKeys(t, secretA)
	seen := map[string]bool{}
	for i := range 2000 {
		id := fmt.Sprintf("32ed16df-0000-4000-8000-%012d", i)
		code := k.Code(id)
		require.Regexp(t, canonicalCode, code)
		require.Len(t, code, CodeLen)
		require.Equal(t, code, k.Code(id), "stable for one event id")
		require.False(t, seen[code], "distinct for distinct ids")
		seen[code] = true
		norm, ok := Normalize(code)
		require.True(t, ok)
		require.Equal(t, code, norm)
	}
}

func TestCodeIsThe100BitMAC(t *testing.T) {
	k := testKeys(t, secretA)
	m := hmac.New(sha256.New, derive([]byte(secretA), codeLabel))
	m.Write([]byte("an event"))
	sum := m.Sum(nil)
	// 13 bytes are 104 bits: 20 whole base32 characters, then the rest.
	want := base32.NewEncoding(crockford).WithPadding(base32.NoPadding).EncodeToString(sum[:13])[:codeChars]
	require.Equal(t, want, strings.ReplaceAll(k.Code("an event"), "-", ""))
	require.GreaterOrEqual(t, codeChars*5, 80, "at least 80 bits")
}

func TestCodeDependsOnTheSecret(t *testing.T) {
	a, b := testKeys(t, secretA), testKeys(t, secretB)
	require.NotEqual(t, a.Code("event-1"), b.Code("event-1"))
	// A previous secret is only for verifying old credentials.
	rotated := testKeys(t, secretB, secretA)
	require.Equal(t, b.Code("event-1"), rotated.Code("event-1"))
}

func TestNewKeysRefusesShortSecrets(t *testing.T) {
	_, err := NewKeys([]byte("too short"))
	require.ErrorContains(t, err, "at least 32")
	_, err = NewKeys([]byte(secretA), []byte("short"))
	require.ErrorContains(t, err, "previous signing secret 1")
}

func TestNormalize(t *testing.T) {
	const code = "7KQ2M-X4D9R-0ZPV3-TNW8H"
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"canonical", code, code, true},
		{"lower case", "7kq2m-x4d9r-0zpv3-tnw8h", code, true},
		{"no dashes", "7KQ2MX4D9R0ZPV3TNW8H", code, true},
		{"spaces", " 7KQ2M X4D9R 0ZPV3 TNW8H ", code, true},
		{"extra dashes", "--7KQ2M--X4D9R-0Z-PV3-TNW8H-", code, true},
		{"mixed grouping", "7KQ 2MX4-D9R0 ZPV3TN-W8H", code, true},
		{"I and L read as 1", "IKQ2M-X4D9R-0ZPV3-TNW8H", "1KQ2M-X4D9R-0ZPV3-TNW8H", true},
		{"l and i read as 1", "lKQ2M-X4D9R-0ZPV3-TNW8i", "1KQ2M-X4D9R-0ZPV3-TNW81", true},
		{"O and o read as 0", "7KQ2M-X4D9R-OZPV3-TNW8o", "7KQ2M-X4D9R-0ZPV3-TNW80", true},
		{"U is not in the alphabet", "7KQ2M-X4D9R-0ZPV3-TNW8U", "", false},
		{"punctuation", "7KQ2M.X4D9R.0ZPV3.TNW8H", "", false},
		{"one short", "7KQ2M-X4D9R-0ZPV3-TNW8", "", false},
		{"one long", "7KQ2M-X4D9R-0ZPV3-TNW8HH", "", false},
		{"empty", "", "", false},
		{"only dashes", "-----------------------", "", false},
		{"non-ASCII letter", "7KQ2M-X4D9R-0ZPV3-TNW8É", "", false},
		{"fullwidth digit", "7KQ2M-X4D9R-0ZPV3-TNW8１", "", false},
		{"tab", "7KQ2M\tX4D9R-0ZPV3-TNW8H", "", false},
		{"NUL", "7KQ2M-X4D9R-0ZPV3-TNW8\x00H", "", false},
		{"too long to read", strings.Repeat("-", maxInput) + "7KQ2MX4D9R0ZPV3TNW8H", "", false},
		{"path traversal", "../../etc/passwd", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Normalize(c.in)
			require.Equal(t, c.ok, ok)
			require.Equal(t, c.want, got)
		})
	}
}

func BenchmarkCode(b *testing.B) {
	k := testKeys(b, secretA)
	for b.Loop() {
		k.Code("32ed16df-9c83-4a6b-b7e4-2f0a5b6c7d8e")
	}
}

func BenchmarkNormalize(b *testing.B) {
	for b.Loop() {
		Normalize("7kq2m x4d9r 0zpv3 tnw8h")
	}
}
