#!/usr/bin/env bash
# compat-tests/faults/run.sh - network and process faults against a 3-server ensemble
# in network namespaces, under concurrent kazoo clients, with a checked history.
#
#   run.sh [--target java|ferrokeeper|mixed|mixed1]... [--scenario NAME]... [--keep-going]
#
# Targets: java (3 x ZooKeeper 3.8.0), ferrokeeper (3 x Ferrokeeper), mixed (Java sids 1,2
# + Ferrokeeper sid 3), mixed1 (Ferrokeeper sid 1 + Java sids 2,3). Default: java
# ferrokeeper mixed. Scenarios: partition-one partition-leader split kill-leader
# stop-leader (the default set), and stop-leader-sync (linearizable sync: run it by name;
# ZooKeeper 3.8 is expected to fail it). Environment: FERROKEEPER_BIN (default: a copy of
# /var/tmp/ferrokeeper-target/release/ferrokeeper), FAULT_SECS, HEAL_SECS, ROUNDS.
#
# Needs root (ip netns, iptables inside the namespaces). Everything lives in namespaces
# fk-f1..fk-f3 and the bridge fk-br0 (10.77.0.254/24 in the root namespace; server N is
# 10.77.0.N); the iptables rules are inside the servers' namespaces, so deleting the
# namespaces removes them. Cleanup runs on exit and at start (a crashed run's leftovers).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPAT_DIR="$(cd "$HERE/.." && pwd)"
WORK="$COMPAT_DIR/work/faults"
VENV="$COMPAT_DIR/work/faults-venv"
PY="$VENV/bin/python"
JAVA_DIR=/usr/share/java
SRC_BIN=/var/tmp/ferrokeeper-target/release/ferrokeeper
BIN_COPY=/var/tmp/fk-faults-bin/ferrokeeper

SUBNET=10.77.0
BRIDGE=fk-br0
SIDS=(1 2 3)
CLIENT_PORT=2181
HOSTS="$SUBNET.1:$CLIENT_PORT,$SUBNET.2:$CLIENT_PORT,$SUBNET.3:$CLIENT_PORT"

WARM_SECS=${WARM_SECS:-5}
FAULT_SECS=${FAULT_SECS:-12}
HEAL_SECS=${HEAL_SECS:-8}
ROUNDS=${ROUNDS:-2}
TAIL_SECS=${TAIL_SECS:-5}
STOP_SECS=${STOP_SECS:-10}   # SIGSTOP length: > syncLimit*tickTime (3 s) and the session timeout (4 s)

ALL_SCENARIOS=(partition-one partition-leader split kill-leader stop-leader)
# Not in the default set: ZooKeeper 3.8 (so a Java leader in a mixed ensemble) fails it.
EXTRA_SCENARIOS=(stop-leader-sync)
TARGETS=()
SCENARIOS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --target) TARGETS+=("$2"); shift 2 ;;
    --scenario) SCENARIOS+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
    esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(java ferrokeeper mixed)
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${ALL_SCENARIOS[@]}")
for s in "${SCENARIOS[@]}"; do
    case " ${ALL_SCENARIOS[*]} ${EXTRA_SCENARIOS[*]} " in *" $s "*) ;; *) echo "unknown scenario $s" >&2; exit 64 ;; esac
done

