#!/usr/bin/env bash
# Stations under faults, the full run (issue 13): simulated stations walk units through the 8 processes against
# the real server on a private PostgreSQL cluster that this program starts (initdb / pg_ctl in a temporary
# directory, a free port; as the postgres user when run as root), kills the server's connections over and over
# and restarts at least twice; then an invariant checker. Writes the figures into docs/reliability.md and exits
# non-zero on any violation. The machine's PostgreSQL is never touched (DATABASE_URL is not used).
# Usage: scripts/reliability.sh [--stations N] [--units N] [--kill-every-ms MS] [--restarts N]
#        (defaults 8 stations x 10 units = 1,280 acknowledged writes, kills every 300 ms, 2 restarts)
# A shortened run (3 x 2, ~30 s) is crates/faults/tests/short_run.rs, part of `cargo nextest run --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit (with uncommitted changes)"; fi
cargo build -q -p neurohub-faults --bin stations-under-faults
NEUROHUB_COMMIT="$commit" NEUROHUB_COMMAND="scripts/reliability.sh $*" \
  "${CARGO_TARGET_DIR:-target}/debug/stations-under-faults" "$@" --write docs/reliability.md
