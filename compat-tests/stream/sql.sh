#!/usr/bin/env bash
# compat-tests/stream/sql.sh - `ferrokeeper stream run JOB.sql`: the benchmark job written in SQL.
#
# Every sink is read back by an independent reader (sqlcheck.py, written from the issue's
# definition of the generator and the checksum), never by Ferrokeeper:
#   1. known answer: N=100000, tumbling, p=1 gives 1051 rows, checksum 4bd7edf5115d2fdd;
#   2. each window kind (TUMBLE, HOP, SESSION) at p=1/2, checkpoints off/on, from the datagen
#      connector, equals `ferrokeeper stream bench` (itself equal to Flink in run.sh);
#   2b. the same with SET 'state.backend' = 'rocksdb' (p=2, checkpoints every 10 ms);
#   3. the file connector: events written by sqlcheck.py as CSV (3 files) and JSON lines equal
#      the benchmark over the same events;
#   4. refusals: JOIN, an unknown connector, a sink holding an earlier run's parts (exit 2);
#   5. exactly-once under kill -9 at random points after the first committed checkpoint, then
#      --resume: the file sink's rows equal a run without failure, none twice (embedded metadata,
#      killed twice, a file source, and metadata on Apache ZooKeeper 3.8);
#   6. a followed file source stopped at a checkpoint (`stream stop`), lines appended, resumed,
#      `stream status`, then `stream stop --drain`: the sink equals the benchmark over all events;
#   7. a running job's /metrics (--metrics-port): its records, checkpoints and watermark.
#
#   compat-tests/stream/sql.sh
# Environment: FERROKEEPER_BIN, SQL_N (events for 2 and 5, 1000000 and 20000000), RECOVERY_SEED.
# Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=kill.sh
source "$HERE/kill.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"

N="${SQL_N:-1000000}"
KILL_N="${SQL_KILL_N:-20000000}"
RANDOM="${RECOVERY_SEED:-$$}"
ZK_PORT=21862
WORK="$COMPAT_WORK/stream-sql"
rm -rf "$WORK"
mkdir -p "$WORK"
trap stop_all EXIT

require_binary

# bench_fields WINDOW N: "results checksum" of `stream bench`
bench_fields() {
    "$FERROKEEPER_BIN" stream bench --window "$1" --n "$2" --p 2 | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d["results"], d["checksum"])'
}

# expect NAME DIR "rows checksum": the sink's rows, checksum, and no row twice
expect() {
    local name="$1" dir="$2" want="$3" r c d
    read -r r c d <<<"$(sink_fields "$dir")"
    if [ "$d" != 0 ]; then fail "$name" "$d rows twice"
    elif [ "$r $c" = "$want" ]; then pass "$name" "$r rows, checksum $c"
    else fail "$name" "$r rows, checksum $c; expected $want"; fi
}

# 1. known answer
sql_job "$WORK/known.sql" tumbling "$WORK/known.out" "'connector' = 'datagen', 'rows' = '100000'"
if "$FERROKEEPER_BIN" stream run "$WORK/known.sql" >"$WORK/known.log" 2>&1; then
    expect known_answer "$WORK/known.out" "1051 4bd7edf5115d2fdd"
else
    fail known_answer "exit $? ($(tail -c 300 "$WORK/known.log"))"
fi

# 2. every window kind x parallelism x checkpoints, datagen, against stream bench
declare -A BENCH
for w in tumbling sliding session; do
    BENCH[$w]="$(bench_fields "$w" "$N")"
    for p in 1 2; do
        for c in 0 10; do
            name="datagen_${w}_p${p}_ckpt$c"
            sql_job "$WORK/$name.sql" "$w" "$WORK/$name.out" "'connector' = 'datagen', 'rows' = '$N'"
            if "$FERROKEEPER_BIN" stream run "$WORK/$name.sql" --p "$p" --checkpoint-ms "$c" --state-dir "$WORK/$name.state" >"$WORK/$name.log" 2>&1; then
                expect "$name" "$WORK/$name.out" "${BENCH[$w]}"
            else
                fail "$name" "exit $? ($(tail -c 300 "$WORK/$name.log"))"
            fi
        done
    done
