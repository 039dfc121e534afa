#!/usr/bin/env bash
# compat-tests/stream/socket.sh - `'connector' = 'socket'`: the benchmark job in SQL reading its
# events as CSV lines from a TCP server (lineserver.py on loopback), through its spool.
#
#   1. the job at p=2 reading the served events (with a line that is not UTF-8 and one that is
#      not CSV, skipped by 'ignore_parse_errors') equals `ferrokeeper stream bench` over the
#      same events (rows and checksum read back by sqlcheck.py), for a tumbling and a session
#      window; the peer's close ends the job (the spool's end marker);
#   2. exactly-once: the job with --checkpoint-ms 20, the server pacing its lines, killed with
#      SIGKILL mid-connection after its first committed checkpoint holding rows, resumed and killed twice
#      more (kill_resumes), then resumed to the end: the sink equals the run without failure,
#      none twice. The server starts each connection at the spool's size (a sender replaying
#      what was not stored: bytes in flight when a reader dies are lost to any TCP source);
#   3. refusals (exit 2): a socket table without 'port'; `stream submit` of a socket job.
#
#   compat-tests/stream/socket.sh
# Environment: FERROKEEPER_BIN, SOCKET_N (events, 300000), RECOVERY_SEED.
# Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=kill.sh
source "$HERE/kill.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"

N="${SOCKET_N:-300000}"
RANDOM="${RECOVERY_SEED:-$$}"
PORT=21877
WORK="$COMPAT_WORK/stream-socket"
rm -rf "$WORK"
mkdir -p "$WORK"
SERVER=""
stop_server_proc() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; SERVER=""; }
trap 'stop_server_proc; stop_all' EXIT

require_binary

# serve DATA [ARGS...]: lineserver.py on $PORT in the background (SERVER: its pid)
serve() {
    stop_server_proc
    python3 "$HERE/lineserver.py" "$PORT" "$@" &
    SERVER=$!
}

bench_fields() {
    "$FERROKEEPER_BIN" stream bench --window "$1" --n "$2" --p 2 | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d["results"], d["checksum"])'
}

SOCKET="'connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '$PORT', 'format' = 'csv'"
"${CHECK[@]}" gen "$N" 1 "$WORK/events" csv
DATA="$WORK/events/part0.csv"

# 1. equal to the benchmark; junk lines skipped
{ head -n 1000 "$DATA"; printf 'not,a,row\n\xff\xfe\n'; tail -n +1001 "$DATA"; } >"$WORK/junk.csv"
serve "$WORK/junk.csv"
for w in tumbling session; do
    name="socket_$w"
    sql_job "$WORK/$name.sql" "$w" "$WORK/$name.out" "$SOCKET, 'ignore_parse_errors' = 'true'"
    want="$(bench_fields "$w" "$N")"
    if timeout 60 "$FERROKEEPER_BIN" stream run "$WORK/$name.sql" --p 2 --checkpoint-ms 10 --state-dir "$WORK/$name.state" >"$WORK/$name.log" 2>&1; then
        read -r r c d <<<"$(sink_fields "$WORK/$name.out")"
        spool="$WORK/$name.state/spool/$name/logs-0.log"
        if [ "$d" != 0 ]; then fail "$name" "$d rows twice"
        elif [ "$r $c" != "$want" ]; then fail "$name" "$r rows, checksum $c; expected $want"
        elif [ ! -e "$spool.eof" ] || ! cmp -s "$spool" "$WORK/junk.csv"; then fail "$name" "the spool is not the served lines with its end marker"
        else pass "$name" "$r rows, checksum $c, as stream bench; $(stat -c %s "$spool") bytes spooled"; fi
    else
        fail "$name" "exit $? ($(tail -c 300 "$WORK/$name.log"))"
    fi
done

