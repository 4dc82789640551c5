package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	deploytemporal "github.com/coursehook/coursehook/deploy/temporal"
	"github.com/coursehook/coursehook/internal/cluster"
	"github.com/coursehook/coursehook/workflows"
)

// TestTemporalImagesAreTheClusterRelease holds every Temporal image of the
// compose file, the server and the admin tools that run its schema and
// namespace jobs, to the release the local cluster builds and tests.
func TestTemporalImagesAreTheClusterRelease(t *testing.T) {
	p := loadProject(t, nil)
	images := map[string]string{
		"temporal":                  "temporalio/server",
		"temporal-schema":           "temporalio/admin-tools",
		"temporal-create-namespace": "temporalio/admin-tools",
		"temporal-admin-tools":      "temporalio/admin-tools",
	}
	for name, repo := range images {
		require.Equal(t, repo+":"+deploytemporal.Version, service(t, p, name).Image, "service %s", name)
	}

	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	require.NoError(t, err)
	require.Contains(t, string(makefile), "TEMPORAL_SERVER_VERSION := $(shell cat deploy/temporal/VERSION)",
		"the Makefile builds the cluster's binaries from deploy/temporal/VERSION")
}

// namespaceAttributes are the search attributes create-namespace.sh
// registers, from its `for spec in Name:Type ...` loop.
func namespaceAttributes(t *testing.T) map[string]string {
	t.Helper()
	script, err := os.ReadFile("temporal/create-namespace.sh")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^for spec in (.+); do$`).FindStringSubmatch(string(script))
	require.NotNil(t, m, "create-namespace.sh has no `for spec in ...` loop over its search attributes")
	out := map[string]string{}
	for _, spec := range strings.Fields(m[1]) {
		name, typ, ok := strings.Cut(spec, ":")
		require.True(t, ok, "%q is not Name:Type", spec)
		out[name] = typ
	}
	return out
}

// TestNamespaceJobRegistersTheWorkflowsSearchAttributes: the namespace job
// registers exactly the attributes the workflow sets, with their types, and
// they fit SQL visibility, which has a fixed number of columns per type
// (PostgreSQL 12+ schema: Keyword01-10, KeywordList01-03).
func TestNamespaceJobRegistersTheWorkflowsSearchAttributes(t *testing.T) {
	want := map[string]string{}
	perType := map[enums.IndexedValueType]int{}
	for name, typ := range workflows.SearchAttributeTypes() {
		want[name] = workflows.SearchAttributeTypeName(typ)
		perType[typ]++
	}
	require.Equal(t, want, namespaceAttributes(t))

	sqlColumns := map[enums.IndexedValueType]int{
		enums.INDEXED_VALUE_TYPE_KEYWORD:      10,
		enums.INDEXED_VALUE_TYPE_KEYWORD_LIST: 3,
	}
	for typ, n := range perType {
		limit, ok := sqlColumns[typ]
		require.True(t, ok, "no SQL visibility limit known for %s", workflows.SearchAttributeTypeName(typ))
		require.LessOrEqual(t, n, limit, "%d %s attributes do not fit SQL visibility's %d columns", n, workflows.SearchAttributeTypeName(typ), limit)
	}
}

// TestNamespaceJobWaitsForEveryAttribute: after registering them, the
// namespace job waits until a visibility query naming every attribute the
// workflow sets succeeds, so no start meets a frontend that does not know
// one of them yet.
func TestNamespaceJobWaitsForEveryAttribute(t *testing.T) {
	script, err := os.ReadFile("temporal/create-namespace.sh")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^wait_for temporal workflow list .*\\\n\t--query "([^"]+)"$`).FindSubmatch(script)
	require.NotNil(t, m, "create-namespace.sh has no `wait_for temporal workflow list ... --query \"...\"` over the search attributes")
	named := map[string]bool{}
	for _, clause := range strings.Split(string(m[1]), " AND ") {
		name, value, ok := strings.Cut(clause, " = ")
		require.True(t, ok && value == "''", "%q is not Name = ''", clause)
		named[name] = true
	}
	want := map[string]bool{}
	for name := range workflows.SearchAttributeTypes() {
		want[name] = true
	}
	require.Equal(t, want, named)
	require.Greater(t, strings.Index(string(script), "--query"), strings.Index(string(script), "search-attribute create"),
		"the wait follows the registration")
}

// TestSchemaJobDefaultsToTheImagesSchema: the schema folder is a variable
// only so the local cluster can point it at the server module's copy; in
// the admin-tools image it is where the image keeps it.
func TestSchemaJobDefaultsToTheImagesSchema(t *testing.T) {
	script, err := os.ReadFile("temporal/setup-schema.sh")
	require.NoError(t, err)
	require.Contains(t, string(script), "schema_dir=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}")
}

// TestDynamicConfigHasOnlyKnownKeys checks the dynamic config file compose
// mounts with the server's own list of keys and types, where `make
// cluster-bins` has built the server (make test does).
func TestDynamicConfigHasOnlyKnownKeys(t *testing.T) {
	server := filepath.Join(repoRoot, "bin", "temporal-server-"+deploytemporal.Version, "temporal-server")
	if _, err := os.Stat(server); err != nil {
		t.Skipf("no %s: run `make cluster-bins` to check the dynamic config with the server's own keys", server)
	}
	temporal := service(t, loadProject(t, nil), "temporal")
	file, ok := hostFile(temporal, requireEnv(t, temporal, "DYNAMIC_CONFIG_FILE_PATH"))
	require.True(t, ok)
	report, err := cluster.ValidateDynamicConfig(context.Background(), server, file)
	require.NoError(t, err)
	require.Contains(t, report, filepath.Base(file))
}
