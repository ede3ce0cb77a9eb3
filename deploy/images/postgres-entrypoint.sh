#!/bin/sh
# First start: initdb into $PGDATA, create POSTGRES_USER/POSTGRES_DB; then exec postgres (PID 1).
set -eu
: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
: "${POSTGRES_USER:=fleetsim}" "${POSTGRES_DB:=fleetsim}" "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"; chmod 700 "$PGDATA"
  pw=$(mktemp); printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"
  initdb -D "$PGDATA" -U postgres --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
  rm -f "$pw"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w start >/dev/null
  psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U postgres -d postgres -q <<SQL
CREATE ROLE "$POSTGRES_USER" LOGIN PASSWORD '$POSTGRES_PASSWORD';
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: initialised $PGDATA (db $POSTGRES_DB, user $POSTGRES_USER)"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -k /var/run/postgresql "$@"