done

# 2b. the RocksDB state backend chosen in the job (Flink's SET 'state.backend'), p=2,
# checkpoints every 10 ms: the same rows as stream bench
for w in tumbling sliding session; do
    name="rocksdb_$w"
    { echo "SET 'state.backend' = 'rocksdb';"; } >"$WORK/$name.sql"
    sql_job "$WORK/$name.body" "$w" "$WORK/$name.out" "'connector' = 'datagen', 'rows' = '$N'"
    cat "$WORK/$name.body" >>"$WORK/$name.sql"
    if "$FERROKEEPER_BIN" stream run "$WORK/$name.sql" --p 2 --checkpoint-ms 10 --state-dir "$WORK/$name.state" >"$WORK/$name.log" 2>&1; then
        if grep -q '"state_backend":"rocksdb"' "$WORK/$name.log"; then
            expect "$name" "$WORK/$name.out" "${BENCH[$w]}"
        else
            fail "$name" "the run's summary names no rocksdb backend: $(tail -c 300 "$WORK/$name.log")"
        fi
    else
        fail "$name" "exit $? ($(tail -c 300 "$WORK/$name.log"))"
    fi
done

# 3. the file connector, CSV and JSON lines
FILE_N=300000
"${CHECK[@]}" gen "$FILE_N" 3 "$WORK/events-csv" csv
"${CHECK[@]}" gen "$FILE_N" 2 "$WORK/events-json" json
for w in tumbling sliding session; do
    want="$(bench_fields "$w" "$FILE_N")"
    for fmt in csv json; do
        name="file_${fmt}_$w"
        sql_job "$WORK/$name.sql" "$w" "$WORK/$name.out" "'connector' = 'file', 'path' = '$WORK/events-$fmt', 'format' = '$fmt'"
        if "$FERROKEEPER_BIN" stream run "$WORK/$name.sql" --p 2 --checkpoint-ms 10 --state-dir "$WORK/$name.state" >"$WORK/$name.log" 2>&1; then
            expect "$name" "$WORK/$name.out" "$want"
        else
            fail "$name" "exit $? ($(tail -c 300 "$WORK/$name.log"))"
        fi
    done
done

# 4. refusals: exit 2 and the clause named
refused() {
    local name="$1" pattern="$2" rc
    "$FERROKEEPER_BIN" stream run "$WORK/$name.sql" >"$WORK/$name.log" 2>&1
    rc=$?
    if [ "$rc" = 2 ] && grep -qi -- "$pattern" "$WORK/$name.log"; then
        pass "refused_$name" "$(tail -1 "$WORK/$name.log")"
    else
        fail "refused_$name" "exit $rc, expected 2 naming '$pattern': $(tail -c 300 "$WORK/$name.log")"
    fi
}
sql_job "$WORK/join.sql" tumbling "$WORK/join.out" "'connector' = 'datagen'"
sed -i 's/^FROM logs$/FROM logs JOIN stats ON logs.service = stats.service/' "$WORK/join.sql"
refused join JOIN
sql_job "$WORK/connector.sql" tumbling "$WORK/connector.out" "'connector' = 'kinesis'"
refused connector kinesis
cp "$WORK/known.sql" "$WORK/rerun.sql"
refused rerun "earlier run"

# 5. exactly-once under kill -9
# kill_after_commit NAME STATE_DIR SINK_DIR ARGS... : runs the job, waits for its first
# published part (published only after its checkpoint committed), kills it with SIGKILL after
# a random 0-300 ms. Returns 1 if the job ended before it could be killed.
kill_after_commit() {
    local name="$1" state="$2" sink="$3"
    shift 3
    "$FERROKEEPER_BIN" stream run "$@" --state-dir "$state" >"$WORK/$name.log" 2>&1 &
    kill_at_first_part $! "$sink/part-*" 300 || return 1
    echo "INFO $name: killed $KILL_DELAY_MS ms after the first commit, $(compgen -G "$sink/part-*" | wc -l) parts published"
    return 0
}

