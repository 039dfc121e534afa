#!/usr/bin/env bash
# examples/log-pipeline/run.sh - the §5 pipeline end to end on one machine, on loopback:
#
#   web-server access log (weblogs.py) --kcat--> Kafka 0.9.0.1 (two brokers; their metadata
#   on Ferrokeeper) --> four `ferrokeeper stream run` jobs (their metadata on the same
#   Ferrokeeper): per service and 10 s window, requests, errors and latency -->
#     ClickHouse 18.16 (a ReplicatedMergeTree table on two replicas, replicated through
#     Ferrokeeper), PostgreSQL, a Kafka topic (JSON), CSV files
#   --> each sink read back by its own client (clickhouse-client on the replica the job did
#   not write to, psql, kcat, the files) and checked by check.py against the results
#   recomputed from the log alone: the same rows, none twice.
#
# With KILL=1 the ClickHouse job is killed with kill -9 once its first rows are in, and
# resumed to its end (exactly-once through ClickHouse's insert deduplication).
#
#   examples/log-pipeline/run.sh
# Environment: FERROKEEPER_BIN (default target/release/ferrokeeper), N (log lines, default
# 200000), BASE_PORT (default 21880; uses BASE_PORT..BASE_PORT+9), WORK (default
# /tmp/ferrokeeper-log-pipeline), KILL (0|1), KEEP (1: leave the services running), SERVER
# (ferrokeeper, or zookeeper: the same run on Apache ZooKeeper 3.8 from Debian's packages).
# Needs: java, kcat, python3, clickhouse-server + clickhouse-client, postgresql (Debian's);
# Kafka 0.9.0.1 comes from npm (compat-tests/kafka/fetch.sh). Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../../compat-tests/kafka/fetch.sh
source "$ROOT/compat-tests/kafka/fetch.sh" # KAFKA_HOME, fetch_kafka, kafka_classpath

FK="${FERROKEEPER_BIN:-$ROOT/target/release/ferrokeeper}"
N="${N:-200000}"
BASE="${BASE_PORT:-21880}"
WORK="${WORK:-/tmp/ferrokeeper-log-pipeline}"
KILL="${KILL:-0}"
SERVER="${SERVER:-ferrokeeper}"
FK_PORT=$BASE KAFKA1=$((BASE + 1)) KAFKA2=$((BASE + 2)) PG_PORT=$((BASE + 9))
ZK="127.0.0.1:$FK_PORT"
BROKERS="127.0.0.1:$KAFKA1,127.0.0.1:$KAFKA2"
KCAT=(kcat -b "$BROKERS" -X api.version.request=false -X broker.version.fallback=0.9.0.1)

PASSES=0 FAILS=0
pass() { echo "PASS $1${2:+ ($2)}"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL $1: $2"; FAILS=$((FAILS + 1)); }
die() { fail setup "$1"; echo "$PASSES passed, $FAILS failed"; exit 1; }
# wait_for SECS CMD...: until CMD succeeds
wait_for() {
    local until=$((SECONDS + $1))
    shift
    until "$@"; do [ "$SECONDS" -ge "$until" ] && return 1; sleep 0.2; done
}

rm -rf "$WORK"
mkdir -p "$WORK"
PIDS=()
PGDIR=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
stop_all() {
    [ "${KEEP:-0}" = 1 ] && return
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "$PGDIR" ] && { as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1; rm -rf "$PGDIR"; }
}
trap stop_all EXIT

[ -x "$FK" ] || die "no $FK (cargo build --release, or set FERROKEEPER_BIN)"
for c in java kcat clickhouse-server clickhouse-client psql; do
    command -v "$c" >/dev/null || die "no $c"
done
[ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server (apt-get install postgresql)"
fetch_kafka || die "no Kafka 0.9.0.1"

# 1. Ferrokeeper: the one ensemble Kafka, ClickHouse and the jobs keep their metadata in.
echo "metadata server: $SERVER on $ZK"
mkdir -p "$WORK/fk"
printf 'tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,mntr\n' \
    "$WORK/fk/data" "$FK_PORT" >"$WORK/fk/zoo.cfg"
if [ "$SERVER" = zookeeper ]; then
    # The same pipeline on Apache ZooKeeper 3.8 (Debian's): only the ZooKeeper protocol is used.
    ZK_CP="$(for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common netty-handler \
        netty-transport netty-transport-native-unix-common netty-resolver netty-codec commons-cli \
        commons-io metrics-core jackson-databind jackson-core jackson-annotations; do
        [ -f "/usr/share/java/$j.jar" ] && printf '%s:' "/usr/share/java/$j.jar"; done)"
    java -Xmx256m -XX:+UseSerialGC -cp "$ZK_CP" org.apache.zookeeper.server.ZooKeeperServerMain \
        "$WORK/fk/zoo.cfg" >"$WORK/fk/server.log" 2>&1 &
else
    "$FK" server "$WORK/fk/zoo.cfg" >"$WORK/fk/server.log" 2>&1 &