log() { echo "[faults $(date +%H:%M:%S)] $*" >&2; }
die() { log "FATAL: $*"; exit 70; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"

# ------------------------------------------------------------------ network plumbing

PIDS=()  # per sid: the server's pid (ip netns exec execs into it)

kill_ns_procs() { # ns: kill what we started inside one of our namespaces
    local ns="$1" p
    for p in $(ip netns pids "$ns" 2>/dev/null); do
        kill -CONT "$p" 2>/dev/null
        kill -9 "$p" 2>/dev/null
    done
}

cleanup_net() {
    local n
    for n in "${SIDS[@]}"; do
        if ip netns list | grep -qw "fk-f$n"; then
            kill_ns_procs "fk-f$n"
            ip netns del "fk-f$n" 2>/dev/null
        fi
        ip link del "fk-v$n" 2>/dev/null
    done
    ip link del "$BRIDGE" 2>/dev/null
    true
}

setup_net() {
    cleanup_net
    ip link add "$BRIDGE" type bridge || die "bridge"
    ip addr add "$SUBNET.254/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    local n
    for n in "${SIDS[@]}"; do
        ip netns add "fk-f$n" || die "netns fk-f$n"
        ip link add "fk-v$n" type veth peer name "fk-p$n" || die "veth $n"
        ip link set "fk-p$n" netns "fk-f$n"
        ip -n "fk-f$n" link set "fk-p$n" name eth0
        ip -n "fk-f$n" addr add "$SUBNET.$n/24" dev eth0
        ip -n "fk-f$n" link set eth0 up
        ip -n "fk-f$n" link set lo up
        ip link set "fk-v$n" master "$BRIDGE"
        ip link set "fk-v$n" up
    done
    # Traffic to the subnet must go to the bridge, never out of eth0.
    for n in "${SIDS[@]}"; do
        ip route get "$SUBNET.$n" | grep -q "dev $BRIDGE" || die "$SUBNET.$n is not routed to $BRIDGE"
        ip netns exec "fk-f$n" ip route get "$SUBNET.254" | grep -q "dev eth0" || die "fk-f$n has no route back"
    done
}

ipt() { local n="$1"; shift; ip netns exec "fk-f$n" iptables -w "$@"; }

isolate() { # sid: drop everything but loopback, both ways (servers and clients)
    ipt "$1" -A INPUT ! -i lo -j DROP
    ipt "$1" -A OUTPUT ! -o lo -j DROP
}

cut_from_servers() { # sid: drop traffic to/from the other servers; clients still reach it
    local n="$1" m
    for m in "${SIDS[@]}"; do
        [ "$m" = "$n" ] && continue
        ipt "$n" -A INPUT -s "$SUBNET.$m" -j DROP
        ipt "$n" -A OUTPUT -d "$SUBNET.$m" -j DROP
    done
}

heal_all() {
    local n
    for n in "${SIDS[@]}"; do
        ipt "$n" -F INPUT 2>/dev/null
        ipt "$n" -F OUTPUT 2>/dev/null
        [ -n "${PIDS[$n]:-}" ] && kill -CONT "${PIDS[$n]}" 2>/dev/null
    done
    true
}

# ------------------------------------------------------------------ servers

java_cp() {
    local cp="" j
    for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common \
        netty-handler netty-transport netty-transport-native-unix-common \
        netty-transport-native-epoll netty-resolver netty-codec commons-cli commons-io \
        metrics-core snappy-java jackson-databind jackson-core jackson-annotations; do
        [ -f "$JAVA_DIR/$j.jar" ] && cp="$cp${cp:+:}$JAVA_DIR/$j.jar"
    done
    printf '%s' "$cp"
}

kind_of() { # target sid -> java|fk
    case "$1:$2" in
    java:*) echo java ;;
    ferrokeeper:*) echo fk ;;
    mixed:3) echo fk ;;
    mixed:*) echo java ;;
    mixed1:1) echo fk ;;
    mixed1:*) echo java ;;
    *) die "unknown target $1" ;;
    esac
}

write_cfg() { # dir sid
    local dir="$1" sid="$2" m
    mkdir -p "$dir/data"
    echo "$sid" >"$dir/data/myid"
    {
        echo "tickTime=500"
        echo "initLimit=20"
        echo "syncLimit=6"
        echo "dataDir=$dir/data"
        echo "clientPort=$CLIENT_PORT"
        echo "maxClientCnxns=0"
        echo "4lw.commands.whitelist=*"
        echo "admin.enableServer=false"
        for m in "${SIDS[@]}"; do echo "server.$m=$SUBNET.$m:2888:3888"; done
        if [ "${LINEARIZABLE_SYNC:-0}" = 1 ]; then
            # the prober's sessions outlive the pause (kazoo pings at a third of 60 s)
            echo "maxSessionTimeout=60000"
            # Ferrokeeper's own key; Java 3.8 turns it into an unused system property
            echo "linearizableSync=true"
        fi
    } >"$dir/zoo.cfg"
}

start_server() { # sid: start (or restart) server sid of $TARGET in $SDIR/s<sid>
    local sid="$1" dir="$SDIR/s$1"
    [ -f "$dir/zoo.cfg" ] || write_cfg "$dir" "$sid"
    if [ "$(kind_of "$TARGET" "$sid")" = java ]; then
        ip netns exec "fk-f$sid" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
            -Dzookeeper.admin.enableServer=false -cp "$JAVA_CP" \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
            </dev/null >>"$dir/server.log" 2>&1 &
    else
        NO_COLOR=1 RUST_LOG="${FK_LOG:-info}" ip netns exec "fk-f$sid" "$FK_BIN" server "$dir/zoo.cfg" \
            </dev/null >>"$dir/server.log" 2>&1 &
    fi
    PIDS[$sid]=$!
    echo "${PIDS[$sid]}" >"$dir/pid"
    echo "=== [run.sh $(date +%H:%M:%S.%N)] started pid ${PIDS[$sid]} ===" >>"$dir/server.log"
}

