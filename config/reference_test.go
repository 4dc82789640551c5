package config

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from config.Settings")

// TestConfigurationReference keeps docs/configuration.md what Reference
// renders: `make docs` (go test ./config -run TestConfigurationReference
// -update) rewrites it after a change to Settings or to what a binary reads.
func TestConfigurationReference(t *testing.T) {
	path := filepath.Join("..", ReferencePath)
	want := Reference()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "%s is stale: run make docs", ReferencePath)
}

// TestEveryVariableIsDocumented: a variable a binary reads and the
// reference leaves out fails here, naming it.
func TestEveryVariableIsDocumented(t *testing.T) {
	var documented []string
	for _, s := range Settings() {
		documented = append(documented, s.Names...)
	}
	read := readersOf()
	for name := range read {
		require.Contains(t, documented, name, "%s is read but not in config.Settings", name)
	}
	for _, s := range Settings() {
		require.NotEmpty(t, s.Meaning, "%v", s.Names)
		if readersOfNames(read, s.Names) == "" {
			require.NotEmpty(t, s.Readers, "%v: no binary reads it through Load, so Readers must say who does", s.Names)
		}
	}
	require.False(t, slices.Contains(documented, ""), "a setting without a name")
}