# kill_case NAME KILLS WINDOW SOURCE_OPTIONS [ARGS...]: KILLS kill -9s, a resume to the end,
# and the sink compared row by row with a run without failure.
kill_case() {
    local name="$1" kills="$2" w="$3" source="$4" k
    shift 4
    local clean="$WORK/$name.clean" sink="$WORK/$name.out"
    sql_job "$WORK/$name.clean.sql" "$w" "$clean" "$source"
    sql_job "$WORK/$name.sql" "$w" "$sink" "$source"
    if ! "$FERROKEEPER_BIN" stream run "$WORK/$name.clean.sql" --p 2 >"$WORK/$name.clean.log" 2>&1; then
        fail "$name" "the run without failure failed ($(tail -c 300 "$WORK/$name.clean.log"))"
        return
    fi
    local args=("$WORK/$name.sql" --p 2 --checkpoint-ms 20 "$@")
    if ! kill_after_commit "$name.0" "$WORK/$name.state" "$sink" "${args[@]}"; then
        fail "$name" "the job ended before a kill ($(tail -c 300 "$WORK/$name.0.log"))"
        return
    fi
    for ((k = 1; k < kills; k++)); do
        if ! kill_after_commit "$name.$k" "$WORK/$name.state" "$sink" "${args[@]}" --resume; then
            fail "$name" "resume $k ended before its kill ($(tail -c 300 "$WORK/$name.$k.log"))"
            return
        fi
    done
    if ! timeout 300 "$FERROKEEPER_BIN" stream run "${args[@]}" --state-dir "$WORK/$name.state" --resume >"$WORK/$name.final.log" 2>&1; then
        fail "$name" "resume failed ($(tail -c 300 "$WORK/$name.final.log"))"
        return
    fi
    local from why
    from="$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"): d=json.loads(l)
print(d.get("resumed_from"))' "$WORK/$name.final.log" 2>/dev/null)"
    if [ -z "$from" ] || [ "$from" = None ]; then
        fail "$name" "the resume found no committed checkpoint"
    elif why="$("${CHECK[@]}" same "$clean" "$sink")"; then
        pass "$name" "resumed from epoch $from after $kills kill(s): $(sink_fields "$sink" | cut -d' ' -f1) rows, as without failure"
    else
        fail "$name" "after $kills kill(s): $why"
    fi
}

DATAGEN="'connector' = 'datagen', 'rows' = '$KILL_N'"
kill_case kill_embedded_tumbling 1 tumbling "$DATAGEN"
kill_case kill_embedded_sliding_twice 2 sliding "$DATAGEN"
"${CHECK[@]}" gen 1500000 4 "$WORK/events-kill" csv
kill_case kill_file_source_session 1 session "'connector' = 'file', 'path' = '$WORK/events-kill'"
if start_zk "$ZK_PORT" "$WORK/zk"; then
    kill_case kill_apache_zookeeper 1 tumbling "$DATAGEN" --zk "127.0.0.1:$ZK_PORT"
    stop_server "$WORK/zk"
else
    fail kill_apache_zookeeper "ZooKeeper 3.8 did not start"
fi