stop_server() { # sid
    local sid="$1" p="${PIDS[$1]:-}"
    [ -n "$p" ] || return 0
    kill -CONT "$p" 2>/dev/null
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    PIDS[$sid]=""
}

stop_all_servers() {
    local n
    for n in "${SIDS[@]}"; do stop_server "$n"; done
}

srvr() { # sid -> the `srvr` answer, empty when it does not answer within 3 s
    timeout 3 bash -c "exec 3<>/dev/tcp/$SUBNET.$1/$CLIENT_PORT && printf srvr >&3 && cat <&3" 2>/dev/null
}

mode() { srvr "$1" | sed -n 's/^Mode: //p'; }

find_leader() { # -> sid of the unique leader, or nothing
    local n m leaders=()
    for n in "${SIDS[@]}"; do
        m="$(mode "$n")"
        [ "$m" = leader ] && leaders+=("$n")
    done
    [ ${#leaders[@]} = 1 ] && echo "${leaders[0]}"
}

wait_ensemble() { # timeout: all three serve (leader/follower) with one leader
    local deadline=$((SECONDS + $1)) n m ok leaders
    while [ $SECONDS -lt $deadline ]; do
        ok=1 leaders=0
        for n in "${SIDS[@]}"; do
            m="$(mode "$n")"
            case "$m" in leader) leaders=$((leaders + 1)) ;; follower) ;; *) ok=0 ;; esac
        done
        [ $ok = 1 ] && [ $leaders = 1 ] && return 0
        sleep 1
    done
    return 1
}

dump_logs() { # the tails of the servers' logs, for a failure
    local n
    for n in "${SIDS[@]}"; do
        echo "    ---- s$n ($(kind_of "$TARGET" "$n")) $SDIR/s$n/server.log, last 15 lines ----" >&2
        tail -n 15 "$SDIR/s$n/server.log" | cut -c1-240 | sed 's/^/    /' >&2
    done
}

modes_line() {
    local n out=""
    for n in "${SIDS[@]}"; do out="$out s$n=$(mode "$n" | head -1)"; out="${out%=}"; done
    echo "${out# }"
}

# ------------------------------------------------------------------ scenarios

wait_probe() { # file timeout
    local dl=$((SECONDS + $2))
    until [ -e "$1" ]; do [ $SECONDS -lt $dl ] || return 1; sleep 0.2; done
}

pick_follower() {
    local leader="$1" n
    for n in "${SIDS[@]}"; do [ "$n" != "$leader" ] && { echo "$n"; return; }; done
}

