#!/usr/bin/env bash
# Captures quorum-port (Zab) and election-port (FastLeaderElection) traffic of a real
# 3-node Apache ZooKeeper 3.8 ensemble on loopback, then cuts it into golden messages.
#
#   tests/golden/quorum/capture/run.sh            # writes tests/golden/quorum/*.bin + MANIFEST
#
# Needs: java, Debian's zookeeper/libzookeeper-java (3.8.0), tcpdump, python3 with dpkt.
# Scenario: start voters 1,2,3 and observer 4 -> election; client writes through a follower
# (REQUEST, PROPOSAL, COMMIT, INFORM, SYNC, REVALIDATE, PING touch tables) -> an incremental
# reconfig (COMMITANDACTIVATE, INFORMANDACTIVATE) -> stop a follower, write, restart it
# (DIFF) -> wipe the other follower's data and restart it (SNAP) -> stop one follower,
# freeze the other, write to the leader (logged there only), kill both, restart the
# followers (a new epoch), then the old leader (TRUNC).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(dirname "$HERE")"
W="${W:-/tmp/fk-qcap}"
JAVA_DIR="${ZK_JAVA_DIR:-/usr/share/java}"
CP=""
for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common \
         netty-handler netty-transport netty-transport-native-unix-common \
         netty-transport-native-epoll netty-resolver netty-codec commons-cli commons-io \
         metrics-core snappy-java jackson-databind jackson-core jackson-annotations; do
    [ -f "$JAVA_DIR/$j.jar" ] && CP="$CP${CP:+:}$JAVA_DIR/$j.jar"
done

client_port() { echo $((22180 + $1)); }

declare -A PID
TCPDUMP_PID=""

cleanup() {
    for i in "${!PID[@]}"; do kill -CONT "${PID[$i]}" 2>/dev/null; kill "${PID[$i]}" 2>/dev/null || true; done
    [ -n "$TCPDUMP_PID" ] && kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

write_cfg() { # SID
    local i="$1"
    mkdir -p "$W/$i/data"
    echo "$i" >"$W/$i/data/myid"
    cat >"$W/$i/zoo.cfg" <<EOF
tickTime=1000
initLimit=20
syncLimit=10
dataDir=$W/$i/data
clientPort=$(client_port "$i")
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
reconfigEnabled=true
server.1=127.0.0.1:22888:23888
server.2=127.0.0.1:22889:23889
server.3=127.0.0.1:22890:23890
server.4=127.0.0.1:22891:23891:observer
EOF
    if [ "$i" = 4 ]; then echo "peerType=observer" >>"$W/$i/zoo.cfg"; fi
}

start() { # SID
    local i="$1"
    java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$CP" \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dzookeeper.skipACL=yes \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$W/$i/zoo.cfg" \
        >>"$W/$i/server.log" 2>&1 </dev/null &
    PID[$i]=$!
}

stop() { # SID
    kill "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; unset "PID[$1]"
}

mode() { # SID -> leader|follower|""
    local out
    out="$(exec 3<>"/dev/tcp/127.0.0.1/$(client_port "$1")" && echo srvr >&3 && cat <&3)" 2>/dev/null || return 0
    sed -n 's/^Mode: //p' <<<"$out"
}

wait_serving() { # SID...
    for _ in $(seq 120); do
        local ok=1
        for i in "$@"; do case "$(mode "$i")" in leader|follower|observer) ;; *) ok=0 ;; esac; done
        [ $ok = 1 ] && return 0
        sleep 1
    done
    echo "ensemble did not form" >&2; return 1
}

rm -rf "$W"; mkdir -p "$W"
for i in 1 2 3 4; do write_cfg "$i"; done
tcpdump -i lo -s 0 -U -w "$W/cap.pcap" \
    'tcp and (portrange 22888-22891 or portrange 23888-23891)' 2>"$W/tcpdump.log" &
TCPDUMP_PID=$!
sleep 1

for i in 1 2 3 4; do start "$i"; done
wait_serving 1 2 3 4
LEADER=""; FOLLOWERS=()
for i in 1 2 3; do
    if [ "$(mode "$i")" = leader ]; then LEADER=$i; else FOLLOWERS+=("$i"); fi
done
F1=${FOLLOWERS[0]}; F2=${FOLLOWERS[1]}
echo "leader=$LEADER followers=$F1,$F2"

python3 "$HERE/zkclient.py" writes "$(client_port "$F1")" "$(client_port "$F2")" a
sleep 2
# Re-adding the observer with a client address bumps the config version.
python3 "$HERE/zkclient.py" reconfig "$(client_port "$F1")" \
    "server.4=127.0.0.1:22891:23891:observer;127.0.0.1:$(client_port 4)"
sleep 2

# DIFF: F2 misses a few writes, then catches up from the leader's committed log.
stop "$F2"
python3 "$HERE/zkclient.py" burst "$(client_port "$LEADER")" diff 3
start "$F2"; wait_serving "$F2"
sleep 2

# SNAP: F1 loses its data (myid kept) and must be sent a snapshot.
stop "$F1"
rm -rf "$W/$F1/data/version-2"
start "$F1"; wait_serving "$F1"
sleep 2

# TRUNC: the leader alone logs a proposal and dies; the others elect a new leader
# without it. The follower that would get the proposal is frozen and then killed, so the
# PROPOSAL never leaves its socket buffer (a thawed follower would log it and the new
# leader would commit it).
stop "$F1"
python3 "$HERE/zkclient.py" lone "$(client_port "$LEADER")" "${PID[$F2]}"
kill -9 "${PID[$LEADER]}" "${PID[$F2]}"
for i in "$LEADER" "$F2"; do wait "${PID[$i]}" 2>/dev/null || true; unset "PID[$i]"; done
start "$F1"; start "$F2"; wait_serving "$F1" "$F2"
start "$LEADER"; wait_serving "$LEADER"
sleep 2

for i in 1 2 3 4; do stop "$i"; done
sleep 1
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true; TCPDUMP_PID=""
echo "leader=$LEADER (then trunc) f1(snap)=$F1 f2(diff)=$F2" >"$W/roles"
python3 "$HERE/extract.py" "$W/cap.pcap" "$OUT"
