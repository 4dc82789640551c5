#!/usr/bin/env bash
# Creates the roles and coursehook's database on the shared PostgreSQL server.
#
# The postgres image runs the files in /docker-entrypoint-initdb.d once, when it
# initialises an empty data directory; on later starts the volume already holds
# them. After changing this file, start from a fresh volume:
#   docker compose down --volumes && docker compose up
#
# Temporal and coursehook each get a role that is not a superuser:
#   temporal    may create databases, because Temporal's schema job creates
#               temporal and temporal_visibility itself (and owns them);
#   coursehook  owns the coursehook database, where the worker creates its
#               tables on start, and can reach nothing else.
#
# No `set -u`: if this file loses its executable bit the entrypoint sources it
# instead of running it, and -u would leak into the entrypoint's own shell.
set -eo pipefail

: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set on the postgresql service}"
: "${COURSEHOOK_DB_PASSWORD:?COURSEHOOK_DB_PASSWORD must be set on the postgresql service}"

# Passwords go in as psql variables and are quoted by psql (:'name'), so any
# character is safe.
psql --no-psqlrc --set ON_ERROR_STOP=1 \
	--username "$POSTGRES_USER" --dbname postgres \
	--set temporal_password="$TEMPORAL_DB_PASSWORD" \
	--set coursehook_password="$COURSEHOOK_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE coursehook LOGIN PASSWORD :'coursehook_password';
CREATE DATABASE coursehook OWNER coursehook;
-- Every role may connect to a new database by default; keep Temporal's role out.
REVOKE CONNECT, TEMPORARY ON DATABASE coursehook FROM PUBLIC;
SQL
