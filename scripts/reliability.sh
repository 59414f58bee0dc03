#!/usr/bin/env bash
# The reliability programs of issue 13, one command; writes every figure into docs/reliability.md with the date
# and commit, and exits non-zero on any violation or 5xx.
#
# 1. Stations under faults: simulated stations walk units through the 8 processes against the real server on a
#    private PostgreSQL cluster that this program starts (initdb / pg_ctl in a temporary directory, a free port; as
#    the postgres user when run as root), kills the server's connections over and over and restarts at least
#    twice; then an invariant checker. The machine's PostgreSQL is never touched by this part.
# 2. Hostile input: the fixed corpus (crates/server/tests/api/hostile_corpus.rs: every operation of the OpenAPI
#    document with NUL, invalid UTF-8, 1 MB strings, 10,000-deep JSON, huge numbers, SQL injection, wrong types,
#    with and without a token), schemathesis (scripts/fuzz-api.sh, release build) and the cargo-fuzz targets
#    (scripts/fuzz-targets.sh, nightly). These use DATABASE_URL's server for scratch databases (dropped after).
#
# Usage: scripts/reliability.sh [--hostile-only | --faults-only] [--stations N] [--units N] [--kill-every-ms MS]
#        [--restarts N]   (defaults 8 stations x 10 units = 1,280 acknowledged writes, kills every 300 ms,
#        2 restarts)
#   FUZZ_EXAMPLES (schemathesis examples per operation, default 15), FUZZ_SECONDS (per cargo-fuzz target,
#   default 60); FUZZ_PROFILE / FUZZ_PHASES / FUZZ_MAX_TIME are passed to scripts/fuzz-api.sh
# Shortened runs are part of `.ci/run`: crates/faults/tests/short_run.rs and the corpus in `cargo nextest run
# --workspace`, a bounded schemathesis run, and the fuzz entry points as bounded property tests.
set -euo pipefail
cd "$(dirname "$0")/.."
faults=1 hostile=1 args=()
for a in "$@"; do
  case "$a" in
    --hostile-only) faults=0 ;;
    --faults-only) hostile=0 ;;
    *) args+=("$a") ;;
  esac
done
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit (with uncommitted changes)"; fi
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
status=0
if [ $faults = 1 ]; then
  cargo build -q -p neurohub-faults --bin stations-under-faults
  NEUROHUB_COMMIT="$commit" NEUROHUB_COMMAND="scripts/reliability.sh $*" \
    "$TARGET_DIR/debug/stations-under-faults" "${args[@]}" --write docs/reliability.md || status=$?
fi
if [ $hostile = 1 ]; then
  rm -f "$TARGET_DIR/hostile-corpus.json" "$TARGET_DIR/fuzz-api.json" "$TARGET_DIR/fuzz-targets.json"
  HOSTILE_CORPUS_OUT="$PWD/$TARGET_DIR/hostile-corpus.json" \
    cargo nextest run -p neurohub-server --test api -E 'test(hostile_corpus)' --no-capture || status=1
  bash scripts/fuzz-api.sh "${FUZZ_EXAMPLES:-15}" || status=1
  bash scripts/fuzz-targets.sh "${FUZZ_SECONDS:-60}" || status=1
  python3 - "$TARGET_DIR" "$commit" "scripts/reliability.sh $*" "${FUZZ_EXAMPLES:-15}" "${FUZZ_SECONDS:-60}" <<'PY'
import datetime, json, os, sys
target, commit, command, examples, seconds = sys.argv[1:]
def load(name):
    try:
        return json.load(open(os.path.join(target, name)))
    except (OSError, ValueError):
        return None
corpus, st, fz = load("hostile-corpus.json"), load("fuzz-api.json"), load("fuzz-targets.json")
def classes(d):
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(d.get("by_status_class", {}).items())) if d else "not run"
lines = [
    "# Hostile input",
    "",
    "Written by `scripts/reliability.sh` (the hostile-input part; `--hostile-only` runs just it); do not edit by",
    "hand. The fixed corpus is `crates/server/tests/api/hostile_corpus.rs`, schemathesis `scripts/fuzz-api.sh`",
    "(a fresh database, with and without a token), the fuzz targets `scripts/fuzz-targets.sh`",
    "(`fuzz/`, entry points in crates/mes/src/fuzz.rs and crates/atp/src/fuzz.rs).",
    "",
    "| | |",
    "|---|---|",
    f"| date (UTC) | {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')} |",
    f"| commit | `{commit}` |",
    f"| command | `{command}` |",
    f"| fixed corpus: operations | {corpus['operations'] if corpus else 'not run'} |",
    f"| fixed corpus: requests | {corpus['requests']:,} |" if corpus else "| fixed corpus: requests | not run |",
    f"| fixed corpus: answers | {classes(corpus)} |",
    f"| **fixed corpus: 5xx** | **{corpus['5xx'] if corpus else 'not run'}** |",
    f"| schemathesis: requests ({examples} examples per operation, {os.environ.get('FUZZ_PROFILE', 'release')} build{', ' + os.environ['FUZZ_MAX_TIME'] + ' s per run' if os.environ.get('FUZZ_MAX_TIME') else ''}) | {st['requests']:,} |" if st else "| schemathesis: requests | not run |",
    f"| schemathesis: answers | {classes(st)} |",
    f"| **schemathesis: 5xx** | **{st['5xx'] if st else 'not run'}** |",
]
if fz:
    for t, v in fz.items():
        lines.append(f"| cargo fuzz `{t}`: executions in {v['seconds']} s | {v['executions']:,}{' (**crashed**)' if v['crashed'] else ''} |")
    lines.append(f"| **cargo fuzz: crashes** | **{sum(1 for v in fz.values() if v['crashed'])}** |")
else:
    lines.append("| cargo fuzz | not run |")
section = "\n".join(lines) + "\n"
path = "docs/reliability.md"
text = open(path).read() if os.path.exists(path) else ""
head = text.split("\n# Hostile input\n")[0].rstrip("\n")
open(path, "w").write((head + "\n\n" if head else "") + section)
print(section)
PY
fi
exit $status