# 6. a followed job stopped and resumed: `stream stop` at a checkpoint, more lines appended,
# `--resume`, `stream status` / `checkpoints`, then `stream stop --drain`; the sink must equal
# the benchmark over all the events, none twice.
follow_case() {
    local name=follow dir="$WORK/follow" b
    mkdir -p "$dir/all" "$dir/in"
    "${CHECK[@]}" gen "$FILE_N" 2 "$dir/all" csv
    for f in part0.csv part1.csv; do
        b=$(($(wc -l <"$dir/all/$f") / 2))
        head -n "$b" "$dir/all/$f" >"$dir/in/$f"
        tail -n +"$((b + 1))" "$dir/all/$f" >"$dir/$f.rest"
    done
    sql_job "$dir/job.sql" tumbling "$dir/out" "'connector' = 'file', 'path' = '$dir/in', 'follow' = 'true'"
    local run=("$FERROKEEPER_BIN" stream run "$dir/job.sql" --p 2 --checkpoint-ms 50 --state-dir "$dir/state")
    "${run[@]}" >"$dir/run1.log" 2>&1 &
    local pid=$! i=0
    # While it starts, the job's metadata is not served yet: wait for its address.
    until [ -s "$dir/state/zk.addr" ]; do
        sleep 0.05; i=$((i + 1)); [ "$i" -gt 200 ] && break
    done
    i=0
    until "$FERROKEEPER_BIN" stream checkpoints job --state-dir "$dir/state" 2>/dev/null | grep -q epoch; do
        sleep 0.1; i=$((i + 1)); [ "$i" -gt 100 ] && break
    done
    "$FERROKEEPER_BIN" stream status job --state-dir "$dir/state" >"$dir/status.json" 2>&1
    if ! grep -q '"pid":'"$pid" "$dir/status.json"; then
        fail "$name" "status does not show pid $pid running: $(cat "$dir/status.json")"; kill -9 "$pid"; return
    fi
    if ! "$FERROKEEPER_BIN" stream stop job --state-dir "$dir/state" >"$dir/stop1.log" 2>&1 || ! wait "$pid"; then
        fail "$name" "stop at a checkpoint failed: $(cat "$dir/stop1.log") $(tail -c 300 "$dir/run1.log")"; return
    fi
    grep -q '"stopped_at":[0-9]' "$dir/run1.log" || { fail "$name" "no stopped_at epoch: $(tail -1 "$dir/run1.log")"; return; }
    for f in part0.csv part1.csv; do cat "$dir/$f.rest" >>"$dir/in/$f"; done
    "${run[@]}" --resume >"$dir/run2.log" 2>&1 &
    pid=$!
    sleep 2
    if ! "$FERROKEEPER_BIN" stream stop job --drain --state-dir "$dir/state" >"$dir/stop2.log" 2>&1 || ! wait "$pid"; then
        fail "$name" "stop --drain failed: $(cat "$dir/stop2.log") $(tail -c 300 "$dir/run2.log")"; return
    fi
    expect "$name" "$dir/out" "$(bench_fields tumbling "$FILE_N")"
    local rc
    "$FERROKEEPER_BIN" stream status job --state-dir "$dir/state" >"$dir/status2.json" 2>&1
    rc=$?
    if [ "$rc" = 0 ] && grep -q '"running":null' "$dir/status2.json"; then
        pass "${name}_status_after" "$(cat "$dir/status2.json")"
    else
        fail "${name}_status_after" "exit $rc: $(cat "$dir/status2.json")"
    fi
}
follow_case

# 7. metrics: a running job's Prometheus endpoint (--metrics-port) shows its counters move
metrics_case() {
    local dir="$WORK/metrics" pid text
    mkdir -p "$dir"
    sql_job "$dir/job.sql" tumbling "$dir/out" "'connector' = 'datagen', 'rows' = '600000', 'rows-per-second' = '200000'"
    "$FERROKEEPER_BIN" stream run "$dir/job.sql" --checkpoint-ms 100 --state-dir "$dir/state" \
        --metrics-port 21870 --progress-secs 0 >"$dir/run.log" 2>&1 &
    pid=$!
    sleep 1.5
    text="$(curl -s --max-time 5 http://127.0.0.1:21870/metrics)"
    wait "$pid"
    if python3 -c 'import re,sys
t=sys.stdin.read()
v=lambda n: float(re.search(r"^ferrokeeper_stream_%s\{job=\"job\"\} (\S+)$" % n, t, re.M).group(1))
ok=v("records_total")>0 and v("checkpoints_total")>0 and v("checkpoint_epoch")>=0 and v("watermark_ms")>1.7e12
sys.exit(0 if ok else 1)' <<<"$text" 2>/dev/null; then
        pass metrics "$(grep -c '^ferrokeeper_stream_' <<<"$text") series, $(grep '^ferrokeeper_stream_records_total' <<<"$text")"
    else
        fail metrics "unexpected /metrics: $(head -c 600 <<<"$text")"
    fi
}
metrics_case

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
