#!/usr/bin/env bash
# Builds the Temporal server release $1 into folder $2 from the Go module
# proxy: temporal-server and temporal-sql-tool under the names the images
# give them, and beside them the two files of their module that the images
# carry, laid out as under the image's /etc/temporal:
#   schema/postgresql/v12/          what setup-schema.sh applies
#   config/config_template.yaml     the config template the server embeds
# Called by `make cluster-bins`; the folder is kept until the version changes.
set -euo pipefail
version=${1:?usage: build-temporal-server.sh VERSION DIR}
dir=${2:?usage: build-temporal-server.sh VERSION DIR}
module=go.temporal.io/server@v$version

tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
echo "building Temporal server $version (about 10 minutes the first time)"
# Server releases pin the Go patch they were tested with (1.32.2 wants Go
# 1.26.10 or newer). Only this build takes that toolchain, from the module
# proxy when this machine's Go is older: coursehook itself stays on its own.
export GOTOOLCHAIN=${TEMPORAL_SERVER_GOTOOLCHAIN:-go1.27.3}
GOBIN=$(cd "$tmp" && pwd) go install "go.temporal.io/server/cmd/server@v$version" "go.temporal.io/server/cmd/tools/sql@v$version"
mv "$tmp/server" "$tmp/temporal-server"
mv "$tmp/sql" "$tmp/temporal-sql-tool"

src=$(go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "build-temporal-server: cannot find the source of $module" >&2; exit 1; }
mkdir -p "$tmp/schema/postgresql" "$tmp/config"
cp -R "$src/schema/postgresql/v12" "$tmp/schema/postgresql/"
cp "$src/common/config/config_template_embedded.yaml" "$tmp/config/config_template.yaml"
# The module cache is read-only; the copies need not be.
chmod -R u+w "$tmp"
chmod 755 "$tmp"
# The schema folder carries a Go file of the server's module; inside this
# repository `go test ./...` would take it for a package of coursehook's.
find "$tmp/schema" -name '*.go' -delete

"$tmp/temporal-server" --version
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
touch "$dir/.built"
# Folders of other versions are stale once this one is built.
for old in "$(dirname "$dir")"/temporal-server-*; do
	[ "$old" = "$dir" ] || [ ! -d "$old" ] || { chmod -R u+w "$old"; rm -rf "$old"; }
done
