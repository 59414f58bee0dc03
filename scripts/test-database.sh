#!/usr/bin/env bash
# nextest setup script (.config/nextest.toml): the tests' DATABASE_URL on a machine whose PostgreSQL is installed but
# not running. When nothing answers at DATABASE_URL's loopback address and the private PostgreSQL of `neurohub up`
# (docs/runbooks.md, "The private database") runs in NEUROHUB_PG_DATA_DIR (default var/postgres), the tests use it
# over its Unix socket. When PostgreSQL answers there but the tests' master database (each test creates its own
# through it) is missing — a machine where `neurohub up` never ran — it creates it. It never fails the run.
cd "$(dirname "$0")/.." || exit 0
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/neurohub}"
rest="${url#*://}"; rest="${rest#*@}"; hostport="${rest%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=5432
db="${rest#*/}"; db="${db%%\?*}"
case "$host" in 127.0.0.1|localhost) ;; *) exit 0 ;; esac
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  admin="${url%%\?*}"; admin="${admin%/*}/postgres"
  if command -v psql >/dev/null && ! psql "$url" -qtAc 'SELECT 1' >/dev/null 2>&1 \
     && [ "$(psql "$admin" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db'" 2>/dev/null)" != 1 ]; then
    echo "creating the tests' master database $db" >&2
    psql "$admin" -qc "CREATE DATABASE \"$db\" ENCODING 'UTF8' TEMPLATE template0" >&2 || true
  fi
  exit 0
fi
dir="${NEUROHUB_PG_DATA_DIR:-var/postgres}"
[ -d "$dir" ] || exit 0
dir="$(cd "$dir" && pwd)"
live_port="$(sed -n 4p "$dir/data/postmaster.pid" 2>/dev/null)"
[ -n "$live_port" ] && [ -S "$dir/.s.PGSQL.$live_port" ] || exit 0
echo "nothing answers at $host:$port; the tests use the private PostgreSQL in $dir" >&2
echo "DATABASE_URL=postgres://postgres@localhost:$live_port/$db?host=$dir" >> "$NEXTEST_ENV"
