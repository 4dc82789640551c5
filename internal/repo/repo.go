// Package repo finds the repository the tools and tests run in, for the
// files they share with `make`: bin/, docker-compose.yml, deploy/.
package repo

import (
	"errors"
	"os"
	"path/filepath"
)

// Root is the folder holding go.mod, at or above the working directory:
// the repository root under `go run`, an ancestor of a package's folder
// under `go test`.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
