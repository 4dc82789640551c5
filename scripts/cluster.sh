#!/usr/bin/env bash
# The production topology of docker-compose.yml on this machine, without
# Docker: PostgreSQL, Temporal's schema and namespace jobs, the four Temporal
# services as processes of their own, and coursehook's workers and webhook
# servers (README.md, "Production cluster").
#
#   scripts/cluster.sh up [--workers N] [--webhook-servers N]
#   scripts/cluster.sh down
#
# up builds what it needs first (the Temporal server takes about 10 minutes
# the first time). State and logs: $CLUSTER_DIR, by default .data/cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
up) make -s build cluster-bins ;;
down) ;;
*) echo "usage: scripts/cluster.sh up|down" >&2; exit 2 ;;
esac
exec go run ./internal/cluster/cmd/cluster "$@"
