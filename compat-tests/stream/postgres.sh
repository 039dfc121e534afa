#!/usr/bin/env bash
# compat-tests/stream/postgres.sh - SQL jobs writing to PostgreSQL (Debian's server, a
# throwaway cluster on loopback), the table read back by psql:
#   1. known answer: N=100000, tumbling, p=1 into a table: 1051 rows, checksum 4bd7edf5115d2fdd;
#   2. exactly-once: a job with checkpoints every 20 ms killed with kill -9 once its first rows
#      are in the table, resumed and killed twice more, then resumed to its end: the table
#      holds the rows of a run without failure, none twice;
#   3. a fresh run into a table an earlier run published to is refused (exit 2).
#
#   compat-tests/stream/postgres.sh
# Environment: FERROKEEPER_BIN, RECOVERY_SEED. Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=kill.sh
source "$HERE/kill.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"

RANDOM="${RECOVERY_SEED:-$$}"
PG_PORT=21869
WORK="$COMPAT_WORK/stream-postgres"
rm -rf "$WORK"
mkdir -p "$WORK"
require_binary
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$PG_BIN/initdb" ] || { echo "FAIL setup: no PostgreSQL server (apt-get install postgresql)"; echo "0 passed, 1 failed"; exit 1; }
# The server refuses to run as root: its cluster belongs to the postgres user.
PGDIR="$(mktemp -d /tmp/ferrokeeper-pg.XXXXXX)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
stop_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1; rm -rf "$PGDIR"; }
trap 'stop_pg; stop_all' EXIT
as_pg "$PG_BIN/initdb" -D "$PGDIR/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1 ||
    { echo "FAIL setup: initdb ($(tail -c 300 "$WORK/initdb.log"))"; echo "0 passed, 1 failed"; exit 1; }
as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -w -l "$PGDIR/server.log" \
    -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=on" start >"$WORK/pg_ctl.log" 2>&1 ||
    { echo "FAIL setup: pg_ctl start ($(tail -c 300 "$PGDIR/server.log"))"; echo "0 passed, 1 failed"; exit 1; }
PSQL=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
URL="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres"

# pg_job FILE TABLE SOURCE_OPTIONS: the benchmark job in SQL, into TABLE
pg_job() {
    "${PSQL[@]}" -c "CREATE TABLE $2 (service bigint, window_start bigint, window_end bigint, cnt bigint, errors bigint, latency_sum bigint)"
    sql_job "$1" tumbling "$WORK/unused" "$3"
    sed -i "s|WITH ('connector' = 'file', 'path' = '$WORK/unused', 'format' = 'csv')|WITH ('connector' = 'jdbc', 'url' = '$URL', 'table-name' = '$2', 'username' = 'postgres')|" "$1"
}
# read_table TABLE DIR: the table as a sink directory (one part file) for sqlcheck.py
read_table() {
    mkdir -p "$2"
    "${PSQL[@]}" -c "COPY $1 TO STDOUT WITH (FORMAT csv)" >"$2/part-0.csv"
}

# 1. known answer
pg_job "$WORK/known.sql" known "'connector' = 'datagen', 'rows' = '100000'"
if "$FERROKEEPER_BIN" stream run "$WORK/known.sql" >"$WORK/known.log" 2>&1; then
    read_table known "$WORK/known.out"
    read -r r c d <<<"$(sink_fields "$WORK/known.out")"
    if [ "$r $c $d" = "1051 4bd7edf5115d2fdd 0" ]; then pass known_answer "$r rows, checksum $c"
    else fail known_answer "$r rows, checksum $c, $d twice; expected 1051 4bd7edf5115d2fdd"; fi
else
    fail known_answer "exit $? ($(tail -c 300 "$WORK/known.log"))"
fi

# 2. exactly-once under kill -9
KILL_N=3000000
sql_job "$WORK/clean.sql" tumbling "$WORK/clean" "'connector' = 'datagen', 'rows' = '$KILL_N'"
"$FERROKEEPER_BIN" stream run "$WORK/clean.sql" --p 2 >"$WORK/clean.log" 2>&1 || fail clean "$(tail -c 300 "$WORK/clean.log")"
pg_job "$WORK/stats.sql" stats "'connector' = 'datagen', 'rows' = '$KILL_N', 'rows-per-second' = '600000'"
has_rows() { [ "$("${PSQL[@]}" -c "SELECT count(*) > 0 FROM stats")" = t ]; }
kill_case() {
    local args=("$WORK/stats.sql" --p 2 --checkpoint-ms 20 --state-dir "$WORK/stats.state")
    "$FERROKEEPER_BIN" stream run "${args[@]}" >"$WORK/stats.0.log" 2>&1 &
    kill_when $! 300 has_rows || { fail exactly_once "the job ended before a kill ($(tail -c 300 "$WORK/stats.0.log"))"; return; }
    echo "INFO exactly_once: killed $KILL_DELAY_MS ms after its first rows"
    kill_resumes exactly_once "$WORK/stats" "${args[@]}"
    if ! timeout 300 "$FERROKEEPER_BIN" stream run "${args[@]}" --resume >"$WORK/stats.final.log" 2>&1; then
        fail exactly_once "resume failed ($(tail -c 300 "$WORK/stats.final.log"))"; return
    fi
    read_table stats "$WORK/stats.out"
    local why
    if why="$("${CHECK[@]}" same "$WORK/clean" "$WORK/stats.out")"; then
        pass exactly_once "after 3 kills: $(sink_fields "$WORK/stats.out" | cut -d' ' -f1) rows in the table, as without failure, none twice"
    else
        fail exactly_once "$why"
    fi
}
kill_case

# 3. a fresh run into a table with an earlier run's rows
"$FERROKEEPER_BIN" stream run "$WORK/stats.sql" --checkpoint-ms 20 --state-dir "$WORK/rerun.state" >"$WORK/rerun.log" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "earlier run" "$WORK/rerun.log"; then pass refused_rerun "$(tail -1 "$WORK/rerun.log")"
else fail refused_rerun "exit $rc: $(tail -c 300 "$WORK/rerun.log")"; fi

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
