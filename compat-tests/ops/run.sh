#!/usr/bin/env bash
# compat-tests/ops/run.sh HOST:PORT [TARGET] - operations compatibility suite.
#
# For every four-letter word of ZooKeeper 3.8 and every AdminServer command, the reply's
# keys/lines and format are compared with expectations captured from Apache ZooKeeper
# 3.8.0 (values normalized: numbers, addresses, ids, dates, paths); see check.py.
# A holding session (session.py) gives cons/dump/wchc/wchp something to list.
#
# Environment:
#   ADMIN_PORT   the server's AdminServer port (admin.serverAddress must be 127.0.0.1);
#                without it the AdminServer checks are skipped (and counted as skipped).
#   TARGET / $COMPAT_TARGET  zookeeper | ferrokeeper: the kind of the extra server started
#                on OPS_AUX_PORT (default PORT+50) with `4lw.commands.whitelist=ruok`
#                for the whitelist check; without a target that check is skipped.
#
#   run.sh --capture HOST:PORT zookeeper   rewrite expected/ from a ZooKeeper 3.8 server
#
# Last line: "N passed, M failed[, K skipped]". Exit status 0 only when nothing failed and
# every check.py run exited 0 (a run that dies without a FAIL line counts as one failure).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

CAPTURE=()
if [ "${1:-}" = --capture ]; then CAPTURE=(--capture); shift; fi
ADDR="${1:?usage: run.sh [--capture] HOST:PORT [TARGET]}"
TARGET="${2:-${COMPAT_TARGET:-}}"
PORT="${ADDR##*:}"
AUX_PORT="${OPS_AUX_PORT:-$((PORT + 50))}"
OUT="$(mktemp)"
trap 'stop_all; rm -f "$OUT"' EXIT
SKIPPED=0

# check.py's exit status, through tee (pipefail): a run that stops early, e.g. on a Python
# error, may print no FAIL line at all.
run_check() { # NAME ARGS...
    local name="$1" rc
    shift
    python3 "$HERE/check.py" "${CAPTURE[@]}" "$@" 2>&1 | tee -a "$OUT"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "FAIL $name: check.py exited with status $rc" | tee -a "$OUT"
    fi
}

run_check check_py "$ADDR" "${ADMIN_PORT:-}"
if [ -z "${ADMIN_PORT:-}" ]; then
    echo "SKIP admin: ADMIN_PORT not set"
    SKIPPED=$((SKIPPED + 1))
fi

# The whitelist rule, on an extra server of the same kind whose whitelist is only `ruok`.
start_aux() { # KIND PORT DIR
    local kind="$1" port="$2" dir="$3" pid
    rm -rf "$dir"; mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
4lw.commands.whitelist=ruok
admin.enableServer=false
CFG
    _wait_port_free "$port" || { echo "port $port is busy" >&2; return 1; }
    if [ "$kind" = zookeeper ]; then
        "$JAVA_BIN" -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$ZK_CLASSPATH" \
            org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
            >"$dir/server.log" 2>&1 </dev/null &
    else
        "$FERROKEEPER_BIN" server "$dir/zoo.cfg" >"$dir/server.log" 2>&1 </dev/null &
    fi
    pid=$!
    echo "$pid" >"$dir/server.pid"
    _COMPAT_STARTED_DIRS+=("$dir")
    wait_ready "$port" 60 "$pid"
}
case "$TARGET" in
    zookeeper|ferrokeeper)
        AUX_DIR="$COMPAT_WORK/ops-aux-$TARGET"
        if start_aux "$TARGET" "$AUX_PORT" "$AUX_DIR"; then
            run_check check_py_whitelist --whitelist "127.0.0.1:$AUX_PORT"
        else
            echo "FAIL 4lw_whitelist: the $TARGET server with a restricted whitelist did not start" | tee -a "$OUT"
        fi
        stop_server "$AUX_DIR"
        ;;
    *)
        echo "SKIP 4lw_whitelist: no TARGET given"
        SKIPPED=$((SKIPPED + 1))
        ;;
esac

PASSED=$(grep -c '^PASS ' "$OUT")
FAILED=$(grep -c '^FAIL ' "$OUT")
if [ -n "${COMPAT_RESULT_FILE:-}" ]; then
    sed -nE 's/^(PASS|FAIL) ([^: ]+).*/\2 \1/p' "$OUT" | sort >"$COMPAT_RESULT_FILE"
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
