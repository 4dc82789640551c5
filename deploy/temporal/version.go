// Package temporal holds the Temporal server's deployment files, which the
// compose stack mounts and the local cluster (internal/cluster) runs: the
// schema and namespace jobs, the dynamic config, and the release both use.
package temporal

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var version string

// Version is the Temporal server release coursehook deploys: the
// temporalio/server and temporalio/admin-tools images of docker-compose.yml,
// and the temporal-server and temporal-sql-tool binaries `make cluster-bins`
// builds. The VERSION file beside this one is its only source: the Makefile
// reads it, and a test holds compose's image tags to it.
var Version = strings.TrimSpace(version)
