#!/usr/bin/env bash
# The OpenAPI document is a contract: check the one the server serves with standard tools, and fail on any error.
#  (a) obtain it: the server test `writes_openapi_document` starts the real server, GETs /api/v1/openapi.json and
#      writes it to target/openapi.json (so this checks what clients get, not a copy);
#  (b) validate it against the OpenAPI 3.1 schema (PyPI openapi-spec-validator);
#  (c) generate a TypeScript client from it (npm openapi-typescript) and type-check, with tsc --strict, a small
#      program that calls it through openapi-fetch (scripts/openapi-client/check.ts).
# Tools are installed on first use into target/tools/ (pinned versions, nothing global). Needs PostgreSQL (as the
# tests do), python3 and npm. Usage: scripts/check-openapi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/target/tools"
DOC="$ROOT/target/openapi.json"
mkdir -p "$TOOLS"

# Pinned so a new release of a tool cannot turn CI red (or green) by itself; bump deliberately. The npm tools are
# pinned in scripts/openapi-client/package.json.
VALIDATOR_VERSION=0.9.0

echo "== (a) the served document -> $DOC"
rm -f "$DOC"
# --workspace, as the README's test command, so right after it nothing is rebuilt.
OPENAPI_OUT="$DOC" cargo nextest run --workspace --locked -E 'test(=openapi_contract::writes_openapi_document)'
test -s "$DOC" || { echo "the test wrote no document to $DOC" >&2; exit 1; }

echo "== (b) OpenAPI 3.1 schema validation (openapi-spec-validator $VALIDATOR_VERSION)"
VENV="$TOOLS/venv"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('openapi-spec-validator') != '$VALIDATOR_VERSION')" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$VALIDATOR_VERSION"
fi
"$VENV/bin/openapi-spec-validator" --schema 3.1 --validation-errors all "$DOC"

echo "== (c) a generated TypeScript client (scripts/openapi-client/package.json: openapi-typescript, openapi-fetch, tsc)"
# The npm tools are pinned, with every transitive dependency, by scripts/openapi-client/package-lock.json.
NODE="$TOOLS/node"
SRC=scripts/openapi-client
if ! cmp -s "$SRC/package-lock.json" "$NODE/package-lock.json" || [ ! -x "$NODE/node_modules/.bin/tsc" ]; then
  rm -rf "$NODE" && mkdir -p "$NODE"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$NODE/"
  npm ci --prefix "$NODE" --no-audit --no-fund --loglevel=error
fi
CLIENT="$TOOLS/client"
rm -rf "$CLIENT" && mkdir -p "$CLIENT"
cp "$SRC/check.ts" "$SRC/tsconfig.json" "$CLIENT/"
ln -s "$NODE/node_modules" "$CLIENT/node_modules"
"$NODE/node_modules/.bin/openapi-typescript" "$DOC" --output "$CLIENT/api.d.ts"
(cd "$CLIENT" && ./node_modules/.bin/tsc --project tsconfig.json)
echo "OpenAPI document: valid 3.1, and a generated client type-checks"
