#!/usr/bin/env bash
# Migration at scale (benchmarks issue): a 0003-style change — add a column, a CHECK constraint and an index — on
# process_data of the reference data set, while a writer keeps updating and inserting process records. Prints the
# total time of each step and the longest time one writer transaction took during it (its lock wait). Two ways:
#   safe:  the way crates/schema/migrations are written (README there): ADD COLUMN (nullable, no default), CHECK
#          NOT VALID then VALIDATE, CREATE INDEX CONCURRENTLY; lock_timeout 5 s per step like the deploy engine
#   naive: ADD CONSTRAINT CHECK (validated at once) and CREATE INDEX, each in one transaction
# Runs on a copy of bench/run's data set (a database made from it as a template), never on the original.
# With MIGRATION_LOTS set it runs at another scale instead: a database of its own, generated once with
# `neurohub seed --lots $MIGRATION_LOTS --units-per-lot ${MIGRATION_UNITS_PER_LOT:-50}` (the MES part only) into
# bench/run's cluster, and changed in place, each way undone after it (two copies of 10x would need ~3x its disk).
#
#   bench/migration-at-scale.sh                         # needs bench/run to have generated target/bench/pg once
#   MIGRATION_LOTS=20000 bench/migration-at-scale.sh    # 10x the reference set's process records
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${BENCH_DIR:-$ROOT/target/bench}
PGDATA_DIR=$DIR/pg
PG_PORT=${BENCH_PG_PORT:-55433}
PG_BIN=${NEUROHUB_PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -s "$PGDATA_DIR/PG_VERSION" ] || { echo "no data set in $PGDATA_DIR: run bench/run first" >&2; exit 2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
ADMIN="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
if [ -n "${MIGRATION_LOTS:-}" ]; then
  DB=neurohub_scale_${MIGRATION_LOTS}x${MIGRATION_UNITS_PER_LOT:-50}
  SOURCE=$DB
else
  DB=neurohub_migration_test
  SOURCE=neurohub_bench
fi
URL="postgres://postgres@127.0.0.1:$PG_PORT/$DB"

started=
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -l "$DIR/postgres.log" start >/dev/null
  started=1
fi
cleanup() {
  [ -n "${WRITER:-}" ] && kill "$WRITER" 2>/dev/null || true
  [ -z "${MIGRATION_LOTS:-}" ] && { psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
  [ -n "$started" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ -n "${MIGRATION_LOTS:-}" ] && ! psql -tA "$ADMIN" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  BIN=$ROOT/target/${BENCH_PROFILE:-release}
  [ -x "$BIN/neurohub" ] || cargo build --profile "${BENCH_PROFILE:-release}" -p neurohub-cli
  echo "== generating $DB: $MIGRATION_LOTS lots x ${MIGRATION_UNITS_PER_LOT:-50} units"
  psql -q "$ADMIN" -c "CREATE DATABASE $DB ENCODING 'UTF8' TEMPLATE template0"
  t0=$(date +%s.%N)
  DATABASE_URL=$URL "$BIN/neurohub" deploy >/dev/null
  DATABASE_URL=$URL "$BIN/neurohub" seed --lots "$MIGRATION_LOTS" --units-per-lot "${MIGRATION_UNITS_PER_LOT:-50}" \
    | grep -E '^(seed|generated|verify)' || true
  psql -q "$URL" -c "VACUUM (ANALYZE) process_data"
  printf '   generated in %.0f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
fi
rows=$(psql -tA "postgres://postgres@127.0.0.1:$PG_PORT/$SOURCE" -c "SELECT count(*) FROM process_data")
echo "process_data: $rows rows"
WINDOW=${MIGRATION_WINDOW:-30}
OUT=$DIR/migration-at-scale
mkdir -p "$OUT"
# the writer: what a station does to process_data while a record is open (its measurements change); completed
# records are immutable (a trigger refuses UPDATE), so it picks one of the open records
cat > "$OUT/writer.sql" <<'EOF'
\set n random(0, 1000)
UPDATE process_data SET measurements = measurements || '{"bench": 1}'
 WHERE id = (SELECT id FROM process_data WHERE completed_at IS NULL AND wip_id IS NOT NULL ORDER BY wip_id, process_id OFFSET :n LIMIT 1);
EOF

run() {  # run NAME SQL... : each SQL in its own transaction, timed, while the writer runs
  local name=$1; shift
  if [ -n "${MIGRATION_LOTS:-}" ]; then
    echo "== $name (in place on $DB)"
  else
    psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
    local t0=$(date +%s.%N)
    psql -q "$ADMIN" -c "CREATE DATABASE $DB TEMPLATE $SOURCE"
    echo "== $name (copy of the data set made in $(echo "$(date +%s.%N) - $t0" | bc) s)"
  fi
  rm -f "$OUT"/pgbench_log.*
  # the writer runs a fixed window (pgbench writes its per-transaction log only when it ends normally)
  (cd "$OUT" && "$PG_BIN/pgbench" -n -f writer.sql -c 2 -j 2 -T "$WINDOW" -l --log-prefix=pgbench_log "$URL" >/dev/null 2>&1) &
  WRITER=$!
  sleep 2
  local total0=$(date +%s.%N)
  for sql in "$@"; do
    local s0=$(date +%s.%N)
    PGOPTIONS="-c lock_timeout=5s -c statement_timeout=30min" psql -q -v ON_ERROR_STOP=1 "$URL" -c "$sql"
    printf '   %6.2f s  %s\n' "$(echo "$(date +%s.%N) - $s0" | bc)" "$sql"
  done
  local total=$(echo "$(date +%s.%N) - $total0" | bc)
  if (( $(echo "$total > $WINDOW - 4" | bc) )); then
    echo "   the steps took longer than the writer's window ($WINDOW s): set MIGRATION_WINDOW higher" >&2
  fi
  wait "$WRITER" 2>/dev/null || true; WRITER=
  # pgbench -l: one line per transaction, the third field its latency in microseconds
  local stats
  stats=$(cat "$OUT"/pgbench_log.* | awk '{n++; if ($3 > m) m = $3; s += $3} END {printf "%d writer transactions, longest %.1f ms, mean %.2f ms", n, m/1000, s/n/1000}')
  printf '   total %.2f s; %s\n' "$total" "$stats"
  if [ -n "${MIGRATION_LOTS:-}" ]; then  # undo, for the next way (in place)
    psql -q "$URL" -c "DROP INDEX IF EXISTS idx_process_data_bench_note" \
      -c "ALTER TABLE process_data DROP CONSTRAINT IF EXISTS chk_process_data_bench_note" \
      -c "ALTER TABLE process_data DROP COLUMN IF EXISTS bench_note"
  fi
}

run "safe (as crates/schema/migrations are written)" \
  "ALTER TABLE process_data ADD COLUMN bench_note VARCHAR(200)" \
  "ALTER TABLE process_data ADD CONSTRAINT chk_process_data_bench_note CHECK (bench_note IS NULL OR length(bench_note) > 0) NOT VALID" \
  "ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_bench_note" \
  "CREATE INDEX CONCURRENTLY idx_process_data_bench_note ON process_data (bench_note) WHERE bench_note IS NOT NULL"

run "naive (validated constraint, plain CREATE INDEX)" \
  "ALTER TABLE process_data ADD COLUMN bench_note VARCHAR(200)" \
  "ALTER TABLE process_data ADD CONSTRAINT chk_process_data_bench_note CHECK (bench_note IS NULL OR length(bench_note) > 0)" \
  "CREATE INDEX idx_process_data_bench_note ON process_data (process_id, bench_note)"
