package outbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFileName(t *testing.T) {
	cases := []struct{ id, want string }{
		{"32ed16df-27cb-5f72-90ff-4eaf39346f86", "32ed16df-27cb-5f72-90ff-4eaf39346f86.json"},
		{"../../etc/passwd", "______etc_passwd.json"},
		{"..", "__.json"},
		{"", "_.json"},
		{"a/b\\c d", "a_b_c_d.json"},
		{"v1.2", "v1_2.json"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, FileName(c.id, ".json"), "id %q", c.id)
	}
}

func TestWriteReplacesTheSameEvent(t *testing.T) {
	dir := t.TempDir()
	p1, err := Write(dir, "slack", "evt-1", ".json", []byte("first"))
	require.NoError(t, err)
	p2, err := Write(dir, "slack", "evt-1", ".json", []byte("second"))
	require.NoError(t, err)
	require.Equal(t, p1, p2)
	got, err := os.ReadFile(p2)
	require.NoError(t, err)
	require.Equal(t, "second", string(got))
	entries, err := os.ReadDir(filepath.Join(dir, "slack"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "a rewrite must not leave a second or temporary file")
}

func TestAResendHasFilesOfItsOwn(t *testing.T) {
	dir := t.TempDir()
	first, err := Write(dir, "email", MessageName("e1", ""), ".json", []byte("first"))
	require.NoError(t, err)
	resent, err := Write(dir, "email", MessageName("e1", "20261129-abc"), ".json", []byte("resent"))
	require.NoError(t, err)
	require.NotEqual(t, first, resent)
	require.FileExists(t, first, "a resend does not replace the first message")
}
