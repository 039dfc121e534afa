#!/usr/bin/env bash
# compat-tests/stream/recovery.sh - exactly-once of `ferrokeeper stream` under kill -9.
#
# The benchmark job (2 workers, a checkpoint every 20 ms) is killed with SIGKILL at random
# points after its first committed checkpoint, then resumed (`--resume`) from the latest
# checkpoint in the ensemble; the sink's contents (its published parts) must then equal a run
# without failure: the same result count and checksum, so no result lost and none twice.
#   - embedded: the job's metadata in the Ferrokeeper server inside the process (killed too);
#   - twice: the resumed run is killed as well, then resumed again;
#   - rocksdb: `--state-backend rocksdb` equal to the heap for every window kind, killed and
#     resumed once, and its checkpoint refused to a heap resume;
#   - --zk: the metadata in a standalone Apache ZooKeeper 3.8 and in a standalone
#     Ferrokeeper (only the ZooKeeper protocol is used, so the job runs unchanged on both).
#
#   compat-tests/stream/recovery.sh
# Environment: FERROKEEPER_BIN, RECOVERY_N (events, 20000000), RECOVERY_ROCKSDB_N (events of
# the rocksdb kill case, 5000000), RECOVERY_SEED (kill points).
# Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=kill.sh
source "$HERE/kill.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"

N="${RECOVERY_N:-20000000}"
P=2
CKPT_MS=20
RANDOM="${RECOVERY_SEED:-$$}"
ZK_PORT=21860
FK_PORT=21861
WORK="$COMPAT_WORK/stream-recovery"
rm -rf "$WORK"
mkdir -p "$WORK"
trap stop_all EXIT

require_binary

