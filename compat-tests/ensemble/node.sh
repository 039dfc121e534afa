#!/usr/bin/env bash
# compat-tests/ensemble/node.sh - start/stop one ensemble node (a Java ZooKeeper 3.8
# QuorumPeerMain or a Ferrokeeper server) living in a node directory.
#
# A node directory NODE holds (written by run.sh):
#   zoo.cfg        the quorum config (server.N lines, dataDir=NODE/data, clientPort)
#   data/myid      the server id
#   kind           zookeeper | ferrokeeper (which server to start)
#   client_port    the client port (for srvr)
#   server.log     the server's output, appended across restarts (a `==== start` marker
#                  line before each start, so a checker can read one run's lines)
#   server.pid     the running server's pid (removed when it is stopped)
# and run.sh's run directory (NODE/..) has `pids`, every pid ever started, which the
# driver's trap kills.
#
# Usage (also sourced by run.sh for the functions):
#   node.sh start NODE            start the server in the background (returns at once)
#   node.sh stop NODE [SECONDS]   SIGTERM, kill -9 after SECONDS (default 20); waits
#   node.sh kill NODE             kill -9, waits until it is gone
#   node.sh wipe NODE             empty data/ (keeps myid); the node must be stopped
#   node.sh mode NODE             print the `Mode:` of its srvr answer (empty if none)
#   node.sh running NODE          exit 0 when its process is alive
HERE_NODE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE_NODE/../lib.sh"

# The jars QuorumPeerMain needs (as tests/ensemble_support/mod.rs lists them).
ENS_JAVA_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
               -Dorg.slf4j.simpleLogger.showDateTime=true)

# alive PID -> 0 when the process exists and is not a zombie (PID 1 here may not reap
# orphans, so kill -0 alone is not enough).
node_pid_alive() {
    local pid="$1" state
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)"
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

node_running() {
    local dir="$1"
    [ -f "$dir/server.pid" ] && node_pid_alive "$(cat "$dir/server.pid")"
}

node_start() {
    local dir="$1" kind pid
    kind="$(cat "$dir/kind")"
    if node_running "$dir"; then
        echo "node $dir already running" >&2
        return 1
    fi
    mkdir -p "$dir/data"
    [ -f "$dir/data/myid" ] || cp "$dir/myid" "$dir/data/myid"
    printf '==== start %s %s\n' "$kind" "$(date '+%F %T.%N')" >>"$dir/server.log"
    case "$kind" in
        zookeeper)
            # Double fork + setsid: the server is nobody's child here, so it never
            # lingers as a zombie of this shell, and Ctrl-C on the driver does not
            # reach it (the driver's trap stops it).
            pid="$(
                setsid "$JAVA_BIN" "${ENS_JAVA_OPTS[@]}" -cp "$ZK_CLASSPATH" \
                    "${SERVER_PROPS[@]}" \
                    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
                    >>"$dir/server.log" 2>&1 </dev/null &
                echo $!
            )"
            ;;
        ferrokeeper)
            if [ ! -x "$FERROKEEPER_BIN" ]; then
                echo "ferrokeeper binary not found: $FERROKEEPER_BIN (set FERROKEEPER_BIN)" \
                    | tee -a "$dir/server.log" >&2
                return 1
            fi
            pid="$(
                setsid "$FERROKEEPER_BIN" server "$dir/zoo.cfg" "${SERVER_PROPS[@]}" \
                    >>"$dir/server.log" 2>&1 </dev/null &
                echo $!
            )"
            ;;
        *) echo "unknown kind '$kind' in $dir/kind" >&2; return 2 ;;
    esac
    echo "$pid" >"$dir/server.pid"
    echo "$pid" >>"$dir/../pids"
}

node_stop() { # NODE [GRACE_SECONDS]
    local dir="$1" grace="${2:-20}" pid i=0
    [ -f "$dir/server.pid" ] || return 0
    pid="$(cat "$dir/server.pid")"
    if node_pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        while node_pid_alive "$pid" && [ $i -lt $((grace * 10)) ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if node_pid_alive "$pid"; then
            echo "node $dir (pid $pid) ignored SIGTERM for ${grace}s: kill -9" >&2
            kill -9 "$pid" 2>/dev/null
            node_wait_gone "$pid"
        fi
    fi
    rm -f "$dir/server.pid"
}

node_wait_gone() {
    local pid="$1" i=0
    while node_pid_alive "$pid" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}

node_kill() {
    local dir="$1" pid
    [ -f "$dir/server.pid" ] || return 0
    pid="$(cat "$dir/server.pid")"
    kill -9 "$pid" 2>/dev/null
    node_wait_gone "$pid"
    rm -f "$dir/server.pid"
}

node_wipe() {
    local dir="$1"
    if node_running "$dir"; then echo "node $dir is running: not wiping" >&2; return 1; fi
    rm -rf "$dir/data"
    mkdir -p "$dir/data"
    cp "$dir/myid" "$dir/data/myid"
}

# N free loopback ports, one per line (the ensemble drivers' port allocation).
free_ports() { # N -> N free loopback ports, one per line
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

node_mode() {
    four_lw "$(cat "$1/client_port")" srvr | sed -n 's/^Mode: //p'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    cmd="${1:-}"
    shift || true
    case "$cmd" in
        start) node_start "$@" ;;
        stop) node_stop "$@" ;;
        kill) node_kill "$@" ;;
        wipe) node_wipe "$@" ;;
        mode) node_mode "$@" ;;
        running) node_running "$@" ;;
        *) sed -n '2,/^HERE_NODE/p' "$0" | sed '$d' >&2; exit 2 ;;
    esac
fi
