package pgtest

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestURLGivesEachTestItsOwnDatabaseAndDropsIt(t *testing.T) {
	var names []string
	for range 2 {
		t.Run("owner", func(t *testing.T) {
			db, err := sql.Open("pgx", URL(t))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			var name string
			require.NoError(t, db.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&name))
			require.True(t, strings.HasPrefix(name, "coursehook_test_"), name)
			names = append(names, name)
		})
	}
	// The subtests skipped when there is no server; so does this test then.
	if len(names) < 2 {
		t.Skip("PostgreSQL is not available")
	}
	require.NotEqual(t, names[0], names[1])

	base, err := serverURL()
	require.NoError(t, err)
	db, err := sql.Open("pgx", base.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	for _, name := range names {
		var left int
		require.NoError(t, db.QueryRowContext(t.Context(),
			"SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&left))
		require.Zero(t, left, "database %s should be dropped when its test ends", name)
	}
}
