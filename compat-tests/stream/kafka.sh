#!/usr/bin/env bash
# compat-tests/stream/kafka.sh - SQL jobs with Apache Kafka 0.9.0.1 (a broker on Ferrokeeper):
#   1. source: the benchmark's events (sqlcheck.py, as CSV lines) produced into a 4-partition
#      topic by Kafka's own ConsoleProducer; a job reading the topic to its offsets at start
#      ('scan.bounded.mode' = 'latest-offset') gives `stream bench`'s rows over the same events;
#   2. sink: a datagen job writing to a 2-partition topic, checkpoints every 20 ms, killed with
#      kill -9 at random points after its first output reached the topic, twice, then resumed
#      to its end: the topic, read back by Debian's kcat, holds the rows of a run without
#      failure, none twice (Kafka 0.9 has no transactions: see src/stream/kafka.rs);
#   3. the same job distributed (a coordinator, three workers, the job on two), writing to
#      another topic, a worker of the job killed with kill -9 mid-run: the topic holds the
#      clean run's rows, none twice.
#
#   compat-tests/stream/kafka.sh
# Environment: FERROKEEPER_BIN, RECOVERY_SEED. Last line: "N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=../kafka/fetch.sh
source "$HERE/../kafka/fetch.sh" # KAFKA_HOME, fetch_kafka, kafka_classpath
# shellcheck source=kill.sh
source "$HERE/kill.sh"
# shellcheck source=checks.sh
source "$HERE/checks.sh"
# shellcheck source=cluster.sh
source "$HERE/cluster.sh"

RANDOM="${RECOVERY_SEED:-$$}"
FK_PORT=21867
KAFKA_PORT=21868
WORKER_PORT=22500
WORK="$COMPAT_WORK/stream-kafka"
rm -rf "$WORK"
mkdir -p "$WORK"
BROKER_PID=""
stop_broker() { [ -n "$BROKER_PID" ] && kill -9 "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""; }
trap 'stop_services; stop_broker; stop_all' EXIT
require_binary
command -v kcat >/dev/null || { echo "FAIL setup: no kcat (apt-get install kcat)"; echo "0 passed, 1 failed"; exit 1; }
fetch_kafka || { echo "FAIL setup: no Kafka 0.9.0.1"; echo "0 passed, 1 failed"; exit 1; }
KCP="$(kafka_classpath)"
JAVA=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$WORK/log4j.properties")
printf 'log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=%s\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n' \
    "$WORK/kafka.log" >"$WORK/log4j.properties"

start_fk "$FK_PORT" "$WORK/fk" >/dev/null || { echo "FAIL setup: Ferrokeeper did not start"; echo "0 passed, 1 failed"; exit 1; }
ZK="127.0.0.1:$FK_PORT"
cat >"$WORK/server.properties" <<PROPS
broker.id=0
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
zookeeper.connect=$ZK/kafka
log.dirs=$WORK/broker-data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
PROPS
"${JAVA[@]}" -cp "$KCP" kafka.Kafka "$WORK/server.properties" >"$WORK/broker.out" 2>&1 &
BROKER_PID=$!
BROKER="127.0.0.1:$KAFKA_PORT"
KCAT=(kcat -b "$BROKER" -X api.version.request=false -X broker.version.fallback=0.9.0.1)
up() { "${KCAT[@]}" -L >/dev/null 2>&1; }
for _ in $(seq 1 300); do up && break; sleep 0.2; done
up || { echo "FAIL setup: the broker did not come up ($(tail -c 300 "$WORK/broker.out"))"; echo "0 passed, 1 failed"; exit 1; }

topic() { # NAME PARTITIONS
    "${JAVA[@]}" -cp "$KCP" kafka.admin.TopicCommand --zookeeper "$ZK/kafka" --create \
        --topic "$1" --partitions "$2" --replication-factor 1 >>"$WORK/topics.log" 2>&1
}
# The options every Kafka table of these jobs carries: a 0.9 broker.
KOPTS="'properties.bootstrap.servers' = '$BROKER', 'properties.api.version.request' = 'false', 'properties.broker.version.fallback' = '0.9.0.1'"

# read_topic TOPIC DIR: the topic's messages as a sink directory (one part file) for sqlcheck.py
read_topic() {
    mkdir -p "$2"
    "${KCAT[@]}" -C -t "$1" -o beginning -e -q -f '%s\n' >"$2/part-0.csv" 2>"$2/kcat.err"
}
bench_fields() {
    "$FERROKEEPER_BIN" stream bench --window "$1" --n "$2" --p 2 | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d["results"], d["checksum"])'
}

# 1. source
N=300000
topic events 4
"${CHECK[@]}" gen "$N" 1 "$WORK/events" csv
"${JAVA[@]}" -cp "$KCP" kafka.tools.ConsoleProducer --broker-list "$BROKER" --topic events \
    --request-required-acks -1 <"$WORK/events/part0.csv" >"$WORK/producer.log" 2>&1 ||
    fail source "ConsoleProducer: $(tail -c 300 "$WORK/producer.log")"
