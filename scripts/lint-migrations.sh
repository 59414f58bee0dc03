#!/usr/bin/env bash
# Lint every migration SQL file (each up step, each down, the archive helpers) with squawk and fail on any
# violation that is not excluded on purpose. Rules: .squawk.toml (global) and the tables below (per kind of file,
# per file); each exclusion is explained in crates/schema/migrations/README.md ("Migration lint").
#
# squawk is installed when missing, without prompts: npm into target/tools/squawk (or, without npm, pip into
# target/tools/squawk-pip). SQUAWK=/path/to/squawk uses that binary instead.
#
# `scripts/lint-migrations.sh --self-test` injects one violation of each kind into a scratch copy and requires the
# lint to report them all.
#
# Besides squawk, two checks squawk cannot do for this engine:
#  * every SQL file under up/ is a step of src/registry.rs, and the `concurrently` (non-transactional) steps are
#    read from there, so each file is linted with the transaction mode it really runs in;
#  * a `concurrently` step is re-runnable: each CREATE INDEX CONCURRENTLY is preceded by
#    DROP INDEX CONCURRENTLY IF EXISTS of the same index (a failed build leaves an INVALID index behind; IF NOT
#    EXISTS would keep it, so squawk's prefer-robust-stmts is replaced by this check for those steps).
set -euo pipefail
cd "$(dirname "$0")/.."

SQUAWK_VERSION=2.66.0
TOOLS=target/tools

has_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "squawk $SQUAWK_VERSION"; }

if [ -z "${SQUAWK:-}" ]; then
  if has_version "$TOOLS/squawk/node_modules/.bin/squawk"; then
    SQUAWK="$TOOLS/squawk/node_modules/.bin/squawk"
  elif has_version "$TOOLS/squawk-pip/bin/squawk"; then
    SQUAWK="$TOOLS/squawk-pip/bin/squawk"
  elif command -v npm >/dev/null; then
    echo "installing squawk-cli $SQUAWK_VERSION (npm) into $TOOLS/squawk" >&2
    mkdir -p "$TOOLS/squawk"
    npm install --prefix "$TOOLS/squawk" --no-audit --no-fund --no-save --loglevel=error \
      "squawk-cli@$SQUAWK_VERSION" >&2
    SQUAWK="$TOOLS/squawk/node_modules/.bin/squawk"
  else
    echo "installing squawk-cli $SQUAWK_VERSION (pip) into $TOOLS/squawk-pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check --no-input --target "$TOOLS/squawk-pip" \
      "squawk-cli==$SQUAWK_VERSION" >&2
    SQUAWK="$TOOLS/squawk-pip/bin/squawk"
  fi
fi
"$SQUAWK" --version >/dev/null

# --self-test: prove the lint is not vacuous. Lint a scratch copy of the migrations with one violation of each
# kind injected and require each to be reported (and the run to fail).
if [ "${1:-}" = "--self-test" ]; then
  SQUAWK="$(cd "$(dirname "$SQUAWK")" && pwd)/$(basename "$SQUAWK")"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/crates/schema/src"
  cp -r scripts .squawk.toml "$scratch/"
  cp -r crates/schema/migrations "$scratch/crates/schema/"
  cp crates/schema/src/registry.rs "$scratch/crates/schema/src/"
  m="$scratch/crates/schema/migrations"
  echo "CREATE INDEX idx_selftest_plain ON lots (notes);" >> "$m/0004_mes_api/up/01_columns_and_tables.sql"
  echo "CREATE INDEX CONCURRENTLY idx_selftest_nodrop ON lots (notes);" >> "$m/0004_mes_api/up/05_indexes_concurrently.sql"
  echo "SELECT 1;" > "$m/0004_mes_api/up/99_unregistered.sql"
  sed -i 's/CHAR(2)/TEXT   /g' "$m/0003_wip_tracking/up/01_tables.sql"
  echo "ALTER TABLE lots RENAME COLUMN notes TO remarks;" >> "$m/0004_mes_api/down.sql"
  if out=$(SQUAWK="$SQUAWK" "$scratch/scripts/lint-migrations.sh" 2>&1); then
    echo "self-test: the lint passed a tree with injected violations" >&2; exit 1
  fi
  for want in "01_columns_and_tables.sql:.*require-concurrent-index-creation" \
              "idx_selftest_nodrop is not preceded by DROP INDEX CONCURRENTLY IF EXISTS" \
              "99_unregistered.sql: not a step" \
              "0003_wip_tracking/up/01_tables.sql: per-file exclusion of ban-char-field is stale" \
              "0004_mes_api/down.sql:.*renaming-column"; do
    echo "$out" | grep -q -- "$want" || { echo "self-test: not reported: $want" >&2; echo "$out" >&2; exit 1; }
  done
  echo "migration lint self-test: every injected violation was reported"
  exit 0
