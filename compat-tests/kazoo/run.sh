#!/usr/bin/env bash
# compat-tests/kazoo/run.sh ADDR
#
# Runs kazoo 2.11.0's own test suite (from its PyPI sdist) against the
# already running server at ADDR (127.0.0.1:PORT), or the ensemble at
# ADDR = 127.0.0.1:P1,127.0.0.1:P2,... (kazoo's clients get every address),
# through the pytest plugin external_cluster.py.  Tests listed in excluded.txt are deselected (reasons in
# EXCLUDED.md).
#
# Output: one line per test (nodeid RESULT), pytest's short failure summary,
# and as the very last line `N passed, M failed, K skipped`.
# Files (compat-tests/work/, PORT = the first address's port): kazoo-PORT.log (full pytest output),
# kazoo-PORT.xml (JUnit XML), kazoo-PORT.results (sorted "nodeid RESULT").
#
# Exit status: 0 when pytest ran (whatever the test results), non-zero when it
# could not run at all (bad usage, setup failure, collection error...).
#
# Environment knobs:
#   KAZOO_TEST_TIMEOUT  per-test timeout in seconds (default 90)
#   KAZOO_RUN_TIMEOUT   whole-run timeout in seconds (default 1500)
#   KAZOO_PYTEST_ARGS   extra pytest arguments (e.g. "-k lock"); default: the
#                       whole kazoo/tests directory
#   KAZOO_EXCLUDED_FILE the deselected tests (default excluded.txt; compat-tests/sasl/run.sh
#                       runs test_sasl.py, excluded there, against servers with its JAAS file)
set -uo pipefail

ADDR="${1:-}"
if [ -z "$ADDR" ] || [[ "$ADDR" != *:* ]]; then
    echo "usage: $0 HOST:PORT[,HOST:PORT...]" >&2
    exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
VENV="${COMPAT_VENV:-$COMPAT_DIR/.venv}"
WORK="${COMPAT_WORK:-$COMPAT_DIR/work}"
SRC="$WORK/kazoo-src"
FIRST="${ADDR%%,*}"
PORT="${FIRST##*:}"
TAG="kazoo-$PORT"
LOG="$WORK/$TAG.log"
XML="$WORK/$TAG.xml"
RESULTS="$WORK/$TAG.results"

if ! "$HERE/setup.sh" >&2; then
    echo "kazoo: setup.sh failed" >&2
    exit 3
fi
mkdir -p "$WORK"

# Fail fast when nothing listens at ADDR (otherwise every test would spend
# ~75 s in the harness's connection retries).
HOST="${FIRST%:*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null; then
    echo "kazoo: cannot connect to $FIRST" >&2
    exit 4
fi

echo "kazoo 2.11.0 test suite against $ADDR (log: $LOG)"
start=$(date +%s)

# Strip variables that change kazoo's test behaviour (tests/util.py reads CI
# and ZOOKEEPER_VERSION; the harness reads ZOOKEEPER_*), so that every run,
# local or on CI, executes the same code paths.
ENV_CLEAN=(-u CI -u ZOOKEEPER_VERSION -u ZOOKEEPER_PATH -u ZOOKEEPER_CLASSPATH
           -u ZOOKEEPER_PORT_OFFSET -u ZOOKEEPER_CLUSTER_SIZE
           -u ZOOKEEPER_OBSERVER_START_ID -u ZOOKEEPER_JAAS_AUTH
           -u ZOOKEEPER_LOCAL_SESSION_RO)

# shellcheck disable=SC2206
EXTRA=(${KAZOO_PYTEST_ARGS:-kazoo/tests})

(
    cd "$SRC" || exit 4
    exec env "${ENV_CLEAN[@]}" \
        KAZOO_EXTERNAL_ADDR="$ADDR" \
        PYTHONPATH="$HERE" \
        PYTHONDONTWRITEBYTECODE=1 \
        timeout -k 30 "${KAZOO_RUN_TIMEOUT:-1500}" \
        "$VENV/bin/python" -m pytest \
            -p external_cluster -p no:cacheprovider \
            --excluded-file "${KAZOO_EXCLUDED_FILE:-$HERE/excluded.txt}" \
            -o log_cli=false --color=no -v -rfE \
            --timeout="${KAZOO_TEST_TIMEOUT:-90}" \
            --junitxml="$XML" \
            "${EXTRA[@]}"
) >"$LOG" 2>&1 </dev/null
rc=$?
elapsed=$(( $(date +%s) - start ))

# Per-test result lines ("nodeid RESULT"), sorted, for diffing two targets.
# (Tests inherited from another module show as "nodeid <- other.py RESULT".)
sed -nE 's/^(kazoo\/tests\/[^ ]+::[^ ]+)( <- [^ ]+)? (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS).*/\1 \3/p' \
    "$LOG" | sort >"$RESULTS"
cat "$RESULTS"

# pytest's short test summary (failures/errors with their one-line reason).
sed -n '/short test summary info/,$p' "$LOG" | grep -E '^(FAILED|ERROR) ' || true

summary="$(grep -E '^=+ .*(passed|failed|skipped|error|deselected|no tests ran).* in [0-9.]+s' "$LOG" | tail -1)"
echo "pytest exit status $rc, ${elapsed}s; pytest summary: ${summary:-<none>}"

count() { # WORD -> number before it in the summary line (0 if absent)
    local n
    n="$(printf '%s' "$summary" | grep -oE "[0-9]+ $1\b" | head -1 | cut -d' ' -f1)"
    echo "${n:-0}"
}

case "$rc" in
    0|1) ;;  # all passed / some failed
    *)
        if [ -z "$summary" ]; then
            # Interrupted (timeout, crash) or never started.
            selected="$(sed -nE 's/^(collecting \.\.\. )?collected ([0-9]+) items( \/ ([0-9]+) deselected \/ ([0-9]+) selected)?.*/\2 \5/p' "$LOG" | tail -1)"
            if [ -z "$selected" ]; then
                echo "kazoo: pytest could not run (exit $rc); last lines of $LOG:" >&2
                tail -30 "$LOG" >&2
                exit 4
            fi
            total="$(echo "$selected" | awk '{print ($2 != "" ? $2 : $1)}')"
            p=$(grep -c ' PASSED$' "$RESULTS")
            s=$(grep -c ' SKIPPED$' "$RESULTS")
            f=$(( total - p - s ))
            echo "kazoo: pytest was interrupted (exit $rc); tests that did not finish count as failed"
            echo "$p passed, $f failed, $s skipped"
            exit 0
        fi
        if [ "$rc" -ne 5 ] && [ "$(count passed)" = 0 ] && [ "$(count failed)" = 0 ]; then
            echo "kazoo: pytest failed to run (exit $rc); last lines of $LOG:" >&2
            tail -30 "$LOG" >&2
            exit 4
        fi
        ;;
esac

passed=$(( $(count passed) + $(count xfailed) ))
failed=$(( $(count failed) + $(count 'errors?') + $(count xpassed) ))
skipped=$(count skipped)
echo "$passed passed, $failed failed, $skipped skipped"
exit 0