sql_job "$WORK/source.sql" tumbling "$WORK/source.out" "'connector' = 'kafka', 'topic' = 'events', 'format' = 'csv', 'scan.bounded.mode' = 'latest-offset', $KOPTS"
if "$FERROKEEPER_BIN" stream run "$WORK/source.sql" --p 2 --checkpoint-ms 50 --state-dir "$WORK/source.state" >"$WORK/source.log" 2>&1; then
    want="$(bench_fields tumbling "$N")"
    read -r r c d <<<"$(sink_fields "$WORK/source.out")"
    if [ "$d" = 0 ] && [ "$r $c" = "$want" ]; then pass source "4 partitions, $r rows, checksum $c as stream bench"
    else fail source "$r rows, checksum $c, $d twice; expected $want"; fi
else
    fail source "exit $? ($(tail -c 300 "$WORK/source.log"))"
fi

# 2. sink, exactly-once under kill -9
KILL_N=3000000
topic stats 2
sql_job "$WORK/clean.sql" tumbling "$WORK/clean" "'connector' = 'datagen', 'rows' = '$KILL_N'"
"$FERROKEEPER_BIN" stream run "$WORK/clean.sql" --p 2 >"$WORK/clean.log" 2>&1 || fail clean "$(tail -c 300 "$WORK/clean.log")"
sql_job "$WORK/sink.sql" tumbling "$WORK/unused" "'connector' = 'datagen', 'rows' = '$KILL_N', 'rows-per-second' = '600000'"
sed -i "s|WITH ('connector' = 'file', 'path' = '$WORK/unused', 'format' = 'csv')|WITH ('connector' = 'kafka', 'topic' = 'stats', 'format' = 'csv', $KOPTS)|" "$WORK/sink.sql"
has_message() { "${KCAT[@]}" -C -t stats -o beginning -c 1 -e -q 2>/dev/null | grep -q .; }
sink_case() {
    local args=("$WORK/sink.sql" --p 2 --checkpoint-ms 20 --state-dir "$WORK/sink.state")
    "$FERROKEEPER_BIN" stream run "${args[@]}" >"$WORK/sink.0.log" 2>&1 &
    kill_when $! 300 has_message || { fail sink "the job ended before a kill ($(tail -c 300 "$WORK/sink.0.log"))"; return; }
    echo "INFO sink: killed $KILL_DELAY_MS ms after its first message"
    kill_resumes sink "$WORK/sink" "${args[@]}"
    if ! timeout 300 "$FERROKEEPER_BIN" stream run "${args[@]}" --resume >"$WORK/sink.final.log" 2>&1; then
        fail sink "resume failed ($(tail -c 300 "$WORK/sink.final.log"))"; return
    fi
    read_topic stats "$WORK/sink.out"
    local why
    if why="$("${CHECK[@]}" same "$WORK/clean" "$WORK/sink.out")"; then
        pass sink "after 3 kills: $(sink_fields "$WORK/sink.out" | cut -d' ' -f1) rows in the topic, as without failure, none twice; $(cat "$WORK"/sink.*.log | grep -c 'were already in') publications resumed mid-way"
    else
        fail sink "$why"
    fi
}
sink_case

# 3. distributed, a worker killed
distributed_case() {
    local n victim gen last why
    topic stats2 2
    sed "s/'topic' = 'stats'/'topic' = 'stats2'/" "$WORK/sink.sql" >"$WORK/dist.sql"
    for n in c1 w1 w2 w3; do start "$n" "$ZK"; done
    if ! "$FERROKEEPER_BIN" stream submit "$WORK/dist.sql" --zk "$ZK" --workers 2 \
        --checkpoint-ms 100 --state-dir "$WORK/dist.state" >"$WORK/dist.submit" 2>&1; then
        fail distributed "submit: $(cat "$WORK/dist.submit")"; return
    fi
    has_dist_message() { "${KCAT[@]}" -C -t stats2 -o beginning -c 1 -e -q 2>/dev/null | grep -q .; }
    wait_for 60 has_dist_message || { fail distributed "no message within 60 s"; return; }
    gen="$(status dist "$ZK" gen)"
    victim="$(member dist "$ZK" 1)"
    kill -9 "${PIDS[$victim]}"; wait "${PIDS[$victim]}" 2>/dev/null
    echo "INFO distributed: killed worker $victim of generation $gen"
    wait_for 120 is_done dist "$ZK" || { fail distributed "not done within 120 s"; return; }
    last="$(status dist "$ZK" gen)"
    read_topic stats2 "$WORK/dist.out"
    if [ "$last" -le "$gen" ]; then
        fail distributed "still generation $gen after the kill"
    elif why="$("${CHECK[@]}" same "$WORK/clean" "$WORK/dist.out")"; then
        pass distributed "generations $gen -> $last: $(sink_fields "$WORK/dist.out" | cut -d' ' -f1) rows in the topic, as without failure, none twice"
    else
        fail distributed "generations $gen -> $last: $why"
    fi
    stop_services
}
distributed_case

stop_broker
echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
