#!/usr/bin/env bash
# compat-tests/stream/api.sh - a job of the public Rust API (examples/keyed_process.rs:
# user sessions from a keyed process function's state and timers, a custom source, the
# JSON-lines sink) against the sessions computed directly (`--expect`), and exactly-once
# under kill -9:
#   - clean: 2 workers, a checkpoint every 100 ms, the embedded ensemble;
#   - kill: killed with SIGKILL at a random point after its first committed checkpoint,
#     resumed on 1 worker;
#   - twice: killed, resumed on 3 workers and killed again, resumed on 2;
#   - apache-zookeeper / ferrokeeper-server: the same job with its checkpoints in a
#     standalone Apache ZooKeeper 3.8 and in a standalone Ferrokeeper (`--zk`), killed once.
# Each case's sink must hold exactly the expected sessions: none lost, none twice.
#
#   compat-tests/stream/api.sh
# Environment: FERROKEEPER_BIN (the server for the --zk case), KEYED_PROCESS_BIN (the
# example; default: next to FERROKEEPER_BIN under examples/, built when missing),
# API_N (clicks, 400000), API_SEED (kill points). Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=kill.sh
source "$HERE/kill.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"

N="${API_N:-400000}"
RATE=100000
RANDOM="${API_SEED:-$$}"
ZK_PORT=21878
FK_PORT=21902
WORK="$COMPAT_WORK/stream-api"
rm -rf "$WORK"
mkdir -p "$WORK"
trap stop_all EXIT

require_binary
BIN="${KEYED_PROCESS_BIN:-$(dirname "$FERROKEEPER_BIN")/examples/keyed_process}"
if [ ! -x "$BIN" ]; then
    (cd "$REPO_ROOT" && cargo build --release --locked --example keyed_process) || exit 1
fi

passed=0
failed=0
pass() { echo "PASS $1 ($2)"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

"$BIN" --expect --n "$N" | sort >"$WORK/expect"
want=$(wc -l <"$WORK/expect")

# check NAME OUT_DIR: the sink's sessions equal the expected ones, each once.
check() {
    local name="$1" out="$2" dups
    cat "$out"/part-*.jsonl 2>/dev/null | sort >"$WORK/$name.got"
    dups=$(uniq -d "$WORK/$name.got" | wc -l)
    if cmp -s "$WORK/$name.got" "$WORK/expect"; then
        pass "$name" "$want sessions, each once${3:+, $3}"
    else
        fail "$name" "$(wc -l <"$WORK/$name.got") sessions ($dups twice), want $want"
    fi
}

# run_case NAME KILLS P_FIRST P_THEN [ARGS...]: KILLS runs killed with SIGKILL after a
# committed checkpoint (the first on P_FIRST workers, then P_THEN), then a resume to the end.
run_case() {
    local name="$1" kills="$2" p1="$3" p2="$4" k p resume=() info=()
    shift 4
    local dir="$WORK/$name"
    for k in $(seq 1 "$kills"); do
        p=$p1; [ "$k" -gt 1 ] && p=$p2
        # Killed after a commit of this run: once a part beyond those already there shows.
        local before
        before=$(parts "$dir/out")
        "$BIN" --n "$N" --p "$p" --checkpoint-ms 100 --rate "$RATE" --state-dir "$dir" \
            --out "$dir/out" "${resume[@]}" "$@" >"$dir.$k.log" 2>&1 &
        if ! kill_when $! 1000 more_parts "$dir/out" "$before"; then
            fail "$name" "run $k ended before it could be killed: $(tail -2 "$dir.$k.log")"
            return
        fi
        info+=("killed on $p workers ${KILL_DELAY_MS} ms after a commit")
        resume=(--resume)
    done
    if ! "$BIN" --n "$N" --p "$p2" --checkpoint-ms 100 --state-dir "$dir" --out "$dir/out" \
        --resume "$@" >"$dir.end.log" 2>&1; then
        fail "$name" "the resume failed: $(tail -2 "$dir.end.log")"
        return
    fi
    grep -q '"resumed_from":[0-9]' "$dir.end.log" || { fail "$name" "no resume: $(tail -1 "$dir.end.log")"; return; }
    check "$name" "$dir/out" "$(printf "%s; " "${info[@]}")resumed on $p2"
}

parts() { compgen -G "$1/part-*" | wc -l; }
more_parts() { [ "$(parts "$1")" -gt "$2" ]; }

mkdir -p "$WORK/clean"
if "$BIN" --n "$N" --p 2 --checkpoint-ms 100 --state-dir "$WORK/clean" --out "$WORK/clean/out" >"$WORK/clean.log" 2>&1; then
    check clean "$WORK/clean/out" "$(tail -1 "$WORK/clean.log")"
else
    fail clean "$(tail -2 "$WORK/clean.log")"
fi
run_case kill 1 2 1
run_case twice 2 3 2
if start_zk "$ZK_PORT" "$WORK/zk"; then
    run_case apache-zookeeper 1 2 2 --zk "127.0.0.1:$ZK_PORT"
    stop_server "$WORK/zk"
else
    fail apache-zookeeper "ZooKeeper did not start"
fi
if start_fk "$FK_PORT" "$WORK/fk"; then
    run_case ferrokeeper-server 1 1 2 --zk "127.0.0.1:$FK_PORT"
    stop_server "$WORK/fk"
else
    fail ferrokeeper-server "Ferrokeeper did not start"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