# field FILE KEY: a key of the last JSON line of FILE
field() { python3 -c 'import json,sys
v=None
for l in open(sys.argv[1]):
    l=l.strip()
    if l.startswith("{"):
        try: v=json.loads(l)
        except ValueError: pass
print("" if v is None else v.get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null; }

# kill_after_commit NAME STATE_DIR ARGS... : starts the job, waits for its first published
# sink part (published only after its checkpoint committed), then kills it with SIGKILL after
# a random 0-400 ms. Returns 1 if the job ended before it could be killed.
kill_after_commit() {
    local name="$1" dir="$2" job=bench a
    shift 2
    for a in "$@"; do [ "${prev:-}" = --job ] && job="$a"; prev="$a"; done
    "$FERROKEEPER_BIN" stream bench "$@" --state-dir "$dir" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    kill_at_first_part $! "$dir/state/$job/sink/part-*" 400 || return 1
    local delay=$KILL_DELAY_MS
    local parts
    parts=$(compgen -G "$dir/state/$job/sink/part-*" | wc -l)
    # The newest epoch published: it must be committed (publication only after commit), so
    # no later than the checkpoint the resume finds.
    KILL_MAX_PART=$(compgen -G "$dir/state/$job/sink/part-*" | sed 's/.*part-0*\([0-9][0-9]*\)-w.*/\1/' | sort -n | tail -1)
    echo "INFO $name: killed ${delay} ms after the first commit, $parts parts published, the newest of epoch $KILL_MAX_PART"
    return 0
}

# case NAME KILLS WINDOW [--zk ADDR] : KILLS kill -9s, then a resume to the end, compared
# with the clean run of WINDOW.
# CASE_N and CASE_REF, set: the events, and the clean run (a key of CLEAN) to compare with.
run_case() {
    local name="$1" kills="$2" w="$3"
    shift 3
    local dir="$WORK/$name" k ref="${CASE_REF:-$w}"
    local args=(--window "$w" --n "${CASE_N:-$N}" --p "$P" --checkpoint-ms "$CKPT_MS" "$@")
    if ! kill_after_commit "$name.0" "$dir" "${args[@]}"; then
        fail "$name" "the job ended before a kill ($(tail -c 300 "$WORK/$name.0.err"))"
        return
    fi
    for ((k = 1; k < kills; k++)); do
        if ! kill_after_commit "$name.$k" "$dir" "${args[@]}" --resume; then
            fail "$name" "resume $k ended before its kill ($(tail -c 300 "$WORK/$name.$k.err"))"
            return
        fi
    done
    timeout 300 "$FERROKEEPER_BIN" stream bench "${args[@]}" --state-dir "$dir" --resume \
        >"$WORK/$name.final.out" 2>"$WORK/$name.final.err"
    local rc=$? r c from
    r="$(field "$WORK/$name.final.out" results)"
    c="$(field "$WORK/$name.final.out" checksum)"
    from="$(field "$WORK/$name.final.out" resumed_from)"
    if [ "$rc" -ne 0 ]; then
        fail "$name" "resume exit $rc ($(tail -c 300 "$WORK/$name.final.err"))"
    elif [ -z "$from" ] || [ "$from" = None ]; then
        fail "$name" "the resume found no committed checkpoint"
    elif [ "${KILL_MAX_PART:-0}" -gt "$from" ]; then
        fail "$name" "epoch $KILL_MAX_PART was published before its checkpoint committed (latest committed: $from)"
    elif [ "$r $c" = "${CLEAN[$ref]}" ]; then
        pass "$name" "resumed from epoch $from: $r results, checksum $c, as without failure"
    else
        fail "$name" "after $kills kill(s): $r results, checksum $c; without failure: ${CLEAN[$ref]}"
    fi
}

declare -A CLEAN
for w in tumbling sliding session; do
    "$FERROKEEPER_BIN" stream bench --window "$w" --n "$N" --p "$P" >"$WORK/clean-$w.out" 2>"$WORK/clean-$w.err"
    CLEAN[$w]="$(field "$WORK/clean-$w.out" results) $(field "$WORK/clean-$w.out" checksum)"
    echo "INFO without failure, $w: ${CLEAN[$w]}"
done

for w in tumbling sliding session; do
    for i in 1 2; do
        run_case "embedded-$w-$i" 1 "$w"
    done
done
run_case "embedded-twice" 2 session

# The RocksDB state backend: every window kind equal to the heap's answer without
# checkpoints, then a kill -9 and a resume exactly-once (a RocksDB checkpoint per epoch),
# and that checkpoint refused to a resume with the heap backend (exit 2).
for w in tumbling sliding session; do
    "$FERROKEEPER_BIN" stream bench --window "$w" --n "$N" --p "$P" --state-backend rocksdb >"$WORK/rocksdb-$w.out" 2>"$WORK/rocksdb-$w.err"
    got="$(field "$WORK/rocksdb-$w.out" results) $(field "$WORK/rocksdb-$w.out" checksum)"
    if [ "$(field "$WORK/rocksdb-$w.out" state_backend)" != rocksdb ]; then
        fail "rocksdb-$w" "no rocksdb run ($(tail -c 300 "$WORK/rocksdb-$w.err"))"
    elif [ "$got" = "${CLEAN[$w]}" ]; then
        pass "rocksdb-$w" "$got, as the heap"
    else
        fail "rocksdb-$w" "$got; the heap: ${CLEAN[$w]}"
    fi
done
# A RocksDB checkpoint (a memtable flush and hard links per worker) costs more than the heap's
# file at 100 keys, so at a checkpoint every 20 ms this case runs fewer events.
RN="${RECOVERY_ROCKSDB_N:-5000000}"
"$FERROKEEPER_BIN" stream bench --window sliding --n "$RN" --p "$P" >"$WORK/clean-sliding-rn.out" 2>&1
CLEAN[sliding-rn]="$(field "$WORK/clean-sliding-rn.out" results) $(field "$WORK/clean-sliding-rn.out" checksum)"
CASE_N=$RN CASE_REF=sliding-rn run_case "rocksdb-killed-sliding" 1 sliding --state-backend rocksdb
"$FERROKEEPER_BIN" stream bench --window sliding --n "$RN" --p "$P" --checkpoint-ms "$CKPT_MS" \
    --state-dir "$WORK/rocksdb-killed-sliding" --resume --state-backend heap >"$WORK/rocksdb-as-heap.out" 2>"$WORK/rocksdb-as-heap.err"
rc=$?
if [ "$rc" = 2 ] && grep -q "rocksdb state backend" "$WORK/rocksdb-as-heap.err"; then
    pass "rocksdb-resumed-as-heap" "refused: $(tail -1 "$WORK/rocksdb-as-heap.err")"
else
    fail "rocksdb-resumed-as-heap" "exit $rc: $(tail -c 300 "$WORK/rocksdb-as-heap.err")"
fi

if start_zk "$ZK_PORT" "$WORK/zk"; then
    run_case "apache-zookeeper" 1 tumbling --zk "127.0.0.1:$ZK_PORT"
    run_case "apache-zookeeper-twice" 2 sliding --zk "127.0.0.1:$ZK_PORT" --job bench2
    stop_server "$WORK/zk"
else
    fail "apache-zookeeper" "ZooKeeper 3.8 did not start"
fi
if start_fk "$FK_PORT" "$WORK/fk"; then
    run_case "ferrokeeper-server" 1 session --zk "127.0.0.1:$FK_PORT"
    stop_server "$WORK/fk"
else
    fail "ferrokeeper-server" "Ferrokeeper did not start"
fi

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
