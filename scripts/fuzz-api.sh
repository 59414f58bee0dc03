#!/usr/bin/env bash
# Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis, from PyPI): every
# operation gets generated requests, valid and hostile, with and without a valid token, and the run fails if any
# answer is a 5xx. Talks only to a server this script starts on 127.0.0.1, over a fresh database it drops after.
#
# Usage: scripts/fuzz-api.sh [max-examples-per-operation]   (default 15)
#   FUZZ_PROFILE=debug|release   which build of `neurohub` serves (default release; .ci/run uses debug)
#   FUZZ_PHASES=...              schemathesis phases (default examples,coverage,fuzzing; .ci/run: examples,fuzzing)
#   FUZZ_MAX_TIME=SECONDS        time budget of each of the two runs (schemathesis --max-time; none by default)
#   FUZZ_PORT, DATABASE_URL      port, and the server whose scratch database `neurohub_fuzz_<pid>` is used
# schemathesis is installed into a venv under target/tools/schemathesis when it is missing there (needs Python 3
# and pip). Figures (requests by status class, from the server's own /metrics) go to target/fuzz-api.json.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-15}"
PROFILE="${FUZZ_PROFILE:-release}"
PHASES="${FUZZ_PHASES:-examples,coverage,fuzzing}"
# a free port unless one is given (several runs may share the machine)
PORT="${FUZZ_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
BASE="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/neurohub}"
DB="neurohub_fuzz_$$"
URL="${BASE%/*}/$DB"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
VENV="$TARGET_DIR/tools/schemathesis"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "installing schemathesis into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'schemathesis>=4,<5'
fi
ST=("$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml)
if [ "$PROFILE" = release ]; then cargo build --release -q -p neurohub-cli; else cargo build -q -p neurohub-cli; fi
BIN="$TARGET_DIR/$PROFILE/neurohub"
ADMIN_DB="${BASE%/*}/postgres"
psql "$ADMIN_DB" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
PW="fuzz-Admin-passw0rd-$$-$RANDOM"
LOG=$(mktemp)
DATABASE_URL="$URL" NEUROHUB_ADMIN_PASSWORD="$PW" NEUROHUB_LISTEN="127.0.0.1:$PORT" NEUROHUB_LOG=warn \
  "$BIN" up >"$LOG" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  psql "$ADMIN_DB" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -f "$LOG"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "listening" "$LOG" && break
  kill -0 $SERVER 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.2
done
grep -q "listening" "$LOG" || { echo "the server did not start" >&2; cat "$LOG"; exit 1; }
API="http://127.0.0.1:$PORT"
TOKEN=$(curl -sf "$API/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PW\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
COMMON=(--checks not_a_server_error --max-examples "$EXAMPLES" --phases "$PHASES" --seed 13
        --suppress-health-check all --no-color ${FUZZ_MAX_TIME:+--max-time "$FUZZ_MAX_TIME"})
status=0
started=$(date +%s)
# With the admin's token: every operation but logout (it would end the session the run uses) and sign-in.
"${ST[@]}" run "$API/api/v1/openapi.json" --url "$API" -H "Authorization: Bearer $TOKEN" "${COMMON[@]}" \
  --exclude-path-regex '/auth/(logout|login|refresh)' || status=$?
# Without a token: every operation (sign-in and refresh are the unauthenticated ones; the rest must answer 401).
"${ST[@]}" run "$API/api/v1/openapi.json" --url "$API" "${COMMON[@]}" || status=$?
# The server's own count of what it answered (every request reaches the metrics layer).
curl -sf "$API/metrics" -H "Authorization: Bearer $TOKEN" | python3 -c '
import json, re, sys
by = {}
for line in sys.stdin:
    m = re.match(r"http_requests_total\{(.*)\} (\d+)", line)
    if not m: continue
    s = re.search(r"status=\"(\d)", m.group(1)).group(1)
    by[s + "xx"] = by.get(s + "xx", 0) + int(m.group(2))
total = sum(by.values())
print(f"schemathesis run: {total} requests answered: {by}")
json.dump({"requests": total, "by_status_class": by, "5xx": by.get("5xx", 0)}, open(sys.argv[1], "w"), indent=2)
' "$TARGET_DIR/fuzz-api.json"
echo "schemathesis runs took $(( $(date +%s) - started )) s"
five=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["5xx"])' "$TARGET_DIR/fuzz-api.json")
[ "$five" = 0 ] || { echo "the server answered $five server error(s)" >&2; status=1; }
exit $status