# 2. exactly-once under kill -9 mid-connection
has_rows() { [ -n "$(find "$1" -name 'part-*' -size +0 -print -quit 2>/dev/null)" ]; }
kill_case() {
    local name=kill_sliding w=sliding
    local clean="$WORK/$name.clean" sink="$WORK/$name.out" state="$WORK/$name.state"
    local spool="$state/spool/$name/logs-0.log"
    serve "$DATA"
    sql_job "$WORK/$name.clean.sql" "$w" "$clean" "$SOCKET"
    if ! timeout 60 "$FERROKEEPER_BIN" stream run "$WORK/$name.clean.sql" --p 2 >"$WORK/$name.clean.log" 2>&1; then
        fail "$name" "the run without failure failed ($(tail -c 300 "$WORK/$name.clean.log"))"; return
    fi
    # About 4 s of lines: the kills land while the connection is open.
    serve "$DATA" --rate 2500000 --from-spool "$spool"
    sql_job "$WORK/$name.sql" "$w" "$sink" "$SOCKET"
    local args=("$WORK/$name.sql" --p 2 --checkpoint-ms 20 --state-dir "$state")
    "$FERROKEEPER_BIN" stream run "${args[@]}" >"$WORK/$name.0.log" 2>&1 &
    # After the first committed checkpoint that holds rows (an epoch's part may be empty).
    if ! kill_when $! 300 has_rows "$sink"; then
        fail "$name" "the job ended before a kill ($(tail -c 300 "$WORK/$name.0.log"))"; return
    fi
    local spooled
    spooled="$(stat -c %s "$spool")"
    if [ -e "$spool.eof" ]; then
        fail "$name" "the connection had ended before the kill"; return
    fi
    echo "INFO $name: killed $KILL_DELAY_MS ms after the first rows were published, $spooled of $(stat -c %s "$DATA") bytes spooled"
    kill_resumes "$name" "$WORK/$name.resume" "${args[@]}"
    if ! timeout 60 "$FERROKEEPER_BIN" stream run "${args[@]}" --resume >"$WORK/$name.final.log" 2>&1; then
        fail "$name" "resume failed ($(tail -c 300 "$WORK/$name.final.log"))"; return
    fi
    local from why
    from="$(json_last "$WORK/$name.final.log" resumed_from)"
    if [ -z "$from" ] || [ "$from" = None ]; then
        fail "$name" "the resume found no committed checkpoint"
    elif ! cmp -s "$spool" "$DATA"; then
        fail "$name" "the spool ($(stat -c %s "$spool") bytes) is not the served lines"
    elif why="$("${CHECK[@]}" same "$clean" "$sink")"; then
        pass "$name" "resumed from epoch $from after 3 kills: $(sink_fields "$sink" | cut -d' ' -f1) rows, as without failure"
    else
        fail "$name" "$why"
    fi
}
# json_last FILE KEY: KEY of the last JSON line of FILE
json_last() {
    python3 -c 'import json,sys
d={}
for l in open(sys.argv[1], errors="replace"):
    if l.startswith("{"): d=json.loads(l)
print(d.get(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
kill_case
stop_server_proc

# 3. refusals
refused() {
    local name="$1" pattern="$2" rc
    shift 2
    "$@" >"$WORK/$name.log" 2>&1
    rc=$?
    if [ "$rc" = 2 ] && grep -qi -- "$pattern" "$WORK/$name.log"; then
        pass "refused_$name" "$(tail -1 "$WORK/$name.log")"
    else
        fail "refused_$name" "exit $rc, expected 2 naming '$pattern': $(tail -c 300 "$WORK/$name.log")"
    fi
}
sql_job "$WORK/noport.sql" tumbling "$WORK/noport.out" "'connector' = 'socket', 'hostname' = '127.0.0.1'"
refused no_port "needs 'port'" "$FERROKEEPER_BIN" stream run "$WORK/noport.sql"
refused submit "not distributed" "$FERROKEEPER_BIN" stream submit "$WORK/socket_tumbling.sql" --zk 127.0.0.1:1 --state-dir "$WORK/submit"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