fault_round() { # scenario round -> inject, hold, heal
    local sc="$1" round="$2" leader victim
    leader="$(find_leader)"
    if [ -z "$leader" ]; then
        log "round $round: no unique leader ($(modes_line)); waiting"
        wait_ensemble 30
        leader="$(find_leader)"
    fi
    [ -n "$leader" ] || { log "round $round: still no leader; skipping this fault"; echo "no-leader" >>"$SDIR/events"; sleep "$FAULT_SECS"; return; }
    case "$sc" in
    partition-one)
        # alternate the isolated follower between rounds
        victim="$(pick_follower "$leader")"
        [ $((round % 2)) = 0 ] && for n in "${SIDS[@]}"; do [ "$n" != "$leader" ] && [ "$n" != "$victim" ] && victim=$n; done
        log "round $round: isolating follower s$victim (leader s$leader)"
        isolate "$victim"; sleep "$FAULT_SECS"; heal_all ;;
    partition-leader)
        log "round $round: isolating leader s$leader"
        isolate "$leader"; sleep "$FAULT_SECS"; heal_all ;;
    split)
        log "round $round: cutting leader s$leader from both followers (clients reach all)"
        cut_from_servers "$leader"; sleep "$FAULT_SECS"; heal_all ;;
    kill-leader)
        log "round $round: kill -9 leader s$leader (pid ${PIDS[$leader]})"
        stop_server "$leader"; sleep "$FAULT_SECS"
        log "round $round: restarting s$leader"
        start_server "$leader" ;;
    stop-leader-sync)
        # The prober connects to the leader, which is then paused; during the pause, once
        # the others have elected and acknowledged writes, the prober sends sync + gets to
        # it (they wait in its socket); then SIGCONT.
        echo "$SUBNET.$leader:$CLIENT_PORT" >"$SDIR/probe/next" && mv "$SDIR/probe/next" "$SDIR/probe/connect$round"
        wait_probe "$SDIR/probe/ready$round" 30 || log "round $round: the prober is not ready"
        log "round $round: SIGSTOP leader s$leader (pid ${PIDS[$leader]}) for ${STOP_SECS}s, sync + get sent to it after $((STOP_SECS - 2))s"
        kill -STOP "${PIDS[$leader]}"; sleep $((STOP_SECS - 2))
        touch "$SDIR/probe/fire$round"; sleep 2
        log "round $round: SIGCONT s$leader"
        kill -CONT "${PIDS[$leader]}"
        [ "$FAULT_SECS" -gt "$STOP_SECS" ] && sleep $((FAULT_SECS - STOP_SECS)) ;;
    stop-leader)
        log "round $round: SIGSTOP leader s$leader (pid ${PIDS[$leader]}) for ${STOP_SECS}s"
        kill -STOP "${PIDS[$leader]}"; sleep "$STOP_SECS"
        log "round $round: SIGCONT s$leader"
        kill -CONT "${PIDS[$leader]}"
        [ "$FAULT_SECS" -gt "$STOP_SECS" ] && sleep $((FAULT_SECS - STOP_SECS)) ;;
    esac
    echo "round $round $sc leader=s$leader victim=${victim:-}" >>"$SDIR/events"
    log "round $round: healed; modes now: $(modes_line)"
}

run_scenario() { # -> 0 pass, 1 anomaly, 2 no convergence/setup failure
    local sc="$1" t0=$SECONDS rc n
    SDIR="$WORK/$TARGET/$sc"
    rm -rf "$SDIR"
    mkdir -p "$SDIR"
    local probe=()
    LINEARIZABLE_SYNC=0
    if [ "$sc" = stop-leader-sync ]; then
        LINEARIZABLE_SYNC=1
        mkdir -p "$SDIR/probe"
        probe=(--probe-dir "$SDIR/probe")
    fi
    PIDS=()
    heal_all
    for n in "${SIDS[@]}"; do start_server "$n"; done
    if ! wait_ensemble 90; then
        log "$TARGET/$sc: ensemble did not form within 90 s ($(modes_line))"
        dump_logs
        stop_all_servers
        return 2
    fi
    log "$TARGET/$sc: ensemble up after $((SECONDS - t0)) s ($(modes_line))"
    local duration=$((WARM_SECS + ROUNDS * (FAULT_SECS + HEAL_SECS) + TAIL_SECS))
    "$PY" "$HERE/workload.py" run --hosts "$HOSTS" --duration "$duration" \
        --out "$SDIR/history.jsonl" --seed "$RANDOM" "${probe[@]}" >"$SDIR/workload.log" 2>&1 &
    local wpid=$!
    WPID=$wpid
    # wait for the keys to exist before the clock of the faults starts
    local dl=$((SECONDS + 90))
    until grep -q "keys ready" "$SDIR/workload.log" 2>/dev/null; do
        if ! kill -0 $wpid 2>/dev/null || [ $SECONDS -gt $dl ]; then
            log "$TARGET/$sc: workload setup failed:"; tail -5 "$SDIR/workload.log" >&2
            kill $wpid 2>/dev/null; wait $wpid 2>/dev/null
            stop_all_servers; return 2
        fi
        sleep 0.5
    done
    sleep "$WARM_SECS"
    local r
    for r in $(seq 1 "$ROUNDS"); do
        fault_round "$sc" "$r"
        sleep "$HEAL_SECS"
    done
    wait $wpid
    WPID=""
    heal_all
    for n in "${SIDS[@]}"; do [ -z "${PIDS[$n]:-}" ] && start_server "$n"; done
    log "$TARGET/$sc: $(tail -1 "$SDIR/workload.log")"
    if ! wait_ensemble 60; then
        log "$TARGET/$sc: after healing, no ensemble within 60 s ($(modes_line))"
    fi
    "$PY" "$HERE/workload.py" check --hosts "$HOSTS" --history "$SDIR/history.jsonl" \
        --report "$SDIR/report.json" --converge-timeout 60 >"$SDIR/check.log" 2>&1 &
    WPID=$!
    wait $WPID
    rc=$?
    WPID=""
    sed 's/^/    /' "$SDIR/check.log" >&2
    [ $rc = 0 ] || dump_logs
    for n in "${SIDS[@]}"; do srvr "$n" >"$SDIR/s$n/srvr.final" 2>&1; done
    stop_all_servers
    log "$TARGET/$sc: $([ $rc = 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s"
    return $rc
}

