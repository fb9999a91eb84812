#!/bin/sh
# Temporal's databases on PostgreSQL, run by the admin-tools image before the server starts
# (docker-compose: the `temporal-schema` one-shot; Kubernetes: the server's init container).
# The same steps as Temporal's own compose set-up and as test/support/postgresTemporal.ts:
# create the database, stamp its schema version table at 0.0, then apply every versioned step
# up to the release's schema (the schemas embedded in temporal-sql-tool, so the tool's version
# and the server's must match). Safe at every start: `setup-schema` leaves a stamped database as
# it is, and `update-schema` applies only the steps above its version (test/deploy/temporalScripts.test.ts).
# temporal-sql-tool reads its connection from SQL_* variables, so the password is never an argument.
set -eu
: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD to the PostgreSQL password}"
export SQL_PLUGIN=postgres12 SQL_HOST="$POSTGRES_SEEDS" SQL_PORT="${DB_PORT:-5432}" SQL_USER="$POSTGRES_USER"

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  export SQL_DATABASE="${pair%%:*}"
  schema="postgresql/v12/${pair#*:}"
  temporal-sql-tool create-database # a no-op when the database exists
  temporal-sql-tool setup-schema -v 0.0
  temporal-sql-tool update-schema --schema-name "$schema"
done
echo "Temporal schemas are up to date"
