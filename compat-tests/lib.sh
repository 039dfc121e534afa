# shellcheck shell=bash
# compat-tests/lib.sh - helpers to start/stop a reference Apache ZooKeeper 3.8
# server or a Ferrokeeper server with identical configuration.
#
# Usage: source compat-tests/lib.sh
#   start_zk PORT WORKDIR     # reference server (Debian's zookeeper 3.8.0)
#   start_fk PORT WORKDIR     # Ferrokeeper (${FERROKEEPER_BIN:-target/release/ferrokeeper})
#   stop_server WORKDIR       # kill the server started in WORKDIR, wait for it
#   stop_all                  # stop every server started through this file (trap-friendly)
#   wait_ready PORT [TIMEOUT] # wait until PORT answers the `srvr` four-letter word
#   four_lw PORT CMD          # print the answer of a four-letter word

COMPAT_DIR="${COMPAT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
REPO_ROOT="${REPO_ROOT:-$(cd "$COMPAT_DIR/.." && pwd)}"
COMPAT_WORK="${COMPAT_WORK:-$COMPAT_DIR/work}"

# Ports used by default.
ZK_PORT="${ZK_PORT:-21810}"
FK_PORT="${FK_PORT:-21811}"

# super:test  ->  base64(sha1("super:test"))
SUPER_USER="super"
SUPER_PASSWORD="test"
SUPER_DIGEST="super:D/InIHSb7yEEbrWz8b9l71RjZJU="

JAVA_BIN="${JAVA_BIN:-java}"
ZK_JAVA_DIR="${ZK_JAVA_DIR:-/usr/share/java}"
# zookeeper.jar's manifest Class-Path pulls in most dependencies; we list the
# important ones explicitly anyway so the classpath is self-describing.
ZK_CLASSPATH="${ZK_CLASSPATH:-$(
    cp=""
    for j in zookeeper zookeeper-jute slf4j-api slf4j-simple netty-buffer netty-common \
             netty-handler netty-transport netty-transport-native-unix-common \
             netty-transport-native-epoll netty-resolver netty-codec \
             commons-cli commons-io metrics-core snappy-java jline \
             servlet-api jetty9-server jetty9-servlet jetty9-http jetty9-io jetty9-util \
             jetty9-security jackson-databind jackson-core jackson-annotations; do
        [ -f "$ZK_JAVA_DIR/$j.jar" ] && cp="$cp${cp:+:}$ZK_JAVA_DIR/$j.jar"
    done
    printf '%s' "$cp"
)}"

FERROKEEPER_BIN="${FERROKEEPER_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/ferrokeeper}"

# System properties passed to both servers (Java: -D before the class,
# Ferrokeeper: after the config path).
SERVER_PROPS=(
    "-Dzookeeper.extendedTypesEnabled=true"
    "-Dznode.container.checkIntervalMs=1000"
    "-Dzookeeper.DigestAuthenticationProvider.superDigest=$SUPER_DIGEST"
)

_COMPAT_STARTED_DIRS=()

_write_cfg() { # PORT WORKDIR
    local port="$1" dir="$2"
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
EOF
    # Lines a suite adds to both servers' zoo.cfg (e.g. sasl/run.sh's authProvider.1).
    if [ -n "${COMPAT_EXTRA_CFG:-}" ]; then
        printf '%s\n' "$COMPAT_EXTRA_CFG" >>"$dir/zoo.cfg"
    fi
    # The AdminServer only where a suite asks for it (COMPAT_ADMIN_PORT), so parallel
    # servers do not fight over port 8080.
    if [ -n "${COMPAT_ADMIN_PORT:-}" ]; then
        printf 'admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%s\n' \
            "$COMPAT_ADMIN_PORT" >>"$dir/zoo.cfg"
    else
        echo "admin.enableServer=false" >>"$dir/zoo.cfg"
    fi
}

# four_lw PORT CMD : send a four-letter word, print the reply (empty on failure)
four_lw() {
    local port="$1" cmd="$2"
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf '%s' "$cmd" >&3
        timeout 3 cat <&3
        exec 3<&-
    ) 2>/dev/null
}

# wait_ready PORT [TIMEOUT_SECONDS] [PID]
wait_ready() {
    local port="$1" t="${2:-60}" pid="${3:-}"
    local deadline=$((SECONDS + t))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            echo "server (pid $pid) died during startup" >&2
            return 1
        fi
        if four_lw "$port" srvr | grep -q '^Zookeeper version'; then
            return 0
        fi
        sleep 0.2
    done
    echo "server on port $port not ready after ${t}s" >&2
    return 1
}

_port_free() { # PORT -> 0 if nothing listens
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_wait_port_free() {
    local port="$1" i=0
    while ! _port_free "$port" && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    _port_free "$port"
}

# start_zk PORT WORKDIR
start_zk() {
    local port="$1" dir="$2"
    [ -n "$port" ] && [ -n "$dir" ] || { echo "usage: start_zk PORT WORKDIR" >&2; return 2; }
    if ! _wait_port_free "$port"; then echo "port $port is busy" >&2; return 1; fi
    _write_cfg "$port" "$dir"
    # Keep the JVM small: the machine is shared.
    "$JAVA_BIN" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -cp "$ZK_CLASSPATH" \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        "${SERVER_PROPS[@]}" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
        >"$dir/server.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/server.pid"
    echo zookeeper >"$dir/server.kind"
    _COMPAT_STARTED_DIRS+=("$dir")
    if ! wait_ready "$port" 60 "$pid"; then
        tail -20 "$dir/server.log" >&2
        stop_server "$dir"
        return 1
    fi
}

# start_fk PORT WORKDIR
start_fk() {
    local port="$1" dir="$2"
    [ -n "$port" ] && [ -n "$dir" ] || { echo "usage: start_fk PORT WORKDIR" >&2; return 2; }
    if [ ! -x "$FERROKEEPER_BIN" ]; then
        echo "ferrokeeper binary not found or not executable: $FERROKEEPER_BIN (set FERROKEEPER_BIN)" >&2
        return 1
    fi
    if ! _wait_port_free "$port"; then echo "port $port is busy" >&2; return 1; fi
    _write_cfg "$port" "$dir"
    "$FERROKEEPER_BIN" server "$dir/zoo.cfg" "${SERVER_PROPS[@]}" \
        >"$dir/server.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/server.pid"
    echo ferrokeeper >"$dir/server.kind"
    _COMPAT_STARTED_DIRS+=("$dir")
    if ! wait_ready "$port" 60 "$pid"; then
        tail -20 "$dir/server.log" >&2
        stop_server "$dir"
        return 1
    fi
}

# start_server KIND PORT WORKDIR  (KIND = zookeeper | ferrokeeper)
start_server() {
    case "$1" in
        zookeeper|zk) start_zk "$2" "$3" ;;
        ferrokeeper|fk) start_fk "$2" "$3" ;;
        *) echo "unknown server kind: $1" >&2; return 2 ;;
    esac
}

# stop_server WORKDIR
stop_server() {
    local dir="$1" pid i=0
    [ -f "$dir/server.pid" ] || return 0
    pid="$(cat "$dir/server.pid")"
    rm -f "$dir/server.pid"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# stop_all : stop every server started from this shell (use in a trap)
stop_all() {
    local d
    for d in "${_COMPAT_STARTED_DIRS[@]}"; do
        stop_server "$d"
    done
    _COMPAT_STARTED_DIRS=()
}