# ------------------------------------------------------------------ main

WPID=""
on_exit() {
    local n
    # the clients first: without the bridge their packets would follow the default route
    [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
    for n in "${SIDS[@]}"; do stop_server "$n" 2>/dev/null; done
    cleanup_net
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# the client: kazoo in its own venv
if ! "$PY" -c 'import kazoo' 2>/dev/null; then
    log "creating $VENV (kazoo 2.11.0)"
    python3 -m venv "$VENV" || die "venv"
    "$VENV/bin/pip" -q --disable-pip-version-check install kazoo==2.11.0 || die "pip install kazoo"
fi

need_fk=0 need_java=0
for t in "${TARGETS[@]}"; do
    for n in "${SIDS[@]}"; do
        case "$(kind_of "$t" "$n")" in fk) need_fk=1 ;; java) need_java=1 ;; esac
    done
done
if [ $need_fk = 1 ]; then
    if [ -n "${FERROKEEPER_BIN:-}" ]; then
        FK_BIN="$FERROKEEPER_BIN"
    else
        [ -x "$SRC_BIN" ] || die "no $SRC_BIN (cargo build --release, or set FERROKEEPER_BIN)"
        mkdir -p "$(dirname "$BIN_COPY")"
        cp -p "$SRC_BIN" "$BIN_COPY.tmp" && mv "$BIN_COPY.tmp" "$BIN_COPY" || die "copy binary"
        FK_BIN="$BIN_COPY"
    fi
    [ -x "$FK_BIN" ] || die "$FK_BIN is not executable"
    log "ferrokeeper binary: $FK_BIN (built $(stat -c '%y' "$FK_BIN" | cut -d. -f1), sha256 $(sha256sum "$FK_BIN" | cut -c1-12))"
fi
if [ $need_java = 1 ]; then
    command -v java >/dev/null || die "no java"
    [ -f "$JAVA_DIR/zookeeper.jar" ] || die "no $JAVA_DIR/zookeeper.jar"
    JAVA_CP="$(java_cp)"
fi

setup_net
log "network: bridge $BRIDGE $SUBNET.254/24, namespaces fk-f1..fk-f3"

declare -A RESULT
fails=0
start_all=$SECONDS
for TARGET in "${TARGETS[@]}"; do
    tstart=$SECONDS
    for sc in "${SCENARIOS[@]}"; do
        run_scenario "$sc"
        rc=$?
        case $rc in 0) RESULT[$TARGET/$sc]=PASS ;; 1) RESULT[$TARGET/$sc]="FAIL (anomalies)" ;; *) RESULT[$TARGET/$sc]="FAIL (no convergence/setup)" ;; esac
        [ $rc = 0 ] || fails=$((fails + 1))
    done
    log "target $TARGET done in $((SECONDS - tstart)) s"
done

echo
echo "faults summary ($((SECONDS - start_all)) s):"
for TARGET in "${TARGETS[@]}"; do
    for sc in "${SCENARIOS[@]}"; do
        rep="$WORK/$TARGET/$sc/report.json"
        extra=""
        if [ -f "$rep" ]; then
            extra="$("$PY" -c '
import json,sys
r=json.load(open(sys.argv[1]))
o=r["ops"]
w=lambda k:"%d/%d/%d"%(o[k]["ok"],o[k]["fail"],o[k]["unknown"])
sg=" sync-get %s" % w("sync-get") if "sync-get" in o else ""
print("set %s cas %s get %s%s (ok/fail/unknown) max-write-gap %.1fs anomalies %d" % (w("set"),w("cas"),w("get"),sg,r.get("max_write_gap_s",0),len(r["anomalies"])))
' "$rep")"
        fi
        printf '  %-12s %-17s %-28s %s\n' "$TARGET" "$sc" "${RESULT[$TARGET/$sc]}" "$extra"
    done
done
[ $fails = 0 ]
