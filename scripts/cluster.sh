#!/usr/bin/env bash
# The production topology of docker-compose.yml on this machine, without
# Docker: PostgreSQL, Temporal's schema and namespace jobs, the four Temporal
# services as processes of their own, and coursehook's workers and webhook
# servers (README.md, "Production cluster").
#
#   scripts/cluster.sh up [--workers N] [--webhook-servers N]
#   scripts/cluster.sh down
#   scripts/cluster.sh ps                               processes: pid, running or stopped, log
#   scripts/cluster.sh kill [--signal KILL|TERM] NAME   KILL (a crash) by default; waits until gone
#   scripts/cluster.sh start NAME                       starts it again, waits until it is ready
#   scripts/cluster.sh restart NAME                     SIGTERM, then start
#
# NAME is a process as ps shows it (temporal-history, worker-1, webhook-2) or
# a Temporal service's short name: frontend, history, matching, worker.
# up builds what it needs first (the Temporal server takes about 10 minutes
# the first time). State and logs: $CLUSTER_DIR, by default .data/cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
up) make -s build cluster-bins ;;
down | ps | kill | start | restart) ;;
*) echo "usage: scripts/cluster.sh up|down|ps|kill|start|restart [...] (see the top of this script)" >&2; exit 2 ;;
esac
exec go run ./internal/cluster/cmd/cluster "$@"