fi

exec python3 - "$SQUAWK" <<'PY'
import glob, re, subprocess, sys, tomllib

squawk = sys.argv[1]
root = "crates/schema/migrations"

# Per kind of file: rules that do not fit how the engine runs that kind.
GROUP_EXCLUSIONS = {
    "transactional": [],
    # Runs outside a transaction, statement by statement; re-runnable by DROP ... IF EXISTS then CREATE (checked
    # below), which squawk's prefer-robust-stmts does not recognise.
    "concurrently": ["prefer-robust-stmts"],
    "down": [
        # A down archives the rows of what it drops into neurohub_archive first (archive_table), in the same
        # transaction, and the next up restores them: dropping is the design, not data loss.
        "ban-drop-table",
        "ban-drop-column",
        # A down is one transaction (all of a version or nothing); DROP INDEX CONCURRENTLY cannot run in one.
        "require-concurrent-index-deletion",
    ],
}

# Per file: existing violations kept on purpose. Released up steps are checksummed by the engine (an edited applied
# step is refused), so they are never rewritten; each entry says why the violation is acceptable. An entry whose
# rule no longer fires fails the lint, so this list cannot go stale.
PER_FILE = {
    # 0001 reproduces seed 000 as it was: TIMESTAMP columns (0002 converts them, without a rewrite, under UTC).
    "0001_initial_schema/up/02_independent_tables.sql": ["prefer-timestamp-tz"],
    "0001_initial_schema/up/03_lots_table.sql": ["prefer-timestamp-tz"],
    "0001_initial_schema/up/04_serials_table.sql": ["prefer-timestamp-tz"],
    "0001_initial_schema/up/05_process_data_table.sql": ["prefer-timestamp-tz"],
    # Seed 001's refactoring: TIMESTAMP -> TIMESTAMPTZ is binary-compatible under TimeZone UTC (no rewrite); the one
    # rewrite, JSON -> JSONB of process_data, is the seed's decision and ran with the 5-minute statement_timeout.
    "0002_refactoring/up/01_timestamptz_jsonb.sql": ["changing-column-type"],
    # Fixed-width codes from the seed (country_code, line_code CHAR(2); year_month CHAR(4)), each pinned by a CHECK.
    "0003_wip_tracking/up/01_tables.sql": ["ban-char-field"],
    "0004_mes_api/up/01_columns_and_tables.sql": ["ban-char-field"],
    # The down to 0001's shape restores TIMESTAMP / JSON columns and 0001's FKs. NOT VALID + VALIDATE would buy
    # nothing here: a down is one transaction, so the lock is held to the end either way.
    "0002_refactoring/down.sql": [
        "changing-column-type",
        "prefer-timestamp-tz",
        "adding-foreign-key-constraint",
        "constraint-missing-not-valid",
    ],
    # Restores 0002's serial-only CHECK, validated, inside the down's single transaction (as above).
    "0003_wip_tracking/down.sql": ["constraint-missing-not-valid"],
    # Restores 0006's index of the assignee's stages: a down is one transaction, where CREATE INDEX CONCURRENTLY
    # cannot run; the build holds workflow_stages' SHARE lock (writers wait, readers do not) for its duration.
    "0013_atp_pending_order/down.sql": ["require-concurrent-index-creation"],
}

