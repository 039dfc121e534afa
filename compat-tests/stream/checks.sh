# shellcheck shell=bash
# compat-tests/stream/checks.sh - shared by recovery.sh, sql.sh and distributed.sh: the
# PASS/FAIL counters, the binary check, and the benchmark job written in SQL.
#
#   pass NAME [DETAIL] / fail NAME WHY   # counted in PASSES / FAILS
#   require_binary                       # FAILs and exits without $FERROKEEPER_BIN
#   sql_job FILE WINDOW SINK_DIR SOURCE_OPTIONS : the benchmark job in SQL, into FILE
#   sink_fields DIR                      # "rows checksum duplicates" of a file sink (sqlcheck.py)
CHECKS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECK=(python3 "$CHECKS_DIR/sqlcheck.py")

PASSES=0 FAILS=0
pass() { echo "PASS $1${2:+ ($2)}"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL $1: $2"; FAILS=$((FAILS + 1)); }

require_binary() {
    [ -x "$FERROKEEPER_BIN" ] || { echo "FAIL setup: no $FERROKEEPER_BIN"; echo "0 passed, 1 failed"; exit 1; }
}

# sql_job FILE WINDOW SINK_DIR SOURCE_OPTIONS: writes the benchmark job in SQL to FILE.
sql_job() {
    local file="$1" w="$2" sink="$3" source="$4" group start end
    case "$w" in
        tumbling) group="TUMBLE(ts, INTERVAL '10' SECOND)" start="TUMBLE_START(ts, INTERVAL '10' SECOND)" end="TUMBLE_END(ts, INTERVAL '10' SECOND)" ;;
        sliding) group="HOP(ts, INTERVAL '10' SECOND, INTERVAL '60' SECOND)" start="HOP_START(ts, INTERVAL '10' SECOND, INTERVAL '60' SECOND)" end="window_end" ;;
        session) group="SESSION(ts, INTERVAL '5' SECOND)" start="window_start" end="SESSION_END(ts, INTERVAL '5' SECOND)" ;;
    esac
    cat >"$file" <<SQL
-- The benchmark job: per service and window, the count, the errors and the summed latency.
CREATE TABLE logs (
    ts BIGINT, service BIGINT, level STRING, latency BIGINT,
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ($source);
CREATE TABLE stats (service BIGINT, window_start BIGINT, window_end BIGINT,
                    cnt BIGINT, errors BIGINT, latency_sum BIGINT)
    WITH ('connector' = 'file', 'path' = '$sink', 'format' = 'csv');
INSERT INTO stats
SELECT service, $start, $end,
       COUNT(*), COUNT(*) FILTER (WHERE level = 'ERROR'), SUM(latency)
FROM logs
GROUP BY service, $group;
SQL
}

# sink_fields DIR: "rows checksum duplicates" of a sink, read by sqlcheck.py
sink_fields() { "${CHECK[@]}" sink "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["rows"], d["checksum"], d["duplicates"])'; }
