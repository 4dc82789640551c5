#!/bin/sh
# Creates Temporal's two databases on PostgreSQL if they are missing and brings
# their schemas up to the version this admin-tools image ships. Runs in the
# temporal-schema job before every start of the server, which is safe:
#   create         ignores a database that already exists (it connects to the
#                  postgres database to do so: the temporal role has no
#                  database of its own name to land in);
#   setup-schema   with -v 0.0 keeps a recorded version that is newer;
#   update-schema  applies only the versions not yet recorded.
# So moving TEMPORAL_VERSION forward migrates the existing volume in place.
set -eu

: "${DB:?}" "${POSTGRES_SEEDS:?}" "${DB_PORT:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
# temporal-sql-tool reads the password from the environment, which keeps it
# off the command line (and out of `ps`).
SQL_PASSWORD=$POSTGRES_PWD
export SQL_PASSWORD

# The admin-tools image keeps the schema here; the local cluster
# (scripts/cluster.sh) points it at the server module's copy.
schema_dir=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}

setup() {
	db=$1
	versioned=$2
	echo "temporal-schema: database $db"
	temporal-sql-tool --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" create --defaultdb postgres
	temporal-sql-tool --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" setup-schema -v 0.0
	temporal-sql-tool --plugin "$DB" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" update-schema -d "$versioned"
}

setup "${DBNAME:-temporal}" "$schema_dir/temporal/versioned"
setup "${VISIBILITY_DBNAME:-temporal_visibility}" "$schema_dir/visibility/versioned"
echo "temporal-schema: done"