with open(".squawk.toml", "rb") as f:
    config = tomllib.load(f)
# squawk replaces (does not extend) the config's excluded_rules when --exclude is given: pass them again
global_excluded = config.get("excluded_rules", [])

registry = open("crates/schema/src/registry.rs").read()
steps = re.findall(r'step!\(\s*"([^"]+)",\s*"([^"]+)",\s*"[^"]+"\s*(,\s*concurrently\s*)?,?\s*\)', registry)
registered = {f"{d}/up/{f}": bool(c) for d, f, c in steps}

problems = []
files = sorted(glob.glob(f"{root}/*/up/*.sql")) + sorted(glob.glob(f"{root}/*/down.sql"))
files.append(f"{root}/archive_helpers.sql")
for path in sorted(set(f"{root}/{k}" for k in PER_FILE) - set(files)):
    problems.append(f"{path}: listed in PER_FILE but does not exist")

violation = re.compile(r"^(?P<loc>[^:]+:\d+:\d+): (?:warning|error): (?P<rule>[a-z0-9-]+) (?P<msg>.*)$")
for path in files:
    rel = path[len(root) + 1:]
    if "/up/" in rel:
        if rel not in registered:
            problems.append(f"{path}: not a step of crates/schema/src/registry.rs (it would never run)")
            continue
        kind = "concurrently" if registered[rel] else "transactional"
    else:
        kind = "down"
    allowed = set(PER_FILE.get(rel, []))
    excluded = global_excluded + GROUP_EXCLUSIONS[kind]
    mode = "--no-assume-in-transaction" if kind == "concurrently" else "--assume-in-transaction"
    cmd = [squawk, "-c", ".squawk.toml", mode, "--reporter", "gcc"]
    if excluded:
        cmd.append("--exclude=" + ",".join(excluded))
    run = subprocess.run(cmd + [path], capture_output=True, text=True)
    fired = set()
    for line in (run.stdout + run.stderr).splitlines():
        m = violation.match(line)
        if not m:
            continue
        fired.add(m["rule"])
        if m["rule"] not in allowed:
            problems.append(f"{m['loc']}: {m['rule']} {m['msg']}")
    if run.returncode not in (0, 1) or (run.returncode == 1 and not fired):
        problems.append(f"{path}: squawk failed ({run.returncode}): {run.stderr.strip() or run.stdout.strip()}")
    for rule in sorted(allowed - fired):
        problems.append(f"{path}: per-file exclusion of {rule} is stale (the rule no longer fires): remove it")
    if kind == "concurrently":
        sql = re.sub(r"--[^\n]*", "", open(path).read())
        dropped = set()
        for stmt in (s.strip() for s in sql.split(";")):
            d = re.match(r"(?is)DROP\s+INDEX\s+CONCURRENTLY\s+IF\s+EXISTS\s+(\w+)", stmt)
            if d:
                dropped.add(d[1].lower())
                continue
            c = re.match(r"(?is)CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", stmt)
            if c and c[1].lower() not in dropped:
                problems.append(f"{path}: CREATE INDEX CONCURRENTLY {c[1]} is not preceded by "
                                f"DROP INDEX CONCURRENTLY IF EXISTS {c[1]} (a re-run after a failed build "
                                f"would fail on, or keep, the INVALID leftover)")

if problems:
    print("\n".join(problems))
    print(f"migration lint: {len(problems)} problem(s) in {len(files)} file(s)", file=sys.stderr)
    sys.exit(1)
print(f"migration lint: {len(files)} file(s) clean (squawk {subprocess.run([squawk, '--version'], capture_output=True, text=True).stdout.split()[-1]})")
PY
