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
#   props          optional: more system properties for the next start, one -Dkey=value a
#                  line (Java: before the class, Ferrokeeper: after the config path)
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
# Sourced only: ens_setup DIR KIND, ens_wait_formed DIR TIMEOUT, ens_connect_string DIR
# (a 3-node ensemble of one kind; run-ensemble.sh and kafka/run.sh --ensemble use them).
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
    local props=("${SERVER_PROPS[@]}") p
    if [ -f "$dir/props" ]; then
        while read -r p; do [ -n "$p" ] && props+=("$p"); done <"$dir/props"
    fi
    printf '==== start %s %s\n' "$kind" "$(date '+%F %T.%N')" >>"$dir/server.log"
    case "$kind" in
        zookeeper)
            # Double fork + setsid: the server is nobody's child here, so it never
            # lingers as a zombie of this shell, and Ctrl-C on the driver does not
            # reach it (the driver's trap stops it).
            pid="$(
                setsid "$JAVA_BIN" "${ENS_JAVA_OPTS[@]}" -cp "$ZK_CLASSPATH" \
                    "${props[@]}" \
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
                setsid "$FERROKEEPER_BIN" server "$dir/zoo.cfg" "${props[@]}" \
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

# A python with kazoo: $ENSEMBLE_PYTHON, the kazoo suite's venv, or the ensemble venv
# (made on first use).
ens_python() {
    local p venv="$COMPAT_WORK/ensemble-venv"
    for p in "${ENSEMBLE_PYTHON:-}" "${COMPAT_VENV:-$COMPAT_DIR/.venv}/bin/python" \
             "$venv/bin/python"; do
        [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import kazoo' 2>/dev/null && { echo "$p"; return 0; }
    done
    echo "creating $venv with kazoo 2.11.0" >&2
    python3 -m venv "$venv" >&2 && "$venv/bin/python" -m pip --disable-pip-version-check -q \
        install kazoo==2.11.0 >&2 && "$venv/bin/python" -c 'import kazoo' && echo "$venv/bin/python"
}

# The EXIT trap of a suite: stops every node of the run directories in RUN_DIRS and kills
# whatever they ever started.
ens_cleanup() {
    local d n pid
    for d in "${RUN_DIRS[@]}"; do
        for n in "$d"/s*; do [ -d "$n" ] && node_stop "$n" 5 2>/dev/null; done
        if [ -f "$d/pids" ]; then
            while read -r pid; do
                node_pid_alive "$pid" && kill -9 "$pid" 2>/dev/null
            done <"$d/pids"
        fi
    done
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

# ens_setup DIR KIND : a fresh 3-node ensemble directory DIR/s1..s3 of one KIND on free
# loopback ports (zoo.cfg with server.N lines, myid, kind, client_port). tickTime, initLimit
# and syncLimit from ENS_TICK, ENS_INIT, ENS_SYNC (default 2000, 10, 5: lib.sh's tickTime, so
# session timeouts negotiate as on a standalone server).
ens_setup() {
    local dir="$1" kind="$2" sid i ports servers="" n
    rm -rf "$dir"
    mkdir -p "$dir"
    mapfile -t ports < <(free_ports 9)
    for sid in 1 2 3; do
        i=$(((sid - 1) * 3))
        servers+="server.$sid=127.0.0.1:${ports[$((i + 1))]}:${ports[$((i + 2))]}"$'\n'
    done
    for sid in 1 2 3; do
        n="$dir/s$sid"
        mkdir -p "$n/data"
        echo "$sid" >"$n/myid"
        cp "$n/myid" "$n/data/myid"
        echo "$kind" >"$n/kind"
        echo "${ports[$(((sid - 1) * 3))]}" >"$n/client_port"
        cat >"$n/zoo.cfg" <<EOF
tickTime=${ENS_TICK:-2000}
initLimit=${ENS_INIT:-10}
syncLimit=${ENS_SYNC:-5}
dataDir=$n/data
clientPort=${ports[$(((sid - 1) * 3))]}
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
${servers}
EOF
    done
}

# ens_wait_formed DIR TIMEOUT : every node answers srvr with Mode leader|follower, one leader
ens_wait_formed() {
    local dir="$1" t="$2" deadline=$((SECONDS + $2)) n m ok modes leaders
    while :; do
        ok=1; leaders=0; modes=""
        for n in "$dir"/s1 "$dir"/s2 "$dir"/s3; do
            m="$(node_mode "$n")"
            modes+=" ${n##*/}=${m:-none}"
            case "$m" in leader) leaders=$((leaders + 1)) ;; follower) ;; *) ok=0 ;; esac
            if ! node_running "$n"; then modes+="(dead)"; ok=0; fi
        done
        [ $ok = 1 ] && [ $leaders = 1 ] && { echo "formed:$modes"; return 0; }
        [ $SECONDS -ge "$deadline" ] && { echo "not formed after ${t}s:$modes"; return 1; }
        sleep 0.5
    done
}

ens_connect_string() { # DIR -> 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
    local s out=""
    for s in 1 2 3; do out+="${out:+,}127.0.0.1:$(cat "$1/s$s/client_port")"; done
    echo "$out"
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