fi
PIDS+=($!)
fk_up() { [ "$(printf ruok | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$FK_PORT; cat >&3; cat <&3" 2>/dev/null)" = imok ]; }
wait_for 60 fk_up || die "$SERVER did not start ($(tail -c 300 "$WORK/fk/server.log"))"

# 2. Two Kafka brokers on it, and the topics (replicated to both).
KCP="$(kafka_classpath)"
JAVA=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$WORK/log4j.properties")
printf 'log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=%s\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n' \
    "$WORK/kafka.log" >"$WORK/log4j.properties"
for b in 1 2; do
    port=$((BASE + b))
    cat >"$WORK/broker$b.properties" <<PROPS
broker.id=$b
listeners=PLAINTEXT://127.0.0.1:$port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
zookeeper.connect=$ZK/kafka
log.dirs=$WORK/broker$b-data
auto.create.topics.enable=false
offsets.topic.replication.factor=2
PROPS
    "${JAVA[@]}" -cp "$KCP" kafka.Kafka "$WORK/broker$b.properties" >"$WORK/broker$b.out" 2>&1 &
    PIDS+=($!)
done
brokers_up() { [ "$("${KCAT[@]}" -L 2>/dev/null | grep -c 'broker [12] at')" = 2 ]; }
wait_for 90 brokers_up || die "the brokers did not come up ($(tail -c 300 "$WORK/broker1.out"))"
topic() { # NAME PARTITIONS
    "${JAVA[@]}" -cp "$KCP" kafka.admin.TopicCommand --zookeeper "$ZK/kafka" --create \
        --topic "$1" --partitions "$2" --replication-factor 2 >>"$WORK/topics.log" 2>&1
}
topic weblogs 4 && topic weblog-stats 2 || die "topics ($(tail -c 300 "$WORK/topics.log"))"
leaders() { [ "$("${KCAT[@]}" -L -t "$1" 2>/dev/null | grep -c 'leader [12],')" = "$2" ]; }
wait_for 60 leaders weblogs 4 && wait_for 60 leaders weblog-stats 2 || die "no partition leaders"

# 3. The log, shipped into Kafka (the web servers' shipper: kcat, acks from both replicas).
python3 "$HERE/weblogs.py" lines "$N" >"$WORK/access.log"
"${KCAT[@]}" -P -t weblogs -X request.required.acks=-1 -l "$WORK/access.log" 2>"$WORK/produce.err" ||
    die "producing the log ($(tail -c 300 "$WORK/produce.err"))"
shipped="$("${KCAT[@]}" -C -t weblogs -o beginning -e -q -f '%s\n' 2>/dev/null | wc -l)"
if [ "$shipped" = "$N" ]; then pass shipped "$N lines in topic weblogs"; else fail shipped "$shipped of $N lines in Kafka"; fi

# 4. ClickHouse: two replicas of one ReplicatedMergeTree table, coordinated by Ferrokeeper.
clickhouse() { # NAME HTTP TCP INTERSERVER REPLICA
    local d="$WORK/$1"
    mkdir -p "$d"
    cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/server.log</log><errorlog>$d/error.log</errorlog><size>100M</size><count>1</count></logger>
  <http_port>$2</http_port>
  <tcp_port>$3</tcp_port>
  <interserver_http_port>$4</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>64</max_connections>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <zookeeper>
    <node><host>127.0.0.1</host><port>$FK_PORT</port></node>
    <session_timeout_ms>10000</session_timeout_ms>
  </zookeeper>
  <macros><shard>01</shard><replica>$5</replica></macros>
</yandex>
XML
    clickhouse-server --config-file="$d/config.xml" >"$d/out.log" 2>&1 &
    PIDS+=($!)
}
clickhouse ch1 $((BASE + 3)) $((BASE + 4)) $((BASE + 5)) r1
clickhouse ch2 $((BASE + 6)) $((BASE + 7)) $((BASE + 8)) r2
ch() { clickhouse-client --host 127.0.0.1 --port "$1" --query "$2"; }
for p in $((BASE + 4)) $((BASE + 7)); do
    wait_for 60 ch "$p" "SELECT 1" >/dev/null 2>&1 || die "ClickHouse on port $p did not start"
    ch "$p" "$(cat "$HERE/clickhouse.sql")" 2>"$WORK/ch-create.err" || die "ClickHouse table ($(tail -c 300 "$WORK/ch-create.err"))"
done

# 5. PostgreSQL: a throwaway cluster (the server refuses to run as root).
PGDIR="$(mktemp -d /tmp/ferrokeeper-pg.XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
as_pg "$PG_BIN/initdb" -D "$PGDIR/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1 || die "initdb"
as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -w -l "$PGDIR/server.log" \
    -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1" start >"$WORK/pg_ctl.log" 2>&1 || die "pg_ctl start"
PSQL=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
"${PSQL[@]}" -f "$HERE/postgres.sql" >/dev/null || die "PostgreSQL table"

# 6. The jobs, rendered with this run's addresses, all at once; metadata in Ferrokeeper.
export BROKERS CLICKHOUSE_URL="http://127.0.0.1:$((BASE + 3))" POSTGRES_URL="jdbc:postgresql://127.0.0.1:$PG_PORT/postgres" FILES_DIR="$WORK/files"
render() {
    python3 -c 'import os,sys
t=open(sys.argv[1]).read()
for k in ("BROKERS","CLICKHOUSE_URL","POSTGRES_URL","FILES_DIR"): t=t.replace("${"+k+"}", os.environ[k])
sys.stdout.write(t)' "$HERE/jobs/stats-$1.sql" >"$WORK/stats-$1.sql"
}
job_args() { echo "$WORK/stats-$1.sql --zk $ZK --job weblogs-$1 --state-dir $WORK/state-$1 --checkpoint-ms 200 --p 2 --progress-secs 0"; }
declare -A JOB
for s in clickhouse postgres kafka files; do render "$s"; done
for s in postgres kafka files; do
    # shellcheck disable=SC2046
    "$FK" stream run $(job_args "$s") >"$WORK/job-$s.log" 2>&1 &
    JOB[$s]=$!
done
# shellcheck disable=SC2046
"$FK" stream run $(job_args clickhouse) >"$WORK/job-clickhouse.log" 2>&1 &
JOB[clickhouse]=$!
if [ "$KILL" = 1 ]; then
    ch_rows() { [ "$(ch $((BASE + 4)) "SELECT count() FROM weblog_stats" 2>/dev/null)" -gt 0 ] 2>/dev/null; }
    if wait_for 120 ch_rows && kill -9 "${JOB[clickhouse]}" 2>/dev/null; then
        wait "${JOB[clickhouse]}" 2>/dev/null
        before="$(ch $((BASE + 4)) "SELECT count() FROM weblog_stats")"
        # shellcheck disable=SC2046
        "$FK" stream run $(job_args clickhouse) --resume >"$WORK/job-clickhouse.resumed.log" 2>&1 &
        JOB[clickhouse]=$!
        pass killed "the ClickHouse job killed with kill -9 at $before rows, resumed"
    else
        fail killed "the ClickHouse job ended before its first rows reached ClickHouse"
    fi
fi
# summary LOG: the last JSON line a job printed, in short
summary() {
    tail -1 "$1" | python3 -c 'import json,sys
d=json.loads(sys.stdin.read())
print("records %s, results %s, checkpoints %s, %s ms" % (d["records"], d["results"], d["checkpoints"], d["elapsed_ms"]))' 2>/dev/null
}
for s in clickhouse postgres kafka files; do
    if timeout 600 tail --pid="${JOB[$s]}" -f /dev/null && wait "${JOB[$s]}"; then
        pass "job $s" "$(summary "$(ls -t "$WORK"/job-"$s"*.log | head -1)")"
    else
        fail "job $s" "$(tail -c 400 "$WORK"/job-"$s"*.log | tr '\n' ' ')"
    fi
done

# 7. Every sink read back by its own client, checked against the log.
check() { # NAME KIND PATH
    local out
    if out="$(cd "$HERE" && python3 check.py "$N" "$2" "$3" 2>&1)"; then pass "$1" "$out"; else fail "$1" "$out"; fi
}
ch $((BASE + 7)) "SYSTEM SYNC REPLICA weblog_stats" 2>"$WORK/sync.err" || fail "replica sync" "$(cat "$WORK/sync.err")"
COLS="service, window_start, window_end, requests, errors, latency_sum, latency_max, latency_avg"
ch $((BASE + 7)) "SELECT $COLS FROM weblog_stats FORMAT CSV" >"$WORK/clickhouse-r2.csv"
check "clickhouse (replica r2, clickhouse-client)" csv "$WORK/clickhouse-r2.csv"
ch $((BASE + 4)) "SELECT $COLS FROM weblog_stats FORMAT CSV" >"$WORK/clickhouse-r1.csv"
check "clickhouse (replica r1, the one written)" csv "$WORK/clickhouse-r1.csv"
"${PSQL[@]}" -c "COPY (SELECT $COLS FROM weblog_stats) TO STDOUT WITH (FORMAT csv)" >"$WORK/postgres.csv"
check "postgres (psql)" csv "$WORK/postgres.csv"
"${KCAT[@]}" -C -t weblog-stats -o beginning -e -q -f '%s\n' >"$WORK/kafka.json" 2>/dev/null
check "kafka topic weblog-stats (kcat)" json "$WORK/kafka.json"
check "files (part files)" csv "$WORK/files"
# The analytics the tables exist for: the worst error rate, as each database computes it.
echo "worst error rate, ClickHouse: $(ch $((BASE + 7)) "SELECT service, round(avg(error_rate), 4) AS r FROM weblog_stats GROUP BY service ORDER BY r DESC LIMIT 1 FORMAT CSV")"
echo "worst error rate, PostgreSQL: $("${PSQL[@]}" -F, -c "SELECT service, round(avg(error_rate)::numeric, 4) AS r FROM weblog_stats GROUP BY service ORDER BY r DESC LIMIT 1")"

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
