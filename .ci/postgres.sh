#!/usr/bin/env bash
# Start the machine's PostgreSQL 15 (Debian's cluster "15/main") when it is not
# running, make sure the test role and database exist, and print their DSN on
# stdout (everything else goes to stderr). The tests read it from
# PACT_STATES_TEST_POSTGRES_URL:
#
#   export PACT_STATES_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"
#
# Needs root (pg_ctlcluster, runuser). Exits non-zero when PostgreSQL cannot
# be had; the PostgreSQL tests then skip and say why.
set -euo pipefail

VERSION=15
CLUSTER=main
ROLE=pact
PASSWORD=pact
DATABASE=pact_states_test
PORT=5432

log() { echo "postgres.sh: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null || [ ! -d "/usr/lib/postgresql/$VERSION" ]; then
    log "PostgreSQL $VERSION is not installed; installing Debian's postgresql-$VERSION."
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq "postgresql-$VERSION"; } >&2
fi

if ! pg_lsclusters --no-header | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c' | grep -q .; then
    log "creating cluster $VERSION/$CLUSTER"
    pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" >&2
fi
if ! pg_lsclusters --no-header | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c && $4 == "online"' | grep -q .; then
    log "starting cluster $VERSION/$CLUSTER"
    pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi

psql_admin() {
    runuser -u postgres -- psql --port "$PORT" --no-psqlrc --quiet --tuples-only \
        --set ON_ERROR_STOP=1 "$@"
}

# Bounded wait: the server may still be starting up.
for _ in $(seq 1 50); do
    psql_admin --command 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.2
done

psql_admin --command "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
    END IF;
END \$\$;" >&2
if [ -z "$(psql_admin --command "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    log "creating database $DATABASE"
    psql_admin --command "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
