#!/usr/bin/env bash
# A PostgreSQL cluster of its own for the outage tests and bench (port 5433, trust on 127.0.0.1,
# database "test"): they stop and start it, so the shared cluster on 5432 is never touched.
# Creates it when missing, then starts it. Usage: scripts/outage-cluster.sh [PORT]
set -euo pipefail
port="${1:-${PLAZA_OUTAGE_PG_PORT:-5433}}"
name=plaza_outage
command -v pg_createcluster >/dev/null || { echo "pg_createcluster not found (Debian's postgresql-common)" >&2; exit 1; }
version="$(ls /etc/postgresql | sort -n | tail -n1)"
if [ ! -d "/etc/postgresql/$version/$name" ]; then
  pg_createcluster "$version" "$name" --port "$port" -- --auth-local=trust --auth-host=trust >/dev/null
  conf="/etc/postgresql/$version/$name/postgresql.conf"
  # Small and quick to stop and start: the tests restart it several times.
  printf '%s\n' "listen_addresses = '127.0.0.1'" "shared_buffers = 16MB" "max_connections = 60" "fsync = on" >>"$conf"
  printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' >"/etc/postgresql/$version/$name/pg_hba.conf"
fi
if ! pg_isready -h 127.0.0.1 -p "$port" -q; then
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
fi
for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p "$port" -q && break; sleep 0.1; done
psql -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname = 'test'" | grep -q 1 \
  || psql -h 127.0.0.1 -p "$port" -U postgres -qc 'create database test'
