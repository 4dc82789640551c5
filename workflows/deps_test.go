package workflows

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Module path prefixes of the providers and renderers the activities are
// built on, and of the database drivers the store is.
var (
	providers = []string{"github.com/slack-go/slack", "github.com/sendgrid/", "codeberg.org/go-pdf/fpdf", "github.com/skip2/go-qrcode"}
	drivers   = []string{"github.com/jackc/pgx", "modernc.org/sqlite"}
)

// TestContractLinksNoProvider: the workflows and the webhook server share
// the contract only, so neither links a provider or a database driver, and
// coursehookctl, which opens the store itself, links no provider. A package
// that reaches for the activities again fails here, naming the path.
func TestContractLinksNoProvider(t *testing.T) {
	cases := []struct {
		pkg       string
		forbidden []string
	}{
		{".", append(append([]string{}, providers...), drivers...)},
		{"../webhook", append(append([]string{}, providers...), drivers...)},
		{"../ctl", providers},
	}
	for _, c := range cases {
		t.Run(c.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", c.pkg).Output()
			require.NoError(t, err)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, "go.temporal.io/sdk/workflow", "the listing is of the right package")
			for _, dep := range deps {
				for _, f := range c.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s links %s (go list -deps); the contract must not pull in providers or drivers", c.pkg, dep)
					}
				}
			}
		})
	}
}
